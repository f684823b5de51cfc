package registry

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// checkEvent compares an event with the expected topic and payload; eventId
// is checked for shape and then ignored.
func checkEvent(t *testing.T, m message, topic string, want map[string]any) {
	t.Helper()
	if m.Topic != topic {
		t.Errorf("topic = %s, want %s", m.Topic, topic)
	}
	got := decode(t, m)
	id, _ := got["eventId"].(string)
	if !isUUID(id) {
		t.Errorf("%s: eventId %q is not a UUID", m.Topic, got["eventId"])
	}
	delete(got, "eventId")
	// Round-trip want through JSON so numbers compare as float64.
	raw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var norm map[string]any
	if err := json.Unmarshal(raw, &norm); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, norm) {
		t.Errorf("%s payload:\n got  %s\n want %s", m.Topic, mustJSON(got), mustJSON(norm))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestThingEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThingType(t, "cam")
	f.mustCreateThingType(t, "lamp")
	f.pub.take()
	ts := f.clock.Now().UnixMilli()

	created := f.mustCreateThing(t, "dev", map[string]string{"a": "1"}, "")
	id := *created.ThingId
	f.mustCreateThing(t, "dev", map[string]string{"a": "1"}, "") // idempotent: no event
	base := func(op string, version int, typeName any, attrs map[string]any) map[string]any {
		return map[string]any{
			"eventType": "THING_EVENT", "timestamp": ts, "operation": op, "accountId": testAccount,
			"thingId": id, "thingName": "dev", "versionNumber": version, "thingTypeName": typeName, "attributes": attrs,
		}
	}
	msgs := f.pub.take()
	if len(msgs) != 1 {
		t.Fatalf("got %d events for create + idempotent create, want 1", len(msgs))
	}
	checkEvent(t, msgs[0], "$aws/events/thing/dev/created", base("CREATED", 1, nil, map[string]any{"a": "1"}))

	if _, err := f.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev"), ThingTypeName: aws.String("cam"),
		AttributePayload: &types.AttributePayload{Merge: true, Attributes: map[string]string{"b": "2"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev"), ThingTypeName: aws.String("lamp")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev"), RemoveThingType: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	assoc := func(op, typeName string) map[string]any {
		return map[string]any{"eventType": "THING_TYPE_ASSOCIATION_EVENT", "operation": op, "thingId": id, "thingName": "dev", "thingTypeName": typeName, "timestamp": ts}
	}
	both := map[string]any{"a": "1", "b": "2"}
	msgs = f.pub.take()
	want := []struct {
		topic   string
		payload map[string]any
	}{
		{"$aws/events/thing/dev/updated", base("UPDATED", 2, "cam", both)},
		{"$aws/events/thingTypeAssociation/thing/dev/cam", assoc("ADDED", "cam")},
		{"$aws/events/thing/dev/updated", base("UPDATED", 3, "lamp", both)},
		{"$aws/events/thingTypeAssociation/thing/dev/cam", assoc("REMOVED", "cam")},
		{"$aws/events/thingTypeAssociation/thing/dev/lamp", assoc("ADDED", "lamp")},
		{"$aws/events/thing/dev/updated", base("UPDATED", 4, nil, both)},
		{"$aws/events/thingTypeAssociation/thing/dev/lamp", assoc("REMOVED", "lamp")},
		{"$aws/events/thing/dev/deleted", base("DELETED", 4, nil, both)},
	}
	if len(msgs) != len(want) {
		t.Fatalf("got %d events, want %d: %v", len(msgs), len(want), msgs)
	}
	for i, w := range want {
		checkEvent(t, msgs[i], w.topic, w.payload)
	}

	// A typed create announces the association too; failed calls publish nothing.
	f.mustCreateThing(t, "typed", nil, "cam")
	_, err := f.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("typed"), ExpectedVersion: aws.Int64(9)})
	wantErr(t, err, "VersionConflictException")
	if got := strings.Join(f.pub.topics(), " "); got != "$aws/events/thing/typed/created $aws/events/thingTypeAssociation/thing/typed/cam" {
		t.Errorf("topics = %s", got)
	}
}

func TestThingTypeEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	out, err := f.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("cam"), ThingTypeProperties: &types.ThingTypeProperties{
		ThingTypeDescription: aws.String("cams"), SearchableAttributes: []string{"serial"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ts := f.clock.Now().UnixMilli()
	f.clock.Advance(5e9)
	dep := f.clock.Now().UnixMilli()
	if _, err := f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("cam")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("cam")}); err != nil {
		t.Fatal(err)
	}
	f.mustCreateThingType(t, "bare")
	payload := func(op string, at int64, deprecated bool, date any) map[string]any {
		return map[string]any{
			"eventType": "THING_TYPE_EVENT", "timestamp": at, "operation": op, "accountId": testAccount,
			"thingTypeId": *out.ThingTypeId, "thingTypeName": "cam", "isDeprecated": deprecated, "deprecationDate": date,
			"searchableAttributes": []any{"serial"}, "description": "cams",
		}
	}
	msgs := f.pub.take()
	if len(msgs) != 4 {
		t.Fatalf("got %d events, want 4", len(msgs))
	}
	checkEvent(t, msgs[0], "$aws/events/thingType/cam/created", payload("CREATED", ts, false, nil))
	checkEvent(t, msgs[1], "$aws/events/thingType/cam/updated", payload("UPDATED", dep, true, dep))
	checkEvent(t, msgs[2], "$aws/events/thingType/cam/deleted", payload("DELETED", dep, true, dep))
	bare := decode(t, msgs[3])
	if bare["description"] != nil || !reflect.DeepEqual(bare["searchableAttributes"], []any{}) {
		t.Errorf("type without properties: description %v searchableAttributes %v", bare["description"], bare["searchableAttributes"])
	}
}

func TestThingGroupEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ts := f.clock.Now().UnixMilli()
	ids := map[string]string{}
	for _, g := range []struct{ name, parent string }{{"root", ""}, {"child", "root"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
		if g.parent != "" {
			in.ParentGroupName = aws.String(g.parent)
			in.ThingGroupProperties = &types.ThingGroupProperties{ThingGroupDescription: aws.String("kid"),
				AttributePayload: &types.AttributePayload{Attributes: map[string]string{"k": "v"}}}
		}
		out, err := f.CreateThingGroup(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids[g.name] = *out.ThingGroupId
	}
	thing := f.mustCreateThing(t, "dev", nil, "")
	f.pub.take()
	if _, err := f.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("child"), ThingGroupProperties: &types.ThingGroupProperties{
		AttributePayload: &types.AttributePayload{Merge: true, Attributes: map[string]string{"k2": "v2"}}}}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second add is a no-op without an event
		if _, err := f.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("dev"), ThingGroupName: aws.String("child")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("dev"), ThingGroupName: aws.String("child")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("child")}); err != nil {
		t.Fatal(err)
	}
	msgs := f.pub.take()
	if len(msgs) != 5 {
		t.Fatalf("got %d events, want 5: %v", len(msgs), msgs)
	}
	groupARN := "arn:aws:iot:eu-west-1:123456789012:thinggroup/"
	group := func(op string, version int, attrs map[string]any) map[string]any {
		return map[string]any{
			"eventType": "THING_GROUP_EVENT", "timestamp": ts, "operation": op, "accountId": testAccount,
			"thingGroupId": ids["child"], "thingGroupName": "child", "versionNumber": version,
			"parentGroupName": "root", "parentGroupId": ids["root"], "description": "kid",
			"rootToParentThingGroups": []any{map[string]any{"groupArn": groupARN + "root", "groupId": ids["root"]}},
			"attributes":              attrs, "dynamicGroupMappingId": nil,
		}
	}
	updatedAttrs := map[string]any{"k": "v", "k2": "v2"}
	checkEvent(t, msgs[0], "$aws/events/thingGroup/child/updated", group("UPDATED", 2, updatedAttrs))
	added := decode(t, msgs[1])
	membership := func(op string) map[string]any {
		return map[string]any{
			"eventType": "THING_GROUP_MEMBERSHIP_EVENT", "timestamp": ts, "operation": op, "accountId": testAccount,
			"groupArn": groupARN + "child", "groupId": ids["child"], "thingArn": *thing.ThingArn, "thingId": *thing.ThingId,
			"membershipId": added["membershipId"],
		}
	}
	if !isUUID(added["membershipId"].(string)) {
		t.Errorf("membershipId %v", added["membershipId"])
	}
	checkEvent(t, msgs[1], "$aws/events/thingGroupMembership/thingGroup/child/thing/dev/added", membership("ADDED"))
	checkEvent(t, msgs[2], "$aws/events/thingGroupMembership/thingGroup/child/thing/dev/removed", membership("REMOVED"))
	hierarchy := func(op string) map[string]any {
		return map[string]any{
			"eventType": "THING_GROUP_HIERARCHY_EVENT", "timestamp": ts, "operation": op, "accountId": testAccount,
			"thingGroupId": ids["root"], "thingGroupName": "root", "childGroupId": ids["child"], "childGroupName": "child",
		}
	}
	checkEvent(t, msgs[3], "$aws/events/thingGroupHierarchy/thingGroup/root/childThingGroup/child/removed", hierarchy("REMOVED"))
	checkEvent(t, msgs[4], "$aws/events/thingGroup/child/deleted", group("DELETED", 2, updatedAttrs))

	// Creation: the group event, then the hierarchy event; a root group has
	// null parent fields and an empty chain.
	f.mustCreateGroup(t, "child2", "root")
	msgs = f.pub.take()
	if len(msgs) != 2 || msgs[0].Topic != "$aws/events/thingGroup/child2/created" {
		t.Fatalf("create events = %v", msgs)
	}
	h := hierarchy("ADDED")
	h["childGroupId"] = decode(t, msgs[0])["thingGroupId"]
	h["childGroupName"] = "child2"
	checkEvent(t, msgs[1], "$aws/events/thingGroupHierarchy/thingGroup/root/childThingGroup/child2/added", h)
	f.mustCreateGroup(t, "root2", "")
	root := decode(t, f.pub.take()[0])
	if root["parentGroupName"] != nil || root["parentGroupId"] != nil || !reflect.DeepEqual(root["rootToParentThingGroups"], []any{}) ||
		!reflect.DeepEqual(root["attributes"], map[string]any{}) || root["description"] != nil {
		t.Errorf("root group event = %v", root)
	}
}

func TestNoPublisher(t *testing.T) {
	r := New(Options{Region: testRegion, AccountID: testAccount})
	if _, err := r.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	if len(r.queue) != 0 {
		t.Errorf("events queued without a publisher: %d", len(r.queue))
	}
}

func TestThingTypePropagatingAttributes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	props := func(attr string) *types.ThingTypeProperties {
		return &types.ThingTypeProperties{Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{
			{UserPropertyKey: aws.String("model"), ThingAttribute: aws.String(attr)},
			{UserPropertyKey: aws.String("client"), ConnectionAttribute: aws.String("iot:ClientId")},
		}}}
	}
	if _, err := f.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("t"), ThingTypeProperties: props("model")}); err != nil {
		t.Fatal(err)
	}
	_, err := f.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("t"), ThingTypeProperties: props("model")})
	wantErr(t, err, "")
	_, err = f.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("t"), ThingTypeProperties: props("other")})
	wantErr(t, err, "ResourceAlreadyExistsException")
	d, err := f.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	got := d.ThingTypeProperties.Mqtt5Configuration.PropagatingAttributes
	if len(got) != 2 || *got[0].ThingAttribute != "model" || *got[1].ConnectionAttribute != "iot:ClientId" {
		t.Errorf("propagating attributes = %+v", got)
	}
	msgs := f.pub.take()
	if len(msgs) != 1 {
		t.Fatalf("got %d events, want 1", len(msgs))
	}
	want := []any{
		map[string]any{"userPropertyKey": "model", "thingAttribute": "model"},
		map[string]any{"userPropertyKey": "client", "connectionAttribute": "iot:ClientId"},
	}
	if pa := decode(t, msgs[0])["propagatingAttributes"]; !reflect.DeepEqual(pa, want) {
		t.Errorf("event propagatingAttributes = %v", pa)
	}
}

func TestARNPartition(t *testing.T) {
	for _, tc := range []struct{ region, want string }{
		{"eu-west-1", "arn:aws:iot:eu-west-1:1:thing/x"},
		{"cn-north-1", "arn:aws-cn:iot:cn-north-1:1:thing/x"},
		{"us-gov-west-1", "arn:aws-us-gov:iot:us-gov-west-1:1:thing/x"},
	} {
		r := New(Options{Region: tc.region, AccountID: "1"})
		out, err := r.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("x")})
		if err != nil {
			t.Fatalf("%s: %v", tc.region, err)
		}
		if *out.ThingArn != tc.want {
			t.Errorf("%s: ARN %s, want %s", tc.region, *out.ThingArn, tc.want)
		}
	}
}
