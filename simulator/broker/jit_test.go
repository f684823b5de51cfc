package broker

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	pahopackets "github.com/eclipse/paho.mqtt.golang/packets"
)

// firstConnectCloser closes each client's first connection with ErrDisconnect, as
// the authoriser does for a certificate it registered just in time, and admits the
// next; it records the chain each client presented after its leaf.
type firstConnectCloser struct {
	mu     sync.Mutex
	seen   map[string]bool
	chains map[string][]*x509.Certificate
}

func (a *firstConnectCloser) Connect(c ClientInfo) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.chains[c.ClientID] = c.Chain
	if a.seen[c.ClientID] {
		return nil
	}
	a.seen[c.ClientID] = true
	return fmt.Errorf("JITR: registered just in time: %w", ErrDisconnect)
}
func (a *firstConnectCloser) Publish(ClientInfo, string) error   { return nil }
func (a *firstConnectCloser) Subscribe(ClientInfo, string) error { return nil }
func (a *firstConnectCloser) Receive(ClientInfo, string) error   { return nil }

// TestDisconnectClosesWithoutConnack: an Authorizer's ErrDisconnect closes the
// connection with no CONNACK (the client sees the connection end, not a refusal code)
// and is recorded with its reason; the client's next connection is admitted. The CA
// certificate a client sends after its own reaches the Authorizer as Chain.
func TestDisconnectClosesWithoutConnack(t *testing.T) {
	checkNoLeaks(t)
	pki := newTestPKI(t)
	auth := &firstConnectCloser{seen: map[string]bool{}, chains: map[string][]*x509.Certificate{}}
	// No per-client CONNECT rate: the reconnect follows at once.
	b := newBroker(t, Options{TLS: pki.serverConfig(), Auth: auth, Quotas: Quotas{ClientConnectPerSecond: -1}})

	dev := pki.issue(t, "jit-1", x509.ExtKeyUsageClientAuth, nil)
	dev.Certificate = append(dev.Certificate, pki.caCert.Raw)
	_, err := dial(t, b, clientOpts{id: "jit-1", tls: pki.clientConfig(&dev)})
	if err == nil {
		t.Fatal("the first connection was admitted")
	}
	if errors.Is(err, pahopackets.ErrorRefusedNotAuthorised) {
		t.Fatalf("the first connection got a refusing CONNACK (%v); want it closed without one", err)
	}
	refusals := b.Refusals()
	if len(refusals) != 1 || refusals[0].Action != ActionConnect || !strings.Contains(refusals[0].Reason, "JITR: registered just in time") || refusals[0].Throttled {
		t.Fatalf("refusals %+v, want the closed CONNECT with its reason", refusals)
	}
	mustDial(t, b, clientOpts{id: "jit-1", tls: pki.clientConfig(&dev)})

	auth.mu.Lock()
	chain := auth.chains["jit-1"]
	auth.mu.Unlock()
	if len(chain) != 1 || !bytes.Equal(chain[0].Raw, pki.caCert.Raw) {
		t.Errorf("Authorizer saw a chain of %d certificates, want the CA's", len(chain))
	}
}
