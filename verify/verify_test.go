package verify_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/verify"
)

// equalWorld returns a World whose secondary equals its primary: three devices
// (dev-0 typed "sensor" in group "eu" with the extra policy "telemetry" and a shadow,
// dev-1 and dev-2 plain), a bare thing, a spare thing type and a spare group under
// "fleet". Replication is paused; the secondary was converged by a reconcile.
func equalWorld(t *testing.T) *simulator.World {
	t.Helper()
	ctx := context.Background()
	w, err := simulator.New(ctx, simulator.Options{})
	if err != nil {
		t.Fatalf("simulator.New: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	w.Replication.Pause()
	p := w.Primary.Registry
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor")}))
	must(p.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("spare")}))
	must(p.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("fleet"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("all")}}))
	must(p.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("eu"), ParentGroupName: aws.String("fleet")}))
	must(p.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("spare-group"), ParentGroupName: aws.String("fleet")}))
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:%s:123456789012:topic/t/*"}]}`, w.Primary.Name)
	must(p.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("telemetry"), PolicyDocument: aws.String(doc)}))
	must(w.ProvisionDevice(ctx, simulator.Device{Thing: "dev-0", ThingType: "sensor", Attributes: map[string]string{"a": "1"},
		Groups: []string{"eu"}, ExtraPolicies: []string{"telemetry"}}))
	must(w.ProvisionDevice(ctx, simulator.Device{Thing: "dev-1"}))
	must(w.ProvisionDevice(ctx, simulator.Device{Thing: "dev-2"}))
	must(p.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("bare")}))
	must(w.Primary.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-0"),
		Payload: []byte(`{"state":{"desired":{"led":"on"},"reported":{"led":"off","temp":21}}}`)}))
	must(w.Primary.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-0"), ShadowName: aws.String("settings"),
		Payload: []byte(`{"state":{"desired":{"interval":5}}}`)}))
	if _, err := w.DirectReplicator().Reconcile(ctx, replication.ReconcileOptions{Shadows: true}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return w
}

func comparer(w *simulator.World) *verify.Comparer {
	return &verify.Comparer{
		Source: w.Primary.Registry, Target: w.Secondary.Registry,
		SourceShadows: w.Primary.Shadows, TargetShadows: w.Secondary.Shadows,
		SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name, Shadows: true,
	}
}

func run(t *testing.T, w *simulator.World) ([]verify.Difference, verify.Report) {
	t.Helper()
	var diffs []verify.Difference
	rep, err := comparer(w).Run(context.Background(), verify.RunOptions{Concurrency: 4,
		OnDifference: func(d verify.Difference) { diffs = append(diffs, d) }})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return diffs, rep
}

func TestRunEqualRegions(t *testing.T) {
	w := equalWorld(t)
	diffs, rep := run(t, w)
	if len(diffs) != 0 {
		t.Fatalf("differences between equal Regions: %v", diffs)
	}
	if rep.Things != 4 || rep.ThingTypes != 2 || rep.ThingGroups != 3 || rep.Total() != 0 {
		t.Errorf("report = %+v, want 4 things, 2 types, 3 groups, no differences", rep)
	}
}

// certOf returns the id of the (only) certificate attached to thing in the secondary.
func certOf(t *testing.T, w *simulator.World, thing string) (id, arn string) {
	t.Helper()
	out, err := w.Secondary.Registry.ListThingPrincipals(context.Background(), &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	if err != nil || len(out.Principals) != 1 {
		t.Fatalf("principals of %s: %v %v", thing, out, err)
	}
	arn = out.Principals[0]
	return arn[strings.LastIndex(arn, "/")+1:], arn
}

func TestRunFindsEveryKindOfDrift(t *testing.T) {
	type drift func(ctx context.Context, t *testing.T, w *simulator.World, s *simulator.Region) (want verify.Difference)
	tests := []struct {
		name   string
		inject drift
	}{
		{"thing missing", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("bare")}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.Thing, Name: "bare"}
		}},
		{"thing extra", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("stray")}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.Thing, Name: "stray"}
		}},
		{"thing attributes", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-0"),
				AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "2"}, Merge: true}}))
			return verify.Difference{Kind: verify.Different, Resource: verify.Thing, Name: "dev-0", Field: "attributes", Source: "{a=1}", Target: "{a=2}"}
		}},
		{"thing type", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-0"), RemoveThingType: true}))
			return verify.Difference{Kind: verify.Different, Resource: verify.Thing, Name: "dev-0", Field: "type", Source: `"sensor"`, Target: `""`}
		}},
		{"membership missing", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("dev-0"), ThingGroupName: aws.String("eu")}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.Membership, Name: "dev-0 -> eu"}
		}},
		{"membership extra", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("dev-1"), ThingGroupName: aws.String("fleet")}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.Membership, Name: "dev-1 -> fleet"}
		}},
		{"certificate status", func(ctx context.Context, t *testing.T, w *simulator.World, s *simulator.Region) verify.Difference {
			id, _ := certOf(t, w, "dev-1")
			must(t)(s.Registry.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusInactive}))
			return verify.Difference{Kind: verify.Different, Resource: verify.Certificate, Name: id, Field: "status", Source: "ACTIVE", Target: "INACTIVE"}
		}},
		{"certificate missing", func(ctx context.Context, t *testing.T, w *simulator.World, s *simulator.Region) verify.Difference {
			id, arn := certOf(t, w, "dev-2")
			must(t)(s.Registry.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-2"), Principal: aws.String(arn)}))
			must(t)(s.Registry.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(spec.DevicePolicyName), Target: aws.String(arn)}))
			must(t)(s.Registry.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusInactive}))
			must(t)(s.Registry.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.Certificate, Name: id, Source: "attached to thing dev-2"}
		}},
		{"certificate attachment missing", func(ctx context.Context, t *testing.T, w *simulator.World, s *simulator.Region) verify.Difference {
			id, arn := certOf(t, w, "dev-1")
			must(t)(s.Registry.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(arn)}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.CertAttachment, Name: "dev-1 -> " + id}
		}},
		{"certificate attachment extra", func(ctx context.Context, t *testing.T, w *simulator.World, s *simulator.Region) verify.Difference {
			id, arn := certOf(t, w, "dev-1")
			must(t)(s.Registry.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("bare"), Principal: aws.String(arn)}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.CertAttachment, Name: "bare -> " + id}
		}},
		{"policy attachment missing", func(ctx context.Context, t *testing.T, w *simulator.World, s *simulator.Region) verify.Difference {
			id, arn := certOf(t, w, "dev-0")
			must(t)(s.Registry.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("telemetry"), Target: aws.String(arn)}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.PolicyAttachment, Name: id + " -> telemetry"}
		}},
		{"policy attachment extra", func(ctx context.Context, t *testing.T, w *simulator.World, s *simulator.Region) verify.Difference {
			id, arn := certOf(t, w, "dev-1")
			must(t)(s.Registry.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("telemetry"), Target: aws.String(arn)}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.PolicyAttachment, Name: id + " -> telemetry"}
		}},
		{"policy document", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("telemetry"), SetAsDefault: true,
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}`)}))
			return verify.Difference{Kind: verify.Different, Resource: verify.Policy, Name: "telemetry", Field: "document"}
		}},
		{"thing type missing", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("spare")}))
			must(t)(s.Registry.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("spare")}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.ThingType, Name: "spare"}
		}},
		{"thing type extra", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("stray-type")}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.ThingType, Name: "stray-type"}
		}},
		{"thing type deprecated", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("sensor")}))
			return verify.Difference{Kind: verify.Different, Resource: verify.ThingType, Name: "sensor", Field: "deprecated", Source: "false", Target: "true"}
		}},
		{"thing type propagating attributes", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("sensor"), ThingTypeProperties: &types.ThingTypeProperties{
				Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{
					{UserPropertyKey: aws.String("cid"), ConnectionAttribute: aws.String("iot:ClientId")}}}}}))
			return verify.Difference{Kind: verify.Different, Resource: verify.ThingType, Name: "sensor", Field: "propagating attributes", Source: "[]", Target: "[cid=connection:iot:ClientId]"}
		}},
		{"thing group missing", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("spare-group")}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.ThingGroup, Name: "spare-group", Source: "child of fleet"}
		}},
		{"thing group extra", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("stray-group")}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.ThingGroup, Name: "stray-group"}
		}},
		{"thing group description", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("fleet"),
				ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("some")}}))
			return verify.Difference{Kind: verify.Different, Resource: verify.ThingGroup, Name: "fleet", Field: "description", Source: `"all"`, Target: `"some"`}
		}},
		{"thing group parent", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Registry.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("spare-group")}))
			must(t)(s.Registry.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("spare-group"), ParentGroupName: aws.String("eu")}))
			return verify.Difference{Kind: verify.Different, Resource: verify.ThingGroup, Name: "spare-group", Field: "parent", Source: `"fleet"`, Target: `"eu"`}
		}},
		{"shadow different", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-0"),
				Payload: []byte(`{"state":{"reported":{"temp":22}}}`)}))
			return verify.Difference{Kind: verify.Different, Resource: verify.Shadow, Name: "dev-0", Field: "state.reported",
				Source: `{"led":"off","temp":21}`, Target: `{"led":"off","temp":22}`}
		}},
		{"shadow missing", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Shadows.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-0")}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.Shadow, Name: "dev-0"}
		}},
		{"shadow extra", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-1"),
				Payload: []byte(`{"state":{"reported":{"x":1}}}`)}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.Shadow, Name: "dev-1"}
		}},
		{"named shadow different", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-0"), ShadowName: aws.String("settings"),
				Payload: []byte(`{"state":{"desired":{"interval":6}}}`)}))
			return verify.Difference{Kind: verify.Different, Resource: verify.NamedShadow, Name: "dev-0/settings", Field: "state.desired",
				Source: `{"interval":5}`, Target: `{"interval":6}`}
		}},
		{"named shadow missing", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Shadows.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-0"), ShadowName: aws.String("settings")}))
			return verify.Difference{Kind: verify.Missing, Resource: verify.NamedShadow, Name: "dev-0/settings"}
		}},
		{"named shadow extra", func(ctx context.Context, t *testing.T, _ *simulator.World, s *simulator.Region) verify.Difference {
			must(t)(s.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-1"), ShadowName: aws.String("extra"),
				Payload: []byte(`{"state":{"reported":{"x":1}}}`)}))
			return verify.Difference{Kind: verify.Extra, Resource: verify.NamedShadow, Name: "dev-1/extra"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := equalWorld(t)
			want := tt.inject(context.Background(), t, w, w.Secondary)
			diffs, rep := run(t, w)
			if len(diffs) != 1 {
				t.Fatalf("got %d differences, want exactly %v:\n%v", len(diffs), want, diffs)
			}
			got := diffs[0]
			if want.Resource == verify.Policy { // the document excerpt is not worth spelling out
				got.Source, got.Target = "", ""
			}
			if got != want {
				t.Errorf("difference =\n  %#v\nwant\n  %#v", got, want)
			}
			if rep.Differences[want.Kind] != 1 || rep.Total() != 1 {
				t.Errorf("report counts %v, want one %s", rep.Differences, want.Kind)
			}
		})
	}
}

func TestDifferenceString(t *testing.T) {
	tests := []struct {
		d    verify.Difference
		want string
	}{
		{verify.Difference{Kind: verify.Missing, Resource: verify.Thing, Name: "d"}, "thing d: missing in target"},
		{verify.Difference{Kind: verify.Missing, Resource: verify.Certificate, Name: "c", Source: "attached to thing d"}, "certificate c: missing in target (attached to thing d)"},
		{verify.Difference{Kind: verify.Extra, Resource: verify.ThingGroup, Name: "g"}, "thing group g: extra in target"},
		{verify.Difference{Kind: verify.Different, Resource: verify.Thing, Name: "d", Field: "type", Source: `"a"`, Target: `"b"`},
			`thing d: type differs: "a" in source, "b" in target`},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestThingComparesPoliciesModuloRegion(t *testing.T) {
	w := equalWorld(t)
	// The reconcile rewrote the Region in the policy: it must compare equal even
	// though the documents differ textually.
	src, _ := w.Primary.Registry.PolicyDocument("telemetry")
	tgt, _ := w.Secondary.Registry.PolicyDocument("telemetry")
	if src == tgt || !strings.Contains(tgt, w.Secondary.Name) {
		t.Fatalf("policy documents were not rewritten: %s / %s", src, tgt)
	}
	diffs, err := comparer(w).Thing(context.Background(), "dev-0")
	if err != nil || len(diffs) != 0 {
		t.Fatalf("Thing(dev-0) = %v, %v; want no differences", diffs, err)
	}
}

// must returns a checker for a call's (output, error) pair.
func must(t *testing.T) func(any, error) {
	t.Helper()
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("inject drift: %v", err)
		}
	}
}

// TestRunComparesRetainedMessages: with Retained set, Run pages through both Regions'
// retained messages and reports a topic missing in the target, one only the target
// has, and differing payloads and QoS; equal ones are not reported, and without
// Retained none is compared.
func TestRunComparesRetainedMessages(t *testing.T) {
	ctx := context.Background()
	w := equalWorld(t)
	publish := func(r *simulator.Region, topic, payload string, qos int32) {
		t.Helper()
		if _, err := r.Broker.DataPlane().Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte(payload), Qos: qos, Retain: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		publish(r, "config/same", `{"v":1}`, 1)
	}
	publish(w.Primary, "config/only-primary", `{"v":1}`, 1)
	publish(w.Secondary, "config/only-secondary", `{"v":1}`, 1)
	publish(w.Primary, "config/payload", `{"v":1}`, 1)
	publish(w.Secondary, "config/payload", `{"v":2}`, 1)
	publish(w.Primary, "config/qos", `{"v":1}`, 1)
	publish(w.Secondary, "config/qos", `{"v":1}`, 0)

	if diffs, rep := run(t, w); len(diffs) != 0 || rep.RetainedMessages != 0 {
		t.Fatalf("without Retained: %d differences, %d retained messages checked, want none", len(diffs), rep.RetainedMessages)
	}
	c := comparer(w)
	c.Retained, c.SourceRetained, c.TargetRetained = true, w.Primary.Broker.DataPlane(), w.Secondary.Broker.DataPlane()
	var got []string
	rep, err := c.Run(ctx, verify.RunOptions{OnDifference: func(d verify.Difference) {
		if d.Resource == verify.RetainedMessage {
			got = append(got, fmt.Sprintf("%s %s %s", d.Kind, d.Name, d.Field))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"different config/payload payload", "different config/qos qos", "extra config/only-secondary ", "missing config/only-primary "}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("retained differences = %q, want %q", got, want)
	}
	if rep.RetainedMessages != 5 || rep.Total() != 4 {
		t.Errorf("report = %+v, want 5 retained topics checked and 4 differences", rep)
	}
}
