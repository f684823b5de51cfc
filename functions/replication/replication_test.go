package replication

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// TestScenarios runs each scenario against two simulated Regions, then asserts the
// target equals the source and that a full second pass changes nothing.
func TestScenarios(t *testing.T) {
	tests := []struct {
		name   string
		run    func(t *testing.T, e *env)
		things []string // whose shadows must match
	}{
		{name: "create with type, attributes, certificate and two policies", run: func(t *testing.T, e *env) {
			e.createType(t, "sensor")
			e.createThing(t, "dev-1", "sensor", map[string]string{"serial": "42", "site": "lab"})
			id, arn := e.addCert(t)
			e.addPolicy(t, "telemetry", "devices")
			e.addPolicy(t, "shadow", "shadows")
			e.attachPolicy(t, "telemetry", arn)
			e.attachPolicy(t, "shadow", arn)
			e.attachCert(t, "dev-1", arn)

			o := must(e.r.Thing(e.ctx, "dev-1"))(t)
			if o.Principals != 1 {
				t.Errorf("Principals = %d, want 1", o.Principals)
			}
			for _, want := range []string{"created thing dev-1", "created thing type sensor", "registered certificate " + shortID(id),
				"created policy telemetry", "created policy shadow", "attached certificate " + shortID(id) + " to thing dev-1"} {
				if !slices.Contains(o.Changes, want) {
					t.Errorf("changes %q lack %q", o.Changes, want)
				}
			}
			th := e.targetThing(t, "dev-1")
			if th == nil || aws.ToString(th.ThingTypeName) != "sensor" || !reflect.DeepEqual(th.Attributes, map[string]string{"serial": "42", "site": "lab"}) {
				t.Fatalf("target thing = %+v", th)
			}
			cd := must(e.tgt.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)}))(t).CertificateDescription
			if cd.Status != types.CertificateStatusActive || !strings.Contains(aws.ToString(cd.CertificateArn), ":"+tgtRegion+":") {
				t.Errorf("target certificate: status %s, ARN %s", cd.Status, aws.ToString(cd.CertificateArn))
			}
			for _, p := range []string{"telemetry", "shadow"} {
				doc := aws.ToString(must(e.tgt.GetPolicy(e.ctx, &iot.GetPolicyInput{PolicyName: aws.String(p)}))(t).PolicyDocument)
				if strings.Contains(doc, srcRegion) || !strings.Contains(doc, "arn:aws:iot:"+tgtRegion+":"+account+":") {
					t.Errorf("policy %s in target not rewritten: %s", p, doc)
				}
			}
			if o := must(e.r.Thing(e.ctx, "dev-1"))(t); len(o.Changes) != 0 {
				t.Errorf("second apply changed %q", o.Changes)
			}
		}},
		{name: "attribute merge and replace", run: func(t *testing.T, e *env) {
			e.createThing(t, "dev-1", "", map[string]string{"a": "1", "b": "2"})
			must(e.r.Thing(e.ctx, "dev-1"))(t)
			steps := []struct {
				payload types.AttributePayload
				want    map[string]string
			}{
				{types.AttributePayload{Attributes: map[string]string{"b": "", "c": "3"}, Merge: true}, map[string]string{"a": "1", "c": "3"}},
				{types.AttributePayload{Attributes: map[string]string{"x": "9"}}, map[string]string{"x": "9"}},
				{types.AttributePayload{Attributes: map[string]string{}}, nil},
			}
			for _, s := range steps {
				must(e.src.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), AttributePayload: &s.payload}))(t)
				must(e.r.Thing(e.ctx, "dev-1"))(t)
				if got := e.targetThing(t, "dev-1").Attributes; !maps.Equal(got, s.want) {
					t.Errorf("after %+v: target attributes %v, want %v", s.payload, got, s.want)
				}
			}
		}},
		{name: "type change and removal", run: func(t *testing.T, e *env) {
			e.createType(t, "t1")
			e.createType(t, "t2")
			e.createThing(t, "dev-1", "t1", map[string]string{"serial": "1"})
			must(e.r.Thing(e.ctx, "dev-1"))(t)
			for _, typ := range []string{"t2", ""} {
				in := &iot.UpdateThingInput{ThingName: aws.String("dev-1"), RemoveThingType: typ == ""}
				if typ != "" {
					in.ThingTypeName = aws.String(typ)
				}
				must(e.src.UpdateThing(e.ctx, in))(t)
				must(e.r.Thing(e.ctx, "dev-1"))(t)
				if got := aws.ToString(e.targetThing(t, "dev-1").ThingTypeName); got != typ {
					t.Errorf("target type %q, want %q", got, typ)
				}
			}
			must(e.r.ThingType(e.ctx, "t1"))(t) // the type nothing created in the target yet
		}},
		{name: "delete with a certificate shared by another thing", run: func(t *testing.T, e *env) {
			sharedID, sharedARN := e.addCert(t)
			ownID, ownARN := e.addCert(t)
			e.addPolicy(t, "common", "devices")
			e.addPolicy(t, "own", "own")
			e.attachPolicy(t, "common", sharedARN)
			e.attachPolicy(t, "common", ownARN)
			e.attachPolicy(t, "own", ownARN)
			for _, th := range []string{"dev-a", "dev-b"} {
				e.createThing(t, th, "", nil)
				e.attachCert(t, th, sharedARN)
			}
			e.attachCert(t, "dev-a", ownARN)
			regs := 0
			for _, th := range []string{"dev-a", "dev-b"} {
				o := must(e.r.Thing(e.ctx, th))(t)
				regs += countPrefix(o.Changes, "registered certificate "+shortID(sharedID))
			}
			if regs != 1 {
				t.Errorf("shared certificate registered %d times, want once", regs)
			}
			// The source deletes dev-a the way AWS requires: detach, delete, then
			// retire the certificate and policy only dev-a used.
			for _, arn := range []string{sharedARN, ownARN} {
				must(e.src.DetachThingPrincipal(e.ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-a"), Principal: aws.String(arn)}))(t)
			}
			must(e.src.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-a")}))(t)
			for _, p := range []string{"common", "own"} {
				must(e.src.DetachPolicy(e.ctx, &iot.DetachPolicyInput{PolicyName: aws.String(p), Target: aws.String(ownARN)}))(t)
			}
			must(e.src.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: aws.String("own")}))(t)
			must(e.src.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(ownID), NewStatus: types.CertificateStatusInactive}))(t)
			must(e.src.DeleteCertificate(e.ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(ownID)}))(t)

			o := must(e.r.Thing(e.ctx, "dev-a"))(t)
			if e.targetThing(t, "dev-a") != nil {
				t.Error("dev-a still in target")
			}
			if e.targetCertExists(t, ownID) || e.targetPolicyExists(t, "own") {
				t.Errorf("unshared certificate or its policy survived: %q", o.Changes)
			}
			if !e.targetCertExists(t, sharedID) || !e.targetPolicyExists(t, "common") {
				t.Errorf("shared certificate or policy removed: %q", o.Changes)
			}
		}},
		{name: "thing type lifecycle", run: func(t *testing.T, e *env) {
			e.createType(t, "sensor")
			deprecate := func(undo bool) {
				must(e.src.DeprecateThingType(e.ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("sensor"), UndoDeprecate: undo}))(t)
			}
			wantDeprecated := func(want bool) {
				t.Helper()
				d := must(e.tgt.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("sensor")}))(t)
				if d.ThingTypeMetadata.Deprecated != want || aws.ToString(d.ThingTypeProperties.ThingTypeDescription) != "type sensor" {
					t.Errorf("target type: deprecated %t (want %t), properties %+v", d.ThingTypeMetadata.Deprecated, want, d.ThingTypeProperties)
				}
			}
			must(e.r.ThingType(e.ctx, "sensor"))(t)
			wantDeprecated(false)
			e.createThing(t, "dev-1", "sensor", nil)
			must(e.r.Thing(e.ctx, "dev-1"))(t)
			deprecate(false)
			must(e.r.ThingType(e.ctx, "sensor"))(t)
			wantDeprecated(true)
			deprecate(true)
			must(e.r.ThingType(e.ctx, "sensor"))(t)
			wantDeprecated(false)

			// A thing of a deprecated type created in the target later (late event).
			e.createThing(t, "dev-2", "sensor", nil)
			deprecate(false)
			must(e.r.ThingType(e.ctx, "sensor"))(t)
			if o := must(e.r.Thing(e.ctx, "dev-2"))(t); !slices.Contains(o.Changes, "created thing dev-2") {
				t.Errorf("dev-2 not created: %q", o.Changes)
			}
			wantDeprecated(true)

			// Deleted in the source; the type event arrives before the things' events.
			for _, th := range []string{"dev-1", "dev-2"} {
				must(e.src.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String(th)}))(t)
			}
			must(e.src.DeleteThingType(e.ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("sensor")}))(t)
			_, err := e.r.ThingType(e.ctx, "sensor")
			if err == nil || IsPermanent(err) {
				t.Fatalf("deleting a type still in use: error %v, want a transient one", err)
			}
			for _, th := range []string{"dev-1", "dev-2"} {
				must(e.r.Thing(e.ctx, th))(t)
			}
			must(e.r.ThingType(e.ctx, "sensor"))(t)
			if _, err := e.tgt.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("sensor")}); !IsNotFound(err) {
				t.Errorf("type still in target: %v", err)
			}
		}},
		{name: "thing type properties updated", run: func(t *testing.T, e *env) {
			e.createType(t, "sensor")
			must(e.r.ThingType(e.ctx, "sensor"))(t)
			props := &types.ThingTypeProperties{
				ThingTypeDescription: aws.String("v2"), SearchableAttributes: []string{"serial", "site"},
				Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{
					{UserPropertyKey: aws.String("sn"), ThingAttribute: aws.String("serial")},
				}},
			}
			must(e.src.UpdateThingType(e.ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("sensor"), ThingTypeProperties: props}))(t)
			if diffs := must(Diff(e.ctx, e.src, e.tgt, srcRegion, tgtRegion))(t); !slices.Equal(diffs, []string{"thing type sensor: properties differ"}) {
				t.Errorf("verify before converge: %q", diffs)
			}
			if o := must(e.r.ThingType(e.ctx, "sensor"))(t); !slices.Contains(o.Changes, "updated thing type sensor properties") {
				t.Errorf("changes %q, want the properties updated", o.Changes)
			}
			d := must(e.tgt.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("sensor")}))(t)
			if !sameTypeProperties(d.ThingTypeProperties, props) {
				t.Errorf("target properties %+v, want %+v", d.ThingTypeProperties, props)
			}
			if o := must(e.r.ThingType(e.ctx, "sensor"))(t); len(o.Changes) != 0 {
				t.Errorf("second converge changed %q", o.Changes)
			}
			// Cleared in the source: cleared in the target too.
			must(e.src.UpdateThingType(e.ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("sensor"), ThingTypeProperties: &types.ThingTypeProperties{}}))(t)
			must(e.r.ThingType(e.ctx, "sensor"))(t)
			d = must(e.tgt.DescribeThingType(e.ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("sensor")}))(t)
			if p := d.ThingTypeProperties; p.ThingTypeDescription != nil || len(p.SearchableAttributes) != 0 || len(propagating(p)) != 0 {
				t.Errorf("target properties after clearing: %+v", p)
			}
			e.assertInSync(t)
		}},
		{name: "group hierarchy and membership", run: func(t *testing.T, e *env) {
			e.createGroup(t, "root", "", map[string]string{"tier": "1"})
			e.createGroup(t, "mid", "root", nil)
			e.createGroup(t, "leaf", "mid", nil)
			e.createThing(t, "dev-1", "", nil)
			e.createThing(t, "dev-2", "", nil)
			must(e.r.Thing(e.ctx, "dev-2"))(t)
			e.addToGroup(t, e.src, "dev-1", "leaf")
			e.addToGroup(t, e.src, "dev-1", "root")
			e.addToGroup(t, e.src, "dev-2", "leaf")

			// The membership event arrives before the thing and group events.
			o := must(e.r.Memberships(e.ctx, "dev-1"))(t)
			if i, j := slices.Index(o.Changes, "created thing group root"), slices.Index(o.Changes, "created thing group leaf under mid"); i < 0 || j < 0 || i > j {
				t.Errorf("parents not created first: %q", o.Changes)
			}
			must(e.r.Memberships(e.ctx, "dev-2"))(t)
			e.assertInSync(t)

			must(e.src.UpdateThingGroup(e.ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("root"),
				ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("new"),
					AttributePayload: &types.AttributePayload{Attributes: map[string]string{"tier": "", "zone": "z"}, Merge: true}}}))(t)
			if o := must(e.r.ThingGroup(e.ctx, "root"))(t); !slices.Contains(o.Changes, "updated thing group root") {
				t.Errorf("root not updated: %q", o.Changes)
			}
			e.assertInSync(t)

			// Move leaf under root: AWS can only delete and recreate it.
			must(e.src.DeleteThingGroup(e.ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("leaf")}))(t)
			e.createGroup(t, "leaf", "root", nil)
			e.addToGroup(t, e.src, "dev-2", "leaf")
			must(e.r.ThingGroup(e.ctx, "leaf"))(t)
			must(e.r.Memberships(e.ctx, "dev-1"))(t) // dev-1 left leaf with the old group
			e.assertInSync(t)

			must(e.src.RemoveThingFromThingGroup(e.ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("dev-1"), ThingGroupName: aws.String("root")}))(t)
			must(e.r.Memberships(e.ctx, "dev-1"))(t)
			must(e.src.DeleteThingGroup(e.ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("mid")}))(t)
			must(e.r.ThingGroup(e.ctx, "mid"))(t)
		}},
		{name: "group deleted in the source with its subtree", run: func(t *testing.T, e *env) {
			e.createGroup(t, "a", "", nil)
			e.createGroup(t, "b", "a", nil)
			e.createGroup(t, "c", "b", nil)
			must(e.r.ThingGroup(e.ctx, "c"))(t)
			for _, g := range []string{"c", "b", "a"} {
				must(e.src.DeleteThingGroup(e.ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(g)}))(t)
			}
			o := must(e.r.ThingGroup(e.ctx, "a"))(t)
			if !slices.Equal(o.Changes, []string{"deleted thing group c", "deleted thing group b", "deleted thing group a"}) {
				t.Errorf("changes %q, want children deleted first", o.Changes)
			}
		}},
		{name: "shadow update and delete", things: []string{"dev-1"}, run: func(t *testing.T, e *env) {
			e.updateShadow(t, "dev-1", `{"desired":{"a":1,"nested":{"x":1,"y":[1,2]}},"reported":{"r":"on"}}`)
			must(e.r.Shadow(e.ctx, "dev-1"))(t)
			e.assertInSync(t, "dev-1")
			e.updateShadow(t, "dev-1", `{"desired":{"nested":{"x":null,"z":true}},"reported":null}`)
			// Drift in the target the source never had.
			must(e.tgtSh.UpdateThingShadow(e.ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-1"),
				Payload: []byte(`{"state":{"desired":{"extra":{"k":1}}}}`)}))(t)
			must(e.r.Shadow(e.ctx, "dev-1"))(t)
			jsonEq(t, e.shadowState(t, e.tgtSh, "dev-1")["desired"], `{"a":1,"nested":{"y":[1,2],"z":true}}`)
			if o := must(e.r.Shadow(e.ctx, "dev-1"))(t); len(o.Changes) != 0 {
				t.Errorf("second apply changed %q", o.Changes)
			}
			must(e.srcSh.DeleteThingShadow(e.ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-1")}))(t)
			must(e.r.Shadow(e.ctx, "dev-1"))(t)
			if e.shadowState(t, e.tgtSh, "dev-1") != nil {
				t.Error("target shadow not deleted")
			}
			must(e.r.Shadow(e.ctx, "dev-1"))(t) // deleting again is fine
		}},
		{name: "old events applied after newer changes", run: func(t *testing.T, e *env) {
			// Events: dev-1 created, dev-1 updated, dev-2 created, dev-2 deleted, cert
			// attached to dev-1. Applied newest first, then in order, twice.
			e.createThing(t, "dev-1", "", map[string]string{"v": "1"})
			must(e.src.UpdateThing(e.ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"),
				AttributePayload: &types.AttributePayload{Attributes: map[string]string{"v": "2"}}}))(t)
			e.createThing(t, "dev-2", "", nil)
			must(e.r.Thing(e.ctx, "dev-2"))(t)
			must(e.src.DeleteThing(e.ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-2")}))(t)
			_, arn := e.addCert(t)
			e.attachCert(t, "dev-1", arn)
			events := []string{"dev-1", "dev-1", "dev-2", "dev-2"}
			for range 2 {
				for i := len(events) - 1; i >= 0; i-- {
					must(e.r.Thing(e.ctx, events[i]))(t)
				}
				e.assertInSync(t)
			}
			if got := e.targetThing(t, "dev-1").Attributes["v"]; got != "2" {
				t.Errorf("dev-1 rolled back to v=%s", got)
			}
		}},
		{name: "policy at its version limit", run: func(t *testing.T, e *env) {
			_, arn := e.addCert(t)
			e.addPolicy(t, "p", "v0")
			e.attachPolicy(t, "p", arn)
			e.createThing(t, "dev-1", "", nil)
			e.attachCert(t, "dev-1", arn)
			must(e.r.Thing(e.ctx, "dev-1"))(t)
			for i, topic := range []string{"v1", "v2", "v3", "v4", "v5", "v6"} {
				must(e.src.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("p"),
					PolicyDocument: aws.String(policyDoc(srcRegion, topic)), SetAsDefault: true}))(t)
				if i >= 3 { // keep the source under its own limit
					vs := must(e.src.ListPolicyVersions(e.ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("p")}))(t)
					for _, v := range vs.PolicyVersions {
						if !v.IsDefaultVersion {
							must(e.src.DeletePolicyVersion(e.ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: v.VersionId}))(t)
							break
						}
					}
				}
				if o := must(e.r.Thing(e.ctx, "dev-1"))(t); !slices.Contains(o.Changes, "updated policy p") {
					t.Fatalf("version %s not replicated: %q", topic, o.Changes)
				}
			}
			vs := must(e.tgt.ListPolicyVersions(e.ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("p")}))(t)
			if len(vs.PolicyVersions) != maxPolicyVersions {
				t.Errorf("target has %d versions, want %d", len(vs.PolicyVersions), maxPolicyVersions)
			}
		}},
		{name: "certificate status and detached policy", run: func(t *testing.T, e *env) {
			id, arn := e.addCert(t)
			e.addPolicy(t, "p1", "a")
			e.addPolicy(t, "p2", "b")
			e.attachPolicy(t, "p1", arn)
			e.attachPolicy(t, "p2", arn)
			e.createThing(t, "dev-1", "", nil)
			e.attachCert(t, "dev-1", arn)
			must(e.r.Thing(e.ctx, "dev-1"))(t)
			must(e.src.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusInactive}))(t)
			must(e.src.DetachPolicy(e.ctx, &iot.DetachPolicyInput{PolicyName: aws.String("p2"), Target: aws.String(arn)}))(t)
			must(e.src.DeletePolicy(e.ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p2")}))(t)
			o := must(e.r.Thing(e.ctx, "dev-1"))(t)
			for _, want := range []string{"set certificate " + shortID(id) + " INACTIVE", "detached policy p2 from certificate " + shortID(id), "deleted policy p2"} {
				if !slices.Contains(o.Changes, want) {
					t.Errorf("changes %q lack %q", o.Changes, want)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.run(t, e)
			e.assertInSync(t, tc.things...)
			e.assertNoChanges(t)
		})
	}
}

func countPrefix(changes []string, prefix string) int {
	n := 0
	for _, c := range changes {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// overrideSource lets a test make the source return what the fake would refuse to
// store (e.g. an oversized attribute, as a source with other limits could).
type overrideSource struct {
	IoT
	describeThing func(*iot.DescribeThingOutput)
}

func (o overrideSource) DescribeThing(ctx context.Context, in *iot.DescribeThingInput, optFns ...func(*iot.Options)) (*iot.DescribeThingOutput, error) {
	out, err := o.IoT.DescribeThing(ctx, in, optFns...)
	if err == nil && o.describeThing != nil {
		o.describeThing(out)
	}
	return out, err
}

func TestErrorsClassified(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, e *env) string // returns the thing to converge
		permanent bool
	}{
		{name: "throttled target is transient", setup: func(t *testing.T, e *env) string {
			e.createThing(t, "dev-1", "", nil)
			e.tgt.SetRate("CreateThing", 0.001)
			// Spend the only token of the bucket.
			must(e.tgt.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("other")}))(t)
			return "dev-1"
		}},
		{name: "unavailable target is transient", setup: func(t *testing.T, e *env) string {
			e.createThing(t, "dev-1", "", nil)
			e.tgt.SetAvailable(false)
			return "dev-1"
		}},
		{name: "oversized attribute is permanent", permanent: true, setup: func(t *testing.T, e *env) string {
			e.createThing(t, "dev-1", "", map[string]string{"a": "1"})
			e.r.Source = overrideSource{IoT: e.src, describeThing: func(out *iot.DescribeThingOutput) {
				out.Attributes = map[string]string{"a": strings.Repeat("x", 5000)}
			}}
			return "dev-1"
		}},
		{name: "invalid name is permanent", permanent: true, setup: func(t *testing.T, e *env) string {
			return "bad name/../x"
		}},
		{name: "empty name is permanent", permanent: true, setup: func(t *testing.T, e *env) string {
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			name := tc.setup(t, e)
			_, err := e.r.Thing(e.ctx, name)
			if err == nil {
				t.Fatal("no error")
			}
			if got := IsPermanent(err); got != tc.permanent {
				t.Fatalf("IsPermanent(%v) = %t, want %t", err, got, tc.permanent)
			}
			var pe *PermanentError
			if tc.permanent {
				// Returned unwrapped so that Lambda reports the state machine's errorType.
				pe, _ = err.(*PermanentError)
				if pe == nil {
					t.Fatalf("error %T is not a bare *PermanentError", err)
				}
				if name := reflect.TypeOf(pe).Elem().Name(); name != spec.PermanentErrorType {
					t.Errorf("type name %q, want %q", name, spec.PermanentErrorType)
				}
				if !strings.HasPrefix(pe.Error(), "thing ") {
					t.Errorf("error %q lacks its operation", pe.Error())
				}
			} else if errors.As(err, &pe) {
				t.Errorf("transient error %v wraps a PermanentError", err)
			}
		})
	}
}

func TestReconcileRepairsDrift(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	// Source: a type, a group tree, things with certificates and policies, shadows.
	e.createType(t, "sensor")
	e.createGroup(t, "fleet", "", map[string]string{"k": "v"})
	e.createGroup(t, "eu", "fleet", nil)
	e.addPolicy(t, "device", "devices")
	var things []string
	for i := range 12 {
		name := "dev-" + string(rune('a'+i))
		things = append(things, name)
		e.createThing(t, name, "sensor", map[string]string{"serial": name})
		_, arn := e.addCert(t)
		e.attachPolicy(t, "device", arn)
		e.attachCert(t, name, arn)
		e.addToGroup(t, e.src, name, "eu")
		e.updateShadow(t, name, `{"reported":{"n":`+string(rune('0'+i%10))+`}}`)
	}
	rep := must(e.r.Reconcile(ctx, ReconcileOptions{Shadows: true, Concurrency: 4}))(t)
	if rep.Things.Checked != len(things) || rep.Things.Changed != len(things) || rep.Failed() != 0 {
		t.Fatalf("first pass report %+v", rep)
	}
	e.assertInSync(t, things...)

	// Drift of every kind in the target.
	mustT := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustT(e.tgt.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-a"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"x": "y"}}}))
	mustT(e.tgt.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-b"), RemoveThingType: true}))
	ps := must(e.tgt.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev-c")}))(t)
	mustT(e.tgt.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-c"), Principal: aws.String(ps.Principals[0])}))
	ps = must(e.tgt.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev-d")}))(t)
	mustT(e.tgt.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(CertificateID(ps.Principals[0])), NewStatus: types.CertificateStatusInactive}))
	mustT(e.tgt.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("device"), Target: aws.String(ps.Principals[0])}))
	mustT(e.tgt.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("device"), PolicyDocument: aws.String(policyDoc(tgtRegion, "evil")), SetAsDefault: true}))
	mustT(e.tgt.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("dev-e"), ThingGroupName: aws.String("eu")}))
	mustT(e.tgt.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("fleet"), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("changed")}}))
	mustT(e.tgt.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("sensor")}))
	ps = must(e.tgt.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev-f")}))(t)
	mustT(e.tgt.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-f"), Principal: aws.String(ps.Principals[0])}))
	mustT(e.tgt.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-f")}))
	mustT(e.tgtSh.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-g"), Payload: []byte(`{"state":{"desired":{"x":1}}}`)}))
	// Extras only the target has.
	mustT(e.tgt.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("extra-type")}))
	mustT(e.tgt.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("extra-root")}))
	mustT(e.tgt.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("extra-child"), ParentGroupName: aws.String("extra-root")}))
	mustT(e.tgt.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("extra-thing"), ThingTypeName: aws.String("extra-type")}))
	extraCert := must(e.tgt.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(newCertPEM(t)), Status: types.CertificateStatusActive}))(t)
	mustT(e.tgt.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("extra-thing"), Principal: extraCert.CertificateArn}))

	if diffs := must(Diff(ctx, e.src, e.tgt, srcRegion, tgtRegion))(t); len(diffs) < 10 {
		t.Fatalf("drift not visible to Diff: %q", diffs)
	}
	var results int
	rep, err := e.r.Reconcile(ctx, ReconcileOptions{Shadows: true, Concurrency: 3, OnResult: func(kind, name string, o Outcome, err error) {
		results++ // never called concurrently: -race checks it
		if err != nil {
			t.Errorf("%s %s: %v", kind, name, err)
		}
	}})
	if err != nil {
		t.Fatalf("Reconcile: %v (report %+v)", err, rep)
	}
	if results == 0 || rep.Changed() < 10 {
		t.Errorf("report %+v after %d results: drift not repaired", rep, results)
	}
	e.assertInSync(t, things...)
	if e.targetThing(t, "extra-thing") != nil || e.targetCertExists(t, aws.ToString(extraCert.CertificateId)) {
		t.Error("extra thing or its certificate survived")
	}
	e.assertNoChanges(t)
}

func TestReconcileStopsOnListFailure(t *testing.T) {
	e := newEnv(t)
	e.src.SetAvailable(false)
	if _, err := e.r.Reconcile(e.ctx, ReconcileOptions{}); err == nil || IsPermanent(err) {
		t.Fatalf("error %v, want a transient failure", err)
	}
}

func TestRewriteRegion(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"arn:aws:iot:us-east-1:123456789012:topic/a"`, `"arn:aws:iot:eu-west-1:123456789012:topic/a"`},
		{`arn:aws-cn:iot:us-east-1:1:client/x arn:aws-us-gov:s3:us-east-1::b`, `arn:aws-cn:iot:eu-west-1:1:client/x arn:aws-us-gov:s3:eu-west-1::b`},
		{`arn:aws:iot:us-east-11:1:x`, `arn:aws:iot:us-east-11:1:x`},               // another Region
		{`arn:other:iot:us-east-1:1:x`, `arn:other:iot:us-east-1:1:x`},             // unknown partition
		{`topic us-east-1 arn:aws:iot:*:1:x`, `topic us-east-1 arn:aws:iot:*:1:x`}, // not an ARN's Region
		{`arn:aws:iot:us-east-1`, `arn:aws:iot:us-east-1`},                         // truncated
		{`arnarn:aws:iot:us-east-1:1:x`, `arnarn:aws:iot:eu-west-1:1:x`},
	}
	for _, tc := range tests {
		if got := RewriteRegion(tc.in, srcRegion, tgtRegion); got != tc.want {
			t.Errorf("RewriteRegion(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStatePatch(t *testing.T) {
	tests := []struct{ src, tgt, want string }{
		{`{"desired":{"a":1}}`, `{"desired":{"a":1}}`, `null`},
		{`{"desired":{"a":1}}`, `{}`, `{"desired":{"a":1}}`},
		{`{}`, `{"reported":{"a":1}}`, `{"reported":null}`},
		{`{"desired":{"a":{"b":1,"c":2}}}`, `{"desired":{"a":{"b":1,"d":3},"e":4}}`, `{"desired":{"a":{"c":2,"d":null},"e":null}}`},
		{`{"reported":{"a":[1,2]}}`, `{"reported":{"a":[1]}}`, `{"reported":{"a":[1,2]}}`},
		{`{"reported":{"a":{"b":1}}}`, `{"reported":{"a":5}}`, `{"reported":{"a":{"b":1}}}`},
	}
	for _, tc := range tests {
		src, err := shadowState([]byte(`{"state":` + tc.src + `}`))
		if err != nil {
			t.Fatal(err)
		}
		tgt, err := shadowState([]byte(`{"state":` + tc.tgt + `}`))
		if err != nil {
			t.Fatal(err)
		}
		p := statePatch(src, tgt, ShadowSections())
		if p == nil {
			jsonEq(t, nil, tc.want)
			continue
		}
		jsonEq(t, map[string]any(p), tc.want)
	}
}

func TestIsPermanent(t *testing.T) {
	// The SDK wraps every API error in a *smithy.OperationError.
	op := func(err error) error {
		return &smithy.OperationError{ServiceID: "IoT", OperationName: "CreateThing", Err: err}
	}
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("dial tcp: connection refused"), false},
		{context.DeadlineExceeded, false},
		{op(&types.ThrottlingException{}), false},
		{op(&types.ServiceUnavailableException{}), false},
		{op(&types.InternalFailureException{}), false},
		{op(&types.DeleteConflictException{}), false},
		{op(&types.InvalidRequestException{}), true},
		{op(&types.MalformedPolicyException{}), true},
		{retryable{op(&types.InvalidRequestException{})}, false},
		{&PermanentError{Op: "x", Err: errors.New("y")}, true},
		{invalidf("bad"), true},
	}
	for _, tc := range tests {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %t, want %t", tc.err, got, tc.want)
		}
	}
}
