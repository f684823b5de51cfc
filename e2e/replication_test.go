package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator"
)

// TestReplicationScenarios drives registry and shadow changes in the primary and asserts
// after each that the pipeline converged the secondary to an exact copy.
func TestReplicationScenarios(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		shadows []string
		run     func(t *testing.T, w *simulator.World)
	}{
		{"create with type, attributes, certificate and two policies", nil, func(t *testing.T, w *simulator.World) {
			createType(t, w, "sensor")
			createPolicy(t, w, "metrics", policyDoc(w.Primary.Name))
			provision(t, w, simulator.Device{Thing: "dev-1", ThingType: "sensor",
				Attributes: map[string]string{"model": "m1", "site": "lab"}, ExtraPolicies: []string{"metrics"}})
		}},
		{"attribute merge and replace", nil, func(t *testing.T, w *simulator.World) {
			provision(t, w, simulator.Device{Thing: "dev-1", Attributes: map[string]string{"a": "1", "b": "2"}})
			settle(t, w)
			must(t)(w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"),
				AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"b": "", "c": "3"}}}))
			settle(t, w)
			assertConverged(t, w)
			must(t)(w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"),
				AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"z": "26"}}}))
		}},
		{"type change and removal", nil, func(t *testing.T, w *simulator.World) {
			createType(t, w, "sensor")
			createType(t, w, "gateway")
			provision(t, w, simulator.Device{Thing: "dev-1", ThingType: "sensor"})
			settle(t, w)
			must(t)(w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("gateway")}))
			settle(t, w)
			assertConverged(t, w)
			must(t)(w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), RemoveThingType: true}))
		}},
		{"delete with a certificate shared by another thing", nil, func(t *testing.T, w *simulator.World) {
			provision(t, w, simulator.Device{Thing: "dev-1"})
			provision(t, w, simulator.Device{Thing: "dev-2"})
			p := must(t)(w.Primary.Registry.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev-1")})).(*iot.ListThingPrincipalsOutput)
			must(t)(w.Primary.Registry.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev-2"), Principal: aws.String(p.Principals[0])}))
			settle(t, w)
			must(t)(w.Secondary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")}))
			must(t)(w.Primary.Registry.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(p.Principals[0])}))
			must(t)(w.Primary.Registry.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-1")}))
		}},
		{"thing type lifecycle", nil, func(t *testing.T, w *simulator.World) {
			createType(t, w, "legacy")
			settle(t, w)
			assertConverged(t, w)
			must(t)(w.Primary.Registry.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("legacy")}))
			settle(t, w)
			assertConverged(t, w)
			must(t)(w.Primary.Registry.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("legacy"), UndoDeprecate: true}))
			settle(t, w)
			assertConverged(t, w)
			must(t)(w.Primary.Registry.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("legacy")}))
			must(t)(w.Primary.Registry.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("legacy")}))
		}},
		{"group membership and hierarchy", nil, func(t *testing.T, w *simulator.World) {
			must(t)(w.Primary.Registry.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("eu")}))
			must(t)(w.Primary.Registry.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("eu-lab"), ParentGroupName: aws.String("eu"),
				ThingGroupProperties: &iottypes.ThingGroupProperties{ThingGroupDescription: aws.String("the lab"),
					AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"floor": "2"}}}}))
			provision(t, w, simulator.Device{Thing: "dev-1", Groups: []string{"eu-lab"}})
			provision(t, w, simulator.Device{Thing: "dev-2", Groups: []string{"eu", "eu-lab"}})
			settle(t, w)
			assertConverged(t, w)
			must(t)(w.Primary.Registry.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("dev-2"), ThingGroupName: aws.String("eu-lab")}))
			must(t)(w.Primary.Registry.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("eu"),
				ThingGroupProperties: &iottypes.ThingGroupProperties{ThingGroupDescription: aws.String("Europe")}}))
		}},
		{"shadow update and delete", []string{"dev-1", "dev-2"}, func(t *testing.T, w *simulator.World) {
			provision(t, w, simulator.Device{Thing: "dev-1"})
			provision(t, w, simulator.Device{Thing: "dev-2"})
			updateShadow(t, w.Primary, "dev-1", `{"state":{"reported":{"temp":21.5,"fw":{"v":"1.2"}},"desired":{"led":"on"}}}`)
			updateShadow(t, w.Primary, "dev-2", `{"state":{"reported":{"temp":19}}}`)
			settle(t, w)
			assertConverged(t, w, "dev-1", "dev-2")
			updateShadow(t, w.Primary, "dev-1", `{"state":{"reported":{"fw":null,"temp":22},"desired":null}}`)
			must(t)(w.Primary.Shadows.DeleteThingShadow(ctx, deleteShadowInput("dev-2")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, simulator.Options{})
			tc.run(t, w)
			settle(t, w)
			assertConverged(t, w, tc.shadows...)
		})
	}
}

func TestThousandThingsCreatedConcurrently(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 devices: skipped with -short")
	}
	w := newWorld(t, simulator.Options{})
	const n, workers = 1000, 16
	errs := make(chan error, n)
	next := make(chan int)
	go func() {
		for i := range n {
			next <- i
		}
		close(next)
	}()
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range next {
				_, err := w.ProvisionDevice(context.Background(), simulator.Device{Thing: fmt.Sprintf("dev-%04d", i),
					Attributes: map[string]string{"batch": fmt.Sprint(i % 7)}})
				errs <- err
			}
		}()
	}
	for range workers {
		<-done
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	settle(t, w)
	// A certificate attached after the thing's re-checks ended (on a loaded machine
	// the scaled re-check window, about 0.6 s, is shorter than one provisioning under
	// the registry's quotas) is the scheduled sweep's to capture, as in a deployment.
	st, err := w.Sweep(context.Background(), w.Primary)
	if err != nil || !st.Done || st.Failed != 0 {
		t.Fatalf("sweep: %+v, %v", st, err)
	}
	t.Logf("the sweep visited %d resources and wrote %d items the events had not", st.Visited, st.Written)
	settle(t, w)
	assertConverged(t, w)
	out := must(t)(w.Secondary.Registry.ListThings(context.Background(), &iot.ListThingsInput{MaxResults: aws.Int32(250)})).(*iot.ListThingsOutput)
	if len(out.Things) == 0 {
		t.Fatal("secondary has no things")
	}
}
