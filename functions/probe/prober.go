package probe

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Defaults applied when a Prober field is zero.
const (
	DefaultMessages = 3
	DefaultTimeout  = 5 * time.Second
)

// subackFailure is the SUBACK return code of a refused subscription (MQTT 3.1.1 §3.9.3).
const subackFailure = 0x80

// disconnectQuiesce bounds how long Disconnect waits to send DISCONNECT, in
// milliseconds; the probe has nothing in flight worth waiting for.
const disconnectQuiesce = 100

// Report holds the timings of one probe run. Durations are of each step on its
// own: Connect is TLS plus CONNECT/CONNACK, Subscribe is SUBSCRIBE/SUBACK, and
// FirstMessage and AllMessages are measured from the first PUBLISH to the first
// and to the last distinct message received back. A failed run leaves the
// durations of the steps it did not reach at zero.
type Report struct {
	Connect      time.Duration
	Subscribe    time.Duration
	FirstMessage time.Duration
	AllMessages  time.Duration
	// Received counts distinct sequence numbers received back; Expected is N.
	Received int
	Expected int
	// Certificate is the server certificate the broker presented (zero if the
	// handshake did not get that far).
	Certificate ServerCertificate
}

// Prober runs the MQTT round trip against one broker. Its fields are read-only
// once RoundTrip is called; one Prober may run concurrent round trips, each
// with its own connection, client id and topic.
type Prober struct {
	// Broker is the broker URL, tls://host:port (paho scheme names).
	Broker string
	// TLS carries the probe's client certificate, the name the broker must
	// present a certificate for (ServerName, sent as SNI: the custom domain, so the
	// probe takes the devices' path through the domain configuration) and the roots
	// to verify it with (nil RootCAs: the system pool). ServerName is required.
	TLS *tls.Config
	// ClientIDPrefix starts the MQTT client id; empty means
	// spec.ProbeClientIDPrefix, which the probe policy allows.
	ClientIDPrefix string
	// Messages is N, the number of messages to round-trip (default DefaultMessages).
	Messages int
	// Timeout bounds the whole run, connect included (default DefaultTimeout).
	Timeout time.Duration
	// Now is the clock for timings; nil means time.Now.
	Now func() time.Time
}

// RoundTrip connects, subscribes to a topic of its own, publishes N messages at
// QoS 1 and waits until all N have come back or the timeout expires. It always
// disconnects before returning. The error names the step that failed; the
// Report holds what was measured up to then.
func (p *Prober) RoundTrip(ctx context.Context) (Report, error) {
	n := p.Messages
	if n <= 0 {
		n = DefaultMessages
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	prefix := p.ClientIDPrefix
	if prefix == "" {
		prefix = spec.ProbeClientIDPrefix
	}
	rep := Report{Expected: n}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if p.TLS == nil || p.TLS.ServerName == "" {
		return rep, errors.New("probe misconfigured: no TLS server name (the custom domain) to verify the broker against")
	}
	tlsCfg, served := verifying(p.TLS, now)

	run := newRunID()
	topic := spec.ProbeTopic(run)
	recv := newReceipts(run, n, now)
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(p.Broker).
		SetClientID(prefix + run).
		SetTLSConfig(tlsCfg).
		SetProtocolVersion(4). // MQTT 3.1.1, no fallback to 3.1
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(timeout). // bounds dial, TLS and CONNACK, so Disconnect never waits longer
		SetOrderMatters(false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	client := mqtt.NewClient(opts)

	start := now()
	ct := client.Connect()
	// Disconnect also covers a connect still in progress: paho waits for it
	// (bounded by the connect timeout) before closing.
	defer client.Disconnect(disconnectQuiesce)
	err := wait(ctx, ct)
	cert, seen, certErr := served.result()
	if seen {
		rep.Certificate = cert
	}
	if certErr != nil {
		return rep, certErr
	}
	if err != nil {
		// A CONNACK with a refusal code is the broker saying no (for AWS IoT:
		// unknown or inactive certificate, or iot:Connect denied).
		if tok, ok := ct.(*mqtt.ConnectToken); ok && ctx.Err() == nil {
			if rc := tok.ReturnCode(); rc != packets.Accepted && rc != packets.ErrNetworkError {
				return rep, fmt.Errorf("connect refused: %s", strings.TrimPrefix(packets.ConnackReturnCodes[rc], "Connection Refused: "))
			}
		}
		return rep, fmt.Errorf("connect: %w", err)
	}
	rep.Connect = now().Sub(start)

	start = now()
	st := client.Subscribe(topic, 1, recv.handle)
	if err := wait(ctx, st); err != nil {
		return rep, fmt.Errorf("subscribe: %w", err)
	}
	if tok, ok := st.(*mqtt.SubscribeToken); ok && tok.Result()[topic] == subackFailure {
		return rep, errors.New("subscribe refused")
	}
	rep.Subscribe = now().Sub(start)

	start = now()
	pubs := make([]mqtt.Token, n)
	for i := range n {
		pubs[i] = client.Publish(topic, 1, false, payload(run, i))
	}
	select {
	case <-recv.done:
	case lerr := <-lost:
		err = fmt.Errorf("connection lost, %d/%d received: %w", recv.count(), n, lerr)
	case <-ctx.Done():
		switch perr := publishError(pubs); {
		case perr != nil:
			err = perr
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("%w after %s, %d/%d received", ErrTimeout, timeout, recv.count(), n)
		default:
			err = fmt.Errorf("%w, %d/%d received", ctx.Err(), recv.count(), n)
		}
	}
	first, last, got := recv.snapshot()
	rep.Received = got
	if !first.IsZero() {
		rep.FirstMessage = first.Sub(start)
	}
	if err != nil {
		return rep, err
	}
	rep.AllMessages = last.Sub(start)
	return rep, nil
}

// ErrTimeout reports that a step did not finish within Prober.Timeout.
var ErrTimeout = errors.New("timeout")

// wait waits for a paho token or the context, whichever ends first.
func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ErrTimeout
		}
		return ctx.Err()
	}
}

// publishError returns the first failed PUBLISH among tokens already done.
func publishError(pubs []mqtt.Token) error {
	for i, t := range pubs {
		select {
		case <-t.Done():
			if err := t.Error(); err != nil {
				return fmt.Errorf("publish %d: %w", i, err)
			}
		default:
		}
	}
	return nil
}

// message is the probe's payload: the run id guards against strays, seq is
// what the receiver deduplicates on.
type message struct {
	Run string `json:"run"`
	Seq int    `json:"seq"`
}

func payload(run string, seq int) []byte {
	b, _ := json.Marshal(message{Run: run, Seq: seq}) // cannot fail: two plain fields
	return b
}

// receipts records which sequence numbers came back, once each, since QoS 1
// may deliver a message more than once.
type receipts struct {
	run  string
	now  func() time.Time
	done chan struct{} // closed when all n distinct messages arrived

	mu          sync.Mutex
	seen        []bool
	got         int
	first, last time.Time
}

func newReceipts(run string, n int, now func() time.Time) *receipts {
	return &receipts{run: run, now: now, done: make(chan struct{}), seen: make([]bool, n)}
}

func (r *receipts) handle(_ mqtt.Client, m mqtt.Message) {
	var msg message
	if err := json.Unmarshal(m.Payload(), &msg); err != nil || msg.Run != r.run {
		return
	}
	at := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg.Seq < 0 || msg.Seq >= len(r.seen) || r.seen[msg.Seq] {
		return
	}
	r.seen[msg.Seq] = true
	r.got++
	if r.got == 1 {
		r.first = at
	}
	r.last = at
	if r.got == len(r.seen) {
		close(r.done)
	}
}

func (r *receipts) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

func (r *receipts) snapshot() (first, last time.Time, got int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first, r.last, r.got
}

// newRunID returns 16 random hex digits naming one run's client id and topic.
func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
