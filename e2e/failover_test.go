package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/dns"
	"github.com/iot-dr/iot-dr/simulator/fleet"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// TestFailoverAndFailback: the primary goes down, the health checks fail `threshold`
// times, DNS answers the secondary, every replicated device reconnects there with the
// same certificate; a device whose certificate was never replicated is refused with the
// reason; the primary comes back and the devices move back.
func TestFailoverAndFailback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	const n = 20
	var devices []fleet.Device
	for i := range n {
		thing := fmt.Sprintf("dev-%02d", i)
		cert := must(t)(w.ProvisionDevice(ctx, simulator.Device{Thing: thing})).(*pki.Device)
		devices = append(devices, fleet.Device{Thing: thing, Cert: cert})
	}
	settle(t, w)
	assertConverged(t, w)
	// One device provisioned while replication is paused and never replicated.
	w.Replication.Pause()
	orphanCert := must(t)(w.ProvisionDevice(ctx, simulator.Device{Thing: "orphan"})).(*pki.Device)
	devices = append(devices, fleet.Device{Thing: "orphan", Cert: orphanCert})

	edge, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: 100 * time.Millisecond, FailureThreshold: 3, TTL: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	res := dns.NewResolver(edge.DNS.Addr(), dns.WithTTLUnit(simulator.TTLUnit))
	f, err := fleet.Start(ctx, devices, fleet.Options{
		Domain: w.Options().Domain, Port: w.Port, Roots: w.CA.Pool(), Resolver: res,
		TelemetryEvery: 50 * time.Millisecond, Backoff: fleet.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond},
		Regions: map[string]string{simulator.PrimaryIP: w.Primary.Name, simulator.SecondaryIP: w.Secondary.Name},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitConnected(ctx, w.Primary.Name, n+1); err != nil {
		t.Fatalf("fleet never connected to the primary: %v (%v)", err, f.Connected())
	}

	outage := time.Now()
	w.SetRegionDown(w.Primary, true)
	if err := f.WaitConnected(ctx, w.Secondary.Name, n); err != nil {
		t.Fatalf("fleet did not fail over: %v (%v)", err, f.Connected())
	}
	rto := time.Since(outage)
	bound := edge.DetectionBound() + 100*time.Millisecond + 200*time.Millisecond
	t.Logf("failover of %d devices took %s (bound %s)", n, rto, bound)
	if edge.Checks[w.Primary.Name].Healthy() {
		t.Error("primary health check still healthy")
	}
	// The orphan is refused by the secondary, with the reason.
	err = f.Wait(ctx, func() bool {
		for _, r := range w.Secondary.Broker.Refusals() {
			if r.ClientID == "orphan" && strings.Contains(r.Reason, "not registered") {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Errorf("the unreplicated device was not refused for its certificate: %v", w.Secondary.Broker.Refusals())
	}

	w.SetRegionDown(w.Primary, false)
	w.Replication.Resume()
	waitUntil(t, ctx, "DNS answers the primary again", func() bool {
		a, ok := edge.Zone.Resolve(w.Options().Domain)
		return ok && a.Which == "PRIMARY"
	})
	// Connected devices have no reason to leave the secondary: failback drains it, and
	// the devices re-resolve on reconnect.
	w.Secondary.Broker.SetDown(true)
	if err := f.WaitConnected(ctx, w.Primary.Name, n+1); err != nil {
		t.Fatalf("fleet did not fail back: %v (%v)", err, f.Connected())
	}
	w.Secondary.Broker.SetDown(false)
	if st := f.Stats(); st.Published == 0 {
		t.Errorf("no telemetry published: %+v", st)
	}
}

func TestSingleFailedProbeDoesNotFailOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	const interval = 200 * time.Millisecond
	edge, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: interval, FailureThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	hc := edge.Checks[w.Primary.Name]
	waitUntil(t, ctx, "primary healthy", hc.Healthy)
	// Fail for less than one interval: each checker sees at most one failed probe, below
	// the threshold of three.
	edge.SetProbeFailing(w.Primary.Name, true)
	time.Sleep(interval * 3 / 4) // the fault's duration is the point of the test
	edge.SetProbeFailing(w.Primary.Name, false)
	// Watch a few more intervals: the answer must stay PRIMARY throughout.
	deadline := time.Now().Add(5 * interval)
	for time.Now().Before(deadline) {
		if a, ok := edge.Zone.Resolve(w.Options().Domain); !ok || a.Which != "PRIMARY" {
			t.Fatalf("answer switched to %+v after a single failed probe", a)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A sustained failure does fail over.
	edge.SetProbeFailing(w.Primary.Name, true)
	waitUntil(t, ctx, "DNS answers the secondary", func() bool {
		a, ok := edge.Zone.Resolve(w.Options().Domain)
		return ok && a.Which == "SECONDARY"
	})
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
