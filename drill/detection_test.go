package drill

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator"
)

// TestFailureBeforeTheFault: a primary probe that fails before the fault, long enough to
// move DNS, is reported on the timeline by Region, counted, and fails the drill; a
// quiet start reports nothing of the kind.
func TestFailureBeforeTheFault(t *testing.T) {
	for _, tt := range []struct {
		name        string
		failFirst   bool
		wantFailing []string
	}{
		{"quiet start", false, nil},
		{"probe failed without a fault", true, []string{
			"us-east-1's health check turned unhealthy at", "before the fault: its probe failed without a fault",
			"DNS answered eu-west-1 at"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, d := edgeRun(t, DefaultConfig())
			w, edge := d.w, d.edge
			answers := func(which string) func() bool {
				return func() bool {
					a, ok := edge.Zone.Resolve(w.Options().Domain)
					return ok && a.Which == which
				}
			}
			if tt.failFirst {
				edge.SetProbeFailing(w.Primary.Name, true)
				pollUntil(ctx, 10*time.Millisecond, answers("SECONDARY"))
				edge.SetProbeFailing(w.Primary.Name, false)
			}
			d.waitSteady(ctx, time.Now())
			if !answers("PRIMARY")() {
				t.Fatal("DNS never answered the primary")
			}
			t0 := time.Now()
			d.detection(t0)

			// A quiet start may still count a slow probe on a loaded machine: only the
			// failure that moved DNS must be counted.
			if failed := d.rep.HealthChecksFailedBeforeFault[w.Primary.Name]; tt.failFirst && failed == 0 {
				t.Error("the primary's failed probes before the fault were not counted")
			}
			if _, ok := d.rep.HealthChecksFailedBeforeFault[w.Secondary.Name]; !ok {
				t.Error("no count for the secondary")
			}
			all := strings.Join(d.rep.Failures, "\n")
			for _, want := range tt.wantFailing {
				if !strings.Contains(all, want) {
					t.Errorf("failures lack %q:\n%s", want, all)
				}
			}
			if tt.wantFailing == nil && len(d.rep.Failures) > 0 {
				t.Errorf("failures on a quiet start: %v", d.rep.Failures)
			}
			var names []string
			for _, p := range d.rep.Timeline {
				names = append(names, p.Name)
			}
			hasPrefix := slices.ContainsFunc(names, func(n string) bool {
				return strings.HasPrefix(n, "first failed health check of us-east-1, before the fault (")
			})
			if tt.failFirst && !hasPrefix {
				t.Errorf("timeline %q lacks the pre-fault failure named by its Region", names)
			}
			if d.rep.DetectionS != 0 || d.rep.DNSSwitchS != 0 {
				t.Errorf("detection %v, DNS switch %v: nothing happened after the fault", d.rep.DetectionS, d.rep.DNSSwitchS)
			}
		})
	}
}

// TestFailureDuringSetup: a probe that fails during set-up (before the baseline the
// health checks are judged from) without turning the check unhealthy is reported as a
// set-up failure by Region, not counted as a failure before the fault, and does not
// fail the drill.
func TestFailureDuringSetup(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Threshold = 10 // one failed probe per checker cannot turn the check unhealthy
	ctx, d := edgeRun(t, cfg)
	w, edge := d.w, d.edge
	primary := edge.Checks[w.Primary.Name]
	edge.SetProbeFailing(w.Primary.Name, true)
	pollUntil(ctx, 5*time.Millisecond, func() bool { return len(primary.Failures()) > 0 })
	edge.SetProbeFailing(w.Primary.Name, false)
	if !d.waitSteady(ctx, time.Now()) {
		t.Fatalf("health checks not steady after the set-up failure: %v", d.rep.Failures)
	}
	d.baseline = time.Now()
	d.detection(d.baseline)

	if n := d.rep.HealthChecksFailedDuringSetup[w.Primary.Name]; n == 0 {
		t.Error("the primary's failed probe during set-up was not counted")
	}
	if n := d.rep.HealthChecksFailedBeforeFault[w.Primary.Name]; n != 0 {
		t.Errorf("%d set-up failures counted as failures before the fault", n)
	}
	if len(d.rep.Failures) > 0 {
		t.Errorf("a set-up failure that moved nothing failed the drill: %v", d.rep.Failures)
	}
	if !slices.ContainsFunc(d.rep.Timeline, func(p Phase) bool {
		return strings.HasPrefix(p.Name, "first failed health check of us-east-1 during set-up, before the baseline (")
	}) {
		t.Errorf("timeline %v lacks the set-up failure named by its Region", d.rep.Timeline)
	}
}

// edgeRun is a drill run of cfg on a fresh World with its edge started (no fleet),
// both closed when the test ends.
func edgeRun(t *testing.T, cfg Config) (context.Context, *run) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	w, err := simulator.New(ctx, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	edge, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: cfg.Wall(cfg.Interval), FailureThreshold: cfg.Threshold, TTL: cfg.Wall(cfg.TTL)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	return ctx, &run{cfg: cfg, w: w, edge: edge, start: time.Now(), rep: &Report{}, replicated: map[string]bool{}, noSNI: map[string]bool{}}
}
