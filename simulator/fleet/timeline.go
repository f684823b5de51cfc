package fleet

import (
	"context"
	"log/slog"
	"time"
)

// EventKind names what happened to a device.
type EventKind string

// Event kinds recorded in a device's timeline.
const (
	// KindResolve: the device resolved the domain before an attempt; Region
	// is that of the answer, Detail the IP and TTL (or the error).
	KindResolve EventKind = "resolve"
	// KindConnected: CONNACK accepted; Region is where.
	KindConnected EventKind = "connected"
	// KindDisconnected: the connection was lost (Detail: why) or the fleet
	// stopped.
	KindDisconnected EventKind = "disconnected"
	// KindRefused: the broker refused CONNECT (Detail: the CONNACK reason) or
	// a subscription (Detail: the filter).
	KindRefused EventKind = "refused"
	// KindConnectFailed: the attempt failed before CONNACK (resolve, dial,
	// TLS, timeout); Detail is the error.
	KindConnectFailed EventKind = "connect-failed"
	// KindPublished: the first publish of a connection was acknowledged;
	// Detail names the topic.
	KindPublished EventKind = "published"
	// KindLost: the device's worker process ended before the fleet stopped
	// (StartProcesses); Detail says how. The device is gone for good.
	KindLost EventKind = "lost"
)

// maxEvents bounds each device's timeline; the oldest events are dropped.
const maxEvents = 256

// Event is one entry in a device's timeline.
type Event struct {
	At     time.Time
	Kind   EventKind
	Region string
	Detail string
}

// record appends e (stamped now) to the device's timeline and wakes waiters.
func (d *device) record(e Event) {
	e.At = time.Now()
	o := &d.f.opts
	if !o.forwardOnly {
		d.mu.Lock()
		if len(d.events) == maxEvents {
			// Drop the oldest quarter at once so trimming is amortised.
			n := copy(d.events, d.events[maxEvents/4:])
			d.events = d.events[:n]
		}
		d.events = append(d.events, e)
		d.mu.Unlock()
	}
	if o.OnEvent != nil {
		o.OnEvent(d.thing, e)
	}
	if o.Logger.Enabled(context.Background(), slog.LevelDebug) {
		o.Logger.Debug("device event", "thing", d.thing, "kind", string(e.Kind), "region", e.Region, "detail", e.Detail)
	}
	d.f.mu.Lock()
	d.f.notifyLocked()
	d.f.mu.Unlock()
}

func (d *device) timeline() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Event(nil), d.events...)
}
