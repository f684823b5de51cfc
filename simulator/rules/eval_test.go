package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// fixedEnv returns an Env with a fixed clock and sequential UUIDs u1, u2, ...
func fixedEnv(t *testing.T) Env {
	t.Helper()
	n := 0
	return Env{
		Now:     func() time.Time { return time.UnixMilli(1700000000123) },
		NewUUID: func() string { n++; return fmt.Sprintf("u%d", n) },
	}
}

// mustParse parses sql or fails the test.
func mustParse(t *testing.T, sql string) *Statement {
	t.Helper()
	st, err := Parse(sql)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	return st
}

// assertJSONShaped fails unless v only holds the value types actions are
// promised: string, bool, nil, json.Number, map[string]any, []any.
func assertJSONShaped(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case string, bool, nil, json.Number:
	case map[string]any:
		for k, e := range x {
			assertJSONShaped(t, path+"."+k, e)
		}
	case []any:
		for i, e := range x {
			assertJSONShaped(t, fmt.Sprintf("%s[%d]", path, i), e)
		}
	default:
		t.Errorf("%s has type %T, not a JSON-shaped value", path, v)
	}
}

// canonical renders a JSON-shaped value with sorted keys.
func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return string(b)
}

func TestEvaluate(t *testing.T) {
	const obj = `{"a":1,"b":2.50,"s":"x","n":null,"t":true,"o":{"k":1},"arr":["a","b"],"big":9223372036854775807,"neg":-7,"ns":"10","nested":{"r":{"temp":21.50}}}`
	tests := []struct {
		name    string
		sql     string // "SELECT ... [WHERE ...]"; FROM 't/x/y' is spliced in
		payload string
		want    string // canonical JSON of out; "" means not matched
	}{
		// Fields.
		{"field", "SELECT a", obj, `{"a":1}`},
		{"decimal keeps its text", "SELECT b", obj, `{"b":2.50}`},
		{"missing field omitted", "SELECT a, zz, o.missing AS m", obj, `{"a":1}`},
		{"nested field", "SELECT nested.r.temp", obj, `{"temp":21.50}`},
		{"nested alias", "SELECT nested.r.temp AS t", obj, `{"t":21.50}`},
		{"path through non-object is undefined", "SELECT a.b AS x, s.y AS y", obj, `{}`},
		{"null field kept", "SELECT n", obj, `{"n":null}`},
		{"object and array fields", "SELECT o, arr", obj, `{"arr":["a","b"],"o":{"k":1}}`},
		{"star", "SELECT *", `{"a":1,"b":{"c":[1,2]}}`, `{"a":1,"b":{"c":[1,2]}}`},
		{"star plus columns override", "SELECT *, 'z' AS a, s AS copy", `{"a":1,"s":"v"}`, `{"a":"z","copy":"v","s":"v"}`},
		{"empty payload is an empty object", "SELECT *, 1 AS one", ``, `{"one":1}`},
		// Literals.
		{"string literal with quote", "SELECT 'it''s' AS s", obj, `{"s":"it's"}`},
		{"number literals", "SELECT 42 AS i, 1.50 AS d, 2e3 AS e", obj, `{"d":1.5,"e":2000,"i":42}`},
		{"boolean literals", "SELECT true AS t, false AS f", obj, `{"f":false,"t":true}`},
		// Arithmetic.
		{"int add", "SELECT a + 2 AS v", obj, `{"v":3}`},
		{"precedence", "SELECT 2 + 3 * 4 AS v, (2 + 3) * 4 AS w", obj, `{"v":14,"w":20}`},
		{"left associative", "SELECT 10 - 2 - 3 AS v, 100 / 10 / 5 AS w", obj, `{"v":5,"w":2}`},
		{"int division truncates", "SELECT 7 / 2 AS v, neg / 2 AS w", obj, `{"v":3,"w":-3}`},
		{"decimal division", "SELECT 7.0 / 2 AS v, b * 2 AS w", obj, `{"v":3.5,"w":5}`},
		{"division by zero is undefined", "SELECT 1 / 0 AS v, 1.5 / 0 AS w", obj, `{}`},
		{"int overflow becomes decimal", "SELECT big + 1 AS v, big * 2 AS w", obj, `{"v":9223372036854776000,"w":18446744073709552000}`},
		{"numeric strings convert for - * /", "SELECT ns - 2 AS v, ns * 2 AS w, ns / 4 AS x", obj, `{"v":8,"w":20,"x":2.5}`},
		{"non-numeric string is undefined", "SELECT s - 1 AS v", obj, `{}`},
		{"plus concatenates strings", "SELECT s + 1 AS v, 1 + s AS w, s + t AS x, s + o AS y, s + b AS z", obj, `{"v":"x1","w":"1x","x":"xtrue","y":"x{\"k\":1}","z":"x2.50"}`},
		{"plus of numeric string concatenates", "SELECT ns + 2 AS v", obj, `{"v":"102"}`},
		{"plus with null or bool is undefined", "SELECT s + n AS v, t + 1 AS w", obj, `{}`},
		{"undefined operand", "SELECT zz + 1 AS v, 1 * zz AS w, s + zz AS x", obj, `{}`},
		{"unary minus", "SELECT -a AS v, -'2.5' AS w, -(a + 1) AS x, -s AS y", obj, `{"v":-1,"w":-2.5,"x":-2}`},
		// Functions.
		{"floor", "SELECT floor(1.7) AS a, floor(-1.2) AS b, floor('3.9') AS c, floor(5) AS d, floor(t) AS e, floor(zz) AS f", obj, `{"a":1,"b":-2,"c":3,"d":5}`},
		{"upper and lower", "SELECT upper('abc') AS a, lower('ÀBC') AS b, upper(5) AS c, upper(zz) AS d, upper(n) AS e, upper(arr) AS f", obj, `{"a":"ABC","b":"àbc","c":"5","f":"[\"A\",\"B\"]"}`},
		{"topic", "SELECT topic() AS a, topic(1) AS b, topic(3) AS c, topic(0) AS d, topic(4) AS e, topic('2') AS f, topic(1.9) AS g", obj, `{"a":"t/x/y","b":"t","c":"y","f":"x","g":"t"}`},
		{"timestamp", "SELECT timestamp() AS ts, floor(timestamp() / 1000) + 2592000 AS expires", obj, `{"expires":1702592000,"ts":1700000000123}`},
		{"newuuid per call", "SELECT newuuid() AS a, newuuid() AS b", obj, `{"a":"u1","b":"u2"}`},
		// Comparisons as values.
		{"comparison values", "SELECT a = 1 AS eq, a <> 1 AS ne, zz = 1 AS u, a < zz AS u2", obj, `{"eq":true,"ne":false}`},
		// WHERE.
		{"where int equals", "SELECT a WHERE a = 1", obj, `{"a":1}`},
		{"where int equals decimal", "SELECT a WHERE a = 1.0 AND b = 2.5", obj, `{"a":1}`},
		{"where mismatched type is not equal", "SELECT a WHERE a = '1'", obj, ``},
		{"where mismatched type is unequal", "SELECT a WHERE a <> '1'", obj, `{"a":1}`},
		{"where strings", "SELECT a WHERE s = 'x' AND s <> 'y'", obj, `{"a":1}`},
		{"where objects", "SELECT a WHERE o = o AND NOT o = nested", obj, `{"a":1}`},
		{"where arrays", "SELECT a WHERE arr = arr", obj, `{"a":1}`},
		{"where null equals null", "SELECT a WHERE n = n AND NOT n <> n", obj, `{"a":1}`},
		{"where booleans", "SELECT a WHERE t = true AND t <> false", obj, `{"a":1}`},
		{"where ordering", "SELECT a WHERE a < 2 AND a > 0 AND a <= 1 AND a >= 1 AND b > a", obj, `{"a":1}`},
		{"where ordering false", "SELECT a WHERE a > 1", obj, ``},
		{"where numeric string orders", "SELECT a WHERE ns > 9 AND '2' < ns", obj, `{"a":1}`},
		{"where non-numeric string ordering is undefined", "SELECT a WHERE NOT s < 1", obj, ``},
		{"where missing field does not fire", "SELECT a WHERE zz = 1", obj, ``},
		{"where missing field negated does not fire", "SELECT a WHERE NOT zz = 1", obj, ``},
		{"where missing unequal does not fire", "SELECT a WHERE zz <> 1", obj, ``},
		{"where OR with undefined side is undefined", "SELECT a WHERE a = 1 OR zz = 1", obj, ``},
		{"where OR", "SELECT a WHERE a = 2 OR s = 'x'", obj, `{"a":1}`},
		{"where AND false", "SELECT a WHERE a = 1 AND s = 'y'", obj, ``},
		{"where string booleans", "SELECT a WHERE 'TRUE' AND NOT 'false'", obj, `{"a":1}`},
		{"where non-boolean does not fire", "SELECT a WHERE a", obj, ``},
		{"where NOT number is undefined", "SELECT a WHERE NOT a", obj, ``},
		{"where parentheses", "SELECT a WHERE (a = 2 OR a = 1) AND (s = 'x')", obj, `{"a":1}`},
		{"where on topic", "SELECT a WHERE topic(2) = 'x'", obj, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, where, hasWhere := strings.Cut(tt.sql, " WHERE ")
			sql := sel + " FROM 't/x/y'"
			if hasWhere {
				sql += " WHERE " + where
			}
			st := mustParse(t, sql)
			out, matched, err := st.EvaluateEnv("t/x/y", []byte(tt.payload), fixedEnv(t))
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if tt.want == "" {
				if matched || out != nil {
					t.Fatalf("matched = %v, out = %v; want no match", matched, out)
				}
				return
			}
			if !matched {
				t.Fatalf("not matched, want %s", tt.want)
			}
			assertJSONShaped(t, "out", out)
			if got := canonical(t, out); got != tt.want {
				t.Errorf("out = %s\nwant  %s", got, tt.want)
			}
		})
	}
}

func TestEvaluatePayloadErrors(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		payload string
		wantErr bool
		want    string // canonical out when no error; "" means not matched
	}{
		{"binary with star", "SELECT * FROM 't'", "\x00\x01binary", true, ""},
		{"text with field", "SELECT a FROM 't'", "hello", true, ""},
		{"JSON array", "SELECT a FROM 't'", `[1,2]`, true, ""},
		{"JSON number", "SELECT * FROM 't'", `80`, true, ""},
		{"trailing data", "SELECT * FROM 't'", `{"a":1} {"b":2}`, true, ""},
		{"truncated JSON", "SELECT * FROM 't'", `{"a":`, true, ""},
		{"field in WHERE", "SELECT topic() AS t FROM 't' WHERE a = 1", "binary", true, ""},
		{"payload not needed", "SELECT topic() AS t, 'k' AS k FROM 't'", "\xff\xfe", false, `{"k":"k","t":"t"}`},
		{"WHERE on topic rejects first", "SELECT * FROM 't' WHERE topic(1) = 'other'", "\xff", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := mustParse(t, tt.sql)
			out, matched, err := st.EvaluateEnv("t", []byte(tt.payload), fixedEnv(t))
			if tt.wantErr {
				if !errors.Is(err, ErrPayloadNotJSONObject) {
					t.Fatalf("err = %v, want ErrPayloadNotJSONObject", err)
				}
				if matched || out != nil {
					t.Errorf("matched = %v, out = %v alongside an error", matched, out)
				}
				if strings.Contains(err.Error(), tt.payload) && len(tt.payload) > 4 {
					t.Errorf("error %q echoes the payload", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if tt.want == "" {
				if matched {
					t.Fatalf("matched, out = %v; want no match", out)
				}
				return
			}
			if got := canonical(t, out); !matched || got != tt.want {
				t.Errorf("matched = %v, out = %s; want %s", matched, got, tt.want)
			}
		})
	}
}

func TestEvaluateTopicMismatch(t *testing.T) {
	st := mustParse(t, "SELECT * FROM 'a/+'")
	out, matched, err := st.Evaluate("a/b/c", []byte("not json"))
	if err != nil || matched || out != nil {
		t.Fatalf("Evaluate on a non-matching topic = %v, %v, %v; want nil, false, nil", out, matched, err)
	}
}

func TestEvaluateDefaultEnv(t *testing.T) {
	st := mustParse(t, "SELECT newuuid() AS a, newuuid() AS b, timestamp() AS ts FROM 'x'")
	before := time.Now().UnixMilli()
	out, matched, err := st.Evaluate("x", nil)
	if err != nil || !matched {
		t.Fatalf("Evaluate = %v, %v", matched, err)
	}
	a, b := out["a"].(string), out["b"].(string)
	if len(a) != 36 || a[14] != '4' || a == b {
		t.Errorf("newuuid() = %q, %q; want two distinct version-4 UUIDs", a, b)
	}
	ts, err := out["ts"].(json.Number).Int64()
	if err != nil || ts < before || ts > time.Now().UnixMilli() {
		t.Errorf("timestamp() = %v (%v), want the current time in ms", out["ts"], err)
	}
}

// Registry event payloads as AWS publishes them (AWS IoT Developer Guide, "Registry
// events"), one per kind the registry rule captures.
const (
	thingCreated        = `{"eventType":"THING_EVENT","eventId":"f5ae9b94-8b8e-4d8e-8c8f-b3266dd89853","timestamp":1700000000001,"operation":"CREATED","accountId":"123456789012","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","thingName":"MyThing","versionNumber":1,"thingTypeName":null,"attributes":{"attribute1":"value1"}}`
	thingUpdated        = `{"eventType":"THING_EVENT","eventId":"1a2b3c4d-8b8e-4d8e-8c8f-b3266dd89853","timestamp":1700000000002,"operation":"UPDATED","accountId":"123456789012","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","thingName":"MyThing","versionNumber":9007199254740993,"thingTypeName":"MyThingType","attributes":{"attribute1":"value2","attribute2":"value3"}}`
	thingDeleted        = `{"eventType":"THING_EVENT","eventId":"9f8e7d6c-8b8e-4d8e-8c8f-b3266dd89853","timestamp":1700000000003,"operation":"DELETED","accountId":"123456789012","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","thingName":"MyThing","versionNumber":2,"thingTypeName":null,"attributes":{}}`
	thingTypeCreated    = `{"eventType":"THING_TYPE_EVENT","eventId":"8827376c-4b05-49a3-9b3b-733729df7ed5","timestamp":1700000000004,"operation":"CREATED","accountId":"123456789012","thingTypeId":"c530ae83-32aa-4592-94d3-da29879d1aac","thingTypeName":"MyThingType","isDeprecated":false,"deprecationDate":null,"searchableAttributes":["attribute1","attribute2"],"propagatingAttributes":[{"userPropertyKey":"key","thingAttribute":"model"}],"description":"My thing type"}`
	thingTypeAssociated = `{"eventId":"87f8e095-531c-47b3-aab5-5171364d138d","eventType":"THING_TYPE_ASSOCIATION_EVENT","operation":"ADDED","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","thingName":"MyThing","thingTypeName":"MyThingType","timestamp":1700000000005}`
	thingGroupCreated   = `{"eventType":"THING_GROUP_EVENT","eventId":"8b9ea8626aeaa1e42100f3f32b975899","timestamp":1700000000006,"operation":"CREATED","accountId":"123456789012","thingGroupId":"8757eec8-bb37-4cca-a6fa-403b003d139f","thingGroupName":"MyGroup","versionNumber":1,"parentGroupName":null,"parentGroupId":null,"description":"My thing group","rootToParentThingGroups":[],"attributes":{"attribute1":"value1"},"dynamicGroupMappingId":null}`
	membershipAdded     = `{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","eventId":"d684bd5f-6f6e-48e1-950c-766ac7f02fd1","timestamp":1700000000007,"operation":"ADDED","accountId":"123456789012","groupArn":"arn:aws:iot:us-east-1:123456789012:thinggroup/MyGroup","groupId":"06838589-373f-4312-b1f2-53f2192291c4","thingArn":"arn:aws:iot:us-east-1:123456789012:thing/MyThing","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","membershipId":"8505ebf8-4d32-4286-80e9-c23a4a16bbd8"}`
	hierarchyAdded      = `{"eventType":"THING_GROUP_HIERARCHY_EVENT","eventId":"264192c7-b573-46ef-ab7b-489fcd47da41","timestamp":1700000000008,"operation":"ADDED","accountId":"123456789012","thingGroupId":"8f82a106-6b1d-4331-8984-a84db5f6f8cb","thingGroupName":"Parent","childGroupId":"06838589-373f-4312-b1f2-53f2192291c4","childGroupName":"Child"}`
)

// Classic shadow messages as the shadow service publishes them.
const (
	shadowDocuments = `{"previous":{"state":{"desired":{"temp":20},"reported":{"temp":19,"on":true}},"metadata":{"desired":{"temp":{"timestamp":1700000000}},"reported":{"temp":{"timestamp":1700000000},"on":{"timestamp":1700000000}}},"version":16},` +
		`"current":{"state":{"desired":{"temp":22},"reported":{"temp":19,"on":true}},"metadata":{"desired":{"temp":{"timestamp":1700000005}},"reported":{"temp":{"timestamp":1700000000},"on":{"timestamp":1700000000}}},"version":17},` +
		`"timestamp":1700000005,"clientToken":"tok-1"}`
	shadowCurrent    = `{"metadata":{"desired":{"temp":{"timestamp":1700000005}},"reported":{"on":{"timestamp":1700000000},"temp":{"timestamp":1700000000}}},"state":{"desired":{"temp":22},"reported":{"on":true,"temp":19}},"version":17}`
	shadowFirstDoc   = `{"previous":null,"current":{"state":{"reported":{"fw":"1.0.2"}},"metadata":{"reported":{"fw":{"timestamp":1700000001}}},"version":1},"timestamp":1700000001}`
	shadowAccepted   = `{"state":{"reported":{"temp":21.5,"on":true}},"metadata":{"reported":{"temp":{"timestamp":1700000000}}},"version":17,"timestamp":1700000000,"clientToken":"tok-1"}`
	shadowDelta      = `{"state":{"temp":22},"metadata":{"temp":{"timestamp":1700000005}},"version":17,"timestamp":1700000005}`
	shadowDeleted    = `{"version":18,"timestamp":1700000010,"clientToken":"tok-2"}`
	shadowRejected   = `{"code":409,"message":"Version conflict","timestamp":1700000010,"clientToken":"tok-3"}`
	shadowGetRequest = `{"clientToken":"tok-4"}`
)

// withTopic is what `SELECT *, topic() AS topic` makes of payload on topic: the payload
// with the topic added (replacing any topic field it had), numbers as their JSON text.
func withTopic(t *testing.T, topic, payload string) string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(payload))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	m["topic"] = topic
	return canonical(t, m)
}

// TestCaptureRules evaluates every message against all three capture rules: exactly the
// rule named in the case matches, with the output shown; "" means no rule matches.
func TestCaptureRules(t *testing.T) {
	const capturedAt = `1700000000123` // fixedEnv's timestamp()
	rules := map[string]*Statement{}
	for _, r := range spec.CaptureRules() {
		rules[r.Name] = mustParse(t, r.SQL)
	}
	registry := func(topic, payload string) func(t *testing.T) string {
		return func(t *testing.T) string { return withTopic(t, topic, payload) }
	}
	literal := func(s string) func(*testing.T) string { return func(*testing.T) string { return s } }

	tests := []struct {
		name, topic, payload string
		rule                 string
		want                 func(*testing.T) string
	}{
		// Registry events: every kind the rule selects, passed whole with its topic.
		{"thing created", "$aws/events/thing/MyThing/created", thingCreated, spec.RegistryRuleName("thing"), registry("$aws/events/thing/MyThing/created", thingCreated)},
		{"thing updated", "$aws/events/thing/MyThing/updated", thingUpdated, spec.RegistryRuleName("thing"), registry("$aws/events/thing/MyThing/updated", thingUpdated)},
		{"thing deleted", "$aws/events/thing/MyThing/deleted", thingDeleted, spec.RegistryRuleName("thing"), registry("$aws/events/thing/MyThing/deleted", thingDeleted)},
		{"thing type created", "$aws/events/thingType/MyThingType/created", thingTypeCreated, spec.RegistryRuleName("thingType"), registry("$aws/events/thingType/MyThingType/created", thingTypeCreated)},
		{"thing type associated", "$aws/events/thingTypeAssociation/thing/MyThing/MyThingType", thingTypeAssociated, spec.RegistryRuleName("thingTypeAssociation"),
			registry("$aws/events/thingTypeAssociation/thing/MyThing/MyThingType", thingTypeAssociated)},
		{"thing group created", "$aws/events/thingGroup/MyGroup/created", thingGroupCreated, spec.RegistryRuleName("thingGroup"), registry("$aws/events/thingGroup/MyGroup/created", thingGroupCreated)},
		// The membership event names the thing and group only in its topic: the rule
		// must pass the topic on.
		{"group membership added", "$aws/events/thingGroupMembership/thingGroup/MyGroup/thing/MyThing/added", membershipAdded, spec.RegistryRuleName("thingGroupMembership"),
			registry("$aws/events/thingGroupMembership/thingGroup/MyGroup/thing/MyThing/added", membershipAdded)},
		{"group hierarchy added", "$aws/events/thingGroupHierarchy/thingGroup/Parent/childThingGroup/Child/added", hierarchyAdded, spec.RegistryRuleName("thingGroupHierarchy"),
			registry("$aws/events/thingGroupHierarchy/thingGroup/Parent/childThingGroup/Child/added", hierarchyAdded)},
		{"payload topic field is replaced", "$aws/events/thing/MyThing/created", `{"eventType":"THING_EVENT","topic":"$aws/events/thing/Other/created"}`, spec.RegistryRuleName("thing"),
			literal(`{"eventType":"THING_EVENT","topic":"$aws/events/thing/MyThing/created"}`)},
		{"empty registry payload", "$aws/events/thingGroup/G/deleted", ``, spec.RegistryRuleName("thingGroup"), literal(`{"topic":"$aws/events/thingGroup/G/deleted"}`)},
		// Registry-side messages no rule captures.
		{"presence event", "$aws/events/presence/connected/client-1", `{"clientId":"client-1","timestamp":1700000000000,"eventType":"connected","sessionIdentifier":"s","principalIdentifier":"p"}`, "", nil},
		{"subscription event", "$aws/events/subscriptions/subscribed/client-1", `{"clientId":"client-1","timestamp":1700000000000,"eventType":"subscribed","topics":["a/b"]}`, "", nil},
		{"job event", "$aws/events/job/j1/completed", `{"eventType":"JOB","operation":"completed","jobId":"j1"}`, "", nil},
		{"job execution event", "$aws/events/jobExecution/j1/succeeded", `{"eventType":"JOB_EXECUTION","operation":"succeeded","jobId":"j1","thingArn":"arn:aws:iot:us-east-1:123456789012:thing/MyThing"}`, "", nil},
		{"kind is case-sensitive", "$aws/events/thinggroup/MyGroup/created", thingGroupCreated, "", nil},
		{"kind lookalike", "$aws/events/thingGroups/MyGroup/created", thingGroupCreated, "", nil},
		{"too short for a kind", "$aws/events", `{}`, "", nil},
		{"not under $aws/events", "events/thing/MyThing/created", thingCreated, "", nil},

		// Classic shadow update/documents: the current document, the clientToken and
		// the rule's own fields; previous too, which tells the sections the update
		// changed (null for a new shadow).
		{"update documents", "$aws/things/MyThing/shadow/update/documents", shadowDocuments, spec.ShadowRuleName,
			literal(`{"capturedAt":` + capturedAt + `,"clientToken":"tok-1","current":` + shadowCurrent + `,"eventType":"SHADOW_EVENT","operation":"UPDATE","previous":{"metadata":{"desired":{"temp":{"timestamp":1700000000}},"reported":{"on":{"timestamp":1700000000},"temp":{"timestamp":1700000000}}},"state":{"desired":{"temp":20},"reported":{"on":true,"temp":19}},"version":16},"thingName":"MyThing","timestamp":1700000005}`)},
		{"first update without client token", "$aws/things/dev-7/shadow/update/documents", shadowFirstDoc, spec.ShadowRuleName,
			literal(`{"capturedAt":` + capturedAt + `,"current":{"metadata":{"reported":{"fw":{"timestamp":1700000001}}},"state":{"reported":{"fw":"1.0.2"}},"version":1},"eventType":"SHADOW_EVENT","operation":"UPDATE","previous":null,"thingName":"dev-7","timestamp":1700000001}`)},
		{"huge version keeps its digits", "$aws/things/MyThing/shadow/update/documents", `{"current":{"state":{},"version":9007199254740993},"timestamp":1700000005}`, spec.ShadowRuleName,
			literal(`{"capturedAt":` + capturedAt + `,"current":{"state":{},"version":9007199254740993},"eventType":"SHADOW_EVENT","operation":"UPDATE","thingName":"MyThing","timestamp":1700000005}`)},
		// delete/accepted: the version at the delete.
		{"delete accepted", "$aws/things/MyThing/shadow/delete/accepted", shadowDeleted, spec.ShadowDeleteRuleName,
			literal(`{"capturedAt":` + capturedAt + `,"clientToken":"tok-2","eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"MyThing","timestamp":1700000010,"version":18}`)},
		{"delete accepted without client token", "$aws/things/MyThing/shadow/delete/accepted", `{"version":4,"timestamp":1700000011}`, spec.ShadowDeleteRuleName,
			literal(`{"capturedAt":` + capturedAt + `,"eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"MyThing","timestamp":1700000011,"version":4}`)},
		// Shadow messages no rule captures: update/documents says everything
		// update/accepted would.
		{"update accepted", "$aws/things/MyThing/shadow/update/accepted", shadowAccepted, "", nil},
		{"update delta", "$aws/things/MyThing/shadow/update/delta", shadowDelta, "", nil},
		{"update rejected", "$aws/things/MyThing/shadow/update/rejected", shadowRejected, "", nil},
		{"update request", "$aws/things/MyThing/shadow/update", `{"state":{"reported":{"temp":19}},"clientToken":"tok-5"}`, "", nil},
		{"get accepted", "$aws/things/MyThing/shadow/get/accepted", shadowAccepted, "", nil},
		{"get request", "$aws/things/MyThing/shadow/get", shadowGetRequest, "", nil},
		{"delete request", "$aws/things/MyThing/shadow/delete", shadowGetRequest, "", nil},
		{"delete rejected", "$aws/things/MyThing/shadow/delete/rejected", `{"code":404,"message":"No shadow exists with name: 'MyThing'","timestamp":1700000010}`, "", nil},
		// Named shadows: their own rules, with the shadow's name from the topic.
		{"named shadow documents", "$aws/things/MyThing/shadow/name/config/update/documents", shadowDocuments, spec.NamedShadowRuleName,
			literal(`{"capturedAt":` + capturedAt + `,"clientToken":"tok-1","current":` + shadowCurrent + `,"eventType":"SHADOW_EVENT","operation":"UPDATE","previous":{"metadata":{"desired":{"temp":{"timestamp":1700000000}},"reported":{"on":{"timestamp":1700000000},"temp":{"timestamp":1700000000}}},"state":{"desired":{"temp":20},"reported":{"on":true,"temp":19}},"version":16},"shadowName":"config","thingName":"MyThing","timestamp":1700000005}`)},
		{"named shadow delete accepted", "$aws/things/MyThing/shadow/name/config/delete/accepted", shadowDeleted, spec.NamedShadowDeleteRuleName,
			literal(`{"capturedAt":` + capturedAt + `,"clientToken":"tok-2","eventType":"SHADOW_EVENT","operation":"DELETE","shadowName":"config","thingName":"MyThing","timestamp":1700000010,"version":18}`)},
		{"named shadow update accepted", "$aws/things/MyThing/shadow/name/config/update/accepted", shadowAccepted, "", nil},
		{"named shadow delta", "$aws/things/MyThing/shadow/name/config/update/delta", shadowDelta, "", nil},
		{"telemetry", "dt/MyThing/telemetry", `{"temp":19}`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, st := range rules {
				out, matched, err := st.EvaluateEnv(tt.topic, []byte(tt.payload), fixedEnv(t))
				if err != nil {
					t.Fatalf("%s: Evaluate: %v", name, err)
				}
				if name != tt.rule {
					if matched {
						t.Errorf("%s matched with out %v; want no match", name, out)
					}
					continue
				}
				if !matched {
					t.Fatalf("%s did not match", name)
				}
				assertJSONShaped(t, "out", out)
				if got, want := canonical(t, out), tt.want(t); got != want {
					t.Errorf("%s: out = %s\nwant  %s", name, got, want)
				}
			}
		})
	}
}

func BenchmarkEvaluateShadowRule(b *testing.B) {
	st, err := Parse(shadowRuleSQL)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(shadowDocuments)
	env := Env{NewUUID: func() string { return "u" }}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, ok, err := st.EvaluateEnv("$aws/things/MyThing/shadow/update/documents", payload, env); err != nil || !ok {
			b.Fatalf("Evaluate = %v, %v", ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
