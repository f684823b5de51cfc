package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator"
)

// TestProbeFailsOverOnTheDomainCertificate: the probe takes the devices' path (the
// custom domain in SNI, the served certificate verified), so a domain configuration
// serving an expired or wrong-name certificate fails the primary's health check and
// the domain fails over, with the reason in the probe's answer; a valid certificate
// brings it back, and the healthy answer carries the days left.
func TestProbeFailsOverOnTheDomainCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	edge, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: 100 * time.Millisecond, FailureThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	check := edge.Checks[w.Primary.Name]
	waitHealthy := func(want bool) {
		t.Helper()
		wantAnswer := map[bool]string{true: "PRIMARY", false: "SECONDARY"}[want]
		for {
			a, _ := edge.Zone.Resolve(w.Options().Domain)
			if check.Healthy() == want && a.Which == wantAnswer {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("primary health check never became healthy=%v (failures %v)", want, check.Failures())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitHealthy(true)
	body := probe(t, ctx, check.Config().URL)
	if body.Status != "healthy" || body.DaysLeft == nil || *body.DaysLeft < 300 {
		t.Errorf("healthy probe answered %+v, want the certificate's days left (a year)", body)
	}
	good := w.Primary.DomainCertificate()
	now := time.Now()
	expired, err := w.CA.IssueServerValid([]string{w.Options().Domain}, nil, now.Add(-60*24*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := w.CA.IssueServer([]string{simulator.Endpoint(w.Primary.Name)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cert   tls.Certificate
		reason string
	}{
		{"expired", expired, "expired"},
		{"wrong name", wrong, "not valid for " + w.Options().Domain},
	} {
		w.Primary.SetDomainCertificate(tc.cert)
		waitHealthy(false)
		if b := probe(t, ctx, check.Config().URL); b.Status != "unhealthy" || !strings.Contains(b.Reason, tc.reason) {
			t.Errorf("%s: probe answered %+v, want unhealthy with %q", tc.name, b, tc.reason)
		}
		if !edge.Checks[w.Secondary.Name].Healthy() {
			t.Errorf("%s: the secondary's check failed too", tc.name)
		}
		w.Primary.SetDomainCertificate(good)
		waitHealthy(true)
	}
}

type probeBody struct {
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	DaysLeft *int   `json:"certificateDaysLeft"`
}

func probe(t *testing.T, ctx context.Context, url string) probeBody {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b probeBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b
}
