package fleetsync

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/simulator"
)

// seedBilling creates two billing groups in the primary and puts every other of the
// first n devices in one of them.
func seedBilling(t testing.TB, w *simulator.World, n int) {
	t.Helper()
	ctx := context.Background()
	reg := w.Primary.Registry
	for _, g := range []string{"plan-a", "plan-b"} {
		if _, err := reg.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String(g),
			BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("billing " + g)}}); err != nil {
			t.Fatalf("create billing group %s: %v", g, err)
		}
	}
	for i := 0; i < n; i += 2 {
		g := []string{"plan-a", "plan-b"}[i/2%2]
		if _, err := reg.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String(g), ThingName: aws.String(deviceName(i))}); err != nil {
			t.Fatalf("add %s to %s: %v", deviceName(i), g, err)
		}
	}
}

// TestSyncCopiesBillingGroups: verify reports the billing groups and memberships the
// secondary lacks, sync copies them (groups first, then each thing's membership),
// and verify then finds the Regions equal; a dry run on the result reports nothing.
func TestSyncCopiesBillingGroups(t *testing.T) {
	w := newWorld(t)
	const n = 8
	seed(t, w, n)
	seedBilling(t, w, n)
	before := strings.Join(differences(t, w), "\n")
	for _, want := range []string{"billing group plan-a: missing in target", "billing group plan-b: missing in target"} {
		if !strings.Contains(before, want) {
			t.Errorf("verify before sync does not report %q:\n%s", want, before)
		}
	}
	sum, err := Run(context.Background(), options(w))
	if err != nil || sum.Failed() != 0 {
		t.Fatalf("Run: %v, failures %+v", err, sum.Failures)
	}
	if want := (Tally{Copied: 2}); sum.BillingGroups != want {
		t.Errorf("billing groups = %+v, want %+v", sum.BillingGroups, want)
	}
	d, err := w.Secondary.Registry.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String(deviceName(2))})
	if err != nil || aws.ToString(d.BillingGroupName) != "plan-b" {
		t.Errorf("%s in the secondary: billing group %q (%v), want plan-b", deviceName(2), aws.ToString(d.BillingGroupName), err)
	}
	if diffs := differences(t, w); len(diffs) != 0 {
		t.Errorf("after sync verify finds %d differences, first %s", len(diffs), diffs[0])
	}

	// A membership changed in the primary is one thing difference, which a dry run
	// reports and a sync converges.
	if _, err := w.Primary.Registry.AddThingToBillingGroup(context.Background(), &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("plan-a"), ThingName: aws.String(deviceName(2))}); err != nil {
		t.Fatal(err)
	}
	dry := options(w)
	dry.DryRun = true
	var lines []string
	dry.OnResult = func(r Result) { lines = append(lines, r.Changes...) }
	if _, err := Run(context.Background(), dry); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "\n"); !strings.Contains(got, `thing `+deviceName(2)+`: billing group differs: "plan-a" in source, "plan-b" in target`) {
		t.Errorf("dry run does not report the moved membership:\n%s", got)
	}
}

// noBilling hides the billing-group calls of a client, as an endpoint without them.
type noBilling struct{ replication.IoT }

// TestSyncReportsThingInBillingGroupItCannotCopy: against a target without
// billing-group calls, a thing in a billing group is reported failed with the
// reason, never silently copied without its membership; things outside billing
// groups are copied.
func TestSyncReportsThingInBillingGroupItCannotCopy(t *testing.T) {
	w := newWorld(t)
	seed(t, w, 4)
	seedBilling(t, w, 1) // dev-00000 in plan-a
	opts := options(w)
	opts.Target = noBilling{w.Secondary.Registry}
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Things.Failed != 1 || sum.Things.Copied != 3 || len(sum.Failures) != 1 {
		t.Fatalf("things = %+v, failures %+v; want dev-00000 failed, 3 copied", sum.Things, sum.Failures)
	}
	f := sum.Failures[0]
	if f.Name != deviceName(0) || f.Err == nil || !strings.Contains(f.Err.Error(), "billing group") {
		t.Errorf("failure = %s %v, want %s with the billing-group reason", f.Name, f.Err, deviceName(0))
	}
}
