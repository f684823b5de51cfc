package replication

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

func (e *env) namedShadow(t *testing.T, sh interface {
	GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error)
}, thing, name string) map[string]any {
	t.Helper()
	out, err := sh.GetThingShadow(e.ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: aws.String(name)})
	if IsNotFound(err) {
		return nil
	}
	st := must(ShadowState(must(out, err)(t).Payload))(t)
	delete(st, "delta")
	return st
}

// TestAllShadowsConvergesNamedShadows: a bulk pass converges every named shadow either
// Region has: created or updated to the source's, one only the target has deleted,
// and the classic shadow alongside; a second pass changes nothing.
func TestAllShadowsConvergesNamedShadows(t *testing.T) {
	e := newEnv(t)
	e.createThing(t, "dev-1", "", nil)
	put := func(sh interface {
		UpdateThingShadow(ctx context.Context, in *iotdataplane.UpdateThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.UpdateThingShadowOutput, error)
	}, name, doc string) {
		in := &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("dev-1"), Payload: []byte(doc)}
		if name != "" {
			in.ShadowName = aws.String(name)
		}
		must(sh.UpdateThingShadow(e.ctx, in))(t)
	}
	put(e.srcSh, "", `{"state":{"reported":{"c":1}}}`)
	put(e.srcSh, "config", `{"state":{"desired":{"interval":5}}}`)
	put(e.srcSh, "ota", `{"state":{"reported":{"fw":"1.2"}}}`)
	put(e.tgtSh, "ota", `{"state":{"reported":{"fw":"1.0","old":true}}}`)
	put(e.tgtSh, "stale", `{"state":{"reported":{"x":1}}}`)

	o := must(e.r.NewRun().Shadow(e.ctx, "dev-1"))(t)
	if len(o.Changes) != 4 {
		t.Errorf("changes %v, want the classic shadow, config and ota updated and stale deleted", o.Changes)
	}
	for _, n := range []string{"config", "ota", "stale"} {
		if got, want := e.namedShadow(t, e.tgtSh, "dev-1", n), e.namedShadow(t, e.srcSh, "dev-1", n); !reflect.DeepEqual(got, want) {
			t.Errorf("named shadow %s in the target = %v, want %v", n, got, want)
		}
	}
	names := must(NamedShadowNames(e.ctx, e.tgtSh, "dev-1"))(t)
	if !slices.Equal(names, []string{"config", "ota"}) {
		t.Errorf("target named shadows %v, want [config ota]", names)
	}
	if o := must(e.r.NewRun().Shadow(e.ctx, "dev-1"))(t); len(o.Changes) != 0 {
		t.Errorf("second pass changed %v, want nothing", o.Changes)
	}
	if _, err := e.r.NamedShadow(e.ctx, "dev-1", "a/b"); !IsPermanent(err) {
		t.Errorf("NamedShadow with a bad name: %v, want a permanent error", err)
	}
}
