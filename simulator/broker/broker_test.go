package broker

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	pahopackets "github.com/eclipse/paho.mqtt.golang/packets"
)

func TestPubSubBetweenClients(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{})
	sub := mustDial(t, b, clientOpts{id: "sub"})
	pub := mustDial(t, b, clientOpts{id: "pub"})

	if code := sub.subscribe(t, "fleet/+/telemetry"); code != 1 {
		t.Fatalf("SUBACK code = %#x, want granted QoS 1", code)
	}
	for _, qos := range []byte{0, 1} {
		payload := fmt.Sprintf("qos%d", qos)
		if err := pub.publish(t, "fleet/d1/telemetry", qos, payload); err != nil {
			t.Fatalf("publish: %v", err)
		}
		sub.expect(t, message{"fleet/d1/telemetry", payload})
	}
	if got := b.ConnectedClients(); got != 2 {
		t.Errorf("ConnectedClients = %d, want 2", got)
	}
}

func TestServerPublishReachesClients(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{})
	sub := mustDial(t, b, clientOpts{id: "sub"})
	sub.subscribe(t, "probe/echo")
	if err := b.Publish("probe/echo", []byte("hello"), 1); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	sub.expect(t, message{"probe/echo", "hello"})
}

func TestAWSTopicsBothDirections(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{})

	// A shadow-service stand-in: answers every update on .../accepted.
	var mu sync.Mutex
	var seen []message
	cancel, err := b.Handle("$aws/things/+/shadow/+", func(topic string, payload []byte) {
		mu.Lock()
		seen = append(seen, message{topic, string(payload)})
		mu.Unlock()
		if err := b.Publish(topic+"/accepted", payload, 1); err != nil {
			t.Errorf("Publish from handler: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	t.Cleanup(cancel)

	dev := mustDial(t, b, clientOpts{id: "thing1"})
	if code := dev.subscribe(t, "$aws/things/thing1/shadow/update/accepted"); code != 1 {
		t.Fatalf("SUBACK code = %#x", code)
	}
	// A top-level wildcard must not see $ topics (MQTT 4.7.2).
	other := mustDial(t, b, clientOpts{id: "wildcard"})
	other.subscribe(t, "#")

	if err := dev.publish(t, "$aws/things/thing1/shadow/update", 1, `{"state":{}}`); err != nil {
		t.Fatalf("publish: %v", err)
	}
	dev.expect(t, message{"$aws/things/thing1/shadow/update/accepted", `{"state":{}}`})

	mu.Lock()
	got := append([]message(nil), seen...)
	mu.Unlock()
	want := []message{{"$aws/things/thing1/shadow/update", `{"state":{}}`}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handler saw %v, want %v", got, want)
	}

	// Ordering on one connection proves the wildcard subscriber got nothing
	// before this marker.
	if err := dev.publish(t, "marker", 1, "m"); err != nil {
		t.Fatalf("publish marker: %v", err)
	}
	other.expect(t, message{"marker", "m"})
}

func TestHandleCancel(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{})
	var mu sync.Mutex
	var calls []string
	cancel, err := b.Handle("events/#", func(topic string, _ []byte) {
		mu.Lock()
		calls = append(calls, topic)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	// Handle callbacks run synchronously inside Publish.
	if err := b.Publish("events/a", nil, 0); err != nil {
		t.Fatal(err)
	}
	cancel()
	cancel() // idempotent
	if err := b.Publish("events/b", nil, 0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0] != "events/a" {
		t.Errorf("calls = %v, want [events/a]", calls)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	b := newBroker(t, Options{})
	tests := []struct {
		name   string
		filter string
		fn     func(string, []byte)
	}{
		{"nil handler", "a/b", nil},
		{"empty filter", "", func(string, []byte) {}},
		{"hash not last", "a/#/b", func(string, []byte) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := b.Handle(tt.filter, tt.fn); err == nil {
				t.Error("Handle succeeded, want error")
			}
		})
	}
}

func TestAuthorizerRefusals(t *testing.T) {
	checkNoLeaks(t)
	auth := &fakeAuth{
		denyConnect:   map[string]bool{"intruder": true},
		denyPublish:   map[string]bool{"secret/write": true},
		denySubscribe: map[string]bool{"secret/#": true},
		denyReceive:   map[string]bool{"fleet/hidden": true},
	}
	b := newBroker(t, Options{Auth: auth})

	t.Run("connect", func(t *testing.T) {
		_, err := dial(t, b, clientOpts{id: "intruder"})
		if !errors.Is(err, pahopackets.ErrorRefusedNotAuthorised) {
			t.Fatalf("connect error = %v, want not authorised", err)
		}
	})

	t.Run("subscribe", func(t *testing.T) {
		c := mustDial(t, b, clientOpts{id: "sub-client"})
		if code := c.subscribe(t, "secret/#"); code != 0x80 {
			t.Errorf("SUBACK for denied filter = %#x, want 0x80", code)
		}
		// A filter without wildcards equal to a topic is still checked as a
		// subscription, not as a delivery.
		if code := c.subscribe(t, "fleet/hidden"); code != 1 {
			t.Errorf("SUBACK for allowed exact filter = %#x, want 1", code)
		}
	})

	t.Run("receive", func(t *testing.T) {
		// sub-client above subscribed to fleet/hidden too: only rx-client may be refused.
		eventually(t, "the earlier clients gone", func() bool { return b.ConnectedClients() == 0 })
		c := mustDial(t, b, clientOpts{id: "rx-client"})
		c.subscribe(t, "fleet/+")
		if err := b.Publish("fleet/hidden", []byte("x"), 1); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish("fleet/visible", []byte("y"), 1); err != nil {
			t.Fatal(err)
		}
		// Delivery on one connection is ordered, so the refused message
		// would have arrived first.
		c.expect(t, message{"fleet/visible", "y"})
	})

	t.Run("publish", func(t *testing.T) {
		c := mustDial(t, b, clientOpts{id: "pub-client"})
		_ = c.publish(t, "secret/write", 1, "z")
		select {
		case <-c.lost:
		case <-time.After(waitTimeout):
			t.Fatal("client not disconnected after a refused QoS 1 publish")
		}
	})

	want := map[Action]Refusal{
		ActionConnect:   {ClientID: "intruder", Action: ActionConnect, Resource: "intruder", Reason: "connect denied by policy"},
		ActionSubscribe: {ClientID: "sub-client", Action: ActionSubscribe, Resource: "secret/#", Reason: "subscribe denied by policy"},
		ActionReceive:   {ClientID: "rx-client", Action: ActionReceive, Resource: "fleet/hidden", Reason: "receive denied by policy"},
		ActionPublish:   {ClientID: "pub-client", Action: ActionPublish, Resource: "secret/write", Reason: "publish denied by policy"},
	}
	got := map[Action]Refusal{}
	for _, r := range b.Refusals() {
		if r.Time.IsZero() {
			t.Errorf("refusal %+v has no time", r)
		}
		if _, dup := got[r.Action]; dup {
			t.Errorf("more than one %s refusal: %+v", r.Action, b.Refusals())
		}
		r.Time = time.Time{}
		got[r.Action] = r
	}
	for a, w := range want {
		if got[a] != w {
			t.Errorf("%s refusal = %+v, want %+v", a, got[a], w)
		}
	}
}

func TestTLSClientCertificates(t *testing.T) {
	checkNoLeaks(t)
	pki := newTestPKI(t)
	auth := &fakeAuth{requireCertCN: true}
	b := newBroker(t, Options{TLS: pki.serverConfig(), Auth: auth})

	devCert := pki.issue(t, "device-1", x509.ExtKeyUsageClientAuth, nil)
	dev := mustDial(t, b, clientOpts{id: "device-1", tls: pki.clientConfig(&devCert)})
	dev.subscribe(t, "d/1")
	if err := dev.publish(t, "d/1", 1, "over tls"); err != nil {
		t.Fatalf("publish: %v", err)
	}
	dev.expect(t, message{"d/1", "over tls"})

	auth.mu.Lock()
	cn := auth.connectedCerts["device-1"]
	connectID, receiveID := auth.connectIDs["device-1"], auth.receiveIDs["device-1"]
	auth.mu.Unlock()
	if cn != "device-1" {
		t.Errorf("Authorizer saw certificate CN %q, want device-1", cn)
	}
	sum := sha256.Sum256(devCert.Certificate[0])
	if want := hex.EncodeToString(sum[:]); connectID != want || receiveID != want {
		t.Errorf("Authorizer saw certificate ID %q on Connect and %q on Receive, want %q", connectID, receiveID, want)
	}

	t.Run("certificate of another identity", func(t *testing.T) {
		_, err := dial(t, b, clientOpts{id: "device-2", tls: pki.clientConfig(&devCert)})
		if !errors.Is(err, pahopackets.ErrorRefusedNotAuthorised) {
			t.Errorf("connect error = %v, want not authorised", err)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		if _, err := dial(t, b, clientOpts{id: "anon", tls: pki.clientConfig(nil)}); err == nil {
			t.Error("connected without a client certificate")
		}
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		rogue := newTestPKI(t).issue(t, "device-1", x509.ExtKeyUsageClientAuth, nil)
		if _, err := dial(t, b, clientOpts{id: "device-1b", tls: pki.clientConfig(&rogue)}); err == nil {
			t.Error("connected with a certificate from an unknown CA")
		}
	})
}

func TestSetDown(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{})
	addr := b.Addr()
	c1 := mustDial(t, b, clientOpts{id: "c1"})
	c2 := mustDial(t, b, clientOpts{id: "c2"})
	eventually(t, "2 connected clients", func() bool { return b.ConnectedClients() == 2 })

	b.SetDown(true)
	for _, c := range []*client{c1, c2} {
		select {
		case <-c.lost:
		case <-time.After(waitTimeout):
			t.Fatal("client not disconnected when the broker went down")
		}
	}
	eventually(t, "0 connected clients", func() bool { return b.ConnectedClients() == 0 })
	if _, err := dial(t, b, clientOpts{id: "c3"}); err == nil {
		t.Fatal("connected while the broker is down")
	}

	b.SetDown(false)
	if b.Addr() != addr {
		t.Fatalf("address changed from %s to %s", addr, b.Addr())
	}
	c4 := mustDial(t, b, clientOpts{id: "c4"})
	c4.subscribe(t, "back")
	if err := b.Publish("back", []byte("up"), 0); err != nil {
		t.Fatal(err)
	}
	c4.expect(t, message{"back", "up"})
}

func TestCloseCutsClientsAndIsIdempotent(t *testing.T) {
	checkNoLeaks(t)
	b, err := New(Options{Region: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	c := mustDial(t, b, clientOpts{id: "c"})
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-c.lost:
	case <-time.After(waitTimeout):
		t.Fatal("client not disconnected by Close")
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Publish("x", nil, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestRefusalsKeepsNewest(t *testing.T) {
	b := newBroker(t, Options{})
	for i := range maxRefusals + 3 {
		b.refuse(ClientInfo{ClientID: fmt.Sprint(i)}, ActionPublish, "t", errors.New("no"))
	}
	got := b.Refusals()
	if len(got) != maxRefusals {
		t.Fatalf("len = %d, want %d", len(got), maxRefusals)
	}
	if got[0].ClientID != "3" || got[len(got)-1].ClientID != fmt.Sprint(maxRefusals+2) {
		t.Errorf("oldest %s, newest %s; want 3 and %d", got[0].ClientID, got[len(got)-1].ClientID, maxRefusals+2)
	}
}

// TestManyClients connects a few hundred clients at once through the
// Authorizer and fans one message out to all of them.
func TestManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("many clients")
	}
	checkNoLeaks(t)
	const n = 200
	b := newBroker(t, Options{Auth: &fakeAuth{}})
	clients := make([]*client, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(t, b, clientOpts{id: fmt.Sprintf("dev-%d", i)})
			if err != nil {
				errs <- err
				return
			}
			if tok := c.Subscribe("broadcast", 1, nil); !tok.WaitTimeout(waitTimeout) || tok.Error() != nil {
				errs <- fmt.Errorf("subscribe: %v", tok.Error())
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := b.ConnectedClients(); got != n {
		t.Fatalf("ConnectedClients = %d, want %d", got, n)
	}
	if err := b.Publish("broadcast", []byte("all"), 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.expect(t, message{"broadcast", "all"})
	}
}
