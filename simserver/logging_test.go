package simserver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// lockedBuffer is a log sink safe for the server's goroutines and the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPolicyRefusalLoggedOnceWithoutPayload: a device publishing outside its policy
// (the real authoriser, as mosquitto_pub would) is refused and logged once, and no
// line of the server's log, at debug level, carries the payload or the device's key.
func TestPolicyRefusalLoggedOnceWithoutPayload(t *testing.T) {
	var logs lockedBuffer
	cfg := testConfig(t, 1)
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := startServer(t, cfg)
	dev := s.Info().Devices[0]
	cert, err := tls.LoadX509KeyPair(dev.CertFile, dev.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(s.Info().CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	lost := make(chan struct{}, 1)
	opts := paho.NewClientOptions().AddBroker("ssl://" + s.Info().Regions[0].Endpoint).SetClientID(dev.Thing).
		SetTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetConnectTimeout(30 * time.Second).
		SetConnectionLostHandler(func(paho.Client, error) {
			select {
			case lost <- struct{}{}:
			default:
			}
		})
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", dev.Thing, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	const payload = "PAYLOAD-NOT-FOR-LOGS-0815"
	c.Publish("devices/someone-else/telemetry", 1, false, payload).WaitTimeout(5 * time.Second)
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("the device was not disconnected after a refused QoS 1 publish")
	}
	eventually(t, 10*time.Second, "the refusal recorded", func() bool {
		return len(s.World().Primary.Broker.Refusals()) > 0
	})
	key, err := os.ReadFile(dev.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keyBody := strings.Split(strings.TrimSpace(string(key)), "\n")[1] // a line of the key's base64
	out := logs.String()
	for _, secret := range []string{payload, keyBody} {
		if strings.Contains(out, secret) {
			t.Errorf("the server's log carries %q", secret)
		}
	}
	if n := strings.Count(out, `"msg":"refused"`); n != 1 {
		t.Errorf("%d refusal lines for one refused publish, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "devices/someone-else/telemetry") {
		t.Errorf("the refusal line does not name the topic:\n%s", out)
	}
}
