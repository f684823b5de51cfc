package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// decodeSeeds are capture rule messages as the rules hand them over: registry events
// with the topic the registry rule adds, shadow documents and deletes reshaped by the
// shadow rules; then the malformed and borderline inputs a decoder must refuse clearly.
var decodeSeeds = []string{
	`{"eventType":"THING_EVENT","eventId":"f5ae9b94-8b8e-4d8e-8c8f-b3266dd89853","timestamp":1700000000001,"operation":"CREATED","accountId":"123456789012","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","thingName":"MyThing","versionNumber":1,"thingTypeName":null,"attributes":{"attribute1":"value1"},"topic":"$aws/events/thing/MyThing/created"}`,
	`{"eventType":"THING_EVENT","eventId":"e2","timestamp":1700000000002,"operation":"DELETED","thingName":"MyThing","versionNumber":2,"attributes":{},"topic":"$aws/events/thing/MyThing/deleted"}`,
	`{"eventType":"THING_TYPE_EVENT","eventId":"8827376c-4b05-49a3-9b3b-733729df7ed5","timestamp":1700000000004,"operation":"CREATED","accountId":"123456789012","thingTypeId":"c530ae83","thingTypeName":"MyThingType","isDeprecated":false,"deprecationDate":null,"searchableAttributes":["a1"],"propagatingAttributes":[],"description":"d","topic":"$aws/events/thingType/MyThingType/created"}`,
	`{"eventId":"87f8e095-531c-47b3-aab5-5171364d138d","eventType":"THING_TYPE_ASSOCIATION_EVENT","operation":"ADDED","thingId":"b604f69c","thingName":"MyThing","thingTypeName":"MyThingType","timestamp":1700000000005,"topic":"$aws/events/thingTypeAssociation/thing/MyThing/MyThingType"}`,
	`{"eventType":"THING_GROUP_EVENT","eventId":"8b9ea8626aeaa1e42100f3f32b975899","timestamp":1700000000006,"operation":"CREATED","accountId":"123456789012","thingGroupId":"8757eec8","thingGroupName":"MyGroup","versionNumber":1,"parentGroupName":null,"parentGroupId":null,"description":"g","rootToParentThingGroups":[],"attributes":{"a":"b"},"dynamicGroupMappingId":null,"topic":"$aws/events/thingGroup/MyGroup/created"}`,
	`{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","eventId":"d684bd5f-6f6e-48e1-950c-766ac7f02fd1","timestamp":1700000000007,"operation":"ADDED","accountId":"123456789012","groupArn":"arn:aws:iot:us-east-1:123456789012:thinggroup/MyGroup","groupId":"0683","thingArn":"arn:aws:iot:us-east-1:123456789012:thing/MyThing","thingId":"b604","membershipId":"8505","topic":"$aws/events/thingGroupMembership/thingGroup/MyGroup/thing/MyThing/added"}`,
	`{"eventType":"THING_GROUP_HIERARCHY_EVENT","eventId":"264192c7-b573-46ef-ab7b-489fcd47da41","timestamp":1700000000008,"operation":"ADDED","accountId":"123456789012","thingGroupId":"8f82","thingGroupName":"Parent","childGroupId":"0683","childGroupName":"Child","topic":"$aws/events/thingGroupHierarchy/thingGroup/Parent/childThingGroup/Child/added"}`,
	`{"capturedAt":1700000000123,"clientToken":"tok-1","current":{"metadata":{"desired":{"temp":{"timestamp":1700000005}}},"state":{"desired":{"temp":22},"reported":{"on":true,"temp":19}},"version":17},"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"MyThing","timestamp":1700000005}`,
	`{"capturedAt":1700000000123,"current":{"state":{"reported":{"fw":"1.0.2"}},"version":1},"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"dev-7","timestamp":1700000001}`,
	`{"capturedAt":1700000000123,"clientToken":"tok-2","eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"MyThing","timestamp":1700000010,"version":18}`,
	// Tricky: what AWS never sends but a decoder must survive.
	``, `null`, `[]`, `"THING_EVENT"`, `{`, `{"eventType":`, `{"eventType":"THING_EVENT"`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d"} trailing`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d","timestamp":1e3}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d","versionNumber":99999999999999999999}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d","attributes":{"a":1}}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d","attributes":null}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d\u0000x"}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d","thingName":"a b"}`,
	`{"EVENTTYPE":"THING_EVENT","EventId":"e","THINGNAME":"d"}`,
	"{\"eventType\":\"THING_EVENT\",\"eventId\":\"\xff\xfe\",\"thingName\":\"d\"}",
	`{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"d","current":null}`,
	`{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"d","current":{"state":null,"version":1}}`,
	`{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"d","current":{"state":{"desired":"x","reported":[1]},"version":1}}`,
	`{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"d","current":{"state":{"desired":null},"version":-1}}`,
	`{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"d","current":{"state":{},"version":1.5}}`,
	`{"eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"d","version":-3}`,
	`{"eventType":"SHADOW_EVENT","operation":"delete","thingName":"d","version":3}`,
	`{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","eventId":"e","topic":"$aws/events/thingGroupMembership/thingGroup//thing//added"}`,
	`{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","eventId":"e","topic":"$aws/events/thingGroupMembership/thingGroup/g/thing/a b/added"}`,
	`{"eventType":"THING_GROUP_HIERARCHY_EVENT","eventId":"e","thingGroupName":"p"}`,
	`{"eventType":"JOB_EVENT","eventId":"e"}`,
	`{"eventType":"THING_EVENT","eventId":"` + strings.Repeat("e", 129) + `","thingName":"d"}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"` + strings.Repeat("n", 129) + `"}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d","attributes":{"` + strings.Repeat("k", 129) + `":"v"}}`,
	`{"eventType":"THING_EVENT","eventId":"e","thingName":"d","attributes":{"current":{` + strings.Repeat(`"a":[`, 200) + `]}}`,
	`{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"d","current":{"state":{"reported":` + strings.Repeat("[", 20000) + `}}}`,
}

// FuzzDecode feeds Decode capture rule messages. Whatever the input: no panic; a
// refusal says what was wrong without echoing a large input; an accepted event is
// valid, has an identity, re-encodes to a message that decodes to the same event, and
// carries shadow state the state table can store.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			msg := err.Error()
			if strings.TrimSpace(msg) == "" {
				t.Fatalf("Decode(%q): empty error", Excerpt(b))
			}
			// Names are bounded by validation and bad values are excerpted, so a
			// refusal stays short whatever the input's size.
			if len(msg) > 1024 {
				t.Fatalf("Decode: error is %d bytes: bad input must be excerpted: %.200s", len(msg), msg)
			}
			if len(b) > 256 && strings.Contains(msg, string(b)) {
				t.Fatalf("Decode: error echoes the %d-byte input", len(b))
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Decode accepted an event Validate refuses: %v", err)
		}
		if !spec.KnownEventType(e.EventType) || e.ID() == "" {
			t.Fatalf("accepted event has type %q, id %q", e.EventType, e.ID())
		}
		_ = e.Time()
		// Round trip: the decoded event, encoded again, decodes to the same event.
		once, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("encode accepted event: %v", err)
		}
		if len(once) <= MaxInputBytes { // HTML escaping can grow the encoding past the limit
			back, err := Decode(once)
			if err != nil {
				t.Fatalf("re-decode of %s: %v", Excerpt(once), err)
			}
			twice, err := json.Marshal(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(once, twice) {
				t.Fatalf("round trip changed the event:\n%s\n%s", Excerpt(once), Excerpt(twice))
			}
		}
		// An accepted shadow update must be storable: capture builds its item from it.
		if e.EventType == spec.EventShadow && e.Operation == "UPDATE" {
			body := state.Shadow{Desired: e.Current.State.Desired, Reported: e.Current.State.Reported, Version: e.Current.Version}
			if _, err := state.NewItem(spec.KindShadow, e.ThingName, body); err != nil {
				t.Fatalf("accepted shadow update cannot be stored: %v", err)
			}
		}
	})
}
