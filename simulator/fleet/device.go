package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/iot-dr/iot-dr/functions/spec"
)

const (
	qos = 1
	// queueDepth is how many scheduled messages may wait for the previous
	// PUBACK; beyond it a message counts as not delivered.
	queueDepth = 4
	// maxWriteTimeout bounds one write to the broker. Writes of small packets to a
	// live loopback broker never take that long; a broker that stops reading is
	// then a lost connection.
	maxWriteTimeout = 2 * time.Second
	// disconnectQuiesce bounds how long Stop waits for a DISCONNECT to be written.
	disconnectQuiesce = 250 * time.Millisecond
	// readBufferSize is a connection's first read buffer: every packet a device
	// receives but the shadow documents fits; it grows for larger ones.
	readBufferSize = 256
)

// longAgo is a read deadline in the past: it interrupts a blocked Read at once.
var longAgo = time.Unix(1, 0)

// device is one simulated device. One goroutine (run) owns everything but the
// timeline, which is shared under mu.
type device struct {
	f     *Fleet
	thing string
	tls   *tls.Config
	rng   *rand.Rand // used by run only (and by Start before run begins)

	mu     sync.Mutex
	events []Event

	// Owned by run.
	failures                int  // consecutive failed attempts, the backoff exponent
	everConnected           bool // has ever connected (for Stats.Reconnects)
	telemetrySeq, shadowSeq int64
	telemetry, shadow       schedule
}

// conn is one MQTT connection of a device: its TLS connection, the bytes read
// but not yet decoded, and the publishes in flight. Only run touches it, but for
// the read deadline that Stop sets from another goroutine.
type conn struct {
	tc         *tls.Conn
	ip, region string
	rbuf       []byte // rbuf[start:] is read and not yet decoded
	start      int
	wbuf       []byte // the packet being written
	writeLimit time.Duration

	lastID   uint16
	subID    uint16
	inflight uint16 // the publish awaiting its PUBACK, 0 when none
	topic    string // its topic
	acked    bool   // a publish of this connection was acknowledged
	queue    []message

	lastRead, lastWrite, pingSent time.Time
}

// message is one scheduled publish.
type message struct {
	topic   string
	payload []byte
}

// run is the device's life: connect, publish on schedule, reconnect with
// backoff, until ctx is done.
func (d *device) run(ctx context.Context, startDelay time.Duration) {
	defer d.f.wg.Done()
	o := &d.f.opts
	d.telemetry = newSchedule(o.TelemetryEvery, d.rng)
	d.shadow = newSchedule(o.ShadowEvery, d.rng)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	if !d.sleep(ctx, timer, time.Now().Add(startDelay)) {
		return
	}
	for {
		if c := d.connect(ctx); c != nil {
			err := d.serve(ctx, c)
			if ctx.Err() != nil {
				d.disconnect(c)
				return
			}
			d.lose(c, err)
		} else if ctx.Err() != nil {
			return
		}
		delay := o.Backoff.Delay(d.failures, d.rng)
		d.failures++
		if !d.sleep(ctx, timer, time.Now().Add(delay)) {
			return
		}
	}
}

// sleep waits until the given time while the device is offline: every scheduled
// message that falls due meanwhile is not delivered. It reports false when ctx
// ends first.
func (d *device) sleep(ctx context.Context, timer *time.Timer, until time.Time) bool {
	for {
		now := time.Now()
		for _, s := range []*schedule{&d.telemetry, &d.shadow} {
			if s.due(now) {
				s.rearm(now)
				d.f.failures.Add(1)
			}
		}
		if !now.Before(until) {
			return ctx.Err() == nil
		}
		wake := until
		if t, ok := d.nextDue(); ok && t.Before(wake) {
			wake = t
		}
		timer.Reset(wake.Sub(now))
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
		}
	}
}

// nextDue is when the next scheduled message is due.
func (d *device) nextDue() (time.Time, bool) {
	t, ok := d.telemetry.when()
	if s, sok := d.shadow.when(); sok && (!ok || s.Before(t)) {
		t, ok = s, true
	}
	return t, ok
}

// connect makes one attempt: resolve, dial, TLS handshake, CONNECT and CONNACK,
// within ConnectTimeout. It returns the connection once the broker accepted it,
// and nil after recording why not.
func (d *device) connect(ctx context.Context) *conn {
	o := &d.f.opts
	select {
	case d.f.handshakes <- struct{}{}:
		defer func() { <-d.f.handshakes }()
	case <-ctx.Done():
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	ip, tc, err := d.f.dial(actx, d)
	region := d.f.region(ip)
	if err != nil {
		if ctx.Err() == nil {
			d.f.connectFails.Add(1)
			d.record(Event{Kind: KindConnectFailed, Region: region, Detail: err.Error()})
		}
		return nil
	}
	c := &conn{tc: tc, ip: ip, region: region, rbuf: make([]byte, 0, readBufferSize),
		writeLimit: min(o.ConnectTimeout, maxWriteTimeout)}
	deadline, _ := actx.Deadline()
	// Stop or the attempt's timeout interrupts the wait for CONNACK.
	stop := context.AfterFunc(actx, func() { _ = tc.SetReadDeadline(longAgo) })
	rc, err := c.open(d.thing, o.KeepAlive, deadline)
	stop()
	switch {
	case err != nil:
		cut(tc)
		if ctx.Err() == nil {
			// A throttled CONNECT ends here: AWS closes the connection without a CONNACK.
			d.f.connectFails.Add(1)
			d.record(Event{Kind: KindConnectFailed, Region: region, Detail: err.Error()})
		}
		return nil
	case rc != 0:
		cut(tc)
		reason := connackReason(rc)
		d.f.refused("connect: " + reason)
		d.record(Event{Kind: KindRefused, Region: region, Detail: reason})
		return nil
	}
	d.failures = 0
	d.f.connects.Add(1)
	if d.everConnected {
		d.f.reconnects.Add(1)
	}
	d.everConnected = true
	d.f.setConnected(region, +1)
	d.record(Event{Kind: KindConnected, Region: region, Detail: ip})
	return c
}

// open sends CONNECT and reads the CONNACK's return code, by deadline.
func (c *conn) open(clientID string, keepAlive time.Duration, deadline time.Time) (byte, error) {
	c.wbuf = appendConnect(c.wbuf[:0], clientID, uint16(keepAlive/time.Second))
	if err := c.send(deadline); err != nil {
		return 0, fmt.Errorf("send CONNECT: %w", err)
	}
	if err := c.tc.SetReadDeadline(deadline); err != nil {
		return 0, fmt.Errorf("wait for CONNACK: %w", err)
	}
	p, err := c.next()
	if err != nil {
		return 0, fmt.Errorf("wait for CONNACK: %w", err)
	}
	if p.kind != pktConnack {
		return 0, fmt.Errorf("%w: packet type %d before CONNACK", errMalformed, p.kind)
	}
	return p.connackCode()
}

// serve runs a connection until it is lost or ctx ends: it subscribes, announces
// the device, publishes on schedule, keeps the connection alive and reads what the
// broker sends. Reads wait at most until the next thing to do, so one goroutine
// does it all.
func (d *device) serve(ctx context.Context, c *conn) error {
	ka := d.f.opts.KeepAlive
	stop := context.AfterFunc(ctx, func() { _ = c.tc.SetReadDeadline(longAgo) })
	defer stop()
	now := time.Now()
	c.lastRead = now

	c.subID = c.id()
	c.wbuf = appendSubscribe(c.wbuf[:0], c.subID, shadowAccepted(d.thing), qos)
	if err := c.send(now.Add(c.writeLimit)); err != nil {
		return fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	// Announce itself at once, as devices do after (re)connecting: the moment
	// service is restored is then measured, not the schedule.
	if err := d.publish(c, spec.TelemetryTopic(d.thing), telemetryPayload(d.thing, inc(&d.telemetrySeq))); err != nil {
		return err
	}
	for {
		now := time.Now()
		if d.telemetry.due(now) {
			d.telemetry.rearm(now)
			if err := d.publish(c, spec.TelemetryTopic(d.thing), telemetryPayload(d.thing, inc(&d.telemetrySeq))); err != nil {
				return err
			}
		}
		if d.shadow.due(now) {
			d.shadow.rearm(now)
			if err := d.publish(c, "$aws/things/"+d.thing+"/shadow/update", shadowPayload(inc(&d.shadowSeq))); err != nil {
				return err
			}
		}
		// Keep-alive as paho does it: ping when nothing was sent or received for a
		// keep-alive, and give up when the answer takes another.
		var pingAt time.Time
		if c.pingSent.IsZero() {
			pingAt = c.lastWrite
			if c.lastRead.Before(pingAt) {
				pingAt = c.lastRead
			}
			pingAt = pingAt.Add(ka)
			if !now.Before(pingAt) {
				c.wbuf = appendPingreq(c.wbuf[:0])
				if err := c.send(now.Add(c.writeLimit)); err != nil {
					return fmt.Errorf("send PINGREQ: %w", err)
				}
				c.pingSent = now
			}
		}
		if !c.pingSent.IsZero() {
			pingAt = c.pingSent.Add(ka)
			if !now.Before(pingAt) {
				return fmt.Errorf("keep-alive: no PINGRESP within %s", ka)
			}
		}
		wake := pingAt
		if t, ok := d.nextDue(); ok && t.Before(wake) {
			wake = t
		}
		if err := c.tc.SetReadDeadline(wake); err != nil {
			return err
		}
		if ctx.Err() != nil { // after the deadline is set: Stop's cannot be overwritten
			return ctx.Err()
		}
		p, err := c.next()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return err
		}
		c.lastRead, c.pingSent = time.Now(), time.Time{}
		if err := d.handle(c, p); err != nil {
			return err
		}
	}
}

// handle acts on one packet from the broker.
func (d *device) handle(c *conn, p packet) error {
	switch p.kind {
	case pktPuback:
		id, err := p.packetID()
		if err != nil || id != c.inflight {
			return err // a stray acknowledgement is ignored
		}
		c.inflight = 0
		d.f.published.Add(1)
		if !c.acked {
			c.acked = true
			d.record(Event{Kind: KindPublished, Region: c.region, Detail: c.topic})
		}
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue = append(c.queue[:0], c.queue[1:]...)
			return d.send(c, m)
		}
	case pktSuback:
		id, err := p.packetID()
		if err != nil {
			return err
		}
		if id == c.subID && len(p.body) > 2 && p.body[2] == subackFailure {
			filter := shadowAccepted(d.thing)
			d.f.refused("subscribe: refused")
			d.record(Event{Kind: KindRefused, Region: c.region, Detail: "subscription to " + filter + " refused"})
		}
	case pktPublish:
		q, id, err := p.publishQoS()
		if err != nil {
			return err
		}
		d.f.received.Add(1)
		if q == 1 {
			c.wbuf = appendPuback(c.wbuf[:0], id)
			if err := c.send(time.Now().Add(c.writeLimit)); err != nil {
				return fmt.Errorf("send PUBACK: %w", err)
			}
		}
	case pktPingresp:
	default:
		return fmt.Errorf("%w: unexpected packet type %d", errMalformed, p.kind)
	}
	return nil
}

// publish sends one scheduled message, queues it behind the one awaiting its
// PUBACK, or counts it as not delivered when the queue is full.
func (d *device) publish(c *conn, topic string, payload []byte) error {
	m := message{topic: topic, payload: payload}
	if c.inflight == 0 {
		return d.send(c, m)
	}
	if len(c.queue) < queueDepth {
		c.queue = append(c.queue, m)
		return nil
	}
	d.f.failures.Add(1)
	return nil
}

func (d *device) send(c *conn, m message) error {
	id := c.id()
	c.wbuf = appendPublish(c.wbuf[:0], m.topic, qos, id, m.payload)
	c.inflight, c.topic = id, m.topic
	if err := c.send(time.Now().Add(c.writeLimit)); err != nil {
		return fmt.Errorf("send PUBLISH: %w", err)
	}
	return nil
}

// lose handles the loss of a connection: what was queued or in flight was not
// delivered.
func (d *device) lose(c *conn, err error) {
	d.release(c)
	detail := "connection lost"
	if err != nil {
		detail = err.Error()
	}
	d.record(Event{Kind: KindDisconnected, Region: c.region, Detail: detail})
}

// disconnect ends a connection when the fleet stops: DISCONNECT, then close.
func (d *device) disconnect(c *conn) {
	d.release(c)
	c.wbuf = appendDisconnect(c.wbuf[:0])
	_ = c.send(time.Now().Add(disconnectQuiesce))
	d.record(Event{Kind: KindDisconnected, Region: c.region, Detail: "fleet stopped"})
}

func (d *device) release(c *conn) {
	n := len(c.queue)
	if c.inflight != 0 {
		n++
	}
	d.f.failures.Add(int64(n))
	c.queue, c.inflight = nil, 0
	cut(c.tc)
	d.f.setConnected(c.region, -1)
}

// id returns the connection's next packet identifier (never 0).
func (c *conn) id() uint16 {
	c.lastID++
	if c.lastID == 0 {
		c.lastID = 1
	}
	return c.lastID
}

// send writes wbuf by deadline. A write that times out leaves the TLS state
// unusable; the caller then treats the connection as lost.
func (c *conn) send(deadline time.Time) error {
	if err := c.tc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.tc.Write(c.wbuf)
	c.lastWrite = time.Now()
	return err
}

// next returns the next whole packet from the broker, reading as needed under the
// read deadline in force. A timeout keeps what was read of a packet.
func (c *conn) next() (packet, error) {
	for {
		p, n, err := nextPacket(c.rbuf[c.start:])
		if err != nil {
			return packet{}, err
		}
		if n > 0 {
			c.start += n
			return p, nil
		}
		if c.start > 0 {
			c.rbuf = c.rbuf[:copy(c.rbuf, c.rbuf[c.start:])]
			c.start = 0
		}
		if len(c.rbuf) == cap(c.rbuf) {
			c.rbuf = append(make([]byte, 0, 2*cap(c.rbuf)), c.rbuf...)
		}
		m, err := c.tc.Read(c.rbuf[len(c.rbuf):cap(c.rbuf)])
		c.rbuf = c.rbuf[:len(c.rbuf)+m]
		if err != nil && m == 0 {
			return packet{}, err
		}
	}
}

// cut closes the TCP connection underneath TLS: no close_notify, which a broker
// that is gone could not read anyway.
func cut(tc *tls.Conn) { _ = tc.NetConn().Close() }

func shadowAccepted(thing string) string { return "$aws/things/" + thing + "/shadow/update/accepted" }

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

// schedule is due every interval from a random phase, without drift and without
// catching up on missed ticks. A zero interval is never due.
type schedule struct {
	every time.Duration
	next  time.Time
}

func newSchedule(every time.Duration, rng *rand.Rand) schedule {
	if every <= 0 {
		return schedule{}
	}
	return schedule{every: every, next: time.Now().Add(time.Duration(rng.Int64N(int64(every))))}
}

func (s *schedule) when() (time.Time, bool) { return s.next, s.every > 0 }

func (s *schedule) due(now time.Time) bool { return s.every > 0 && !now.Before(s.next) }

// rearm schedules the next time one interval after the last one, or one interval
// from now if the device fell more than an interval behind.
func (s *schedule) rearm(now time.Time) {
	s.next = s.next.Add(s.every)
	if s.next.Before(now) {
		s.next = now.Add(s.every)
	}
}
