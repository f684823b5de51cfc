package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/simulator"
)

// TestFailbackCarriesSecondaryChanges: while the primary is down the secondary serves
// the fleet and is changed there (a shadow report, an attribute, a deleted thing, a
// device provisioned with its certificate and policy); once the primary is back it
// holds all of it, the Regions are equal, and the new device connects to the primary.
func TestFailbackCarriesSecondaryChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	for i := range 3 {
		thing := fmt.Sprintf("fb-%d", i)
		provision(t, w, simulator.Device{Thing: thing, Attributes: map[string]string{"fw": "1"}})
		updateShadow(t, w.Primary, thing, `{"state":{"desired":{"led":"off"},"reported":{"temp":1}}}`)
	}
	settle(t, w)
	assertConverged(t, w, "fb-0", "fb-1", "fb-2")

	w.SetRegionDown(w.Primary, true)
	sec := w.Secondary.Registry
	updateShadow(t, w.Secondary, "fb-0", `{"state":{"reported":{"temp":2}}}`)
	setAttr(t, w.Secondary, "fb-1", "fw", "2")
	ps := must(t)(sec.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("fb-2")})).(*iot.ListThingPrincipalsOutput)
	for _, p := range ps.Principals {
		must(t)(sec.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("fb-2"), Principal: aws.String(p)}))
	}
	must(t)(sec.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("fb-2")}))
	born, err := simulator.Provision(ctx, sec, w.CA, w.Secondary.Name, w.Options().AccountID, simulator.Device{Thing: "born-in-secondary"})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, w)

	w.SetRegionDown(w.Primary, false)
	settle(t, w)
	assertConverged(t, w, "fb-0", "fb-1", "born-in-secondary")
	if s := shadowState(t, w.Primary, "fb-0"); fmt.Sprint(s["reported"]) != "map[temp:2]" || fmt.Sprint(s["desired"]) != "map[led:off]" {
		t.Errorf("fb-0's shadow in the primary = %v, want the report made in the secondary", s)
	}
	d := must(t)(w.Primary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("fb-1")})).(*iot.DescribeThingOutput)
	if d.Attributes["fw"] != "2" {
		t.Errorf("fb-1's fw in the primary = %q, want 2", d.Attributes["fw"])
	}
	if _, err := w.Primary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("fb-2")}); err == nil {
		t.Error("fb-2, deleted in the secondary, still exists in the primary")
	}
	assertNoConflicts(t, w)

	// The device provisioned in the secondary connects to the primary with its
	// certificate.
	connectIn(ctx, t, w, w.Primary, simulator.PrimaryIP, "born-in-secondary", born)
}

// fixedIP resolves every name to one address, as a device pinned to a Region would.
type fixedIP string

func (ip fixedIP) Lookup(context.Context, string) (string, time.Duration, error) {
	return string(ip), time.Second, nil
}

// TestPartialFailoverKeepsWhatDevicesReport: after a broker-only or a probe-only
// failover the primary's control plane is still up. Devices report to the secondary
// while an operator changes desired state in the primary; both changes survive in
// both Regions (per-section merge): the primary's stale reported state is not written
// over what the devices report, and no conflict is recorded, since no section
// changed in both.
func TestPartialFailoverKeepsWhatDevicesReport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(e *simulator.Edge, w *simulator.World, on bool)
	}{
		{"broker-only", func(_ *simulator.Edge, w *simulator.World, on bool) { w.Primary.Broker.SetDown(on) }},
		{"probe-only", func(e *simulator.Edge, w *simulator.World, on bool) { e.SetProbeFailing(w.Primary.Name, on) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			w := newWorld(t, simulator.Options{})
			provision(t, w, simulator.Device{Thing: "dev"})
			updateShadow(t, w.Primary, "dev", `{"state":{"desired":{"led":"off"},"reported":{"temp":1}}}`)
			settle(t, w)
			edge, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: 50 * time.Millisecond, FailureThreshold: 2, TTL: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { edge.Close() })
			answers := func(which string) func() bool {
				return func() bool {
					a, ok := edge.Zone.Resolve(w.Options().Domain)
					return ok && a.Which == which
				}
			}
			waitUntil(t, ctx, "DNS answers the primary", answers("PRIMARY"))
			tc.fault(edge, w, true)
			waitUntil(t, ctx, "DNS answers the secondary", answers("SECONDARY"))

			updateShadow(t, w.Secondary, "dev", `{"state":{"reported":{"temp":2}}}`)
			updateShadow(t, w.Primary, "dev", `{"state":{"desired":{"led":"on"}}}`)
			settle(t, w)
			tc.fault(edge, w, false)
			waitUntil(t, ctx, "DNS answers the primary again", answers("PRIMARY"))
			settle(t, w)

			assertShadowIn(t, w, "dev", "map[led:on]", "map[temp:2]", "the operator's desired, in the primary; the devices' reported, in the secondary")
			assertNoConflicts(t, w)
		})
	}
}
