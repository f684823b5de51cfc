package e2e

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/simulator"
)

// worldSeed seeds the at-least-once, unordered delivery of every test's World.
const worldSeed = 20261202

// newWorld starts a World that the test's cleanup closes. Unless the test sets its
// own, the World runs at StrictFidelity: duplicated and reordered registry events and
// rule actions, AWS's quotas, the billing meter.
func newWorld(t testing.TB, opts simulator.Options) *simulator.World {
	t.Helper()
	if opts.Fidelity == (simulator.Fidelity{}) {
		opts.Fidelity = simulator.StrictFidelity(worldSeed)
	}
	w, err := simulator.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("start world: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close world: %v", err)
		}
	})
	return w
}

// settle waits for the pipeline to go idle.
func settle(t testing.TB, w *simulator.World) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

// assertConverged deep-compares the two Regions: registry (things, types, attributes,
// groups, memberships, certificates and their status, policies with the Region
// rewritten, attachments) and the classic shadows of things.
func assertConverged(t testing.TB, w *simulator.World, shadowsOf ...string) {
	t.Helper()
	ctx := context.Background()
	diff, err := replication.Diff(ctx, w.Primary.Registry, w.Secondary.Registry, w.Primary.Name, w.Secondary.Name)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	for _, d := range diff {
		t.Errorf("secondary differs: %s", d)
	}
	for _, thing := range shadowsOf {
		p, s := shadowState(t, w.Primary, thing), shadowState(t, w.Secondary, thing)
		if !reflect.DeepEqual(p, s) {
			t.Errorf("shadow of %s: primary %v, secondary %v", thing, p, s)
		}
	}
	if dl := w.DeadLetters(); len(dl) > 0 {
		t.Errorf("%d stream records went to the on-failure destination", len(dl))
	}
}

// shadowState returns a thing's desired and reported state, nil when it has no shadow.
func shadowState(t testing.TB, r *simulator.Region, thing string) map[string]any {
	t.Helper()
	out, err := r.Shadows.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
	if err != nil {
		return nil
	}
	state, err := replication.ShadowState(out.Payload)
	if err != nil {
		t.Fatalf("shadow of %s in %s: %v", thing, r.Name, err)
	}
	delete(state, "delta")
	return state
}

// must fails the test on an error and returns the call's value: must(t)(call()).
func must(t testing.TB) func(any, error) any {
	return func(v any, err error) any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func createType(t testing.TB, w *simulator.World, name string) {
	t.Helper()
	must(t)(w.Primary.Registry.CreateThingType(context.Background(), &iot.CreateThingTypeInput{
		ThingTypeName: aws.String(name),
		ThingTypeProperties: &iottypes.ThingTypeProperties{
			ThingTypeDescription: aws.String(name + " devices"), SearchableAttributes: []string{"model"},
		},
	}))
}

func createPolicy(t testing.TB, w *simulator.World, name, doc string) {
	t.Helper()
	must(t)(w.Primary.Registry.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}))
}

func provision(t testing.TB, w *simulator.World, d simulator.Device) {
	t.Helper()
	if _, err := w.ProvisionDevice(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func updateShadow(t testing.TB, r *simulator.Region, thing, doc string) {
	t.Helper()
	must(t)(r.Shadows.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), Payload: []byte(doc)}))
}

func policyDoc(region string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:%s:123456789012:topic/fleet/metrics"}]}`, region)
}

func deleteShadowInput(thing string) *iotdataplane.DeleteThingShadowInput {
	return &iotdataplane.DeleteThingShadowInput{ThingName: aws.String(thing)}
}
