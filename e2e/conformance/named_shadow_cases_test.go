package conformance

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

// Named shadows over the data-plane API (shadowName on Get/Update/DeleteThingShadow,
// ListNamedShadowsForThing): what the capture, the apply, sync and verify rely on.
var namedShadowBehaviours = []behaviour{
	{name: "named-shadow/independent-of-classic", run: namedShadowIndependent},
	{name: "named-shadow/list", run: namedShadowList},
	{name: "named-shadow/delete", run: namedShadowDelete},
	{
		name: "named-shadow/delete-twice",
		motoDiffers: "moto answers a second DeleteThingShadow of a deleted shadow with success " +
			"(AWS: DeleteThingShadow of a shadow that does not exist is ResourceNotFoundException, HTTP 404, " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_DeleteThingShadow.html)",
		run: namedShadowDeleteTwice,
	},
	{
		name: "named-shadow/list-omits-deleted",
		motoDiffers: "moto still lists a named shadow after DeleteThingShadow deleted it " +
			"(AWS: ListNamedShadowsForThing \"Lists the shadows for the specified thing\"; a deleted shadow no longer exists, " +
			"GetThingShadow answers ResourceNotFoundException for it, " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_ListNamedShadowsForThing.html, " +
			"https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-rest-api.html)",
		run: namedShadowListOmitsDeleted,
	},
}

func updateNamed(ctx context.Context, t *testing.T, tg Target, thing, shadow, doc string) shadowDoc {
	t.Helper()
	out := must[*iotdataplane.UpdateThingShadowOutput](t, "UpdateThingShadow "+shadow+" "+doc)(tg.Data.UpdateThingShadow(ctx,
		&iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), ShadowName: aws.String(shadow), Payload: []byte(doc)}))
	return decodeShadow(t, "UpdateThingShadow "+shadow, out.Payload)
}

func getNamed(ctx context.Context, t *testing.T, tg Target, thing, shadow string) shadowDoc {
	t.Helper()
	out := must[*iotdataplane.GetThingShadowOutput](t, "GetThingShadow "+shadow)(tg.Data.GetThingShadow(ctx,
		&iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: aws.String(shadow)}))
	return decodeShadow(t, "GetThingShadow "+shadow, out.Payload)
}

func listNamed(ctx context.Context, t *testing.T, tg Target, thing string) []string {
	t.Helper()
	out := must[*iotdataplane.ListNamedShadowsForThingOutput](t, "ListNamedShadowsForThing")(tg.Data.ListNamedShadowsForThing(ctx,
		&iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String(thing)}))
	return sorted(out.Results)
}

// namedShadowIndependent: a thing's classic shadow and its named shadows are separate
// documents with their own versions; an update of one leaves the others as they were.
func namedShadowIndependent(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	classic := updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"temp":20}}}`)
	classic = updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"temp":21}}}`)
	settings := updateNamed(ctx, t, tg, "dev-1", "settings", `{"state":{"desired":{"interval":5}}}`)
	if settings.Version != 1 {
		t.Errorf("first version of a named shadow = %d, want 1 (its own counter, not the classic shadow's %d)", settings.Version, classic.Version)
	}
	updateNamed(ctx, t, tg, "dev-1", "firmware", `{"state":{"reported":{"version":"1.2"}}}`)
	if got := getShadow(ctx, t, tg, "dev-1"); got.Version != classic.Version || !reflect.DeepEqual(got.State.Reported, map[string]any{"temp": 21.0}) || got.State.Desired != nil {
		t.Errorf("classic shadow after named updates = version %d %+v, want version %d reported {temp:21} only", got.Version, got.State, classic.Version)
	}
	got := getNamed(ctx, t, tg, "dev-1", "settings")
	if got.Version != settings.Version || !reflect.DeepEqual(got.State.Desired, map[string]any{"interval": 5.0}) || got.State.Reported != nil {
		t.Errorf("named shadow settings = version %d %+v, want version %d desired {interval:5} only", got.Version, got.State, settings.Version)
	}
	if !reflect.DeepEqual(got.State.Delta, map[string]any{"interval": 5.0}) {
		t.Errorf("named shadow settings delta = %v, want {interval:5}", got.State.Delta)
	}
	_, err := tg.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("dev-1"), ShadowName: aws.String("never")})
	wantErr[*types.ResourceNotFoundException](t, "GetThingShadow of a missing named shadow", err)
}

// namedShadowList: ListNamedShadowsForThing names a thing's named shadows, not its
// classic one; a thing with none lists none.
func namedShadowList(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	createThing(ctx, t, tg, "dev-2")
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"temp":20}}}`)
	for _, s := range []string{"settings", "firmware"} {
		updateNamed(ctx, t, tg, "dev-1", s, `{"state":{"reported":{"ok":true}}}`)
	}
	if got := listNamed(ctx, t, tg, "dev-1"); !slices.Equal(got, []string{"firmware", "settings"}) {
		t.Errorf("named shadows of dev-1 = %q, want [firmware settings]", got)
	}
	if got := listNamed(ctx, t, tg, "dev-2"); len(got) != 0 {
		t.Errorf("named shadows of a thing without any = %q, want none", got)
	}
}

// namedShadowDelete: deleting a named shadow deletes that one only.
func namedShadowDelete(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	updateShadow(ctx, t, tg, "dev-1", `{"state":{"reported":{"temp":20}}}`)
	updateNamed(ctx, t, tg, "dev-1", "settings", `{"state":{"desired":{"interval":5}}}`)
	updateNamed(ctx, t, tg, "dev-1", "firmware", `{"state":{"reported":{"version":"1.2"}}}`)
	del := &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-1"), ShadowName: aws.String("settings")}
	must[*iotdataplane.DeleteThingShadowOutput](t, "DeleteThingShadow settings")(tg.Data.DeleteThingShadow(ctx, del))
	_, err := tg.Data.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("dev-1"), ShadowName: aws.String("settings")})
	wantErr[*types.ResourceNotFoundException](t, "GetThingShadow of a deleted named shadow", err)
	if got := getNamed(ctx, t, tg, "dev-1", "firmware"); got.State.Reported["version"] != "1.2" {
		t.Errorf("the other named shadow after the delete = %+v, want reported {version:1.2}", got.State)
	}
	if got := getShadow(ctx, t, tg, "dev-1"); got.State.Reported["temp"] != 20.0 {
		t.Errorf("the classic shadow after the delete = %+v, want reported {temp:20}", got.State)
	}
}

// namedShadowListOmitsDeleted: a deleted named shadow is no longer listed (the
// capture's sweep finds it through its item instead).
func namedShadowListOmitsDeleted(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	updateNamed(ctx, t, tg, "dev-1", "settings", `{"state":{"desired":{"interval":5}}}`)
	updateNamed(ctx, t, tg, "dev-1", "firmware", `{"state":{"reported":{"version":"1.2"}}}`)
	must[*iotdataplane.DeleteThingShadowOutput](t, "DeleteThingShadow settings")(tg.Data.DeleteThingShadow(ctx,
		&iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-1"), ShadowName: aws.String("settings")}))
	if got := listNamed(ctx, t, tg, "dev-1"); !slices.Equal(got, []string{"firmware"}) {
		t.Errorf("named shadows after deleting settings = %q, want [firmware]", got)
	}
}

// namedShadowDeleteTwice: a second delete of a named shadow is
// ResourceNotFoundException, as for a shadow that never existed.
func namedShadowDeleteTwice(ctx context.Context, t *testing.T, tg Target) {
	createThing(ctx, t, tg, "dev-1")
	updateNamed(ctx, t, tg, "dev-1", "settings", `{"state":{"desired":{"interval":5}}}`)
	del := &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("dev-1"), ShadowName: aws.String("settings")}
	must[*iotdataplane.DeleteThingShadowOutput](t, "DeleteThingShadow settings")(tg.Data.DeleteThingShadow(ctx, del))
	_, err := tg.Data.DeleteThingShadow(ctx, del)
	wantErr[*types.ResourceNotFoundException](t, "DeleteThingShadow of a deleted named shadow", err)
}
