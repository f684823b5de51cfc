package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

// Device Shadow behaviours (classic shadows over the data-plane API).
var shadowBehaviours = []behaviour{
	{name: "shadow/not-found", run: shadowNotFound},
	{name: "shadow/versions", run: shadowVersions},
	{name: "shadow/merge-and-delta", run: shadowMerge},
	{
		name: "shadow/null-section-removed",
		motoDiffers: "moto keeps the desired section when an update sets it to null " +
			"(AWS: \"You can delete all of the desired or reported state by setting it to null\", " +
			"https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html)",
		run: shadowNullSection,
	},
	{name: "shadow/version-conflict", run: shadowVersionConflict},
	{name: "shadow/delete-keeps-version", run: shadowDeleteKeepsVersion},
}

// shadowDoc is the part of a shadow document the cases check.
type shadowDoc struct {
	State struct {
		Desired  map[string]any `json:"desired"`
		Reported map[string]any `json:"reported"`
		Delta    map[string]any `json:"delta"`
	} `json:"state"`
	Version int64 `json:"version"`
}

func decodeShadow(t *testing.T, what string, payload []byte) shadowDoc {
	t.Helper()
	var d shadowDoc
	if err := json.Unmarshal(payload, &d); err != nil {
		t.Fatalf("%s: payload %q is not a shadow document: %v", what, payload, err)
	}
	return d
}

func updateShadow(ctx context.Context, t *testing.T, tg Target, thing, doc string) shadowDoc {
	t.Helper()
	out := must[*iotdataplane.UpdateThingShadowOutput](t, "UpdateThingShadow "+doc)(tg.Data.UpdateThingShadow(ctx,
		&iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), Payload: []byte(doc)}))
	return decodeShadow(t, "UpdateThingShadow", out.Payload)
}

func getShadow(ctx context.Context, t *testing.T, tg Target, thing string) shadowDoc {
	t.Helper()
	out := must[*iotdataplane.GetThingShadowOutput](t, "GetThingShadow")(tg.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)}))
	return decodeShadow(t, "GetThingShadow", out.Payload)
}

func shadowNotFound(ctx context.Context, t *testing.T, tg Target) {
	_, err := tg.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("never")})
	wantErr[*types.ResourceNotFoundException](t, "GetThingShadow of a missing shadow", err)
	_, err = tg.Data.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("never")})
	wantErr[*types.ResourceNotFoundException](t, "DeleteThingShadow of a missing shadow", err)
}

func shadowVersions(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	a := updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"temp":20}}}`)
	b := updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"temp":21}}}`)
	if b.Version != a.Version+1 {
		t.Errorf("versions of two updates = %d, %d, want consecutive", a.Version, b.Version)
	}
	got := getShadow(ctx, t, tg, "dev-1")
	if got.Version != b.Version || !reflect.DeepEqual(got.State.Reported, map[string]any{"temp": 21.0}) {
		t.Errorf("GetThingShadow = version %d reported %v, want %d {temp:21}", got.Version, got.State.Reported, b.Version)
	}
	must[*iotdataplane.DeleteThingShadowOutput](t, "DeleteThingShadow")(tg.Data.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-1")}))
	_, err := tg.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("dev-1")})
	wantErr[*types.ResourceNotFoundException](t, "GetThingShadow after delete", err)
}

func shadowMerge(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":1,"nested":{"x":1,"y":2}},"desired":{"a":2}}}`)
	// null removes a key; objects merge; scalars replace.
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"nested":{"y":null,"z":3}}}}`)
	got := getShadow(ctx, t, tg, "dev-1")
	wantReported := map[string]any{"a": 1.0, "nested": map[string]any{"x": 1.0, "z": 3.0}}
	if !reflect.DeepEqual(got.State.Reported, wantReported) {
		t.Errorf("reported = %v, want %v", got.State.Reported, wantReported)
	}
	if !reflect.DeepEqual(got.State.Desired, map[string]any{"a": 2.0}) {
		t.Errorf("desired = %v, want {a:2}", got.State.Desired)
	}
	if !reflect.DeepEqual(got.State.Delta, map[string]any{"a": 2.0}) {
		t.Errorf("delta = %v, want {a:2}", got.State.Delta)
	}
	// Reporting the desired value clears the delta.
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":2}}}`)
	if got = getShadow(ctx, t, tg, "dev-1"); got.State.Delta != nil {
		t.Errorf("after reporting the desired value: delta %v, want none", got.State.Delta)
	}
	_, err := tg.Data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-1"), Payload: []byte(`{"state":`)})
	wantErr[*types.InvalidRequestException](t, "UpdateThingShadow with bad JSON", err)
}

func shadowNullSection(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":1},"desired":{"a":2}}}`)
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"desired":null}}`)
	got := getShadow(ctx, t, tg, "dev-1")
	if got.State.Desired != nil || got.State.Delta != nil || !reflect.DeepEqual(got.State.Reported, map[string]any{"a": 1.0}) {
		t.Errorf("after desired=null: desired %v delta %v reported %v, want reported {a:1} only", got.State.Desired, got.State.Delta, got.State.Reported)
	}
}

func shadowVersionConflict(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	v := updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":1}}}`).Version
	// The current version is accepted, a stale one is a conflict.
	if got := updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":2}},"version":`+itoa(v)+`}`).Version; got != v+1 {
		t.Errorf("version after a matching update = %d, want %d", got, v+1)
	}
	_, err := tg.Data.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-1"),
		Payload: []byte(`{"state":{"reported":{"a":3}},"version":` + itoa(v) + `}`)})
	wantErr[*types.ConflictException](t, "UpdateThingShadow with a stale version", err)
	if got := getShadow(ctx, t, tg, "dev-1"); got.Version != v+1 || got.State.Reported["a"] != 2.0 {
		t.Errorf("after the conflict shadow = version %d reported %v, want unchanged %d {a:2}", got.Version, got.State.Reported, v+1)
	}
}

func shadowDeleteKeepsVersion(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":1}}}`)
	v := updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":2}}}`).Version
	must[*iotdataplane.DeleteThingShadowOutput](t, "DeleteThingShadow")(tg.Data.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-1")}))
	got := updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"a":3}}}`)
	// AWS: the re-created shadow continues the deleted one's version; whether
	// the deletion itself takes a version number is not documented.
	if got.Version <= v {
		t.Errorf("version of a shadow re-created after delete = %d, want more than %d (continuing the deleted one)", got.Version, v)
	}
}

// createThing registers the thing the shadow belongs to. AWS serves shadows
// for any thing name, registered or not; moto only for registered things, so
// the cases register it everywhere.
func createThing(ctx context.Context, t *testing.T, tg Target, name string) {
	t.Helper()
	if _, err := tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}); err != nil {
		t.Fatalf("CreateThing %s: %v", name, err)
	}
}

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sameJSON reports whether two JSON texts encode the same value.
func sameJSON(a, b string) bool {
	var va, vb any
	return json.Unmarshal([]byte(a), &va) == nil && json.Unmarshal([]byte(b), &vb) == nil && reflect.DeepEqual(va, vb)
}

// samePEM reports whether two PEM texts hold the same first certificate.
func samePEM(a, b string) bool {
	ba, _ := pem.Decode([]byte(a))
	bb, _ := pem.Decode([]byte(b))
	return ba != nil && bb != nil && bytes.Equal(ba.Bytes, bb.Bytes)
}
