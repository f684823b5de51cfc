package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iot-dr/iot-dr/simulator/broker"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		refuse   broker.Action
		down     bool
		wantErr  string // substring; empty means success
		received int
	}{
		{name: "broker up", received: 3},
		{name: "broker down", down: true, wantErr: "connect: "},
		{name: "connect refused", refuse: broker.ActionConnect, wantErr: "connect refused: not authorised"},
		{name: "subscribe refused", refuse: broker.ActionSubscribe, wantErr: "subscribe refused"},
		{name: "receive refused", refuse: broker.ActionReceive, wantErr: "timeout after 3s, 0/3 received"},
		// A refused QoS 1 PUBLISH disconnects an MQTT 3.1.1 client.
		{name: "publish refused", refuse: broker.ActionPublish, wantErr: "0/3 received"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth := &authz{refuse: tc.refuse}
			b, tlsCfg := testBroker(t, auth)
			b.SetDown(tc.down)
			// The timeout bounds connect and subscribe too: long enough for a TLS
			// handshake on a loaded machine under -race.
			p := &Prober{Broker: "tls://" + b.Addr(), TLS: tlsCfg, Messages: 3, Timeout: 3 * time.Second}

			rep, err := p.RoundTrip(t.Context())
			t.Logf("report %+v, error %v", rep, err)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				if rep.Connect <= 0 || rep.Subscribe <= 0 || rep.FirstMessage <= 0 || rep.AllMessages < rep.FirstMessage {
					t.Errorf("implausible timings %+v", rep)
				}
			} else if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantErr)) {
				t.Fatalf("RoundTrip error = %v, want it to contain %q", err, tc.wantErr)
			}
			if rep.Received != tc.received || rep.Expected != 3 {
				t.Errorf("received %d/%d, want %d/3", rep.Received, rep.Expected, tc.received)
			}
			auth.checkNames(t)
			// The probe always disconnects, whatever failed.
			waitFor(t, "probe to disconnect", func() bool { return b.ConnectedClients() == 0 })
		})
	}
}

func TestRoundTripDefaultsAndUniqueRuns(t *testing.T) {
	auth := &authz{}
	b, tlsCfg := testBroker(t, auth)
	p := &Prober{Broker: "tls://" + b.Addr(), TLS: tlsCfg}
	for range 2 {
		rep, err := p.RoundTrip(t.Context())
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		if rep.Expected != DefaultMessages || rep.Received != DefaultMessages {
			t.Errorf("received %d/%d, want %d/%d", rep.Received, rep.Expected, DefaultMessages, DefaultMessages)
		}
	}
	auth.mu.Lock()
	defer auth.mu.Unlock()
	if len(auth.clientIDs) != 2 || auth.clientIDs[0] == auth.clientIDs[1] {
		t.Errorf("client ids %q: want two distinct", auth.clientIDs)
	}
}

func TestRoundTripCanceled(t *testing.T) {
	b, tlsCfg := testBroker(t, &authz{refuse: broker.ActionReceive})
	ctx, cancel := context.WithCancel(t.Context())
	p := &Prober{Broker: "tls://" + b.Addr(), TLS: tlsCfg, Timeout: time.Minute}
	returned, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		defer cancel()
		for b.ConnectedClients() == 0 {
			select {
			case <-returned:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	_, err := p.RoundTrip(ctx)
	close(returned)
	<-stopped
	if !errors.Is(err, context.Canceled) && (err == nil || !strings.Contains(err.Error(), "canceled")) {
		t.Fatalf("RoundTrip error = %v, want cancellation", err)
	}
	waitFor(t, "probe to disconnect", func() bool { return b.ConnectedClients() == 0 })
}

// fakeMessage is enough of mqtt.Message for receipts.handle.
type fakeMessage struct {
	mqtt.Message
	payload []byte
}

func (m fakeMessage) Payload() []byte { return m.payload }

func TestReceiptsDeduplicate(t *testing.T) {
	clock := time.Unix(100, 0)
	r := newReceipts("run1", 2, func() time.Time { clock = clock.Add(time.Second); return clock })
	for _, p := range [][]byte{
		payload("run1", 0),
		payload("run1", 0),  // QoS 1 redelivery
		payload("other", 1), // another run's message
		payload("run1", 7),  // out of range
		[]byte("not json"),
	} {
		r.handle(nil, fakeMessage{payload: p})
	}
	select {
	case <-r.done:
		t.Fatal("done after one distinct message of two")
	default:
	}
	r.handle(nil, fakeMessage{payload: payload("run1", 1)})
	select {
	case <-r.done:
	default:
		t.Fatal("not done after both messages")
	}
	first, last, got := r.snapshot()
	if got != 2 || !last.After(first) {
		t.Errorf("got %d, first %v, last %v", got, first, last)
	}
}
