package event

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	long := strings.Repeat("x", 801)
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"thing", `{"eventType":"THING_EVENT","eventId":"e1","operation":"CREATED","thingName":"dev-1","attributes":{"a":"b"}}`, ""},
		{"shadow update", `{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"dev-1","current":{"state":{"reported":{"t":1}},"version":3},"timestamp":1700000000,"clientToken":"c"}`, ""},
		{"shadow delete", `{"eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"dev-1","version":4}`, ""},
		{"named shadow update", `{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"dev-1","shadowName":"config:v2","current":{"state":{},"version":1}}`, ""},
		{"named shadow name too long", `{"eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"dev-1","version":1,"shadowName":"` + strings.Repeat("s", 65) + `"}`, "shadowName"},
		{"named shadow name with a slash", `{"eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"dev-1","version":1,"shadowName":"a/b"}`, "shadowName"},
		{"shadow name on a registry event", `{"eventType":"THING_EVENT","eventId":"e","operation":"CREATED","thingName":"dev-1","shadowName":"s"}`, "shadow messages only"},
		{"shadow update without current", `{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"dev-1"}`, "missing current document"},
		{"shadow update version 0", `{"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"dev-1","current":{"state":{},"version":0}}`, "current.version must be positive"},
		{"shadow bad operation", `{"eventType":"SHADOW_EVENT","operation":"GET","thingName":"dev-1"}`, `operation "GET"`},
		{"shadow without thing", `{"eventType":"SHADOW_EVENT","operation":"DELETE","version":1}`, "missing thingName"},
		{"membership", `{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","eventId":"e","thingName":"d","thingGroupName":"g"}`, ""},
		{"membership names from topic", `{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","eventId":"e","topic":"$aws/events/thingGroupMembership/thingGroup/g/thing/d/added"}`, ""},
		{"membership without names", `{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","eventId":"e","topic":"$aws/events/thingGroupMembership/x"}`, "missing thingName"},
		{"malformed", `{"eventType":`, "malformed event JSON"},
		{"trailing document", `{"eventType":"THING_EVENT","eventId":"e","thingName":"d"} {"eventType":"THING_EVENT"}`, "unexpected data after the JSON value"},
		{"long shadow thing name", `{"eventType":"SHADOW_EVENT","operation":"DELETE","version":1,"thingName":"` + strings.Repeat("t", 200) + `"}`, "thingName"},
		{"not an object", `[1,2]`, "malformed event JSON"},
		{"no type", `{"eventId":"e"}`, "missing eventType"},
		{"unknown type", `{"eventType":"JOB_EVENT","eventId":"e"}`, `unknown eventType "JOB_EVENT"`},
		{"no id", `{"eventType":"THING_EVENT","thingName":"d"}`, "missing eventId"},
		{"no thing", `{"eventType":"THING_EVENT","eventId":"e"}`, "missing thingName"},
		{"bad thing name", `{"eventType":"THING_EVENT","eventId":"e","thingName":"a b"}`, "not a valid AWS IoT name"},
		{"hierarchy without parent", `{"eventType":"THING_GROUP_HIERARCHY_EVENT","eventId":"e","childGroupName":"c"}`, "missing thingGroupName"},
		{"oversized attribute", `{"eventType":"THING_EVENT","eventId":"e","thingName":"d","attributes":{"a":"` + long + `"}}`, "value is 801 characters"},
		{"non-string attribute", `{"eventType":"THING_EVENT","eventId":"e","thingName":"d","attributes":{"a":1}}`, "not a string"},
		{"too big", `{"eventType":"THING_EVENT","eventId":"e","thingName":"d","x":"` + strings.Repeat("y", MaxInputBytes) + `"}`, "over the 262144-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if e.ID() == "" {
					t.Errorf("decoded event has no ID")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tc.wantErr)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message is %d bytes: bad input must be excerpted", len(err.Error()))
			}
		})
	}
}
