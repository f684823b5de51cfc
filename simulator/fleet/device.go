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
	// queueDepth is how many scheduled messages may wait for the previous
	// PUBACK; beyond it a message counts as not delivered.
	queueDepth = 4
	// maxWriteTimeout bounds paho's wait to hand a packet to the connection
	// and to write it. Writes of small packets to a live loopback broker
	// never take that long; the bound matters when Publish races with a
	// connection loss, where paho waits for the full timeout.
	maxWriteTimeout = 2 * time.Second
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
	cur                     *attempt // the current connection attempt or connection
	failures                int      // consecutive failed attempts, the backoff exponent
	everConnected           bool     // has ever connected (for Stats.Reconnects)
	telemetrySeq, shadowSeq int64    // sequence numbers of scheduled messages
}

// attempt is one paho client and the connection it makes. A new client per
// attempt keeps paho's state of a dead connection away from the next one.
//
// Once connected, a publisher goroutine owns the client's subscribe and
// publish calls: paho's Publish can block for up to its write timeout when
// it races with a connection loss, and the run loop must never stall, or
// the device would notice the loss (and reconnect) late.
type attempt struct {
	client paho.Client
	token  paho.Token
	ip     atomic.Pointer[string] // set by dial, read after the token completes
	lost   chan error             // connection-lost notification, buffered
	region string                 // set once connected, before the publisher starts
	up     bool                   // CONNACK accepted and not lost yet (run only)

	queue   chan message  // scheduled messages for the publisher
	done    chan struct{} // closed by run when it is finished with the connection
	stopped chan struct{} // closed by the publisher when it returns
}

// message is one scheduled publish.
type message struct {
	topic   string
	payload []byte
}

func (at *attempt) setIP(ip string) { at.ip.Store(&ip) }

func (at *attempt) getIP() string {
	if p := at.ip.Load(); p != nil {
		return *p
	}
	return ""
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
				// Announce itself at once, as devices do after (re)connecting: the
				// moment service is restored is then measured, not the schedule.
				d.publish(spec.TelemetryTopic(d.thing), telemetryPayload(d.thing, inc(&d.telemetrySeq)))
			} else {
				backoff()
			}

		case err := <-lost:
			lost = nil
			d.lose(err)
			backoff()

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
		SetWriteTimeout(min(o.ConnectTimeout, maxWriteTimeout)).
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

	at.queue = make(chan message, queueDepth)
	at.done = make(chan struct{})
	at.stopped = make(chan struct{})
	d.f.wg.Add(1)
	go d.publisher(at)
	return true
}

// lose handles the loss of the current connection.
func (d *device) lose(err error) {
	at := d.cur
	d.cur = nil
	if at == nil || !at.up {
		return
	}
	d.release(at)
	detail := "connection lost"
	if err != nil {
		detail = err.Error()
	}
	d.record(Event{Kind: KindDisconnected, Region: at.region, Detail: detail})
}

// release marks a connection as finished: it leaves the connected count and
// its publisher stops.
func (d *device) release(at *attempt) {
	at.up = false
	close(at.done)
	d.f.setConnected(at.region, -1)
}

// publish hands one scheduled message to the publisher, or counts it as not
// delivered when the device is offline or still waiting for earlier PUBACKs.
func (d *device) publish(topic string, payload []byte) {
	at := d.cur
	if at == nil || !at.up {
		d.f.failures.Add(1)
		return
	}
	select {
	case at.queue <- message{topic: topic, payload: payload}:
	default:
		d.f.failures.Add(1)
	}
}

// publisher subscribes to the device's shadow responses, then publishes the
// queued messages one at a time, each after the previous PUBACK, until the
// connection is released. It counts every outcome in the fleet's Stats and
// records the connection's first acknowledged publish.
func (d *device) publisher(at *attempt) {
	defer d.f.wg.Done()
	defer close(at.stopped)
	defer func() {
		// Whatever is still queued was never sent.
		d.f.failures.Add(int64(len(at.queue)))
	}()

	filter := "$aws/things/" + d.thing + "/shadow/update/accepted"
	sub := at.client.Subscribe(filter, qos, func(paho.Client, paho.Message) { d.f.received.Add(1) })
	select {
	case <-sub.Done():
	case <-at.done:
		return
	}
	// An error means the connection went away, which run reports; a refusal
	// is a SUBACK failure code, which paho does not turn into an error.
	if st, ok := sub.(*paho.SubscribeToken); ok && sub.Error() == nil && st.Result()[filter] == subackFailure {
		d.f.refused("subscribe: refused")
		d.record(Event{Kind: KindRefused, Region: at.region, Detail: "subscription to " + filter + " refused"})
	}

	acked := false
	for {
		var m message
		select {
		case m = <-at.queue:
		case <-at.done:
			return
		}
		tok := at.client.Publish(m.topic, qos, false, m.payload)
		select {
		case <-tok.Done():
		case <-at.done:
			// paho completes the token when it tears the connection down;
			// it was not acknowledged before the connection ended.
			d.f.failures.Add(1)
			return
		}
		if tok.Error() != nil {
			d.f.failures.Add(1)
			continue
		}
		d.f.published.Add(1)
		if !acked {
			acked = true
			d.record(Event{Kind: KindPublished, Region: at.region, Detail: m.topic})
		}
	}
}

// shutdown ends the device when the fleet stops: it waits for an attempt in
// progress, stops the publisher and then disconnects. Stopping the publisher
// first keeps it out of paho's Publish while Disconnect tears the client
// down, which could otherwise block it for the write timeout. A publish
// still awaiting its PUBACK counts as not delivered.
func (d *device) shutdown(connectDone <-chan struct{}) {
	if connectDone != nil {
		<-connectDone // bounded by ConnectTimeout; dial aborts at once on ctx
		if !d.attemptDone() {
			return
		}
	}
	at := d.cur
	d.cur = nil
	if at == nil || !at.up {
		return
	}
	d.release(at)
	<-at.stopped
	at.client.Disconnect(disconnectQuiesce)
	d.record(Event{Kind: KindDisconnected, Region: at.region, Detail: "fleet stopped"})
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
