package probe

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// TestRoundTripVerifiesTheServedCertificate: the probe verifies the certificate the
// broker serves for the domain it names, fails with a clear reason when it is
// expired, for another name or from an unknown issuer, and reports the expiry.
func TestRoundTripVerifiesTheServedCertificate(t *testing.T) {
	ca, err := pki.NewCA("probe test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("someone else")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	lo := []net.IP{net.IPv4(127, 0, 0, 1)}
	tests := []struct {
		name    string
		issue   func() (tls.Certificate, error)
		wantErr string // empty: healthy
	}{
		{name: "valid", issue: func() (tls.Certificate, error) {
			return ca.IssueServerValid([]string{serverName}, lo, now.Add(-time.Hour), now.Add(40*24*time.Hour+time.Hour))
		}},
		{name: "expired", wantErr: "the server certificate for " + serverName + " expired", issue: func() (tls.Certificate, error) {
			return ca.IssueServerValid([]string{serverName}, lo, now.Add(-90*24*time.Hour), now.Add(-3*24*time.Hour))
		}},
		{name: "wrong name", wantErr: "not valid for " + serverName + ": it names iot.eu-west-1.amazonaws.com", issue: func() (tls.Certificate, error) {
			return ca.IssueServer([]string{"iot.eu-west-1.amazonaws.com"}, nil)
		}},
		{name: "unknown issuer", wantErr: `not trusted: issued by "someone else"`, issue: func() (tls.Certificate, error) {
			return other.IssueServer([]string{serverName}, nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := tc.issue()
			if err != nil {
				t.Fatal(err)
			}
			b, err := broker.New(broker.Options{Region: "test-1", TLS: pki.ServerTLS(srv, nil), Auth: &authz{}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			dev, err := ca.IssueDevice("probe")
			if err != nil {
				t.Fatal(err)
			}
			h := &Handler{Secret: FixedSecret("s"), Probe: &Prober{Broker: "tls://" + b.Addr(), TLS: pki.ClientTLS(dev, ca.Pool(), serverName), Messages: 1, Timeout: 3 * time.Second}}
			resp, err := h.Handle(t.Context(), request(map[string]string{SecretHeader: "s"}, nil))
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Reason   string `json:"reason"`
				NotAfter string `json:"certificateNotAfter"`
				DaysLeft *int   `json:"certificateDaysLeft"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d %s", resp.StatusCode, resp.Body)
			if tc.wantErr == "" {
				if resp.StatusCode != 200 || body.DaysLeft == nil || *body.DaysLeft != 40 {
					t.Errorf("status %d, days left %v, want 200 and 40", resp.StatusCode, body.DaysLeft)
				}
				if body.NotAfter != srv.Leaf.NotAfter.UTC().Format(time.RFC3339) {
					t.Errorf("certificateNotAfter %q, want %s", body.NotAfter, srv.Leaf.NotAfter.UTC().Format(time.RFC3339))
				}
			} else {
				if resp.StatusCode != 503 || !strings.Contains(body.Reason, tc.wantErr) {
					t.Errorf("status %d reason %q, want 503 with %q", resp.StatusCode, body.Reason, tc.wantErr)
				}
				if b.ConnectedClients() != 0 {
					t.Error("a client is connected after a refused handshake")
				}
			}
			if tc.name == "expired" && (body.DaysLeft == nil || *body.DaysLeft >= 0) {
				t.Errorf("expired certificate: days left %v, want negative", body.DaysLeft)
			}
		})
	}
}

// TestRoundTripNeedsServerName: without a name to verify, the probe refuses to run
// rather than trust whatever the broker serves.
func TestRoundTripNeedsServerName(t *testing.T) {
	_, err := (&Prober{Broker: "tls://127.0.0.1:1", TLS: &tls.Config{}}).RoundTrip(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no TLS server name") {
		t.Fatalf("RoundTrip = %v", err)
	}
}
