package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

const serverName = "iot.probe.test"

// authz is a broker.Authorizer that refuses one action (or none) and records
// the client ids and topics it was asked about.
type authz struct {
	refuse broker.Action

	mu        sync.Mutex
	clientIDs []string
	topics    []string
}

func (a *authz) decide(action broker.Action, c broker.ClientInfo, resource string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch action {
	case broker.ActionConnect:
		a.clientIDs = append(a.clientIDs, c.ClientID)
	default:
		a.topics = append(a.topics, resource)
	}
	if action == a.refuse {
		return errors.New("denied by test policy")
	}
	return nil
}

func (a *authz) Connect(c broker.ClientInfo) error {
	return a.decide(broker.ActionConnect, c, c.ClientID)
}
func (a *authz) Publish(c broker.ClientInfo, topic string) error {
	return a.decide(broker.ActionPublish, c, topic)
}
func (a *authz) Subscribe(c broker.ClientInfo, filter string) error {
	return a.decide(broker.ActionSubscribe, c, filter)
}
func (a *authz) Receive(c broker.ClientInfo, topic string) error {
	return a.decide(broker.ActionReceive, c, topic)
}

// checkNames asserts that every client id and topic the broker saw is one the
// probe policy (spec.ProbePolicy) allows.
func (a *authz) checkNames(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range a.clientIDs {
		if !strings.HasPrefix(id, spec.ProbeClientIDPrefix) {
			t.Errorf("client id %q lacks prefix %q", id, spec.ProbeClientIDPrefix)
		}
	}
	for _, topic := range a.topics {
		if !strings.HasPrefix(topic, spec.ProbeTopicPrefix+"/") {
			t.Errorf("topic %q is not under %q", topic, spec.ProbeTopicPrefix)
		}
	}
}

// testBroker starts a TLS broker that demands client certificates, as AWS IoT
// does, and returns it with a probe TLS configuration that verifies it.
func testBroker(t *testing.T, auth broker.Authorizer) (*broker.Broker, *tls.Config) {
	t.Helper()
	ca, err := pki.NewCA("probe test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer([]string{serverName}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.IssueDevice("probe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(broker.Options{Region: "test-1", TLS: pki.ServerTLS(srv, nil), Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, pki.ClientTLS(dev, ca.Pool(), serverName)
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func captureLogs() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// erringSecret is a SecretChecker that fails with err when it is set.
type erringSecret struct {
	FixedSecret
	err error
}

func (e erringSecret) Check(ctx context.Context, presented string) error {
	if e.err != nil {
		return e.err
	}
	return e.FixedSecret.Check(ctx, presented)
}
