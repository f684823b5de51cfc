package shadow

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

// TestNamedShadowOverMQTT: a named shadow answers on its own topics and is
// independent of the classic shadow and of other names (version, delete).
func TestNamedShadowOverMQTT(t *testing.T) {
	svc, pub := newService(t)
	svc.HandleMQTT("$aws/things/t/shadow/name/config/update", []byte(`{"state":{"desired":{"mode":"eco"}},"clientToken":"c1"}`))
	got := expectTopics(t, pub.take(), "t", "name/config/update/accepted", "name/config/update/documents", "name/config/update/delta")
	assertJSON(t, "delta", got["name/config/update/delta"],
		`{"version":1,"timestamp":1700000000,"state":{"mode":"eco"},"metadata":{"mode":{"timestamp":1700000000}},"clientToken":"c1"}`)

	// The classic shadow does not exist: the named one is separate.
	svc.HandleMQTT("$aws/things/t/shadow/get", nil)
	got = expectTopics(t, pub.take(), "t", "get/rejected")
	assertJSON(t, "classic get", got["get/rejected"], `{"code":404,"message":"No shadow exists with name: 't'","timestamp":1700000000}`)
	svc.HandleMQTT("$aws/things/t/shadow/name/other/get", nil)
	got = expectTopics(t, pub.take(), "t", "name/other/get/rejected")
	assertJSON(t, "other get", got["name/other/get/rejected"], `{"code":404,"message":"No shadow exists with name: 't~other'","timestamp":1700000000}`)

	svc.HandleMQTT("$aws/things/t/shadow/name/config/get", []byte(`{"clientToken":"g"}`))
	got = expectTopics(t, pub.take(), "t", "name/config/get/accepted")
	assertJSON(t, "get", got["name/config/get/accepted"],
		`{"state":{"desired":{"mode":"eco"},"delta":{"mode":"eco"}},"metadata":{"desired":{"mode":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000,"clientToken":"g"}`)

	// A version check is against the named shadow's own version.
	svc.HandleMQTT("$aws/things/t/shadow/name/config/update", []byte(`{"state":{"reported":{"mode":"eco"}},"version":1}`))
	expectTopics(t, pub.take(), "t", "name/config/update/accepted", "name/config/update/documents")

	svc.HandleMQTT("$aws/things/t/shadow/name/config/delete", nil)
	got = expectTopics(t, pub.take(), "t", "name/config/delete/accepted")
	assertJSON(t, "delete", got["name/config/delete/accepted"], `{"version":2,"timestamp":1700000000}`)
	svc.HandleMQTT("$aws/things/t/shadow/name/config/delete", nil)
	expectTopics(t, pub.take(), "t", "name/config/delete/rejected")

	svc.HandleMQTT("$aws/things/t/shadow/name/bad!name/update", []byte(`{"state":{}}`))
	got = expectTopics(t, pub.take(), "t", "name/bad!name/update/rejected")
	assertJSON(t, "bad name", got["name/bad!name/update/rejected"], `{"code":400,"message":"Invalid shadow name","timestamp":1700000000}`)
}

// TestNamedShadowDataPlane covers the data-plane calls with shadowName and
// ListNamedShadowsForThing's paging.
func TestNamedShadowDataPlane(t *testing.T) {
	svc, pub := newService(t)
	ctx := context.Background()
	for _, n := range []string{"b", "a", "c"} {
		if _, err := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), ShadowName: aws.String(n),
			Payload: []byte(`{"state":{"reported":{"n":"` + n + `"}}}`)}); err != nil {
			t.Fatalf("update %s: %v", n, err)
		}
	}
	if _, err := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), Payload: []byte(`{"state":{"reported":{"x":1}}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("u"), ShadowName: aws.String("z"), Payload: []byte(`{"state":{"reported":{"x":1}}}`)}); err != nil {
		t.Fatal(err)
	}
	if msgs := pub.take(); len(msgs) != 10 {
		t.Errorf("published %d notifications, want 10 (accepted and documents per update)", len(msgs))
	}
	out, err := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("t"), ShadowName: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, "get a", out.Payload, `{"state":{"reported":{"n":"a"}},"metadata":{"reported":{"n":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`)

	list := func(page *int32, token *string) *iotdataplane.ListNamedShadowsForThingOutput {
		t.Helper()
		out, err := svc.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("t"), PageSize: page, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := list(nil, nil); !slices.Equal(got.Results, []string{"a", "b", "c"}) || got.NextToken != nil || got.Timestamp != now {
		t.Errorf("list = %v next %v ts %d, want [a b c], no token (the classic shadow is not listed)", got.Results, got.NextToken, got.Timestamp)
	}
	p1 := list(aws.Int32(2), nil)
	if !slices.Equal(p1.Results, []string{"a", "b"}) || p1.NextToken == nil {
		t.Fatalf("page 1 = %v next %v", p1.Results, p1.NextToken)
	}
	if p2 := list(aws.Int32(2), p1.NextToken); !slices.Equal(p2.Results, []string{"c"}) || p2.NextToken != nil {
		t.Errorf("page 2 = %v next %v", p2.Results, p2.NextToken)
	}
	if _, err := svc.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("t"), PageSize: aws.Int32(0)}); !errors.As(err, new(*types.InvalidRequestException)) {
		t.Errorf("page size 0: err = %v, want InvalidRequestException", err)
	}

	if _, err := svc.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("t"), ShadowName: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	if got := list(nil, nil); !slices.Equal(got.Results, []string{"a", "c"}) {
		t.Errorf("after delete list = %v, want [a c]", got.Results)
	}
	var nf *types.ResourceNotFoundException
	if _, err := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("t"), ShadowName: aws.String("b")}); !errors.As(err, &nf) ||
		aws.ToString(nf.Message) != "No shadow exists with name: 't~b'" {
		t.Errorf("get deleted: err = %v", err)
	}
	// Deleting keeps the version: the next update continues from it.
	up, err := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), ShadowName: aws.String("b"), Payload: []byte(`{"state":{"reported":{"n":1}},"version":1}`)})
	if err != nil {
		t.Fatalf("update after delete with the kept version: %v", err)
	}
	assertJSON(t, "re-create", up.Payload, `{"state":{"reported":{"n":1}},"metadata":{"reported":{"n":{"timestamp":1700000000}}},"version":2,"timestamp":1700000000}`)
}
