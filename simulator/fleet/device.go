package fleet

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/iot-dr/iot-dr/functions/spec"
)

const (
	qos = 1
	// disconnectQuiesce bounds how long Stop waits for a DISCONNECT to be sent.
	disconnectQuiesce = 250 // milliseconds
	// subackFailure is the SUBACK return code of a refused subscription.
	subackFailure = 0x80
)

// device is one simulated device. Its connection state is owned by the run
// goroutine; only the timeline is shared (under mu).
type device struct {
	f     *Fleet
	thing string
	tls   *tls.Config
	rng   *rand.Rand // used by run only (and by Start before run begins)
	log   *slog.Logger

	mu     sync.Mutex
	events []Event

	// Owned by run.
	cur                     *attempt  // the current connection attempt or connection
	failures                int       // consecutive failed attempts, the backoff exponent
	everConnected           bool      // has ever connected (for Stats.Reconnects)
	telemetrySeq, shadowSeq int64     // sequence numbers of scheduled messages
	inflight                []pending // unacknowledged publishes and subscribes, oldest first
}

// attempt is one paho client and the connection it makes. A new client per
// attempt keeps paho's state of a dead connection away from the next one.
type attempt struct {
	client    paho.Client
	token     paho.Token
	ip        atomic.Pointer[string] // set by dial, read after the token completes
	lost      chan error             // connection-lost notification, buffered
	region    string                 // set once connected
	up        bool                   // CONNACK accepted and not lost yet
	gotPuback bool                   // a publish of this connection was acknowledged
}

func (at *attempt) setIP(ip string) { at.ip.Store(&ip) }

func (at *attempt) getIP() string {
	if p := at.ip.Load(); p != nil {
		return *p
	}
	return ""
}

// pending is an operation awaiting its acknowledgement.
type pending struct {
	token paho.Token
	conn  *attempt
	topic string // for publishes; empty for the subscription
}

// run is the device's life: connect, publish on schedule, reconnect with
// backoff, until ctx is done.
func (d *device) run(ctx context.Context, startDelay time.Duration) {
	defer d.f.wg.Done()
	opts := &d.f.opts

	retry := time.NewTimer(startDelay)
	defer retry.Stop()
	retryC := retry.C

	telemetry := newSchedule(opts.TelemetryEvery, d.rng)
	defer telemetry.stop()
	var shadow *schedule
	if opts.ShadowEvery > 0 {
		shadow = newSchedule(opts.ShadowEvery, d.rng)
		defer shadow.stop()
	}

	var connectDone <-chan struct{}
	var lost <-chan error
	backoff := func() {
		delay := opts.Backoff.Delay(d.failures, d.rng)
		d.failures++
		retry.Reset(delay)
		retryC = retry.C
	}

	for {
		var acked <-chan struct{}
		if len(d.inflight) > 0 {
			acked = d.inflight[0].token.Done()
		}
		select {
		case <-ctx.Done():
			d.shutdown(connectDone)
			return

		case <-retryC:
			retryC = nil
			d.cur = d.connect(ctx)
			connectDone = d.cur.token.Done()

		case <-connectDone:
			connectDone = nil
			if d.attemptDone() {
				lost = d.cur.lost
			} else {
				backoff()
			}

		case err := <-lost:
			lost = nil
			d.lose(err)
			backoff()

		case <-acked:
			d.acknowledged()

		case <-telemetry.c():
			telemetry.rearm()
			d.publish(spec.TelemetryTopic(d.thing), telemetryPayload(d.thing, inc(&d.telemetrySeq)))

		case <-shadow.c():
			shadow.rearm()
			d.publish("$aws/things/"+d.thing+"/shadow/update", shadowPayload(inc(&d.shadowSeq)))
		}
	}
}

// connect starts one attempt; its token completes after CONNACK or failure.
func (d *device) connect(ctx context.Context) *attempt {
	o := &d.f.opts
	at := &attempt{lost: make(chan error, 1)}
	po := paho.NewClientOptions().
		AddBroker("tls://" + net.JoinHostPort(o.Domain, o.Port)).
		SetClientID(d.thing).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(o.KeepAlive).
		SetPingTimeout(o.KeepAlive).
		SetConnectTimeout(o.ConnectTimeout).
		SetWriteTimeout(o.ConnectTimeout).
		SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) {
			return d.f.dial(ctx, d, at)
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case at.lost <- err:
			default: // already notified
			}
		})
	at.client = paho.NewClient(po)
	at.token = at.client.Connect()
	return at
}

// attemptDone handles the end of a connection attempt and reports whether the
// device is now connected.
func (d *device) attemptDone() bool {
	at := d.cur
	region := d.f.region(at.getIP())
	if err := at.token.Error(); err != nil {
		rc := byte(packets.ErrNetworkError)
		if ct, ok := at.token.(*paho.ConnectToken); ok {
			rc = ct.ReturnCode()
		}
		if rc != packets.Accepted && rc != packets.ErrNetworkError {
			reason := packets.ConnackReturnCodes[rc]
			if reason == "" {
				reason = fmt.Sprintf("CONNACK code %d", rc)
			}
			d.f.refused("connect: " + reason)
			d.record(Event{Kind: KindRefused, Region: region, Detail: reason})
		} else {
			d.f.connectFails.Add(1)
			d.record(Event{Kind: KindConnectFailed, Region: region, Detail: err.Error()})
		}
		d.cur = nil
		return false
	}

	at.up, at.region = true, region
	d.failures = 0
	d.f.connects.Add(1)
	if d.everConnected {
		d.f.reconnects.Add(1)
	}
	d.everConnected = true
	d.f.setConnected(region, +1)
	d.record(Event{Kind: KindConnected, Region: region, Detail: at.getIP()})

	filter := "$aws/things/" + d.thing + "/shadow/update/accepted"
	tok := at.client.Subscribe(filter, qos, func(paho.Client, paho.Message) { d.f.received.Add(1) })
	d.inflight = append(d.inflight, pending{token: tok, conn: at})
	return true
}

// lose handles the loss of the current connection.
func (d *device) lose(err error) {
	at := d.cur
	d.cur = nil
	if at == nil || !at.up {
		return
	}
	at.up = false
	d.f.setConnected(at.region, -1)
	detail := "connection lost"
	if err != nil {
		detail = err.Error()
	}
	d.record(Event{Kind: KindDisconnected, Region: at.region, Detail: detail})
}

// publish sends one scheduled message, or counts it lost when offline.
func (d *device) publish(topic string, payload []byte) {
	at := d.cur
	if at == nil || !at.up {
		d.f.failures.Add(1)
		return
	}
	tok := at.client.Publish(topic, qos, false, payload)
	d.inflight = append(d.inflight, pending{token: tok, conn: at, topic: topic})
}

// acknowledged handles the completion of the oldest in-flight operation.
func (d *device) acknowledged() {
	p := d.inflight[0]
	d.inflight[0] = pending{}
	d.inflight = d.inflight[1:]
	if len(d.inflight) == 0 {
		d.inflight = d.inflight[:0:0] // let the backing array go
	}
	err := p.token.Error()

	if p.topic == "" { // the subscription
		// An error means the connection went away, which lose reports; a
		// refusal is a SUBACK failure code, which paho does not turn into an
		// error.
		if st, ok := p.token.(*paho.SubscribeToken); ok && err == nil {
			for filter, code := range st.Result() {
				if code == subackFailure {
					d.f.refused("subscribe: refused")
					d.record(Event{Kind: KindRefused, Region: p.conn.region, Detail: "subscription to " + filter + " refused"})
				}
			}
		}
		return
	}

	if err != nil {
		d.f.failures.Add(1)
		return
	}
	d.f.published.Add(1)
	if !p.conn.gotPuback {
		p.conn.gotPuback = true
		d.record(Event{Kind: KindPublished, Region: p.conn.region, Detail: p.topic})
	}
}

// shutdown ends the device when the fleet stops: it waits for an attempt in
// progress, disconnects, and settles in-flight operations.
func (d *device) shutdown(connectDone <-chan struct{}) {
	if connectDone != nil {
		<-connectDone // bounded by ConnectTimeout; dial aborts at once on ctx
		if !d.attemptDone() {
			return
		}
	}
	at := d.cur
	if at == nil || !at.up {
		return
	}
	at.client.Disconnect(disconnectQuiesce)
	at.up = false
	d.f.setConnected(at.region, -1)
	d.record(Event{Kind: KindDisconnected, Region: at.region, Detail: "fleet stopped"})
	d.cur = nil
	// Disconnect completes the outstanding tokens unless its quiesce time
	// ran out first; whatever is not acknowledged by now is lost.
	for _, p := range d.inflight {
		if p.topic == "" {
			continue
		}
		select {
		case <-p.token.Done():
			if p.token.Error() == nil {
				d.f.published.Add(1)
				continue
			}
		default:
		}
		d.f.failures.Add(1)
	}
	d.inflight = nil
}

// inc increments *n and returns the new value.
func inc(n *int64) int64 {
	*n++
	return *n
}

func telemetryPayload(thing string, seq int64) []byte {
	b := make([]byte, 0, 64+len(thing))
	b = append(b, `{"thing":`...)
	b = strconv.AppendQuote(b, thing)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, time.Now().UnixMilli(), 10)
	return append(b, '}')
}

func shadowPayload(seq int64) []byte {
	b := append(make([]byte, 0, 48), `{"state":{"reported":{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, "}}}"...)
}

// schedule fires every interval from a random phase, without drift and
// without catching up on missed ticks. A nil schedule never fires.
type schedule struct {
	every time.Duration
	next  time.Time
	timer *time.Timer
}

func newSchedule(every time.Duration, rng *rand.Rand) *schedule {
	phase := time.Duration(rng.Int64N(int64(every)))
	s := &schedule{every: every, next: time.Now().Add(phase)}
	s.timer = time.NewTimer(phase)
	return s
}

// c returns the channel that fires when the schedule is due; call rearm
// after each receive.
func (s *schedule) c() <-chan time.Time {
	if s == nil {
		return nil
	}
	return s.timer.C
}

// rearm schedules the next firing one interval after the last one, or one
// interval from now if the device fell more than an interval behind.
func (s *schedule) rearm() {
	now := time.Now()
	s.next = s.next.Add(s.every)
	if s.next.Before(now) {
		s.next = now.Add(s.every)
	}
	s.timer.Reset(s.next.Sub(now))
}

func (s *schedule) stop() { s.timer.Stop() }
