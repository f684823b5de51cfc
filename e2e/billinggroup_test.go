package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator"
)

// billingOf returns the billing group a thing is in within r ("" for none).
func billingOf(t testing.TB, r *simulator.Region, thing string) string {
	t.Helper()
	d := must(t)(r.Registry.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String(thing)})).(*iot.DescribeThingOutput)
	return aws.ToString(d.BillingGroupName)
}

// billingDescription returns a billing group's description in r; ok is false when r
// does not have the group.
func billingDescription(t testing.TB, r *simulator.Region, group string) (desc string, ok bool) {
	t.Helper()
	d, err := r.Registry.DescribeBillingGroup(context.Background(), &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(group)})
	if err != nil {
		return "", false
	}
	return aws.ToString(d.BillingGroupProperties.BillingGroupDescription), true
}

// TestBillingGroupsReplicateBothWays: billing groups and their memberships raise no
// registry events, so the sweep captures them. A group created in the primary with a
// thing in it reaches the secondary with the membership (one sweep); the apply's
// writes do not come back (sweeps of both Regions then write nothing); a change made
// in the secondary while it serves (description, the thing moved to another group)
// flows back to the primary; a group deleted there is deleted in the primary, and its
// thing is in no billing group there.
func TestBillingGroupsReplicateBothWays(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "dev-b"})
	settle(t, w)
	must(t)(w.Primary.Registry.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("plan-a"),
		BillingGroupProperties: &iottypes.BillingGroupProperties{BillingGroupDescription: aws.String("plan A")}}))
	must(t)(w.Primary.Registry.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("plan-a"), ThingName: aws.String("dev-b")}))
	settle(t, w)
	if _, ok := billingDescription(t, w.Secondary, "plan-a"); ok {
		t.Fatal("plan-a reached the secondary without a sweep: billing groups raise no events, nothing should have captured it")
	}

	writes := tableWrites(w)
	sweep(t, w, w.Primary)
	// The group's item, and the thing's (its billing group is part of it).
	if n := tableWrites(w) - writes; n != 2 {
		t.Errorf("the primary's sweep wrote %d items for one billing group with one thing, want 2", n)
	}
	if d, ok := billingDescription(t, w.Secondary, "plan-a"); !ok || d != "plan A" {
		t.Errorf("plan-a in the secondary: present %t, description %q; want plan A", ok, d)
	}
	if g := billingOf(t, w.Secondary, "dev-b"); g != "plan-a" {
		t.Errorf("dev-b is in billing group %q in the secondary, want plan-a", g)
	}
	writes = tableWrites(w)
	sweep(t, w, w.Secondary)
	sweep(t, w, w.Primary)
	if n := tableWrites(w) - writes; n != 0 {
		t.Errorf("sweeps after the billing group was applied wrote %d items, want 0 (the apply came back)", n)
	}

	// Failed over: the secondary changes the group and moves the thing.
	must(t)(w.Secondary.Registry.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("plan-a"),
		BillingGroupProperties: &iottypes.BillingGroupProperties{BillingGroupDescription: aws.String("plan A, 2027")}}))
	must(t)(w.Secondary.Registry.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("plan-b")}))
	must(t)(w.Secondary.Registry.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("plan-b"), ThingName: aws.String("dev-b")}))
	sweep(t, w, w.Secondary)
	if d, _ := billingDescription(t, w.Primary, "plan-a"); d != "plan A, 2027" {
		t.Errorf("plan-a in the primary after failback: description %q, want the secondary's", d)
	}
	if g := billingOf(t, w.Primary, "dev-b"); g != "plan-b" {
		t.Errorf("dev-b is in billing group %q in the primary after failback, want plan-b", g)
	}

	// Deleted in the Region that last wrote it: its table stage finds it gone and
	// tombstones it (a delete in the other Region is not seen: see capture.Sweeper).
	must(t)(w.Secondary.Registry.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("plan-b")}))
	sweep(t, w, w.Secondary)
	if _, ok := billingDescription(t, w.Primary, "plan-b"); ok {
		t.Error("plan-b is still in the primary after its delete in the secondary")
	}
	if g := billingOf(t, w.Primary, "dev-b"); g != "" {
		t.Errorf("dev-b is in billing group %q in the primary after plan-b was deleted, want none", g)
	}
	assertConverged(t, w)
}
