package drill

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// TestRepresentedFleet: with --fleet-size M equal to --devices N the drill is the
// direct run (same quotas, same bound); with M = k*N each live device's CONNECT costs k
// of the account's quota, the probes' cost one, and the bound's quota term is M / rate.
func TestRepresentedFleet(t *testing.T) {
	direct := DefaultConfig()
	direct.Devices = 50
	tests := []struct {
		name      string
		fleet     int
		wantCost  int
		wantQuota time.Duration
	}{
		{"direct", 0, 1, 100 * time.Millisecond},
		{"M = N is the direct run", 50, 1, 100 * time.Millisecond},
		{"1,000 standing for 1,000,000", 50 * 20000, 20000, 2000 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := direct
			c.FleetSize = tt.fleet
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			q := c.quotas()
			cost := 1
			if q.ConnectCost != nil {
				cost = q.ConnectCost("device-000001")
				if p := q.ConnectCost("iotdr-probe-abc"); p != 1 {
					t.Errorf("a probe's CONNECT costs %d, want 1", p)
				}
			}
			if cost != tt.wantCost {
				t.Errorf("a device's CONNECT costs %d, want %d", cost, tt.wantCost)
			}
			if q.ConnectPerSecond != 500*DefaultTimeScale || q.ClientConnectPerSecond != DefaultTimeScale {
				t.Errorf("wall rates %+v, want AWS's x the time scale", q)
			}
			if c.QuotaTime() != tt.wantQuota {
				t.Errorf("quota term %s, want %s", c.QuotaTime(), tt.wantQuota)
			}
			if got, want := c.Bound()-c.QuotaTime(), direct.Bound()-direct.QuotaTime(); got != want {
				t.Errorf("bound without the quota %s, want the direct run's %s", got, want)
			}
		})
	}
	bad := direct
	bad.FleetSize = 75
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "--fleet-size must be a multiple of --devices (50)") {
		t.Errorf("fleet size 75 for 50 devices: %v", err)
	}
}

// TestWallTime: settings are AWS time; the run compresses them by the time scale.
func TestWallTime(t *testing.T) {
	for _, tt := range []struct {
		scale float64
		in    time.Duration
		want  time.Duration
	}{
		{50, 10 * time.Second, 200 * time.Millisecond},
		{10, 30 * time.Second, 3 * time.Second},
		{1, time.Minute, time.Minute},
	} {
		c := DefaultConfig()
		c.TimeScale = tt.scale
		if got := c.Wall(tt.in); got != tt.want {
			t.Errorf("scale %g: Wall(%s) = %s, want %s", tt.scale, tt.in, got, tt.want)
		}
	}
}

// TestFailbackHalf: while failed over the drill changes the secondary (a shadow report
// and an attribute on each thing of the fleet's upper half, new devices, a deleted
// thing) and after the restore looks for each change in the primary and connects the
// new devices to it. Whatever the primary lacks, or refuses, fails the drill by name;
// the catch-up is timed from the restore and marked on the chart.
func TestFailbackHalf(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Devices, cfg.Changes = 6, 2
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 2 things x (shadow + attribute), 1 new device, 1 device onboarded by JITP, 1
	// deletion.
	if want := 2*2 + 1 + 1 + 1; rep.ChangesMadeInSecondary != want {
		t.Errorf("changes made in the secondary = %d, want %d; failures %v", rep.ChangesMadeInSecondary, want, rep.Failures)
	}
	// Both Regions capture and apply: nothing made in the secondary is lost, and the
	// device provisioned there is accepted by the primary.
	if rep.ChangesLostOnFailback != 0 || len(rep.LostOnFailback) != 0 {
		t.Errorf("changes lost on failback = %d of %d (e.g. %v); want 0", rep.ChangesLostOnFailback, rep.ChangesMadeInSecondary, rep.LostOnFailback)
	}
	if rep.DevicesOnboardedByJITP != 1 {
		t.Errorf("%d devices onboarded by JITP in the secondary, want 1", rep.DevicesOnboardedByJITP)
	}
	if rep.DevicesRefusedAfterFailback != 0 {
		t.Errorf("devices refused after failback = %d: %v", rep.DevicesRefusedAfterFailback, rep.RefusedAfterFailback)
	}
	if rep.Conflicts != 0 {
		t.Errorf("%d conflicts, though only the secondary changed while the primary was down", rep.Conflicts)
	}
	if !rep.Passed {
		t.Errorf("the drill failed: %v", rep.Failures)
	}
	if rep.EchoWrites != 0 {
		t.Errorf("%d echo writes in the state table", rep.EchoWrites)
	}
	if rep.FailbackCatchUpS <= 0 || rep.FailbackCatchUpS > rep.FailbackS+rep.WallS*cfg.TimeScale {
		t.Errorf("catch-up %.3fs (failback %.3fs)", rep.FailbackCatchUpS, rep.FailbackS)
	}
	var text, page strings.Builder
	WriteText(&text, rep)
	if err := WriteHTML(&page, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"changes made in the secondary while failed over", "lost on failback", "catch-up (primary applied its backlog)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if !strings.Contains(page.String(), "caught up (") || !strings.Contains(page.String(), "<h2>Failback</h2>") {
		t.Error("HTML report lacks the catch-up mark or the failback table")
	}
}

// TestEchoes: a Region's own write that leaves an item's hash as it was is an echo
// where the item came from the other Region, a duplicate where it was the Region's own;
// a write that changes it, the first write of an item, a write replicated in from the
// other Region (its origin) and a removal are neither.
func TestEchoes(t *testing.T) {
	img := func(origin, hash string) dynamo.Item {
		return dynamo.Item{spec.StateAttrOrigin: &ddbtypes.AttributeValueMemberS{Value: origin},
			spec.StateAttrHash: &ddbtypes.AttributeValueMemberS{Value: hash}}
	}
	rec := func(old, new dynamo.Item) write { return write{old: old, new: new} }
	recs := []write{
		rec(nil, img("eu-west-1", "a")),                   // first write
		rec(img("us-east-1", "a"), img("eu-west-1", "b")), // a change
		rec(img("us-east-1", "a"), img("eu-west-1", "a")), // the apply's content captured back: echo
		rec(img("eu-west-1", "b"), img("eu-west-1", "b")), // a rewrite of its own: echo
		rec(img("eu-west-1", "b"), img("us-east-1", "b")), // replicated in
		rec(img("eu-west-1", "b"), nil),                   // removed (TTL)
	}
	if echo, dup := echoes("eu-west-1", recs); echo != 1 || dup != 1 {
		t.Errorf("echoes, duplicates = %d, %d, want 1, 1", echo, dup)
	}
}

// TestSimulatorBoundText: where this machine connected the fleet more slowly than the
// quota allows, the report gives the bound with the simulator's time and, when the p99
// is beyond the settings' bound, says the RTO is the simulator's and how to get a
// prediction; within the settings' bound it gives no such advice.
func TestSimulatorBoundText(t *testing.T) {
	for _, tt := range []struct {
		name       string
		p99, scale float64
		want, not  string
	}{
		{"machine too slow for any time scale", 1295, 0.73, "use fewer live devices standing for the fleet (--fleet-size)", "--time-scale"},
		{"a lower time scale keeps up", 400, 7.9, "use --time-scale 7 or less", "standing for the fleet"},
		{"within the settings' bound", 52, 0.73, "", "the RTO above is the simulator's CPU"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Scenario: "region-outage", Devices: 10000, FleetSize: 10000, TimeScale: 50, Passed: true,
				RTOBound: 86.5, QuotaS: 20, SimulatorConnectS: 1363, RTOBoundWithSimulator: 1429.5, TimeScaleForQuota: tt.scale,
				RTOP99S: tt.p99, RefusedDevices: []Refusal{}}
			var b strings.Builder
			WriteText(&b, r)
			out := b.String()
			if !strings.Contains(out, "bound with the simulator's own reconnect time") || !strings.Contains(out, "1429.500s: this machine took 1363.000s to connect the 10000 live devices") {
				t.Errorf("no bound with the simulator:\n%s", out)
			}
			if tt.want != "" && !strings.Contains(out, tt.want) {
				t.Errorf("lacks %q:\n%s", tt.want, out)
			}
			if strings.Contains(out, tt.not) {
				t.Errorf("says %q:\n%s", tt.not, out)
			}
		})
	}
}

// TestSweepAfterProvisioning: a certificate attached to a thing after its capture
// (an attachment raises no event) leaves the secondary behind once the pipeline is
// idle; the drill counts the difference and runs the capture sweep, after which the
// Regions agree.
func TestSweepAfterProvisioning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	w, err := simulator.New(ctx, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	cfg := DefaultConfig()
	cfg.Devices = 2
	d := &run{cfg: cfg, w: w, start: time.Now(), rep: &Report{}, replicated: map[string]bool{}, noSNI: map[string]bool{}}
	if _, err := d.provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.settle(ctx); err != nil {
		t.Fatal(err)
	}
	dev, err := w.CA.IssueDevice("late")
	if err != nil {
		t.Fatal(err)
	}
	reg := w.Primary.Registry
	cert, err := reg.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(string(dev.CertPEM)),
		CaCertificatePem: aws.String(string(w.CA.CertPEM())), Status: iottypes.CertificateStatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(d.things[0]), Principal: cert.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if err := d.settle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.sweepIfBehind(ctx); err != nil {
		t.Fatal(err)
	}
	if d.rep.DifferencesAfterProvisioning == 0 {
		t.Fatal("the late attachment made no difference: the test shows nothing")
	}
	diff, err := replication.Diff(ctx, w.Primary.Registry, w.Secondary.Registry, w.Primary.Name, w.Secondary.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) > 0 {
		t.Errorf("after the sweep the Regions still differ: %v", diff)
	}
	if !strings.Contains(d.rep.Timeline[len(d.rep.Timeline)-1].Name, "capture sweep") {
		t.Errorf("the sweep is not on the timeline: %v", d.rep.Timeline)
	}
}
