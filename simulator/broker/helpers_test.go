package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

const waitTimeout = 5 * time.Second

// testPKI is a throw-away CA with a server certificate for 127.0.0.1.
type testPKI struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create CA: %v", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse CA: %v", err)
	}
	p := &testPKI{caCert: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = p.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return key
}

var serial struct {
	sync.Mutex
	n int64
}

func (p *testPKI) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
	t.Helper()
	serial.Lock()
	serial.n++
	sn := serial.n + 1
	serial.Unlock()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatalf("issue %s: %v", cn, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse %s: %v", cn, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func (p *testPKI) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
		MinVersion:   tls.VersionTLS12,
	}
}

func (p *testPKI) clientConfig(cert *tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

func newBroker(t *testing.T, opts Options) *Broker {
	t.Helper()
	if opts.Region == "" {
		opts.Region = "test-1"
	}
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

type message struct {
	topic   string
	payload string
}

// client is a paho client whose received messages and connection losses are
// collected on channels.
type client struct {
	paho.Client
	msgs chan message
	lost chan error
}

type clientOpts struct {
	id  string
	tls *tls.Config
}

func dial(t *testing.T, b *Broker, o clientOpts) (*client, error) {
	t.Helper()
	c := &client{msgs: make(chan message, 100), lost: make(chan error, 1)}
	scheme := "tcp"
	if o.tls != nil {
		scheme = "ssl"
	}
	opts := paho.NewClientOptions().
		AddBroker(scheme + "://" + b.Addr()).
		SetClientID(o.id).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitTimeout).
		SetKeepAlive(30 * time.Second).
		SetProtocolVersion(4). // else paho retries a refused CONNECT as MQTT 3.1
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			c.msgs <- message{m.Topic(), string(m.Payload())}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if o.tls != nil {
		opts.SetTLSConfig(o.tls)
	}
	c.Client = paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(waitTimeout) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func mustDial(t *testing.T, b *Broker, o clientOpts) *client {
	t.Helper()
	c, err := dial(t, b, o)
	if err != nil {
		t.Fatalf("connect %s: %v", o.id, err)
	}
	return c
}

// subscribe subscribes at QoS 1 and returns the SUBACK code.
func (c *client) subscribe(t *testing.T, filter string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatalf("subscribe %q timed out", filter)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	return tok.(*paho.SubscribeToken).Result()[filter]
}

func (c *client) publish(t *testing.T, topic string, qos byte, payload string) error {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(waitTimeout) {
		return fmt.Errorf("publish %q timed out", topic)
	}
	return tok.Error()
}

// expect waits for the next message and checks it.
func (c *client) expect(t *testing.T, want message) {
	t.Helper()
	select {
	case got := <-c.msgs:
		if got != want {
			t.Fatalf("got message %+v, want %+v", got, want)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no message, want %+v", want)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeAuth refuses what its sets name and records every identity it saw.
type fakeAuth struct {
	mu             sync.Mutex
	denyConnect    map[string]bool // client IDs
	denyPublish    map[string]bool // topics
	denySubscribe  map[string]bool // filters
	denyReceive    map[string]bool // topics
	requireCertCN  bool            // refuse connect unless the certificate CN equals the client ID
	connectedCerts map[string]string
	// certIDs are the certificate IDs seen, by client ID, on Connect and
	// Receive.
	connectIDs, receiveIDs map[string]string
}

// record notes id in m (allocated on first use); a.mu must be held.
func record(m *map[string]string, clientID, id string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[clientID] = id
}

func (a *fakeAuth) Connect(c ClientInfo) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.denyConnect[c.ClientID] {
		return errors.New("connect denied by policy")
	}
	if a.requireCertCN {
		if c.Certificate == nil || c.Certificate.Subject.CommonName != c.ClientID {
			return errors.New("certificate does not match client ID")
		}
	}
	if c.Certificate != nil {
		record(&a.connectedCerts, c.ClientID, c.Certificate.Subject.CommonName)
	}
	record(&a.connectIDs, c.ClientID, c.CertificateID)
	if !strings.HasPrefix(c.Remote, "127.0.0.1:") {
		return fmt.Errorf("unexpected remote %q", c.Remote)
	}
	return nil
}

func (a *fakeAuth) Publish(_ ClientInfo, topic string) error {
	if a.denyPublish[topic] {
		return errors.New("publish denied by policy")
	}
	return nil
}

func (a *fakeAuth) Subscribe(_ ClientInfo, filter string) error {
	if a.denySubscribe[filter] {
		return errors.New("subscribe denied by policy")
	}
	return nil
}

func (a *fakeAuth) Receive(c ClientInfo, topic string) error {
	a.mu.Lock()
	record(&a.receiveIDs, c.ClientID, c.CertificateID)
	a.mu.Unlock()
	if a.denyReceive[topic] {
		return errors.New("receive denied by policy")
	}
	return nil
}

// checkNoLeaks fails the test if goroutines started during it are still
// running shortly after it ends. Register it first so it runs last.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitTimeout)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
