package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

// syncBuffer is a log sink safe for the broker's goroutines and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefusalsLoggedOnceWithoutPayload: a refused PUBLISH (QoS 0 and 1) and a refused
// CONNECT with a password are each logged once, by the broker, at every log level, and
// no log line carries the payload or the password (mochi's own "error processing
// packet" line would dump the whole packet).
func TestRefusalsLoggedOnceWithoutPayload(t *testing.T) {
	checkNoLeaks(t)
	const payload, password = "TOP-SECRET-PAYLOAD-4711", "hunter2-password"
	var logs syncBuffer
	auth := &fakeAuth{denyPublish: map[string]bool{"secret/write": true}, denyConnect: map[string]bool{"intruder": true}}
	b := newBroker(t, Options{Auth: auth, Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	c := mustDial(t, b, clientOpts{id: "pub-client"})
	_ = c.publish(t, "secret/write", 0, payload+"-qos0")
	eventually(t, "the QoS 0 refusal", func() bool { return len(b.Refusals()) == 1 })
	_ = c.publish(t, "secret/write", 1, payload+"-qos1")
	select {
	case <-c.lost:
	case <-time.After(waitTimeout):
		t.Fatal("client not disconnected after a refused QoS 1 publish")
	}

	opts := paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID("intruder").SetUsername("intruder").
		SetPassword(password).SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetConnectTimeout(waitTimeout)
	intruder := paho.NewClient(opts)
	if tok := intruder.Connect(); !tok.WaitTimeout(waitTimeout) || tok.Error() == nil {
		t.Fatalf("the intruder connected (%v)", tok.Error())
	}
	eventually(t, "three refusals", func() bool { return len(b.Refusals()) == 3 })
	eventually(t, "the clients gone", func() bool { return b.ConnectedClients() == 0 })

	out := logs.String()
	for _, secret := range []string{payload, password} {
		if strings.Contains(out, secret) {
			t.Errorf("the log carries %q:\n%s", secret, out)
		}
	}
	if n := strings.Count(out, `"msg":"refused"`); n != 3 {
		t.Errorf("%d refusal lines, want 3 (one per refusal):\n%s", n, out)
	}
	if strings.Contains(out, "error processing packet") {
		t.Errorf("mochi's own line for a refused packet is logged too:\n%s", out)
	}
}

// TestMochiLogSummarisesPackets: any packet mochi logs becomes a summary (type, topic,
// QoS, size), at any key and inside groups; other attributes and errors pass through.
func TestMochiLogSummarisesPackets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(mochiLog{next: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "t/1", PacketID: 7, Payload: []byte("PAYLOAD-XYZ")}
	tests := []struct {
		name string
		log  func()
		want []string
	}{
		{"packet value", func() { log.Warn("error processing packet", "error", errors.New("boom"), "pk", pk) },
			[]string{"pk.type=Publish", "pk.topic=t/1", "pk.qos=1", "pk.payload_bytes=11", "pk.packet_id=7", "error=boom"}},
		{"packet pointer in a group", func() { log.Debug("x", slog.Group("g", "packet", &pk)) }, []string{"g.packet.type=Publish"}},
		{"with attrs", func() { log.With("pkv", pk).Info("retained") }, []string{"pkv.payload_bytes=11"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			tc.log()
			out := buf.String()
			if strings.Contains(out, "PAYLOAD-XYZ") {
				t.Fatalf("payload logged: %s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("log %q lacks %q", out, w)
				}
			}
		})
	}
	buf.Reset()
	log.Warn("error processing packet", "error", packets.ErrNotAuthorized, "pk", pk)
	log.Warn("error processing packet", "error", packets.ErrBadUsernameOrPassword, "pk", pk)
	if buf.Len() != 0 {
		t.Errorf("a not-authorised packet error is logged (the broker logs the refusal itself): %s", buf.String())
	}
}
