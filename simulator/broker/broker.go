package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iot-dr/iot-dr/simulator/pki"
)

// ErrClosed is returned by Broker methods called after Close.
var ErrClosed = errors.New("broker closed")

// ErrDisconnect, matched by an Authorizer's Connect error (errors.Is), closes the
// connection without a CONNACK instead of refusing it: AWS IoT disconnects a device
// whose first connection registered its certificate just in time (JITR, JITP).
var ErrDisconnect = errors.New("connection closed before CONNACK")

// clientReadBuffer is each client connection's read buffer (mochi's bufio.Reader).
const clientReadBuffer = 512

// maxRefusals bounds the refusal log so long drills do not grow memory without
// limit; the oldest entries are dropped first.
const maxRefusals = 10000

// ClientInfo identifies a connected client to the Authorizer.
type ClientInfo struct {
	// ClientID is the MQTT client identifier from CONNECT.
	ClientID string
	// Certificate is the client's leaf certificate; nil on a plain TCP listener.
	Certificate *x509.Certificate
	// CertificateID is Certificate's AWS IoT certificate ID (pki.Fingerprint of
	// its DER), computed once per connection so that per-message authorisation
	// does not hash the certificate; empty without a certificate.
	CertificateID string
	// Remote is the client's network address (host:port).
	Remote string
	// ServerName is the TLS Server Name Indication the client sent; empty without
	// SNI or on a plain TCP listener.
	ServerName string
	// Chain is what the client presented after its leaf certificate (a device
	// without SNI sends its CA's certificate there for just-in-time registration).
	Chain []*x509.Certificate
}

// Authorizer decides each client action as AWS IoT policies would. A nil
// error allows the action; the error's text is recorded as the refusal reason.
// Implementations must be safe for concurrent use: Receive is called on the
// publisher's goroutine once per recipient.
type Authorizer interface {
	// Connect decides whether the client may connect (iot:Connect).
	Connect(c ClientInfo) error
	// Publish decides whether the client may publish to topic (iot:Publish).
	Publish(c ClientInfo, topic string) error
	// Subscribe decides whether the client may subscribe to filter (iot:Subscribe).
	Subscribe(c ClientInfo, filter string) error
	// Receive decides whether a message on topic may be delivered to the
	// client (iot:Receive).
	Receive(c ClientInfo, topic string) error
}

// Options configures a Broker.
type Options struct {
	// Region names the Region the broker belongs to (logging only).
	Region string
	// Addr is the loopback address to listen on (default 127.0.0.1:0). Each simulated
	// Region takes its own loopback IP so that DNS answers (IPs only) tell them apart.
	Addr string
	// TLS, when set, makes the listener speak TLS with this configuration
	// (typically with ClientAuth: tls.RequireAndVerifyClientCert); nil means
	// plain TCP.
	TLS *tls.Config
	// Auth authorises client actions; nil allows everything.
	Auth Authorizer
	// Logger receives the broker's logs; nil discards them.
	Logger *slog.Logger
	// Quotas are the CONNECT and PUBLISH rates enforced (zero: AWS's defaults).
	Quotas Quotas
	// Retained are the retained-message limits (zero: AWS's defaults).
	Retained RetainedQuotas
}

// Action is an AWS IoT policy action checked by the broker.
type Action string

// Actions recorded in refusals, named after the AWS IoT policy actions.
const (
	ActionConnect   Action = "iot:Connect"
	ActionPublish   Action = "iot:Publish"
	ActionSubscribe Action = "iot:Subscribe"
	ActionReceive   Action = "iot:Receive"
)

// Refusal records one action the Authorizer refused.
type Refusal struct {
	Time     time.Time
	ClientID string
	Action   Action
	// Resource is the client ID for connect, the topic for publish and
	// receive, and the topic filter for subscribe.
	Resource string
	Reason   string
	// Throttled is set when a quota refused the action (the connection was closed,
	// AWS's THROTTLED disconnect), rather than authorisation.
	Throttled bool
}

// Broker is one Region's MQTT broker. Create it with New; it is safe for
// concurrent use.
type Broker struct {
	region string
	log    *slog.Logger
	auth   Authorizer
	quota  atomic.Pointer[throttle]
	// retained indexes retained messages for the data-plane API (retained.go).
	retained *retained
	srv      *mqtt.Server
	ln       *listener

	infos   sync.Map // net.Conn -> ClientInfo, for connections that passed CONNECT
	pending pendingFilters
	subID   atomic.Int64
	closed  atomic.Bool

	refusalsMu sync.Mutex
	refusals   []Refusal // ring buffer of at most maxRefusals
	refusalsAt int       // next write position once the ring is full

	closeOnce sync.Once
	closeErr  error
}

// New starts a broker listening on opts.Addr, by default 127.0.0.1 on a port chosen by
// the OS.
func New(opts Options) (*Broker, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "broker", "region", opts.Region)

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumQos = 1                      // AWS IoT supports QoS 0 and 1 only.
	caps.MaximumSessionExpiryInterval = 3600 // AWS IoT's default persistent-session expiry.
	// The default (8192) preallocates a 64 KiB channel per client; a smaller
	// queue keeps thousands of simulated devices cheap. A device receives its
	// shadow's responses, a few a second: 128 pending is ample.
	caps.MaximumClientWritesPending = 128

	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		// mochiLog keeps packets (payloads, passwords) out of mochi's lines.
		Logger:       slog.New(mochiLog{next: log.Handler()}).With("subsystem", "mochi"),
		InlineClient: true,
		// $SYS topics are of no use here and their refresh stops the world
		// (runtime.ReadMemStats); publish them only rarely.
		SysTopicResendInterval: math.MaxInt32,
		// Devices' packets are small and TLS buffers the record below: mochi's
		// default 2 KiB read buffer per client is most of a connection's heap.
		ClientNetReadBufferSize: clientReadBuffer,
	})

	b := &Broker{region: opts.Region, log: log, auth: opts.Auth, srv: srv, retained: newRetained(opts.Retained)}
	b.quota.Store(newThrottle(opts.Quotas))
	if err := srv.AddHook(&authHook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("broker %s: add auth hook: %w", opts.Region, err)
	}
	ln, err := newListener("mqtt-"+opts.Region, opts.Addr, opts.TLS, log, b.forgetConn)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", opts.Region, err)
	}
	b.ln = ln
	if err := srv.Serve(); err != nil {
		ln.close()
		return nil, fmt.Errorf("broker %s: serve: %w", opts.Region, err)
	}
	ln.start(srv.EstablishConnection)
	log.Info("broker listening", "addr", ln.addr(), "tls", opts.TLS != nil)
	return b, nil
}

// Addr returns the listener's address as host:port. It does not change when
// the broker is taken down and brought up again.
func (b *Broker) Addr() string { return b.ln.addr() }

// Publish publishes a message as the broker itself (as AWS IoT services do).
// It reaches Handle callbacks synchronously and is queued for every client
// subscriber whose Receive check passes; qos caps the delivery QoS.
func (b *Broker) Publish(topic string, payload []byte, qos byte) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := b.srv.Publish(topic, payload, false, qos); err != nil {
		return fmt.Errorf("broker %s: publish to %q: %w", b.region, topic, err)
	}
	return nil
}

// Handle subscribes fn to filter inside the process. fn sees every matching
// message, including $aws/... topics when the filter names them, with the
// topic and payload; it runs synchronously on the publisher's goroutine, so it
// must be fast and must not modify payload. cancel removes the subscription
// and may be called more than once.
func (b *Broker) Handle(filter string, fn func(topic string, payload []byte)) (cancel func(), err error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	if fn == nil {
		return nil, fmt.Errorf("broker %s: handle %q: nil handler", b.region, filter)
	}
	if !mqtt.IsValidFilter(filter, false) {
		return nil, fmt.Errorf("broker %s: handle %q: invalid topic filter", b.region, filter)
	}
	id := int(b.subID.Add(1))
	err = b.srv.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload)
	})
	if err != nil {
		return nil, fmt.Errorf("broker %s: handle %q: %w", b.region, filter, err)
	}
	return sync.OnceFunc(func() { _ = b.srv.Unsubscribe(filter, id) }), nil
}

// SetDown takes the device-facing endpoint down (every client connection is
// cut and new ones are closed on arrival) or brings it back up on the same
// address.
func (b *Broker) SetDown(down bool) {
	if b.ln.setDown(down) {
		b.log.Info("broker endpoint state changed", "down", down)
	}
}

// SetQuotas replaces the quotas in force, with fresh buckets: a drill connects its fleet
// before the fault without them and sets them for the failover it measures.
func (b *Broker) SetQuotas(q Quotas) { b.quota.Store(newThrottle(q)) }

// ConnectedClients returns the number of clients with an established MQTT
// session on a live connection.
func (b *Broker) ConnectedClients() int {
	return int(atomic.LoadInt64(&b.srv.Info.ClientsConnected))
}

// Refusals returns the recorded refusals, oldest first. Only the most recent
// 10000 are kept.
func (b *Broker) Refusals() []Refusal {
	b.refusalsMu.Lock()
	defer b.refusalsMu.Unlock()
	out := make([]Refusal, 0, len(b.refusals))
	out = append(out, b.refusals[b.refusalsAt:]...)
	return append(out, b.refusals[:b.refusalsAt]...)
}

// ConnectRefusals returns the reasons given for client's refused CONNECTs, oldest
// first.
func (b *Broker) ConnectRefusals(client string) []string {
	var out []string
	for _, r := range b.Refusals() {
		if r.ClientID == client && r.Action == ActionConnect {
			out = append(out, r.Reason)
		}
	}
	return out
}

// Close cuts every connection, stops the listener and the server, and waits
// for their goroutines. It is safe to call more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.ln.close()
		if err := b.srv.Close(); err != nil {
			b.closeErr = fmt.Errorf("broker %s: close: %w", b.region, err)
		}
		b.log.Info("broker closed")
	})
	return b.closeErr
}

// refuse records and logs a refusal.
func (b *Broker) refuse(c ClientInfo, action Action, resource string, reason error) {
	r := Refusal{Time: time.Now(), ClientID: c.ClientID, Action: action, Resource: resource, Reason: reason.Error(),
		Throttled: errors.Is(reason, ErrThrottled)}
	b.log.Info("refused", "client", c.ClientID, "action", string(action), "resource", resource, "reason", r.Reason)

	b.refusalsMu.Lock()
	defer b.refusalsMu.Unlock()
	if len(b.refusals) < maxRefusals {
		b.refusals = append(b.refusals, r)
		return
	}
	b.refusals[b.refusalsAt] = r
	b.refusalsAt = (b.refusalsAt + 1) % maxRefusals
}

// clientInfo returns the identity of cl, cached per connection after CONNECT.
func (b *Broker) clientInfo(cl *mqtt.Client) ClientInfo {
	if cl.Net.Conn != nil {
		if v, ok := b.infos.Load(cl.Net.Conn); ok {
			return v.(ClientInfo)
		}
	}
	return newClientInfo(cl)
}

// forgetConn drops the cached identity and buckets of a finished connection.
func (b *Broker) forgetConn(c net.Conn) {
	b.infos.Delete(c)
	b.quota.Load().forget(c)
}

func newClientInfo(cl *mqtt.Client) ClientInfo {
	info := ClientInfo{ClientID: cl.ID, Remote: cl.Net.Remote}
	if tc, ok := cl.Net.Conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		info.ServerName = st.ServerName
		if certs := st.PeerCertificates; len(certs) > 0 {
			info.Certificate = certs[0]
			info.CertificateID = pki.Fingerprint(certs[0].Raw)
			if len(certs) > 1 {
				info.Chain = certs[1:]
			}
		}
	}
	return info
}
