package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
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

func TestCaptureRules(t *testing.T) {
	const nowExpires = `1702592000` // floor(1700000000123/1000) + 2592000
	registry := mustParse(t, registryRuleSQL)
	shadow := mustParse(t, shadowRuleSQL)

	thingCreated := `{"eventType":"THING_EVENT","eventId":"f5ae9b94-8b8e-4d8e-8c8f-b3266dd89853","timestamp":1700000000001,"operation":"CREATED","accountId":"123456789012","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","thingName":"MyThing","versionNumber":1,"thingTypeName":null,"attributes":{"attribute1":"value1"}}`
	shadowAccepted := `{"state":{"reported":{"temp":21.5,"on":true}},"metadata":{"reported":{"temp":{"timestamp":1700000000}}},"version":17,"timestamp":1700000000,"clientToken":"tok-1"}`

	tests := []struct {
		name    string
		stmt    *Statement
		topic   string
		payload string
		want    string // canonical out; "" means not matched
	}{
		{"registry thing created", registry, "$aws/events/thing/MyThing/created", thingCreated,
			`{"accountId":"123456789012","attributes":{"attribute1":"value1"},"eventId":"f5ae9b94-8b8e-4d8e-8c8f-b3266dd89853","eventType":"THING_EVENT","expires":` + nowExpires + `,"operation":"CREATED","source_region":"us-east-1","thingId":"b604f69c-aa9a-4d4a-829e-c480e958a0f5","thingName":"MyThing","thingTypeName":null,"timestamp":1700000000001,"topic":"$aws/events/thing/MyThing/created","uuid":"u1","versionNumber":1}`},
		{"registry thing type", registry, "$aws/events/thingType/MyType/updated", `{"eventType":"THING_TYPE_EVENT"}`,
			`{"eventType":"THING_TYPE_EVENT","expires":` + nowExpires + `,"source_region":"us-east-1","topic":"$aws/events/thingType/MyType/updated","uuid":"u1"}`},
		{"registry type association", registry, "$aws/events/thingTypeAssociation/thing/T1/MyType", `{"eventType":"THING_TYPE_ASSOCIATION_EVENT"}`,
			`{"eventType":"THING_TYPE_ASSOCIATION_EVENT","expires":` + nowExpires + `,"source_region":"us-east-1","topic":"$aws/events/thingTypeAssociation/thing/T1/MyType","uuid":"u1"}`},
		{"registry group membership", registry, "$aws/events/thingGroupMembership/thingGroup/G/thing/T/added", `{"eventType":"THING_GROUP_MEMBERSHIP_EVENT"}`,
			`{"eventType":"THING_GROUP_MEMBERSHIP_EVENT","expires":` + nowExpires + `,"source_region":"us-east-1","topic":"$aws/events/thingGroupMembership/thingGroup/G/thing/T/added","uuid":"u1"}`},
		{"registry group hierarchy", registry, "$aws/events/thingGroupHierarchy/thingGroup/P/childThingGroup/C/added", `{}`,
			`{"expires":` + nowExpires + `,"source_region":"us-east-1","topic":"$aws/events/thingGroupHierarchy/thingGroup/P/childThingGroup/C/added","uuid":"u1"}`},
		{"registry thing group", registry, "$aws/events/thingGroup/G/created", `{"eventType":"THING_GROUP_EVENT"}`,
			`{"eventType":"THING_GROUP_EVENT","expires":` + nowExpires + `,"source_region":"us-east-1","topic":"$aws/events/thingGroup/G/created","uuid":"u1"}`},
		{"registry ignores presence events", registry, "$aws/events/presence/connected/client-1", `{"eventType":"connected"}`, ""},
		{"registry ignores job events", registry, "$aws/events/job/j1/completed", `{}`, ""},
		{"registry ignores short topic", registry, "$aws/events", `{}`, ""},
		{"registry ignores other prefixes", registry, "$aws/things/MyThing/shadow/update/accepted", shadowAccepted, ""},
		{"shadow update accepted", shadow, "$aws/things/MyThing/shadow/update/accepted", shadowAccepted,
			`{"eventType":"SHADOW_EVENT","expires":` + nowExpires + `,"operation":"UPDATE","shadow_timestamp":1700000000,"source_region":"us-east-1","state":{"reported":{"on":true,"temp":21.5}},"thingName":"MyThing","timestamp":1700000000123,"topic":"$aws/things/MyThing/shadow/update/accepted","uuid":"u1","version":17}`},
		{"shadow delete accepted", shadow, "$aws/things/MyThing/shadow/delete/accepted", `{"version":18,"timestamp":1700000005}`,
			`{"eventType":"SHADOW_EVENT","expires":` + nowExpires + `,"operation":"DELETE","shadow_timestamp":1700000005,"source_region":"us-east-1","thingName":"MyThing","timestamp":1700000000123,"topic":"$aws/things/MyThing/shadow/delete/accepted","uuid":"u1","version":18}`},
		{"shadow get accepted ignored", shadow, "$aws/things/MyThing/shadow/get/accepted", shadowAccepted, ""},
		{"shadow update rejected ignored", shadow, "$aws/things/MyThing/shadow/update/rejected", `{"code":400}`, ""},
		{"named shadow ignored", shadow, "$aws/things/MyThing/shadow/name/n1/update/accepted", shadowAccepted, ""},
		{"shadow documents ignored", shadow, "$aws/things/MyThing/shadow/update/documents", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, matched, err := tt.stmt.EvaluateEnv(tt.topic, []byte(tt.payload), fixedEnv(t))
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if tt.want == "" {
				if matched {
					t.Fatalf("matched with out %v; want no match", out)
				}
				return
			}
			if !matched {
				t.Fatal("not matched")
			}
			assertJSONShaped(t, "out", out)
			if got := canonical(t, out); got != tt.want {
				t.Errorf("out = %s\nwant  %s", got, tt.want)
			}
		})
	}
	// Integer payload numbers must survive exactly, not as float64.
	out, _, err := registry.EvaluateEnv("$aws/events/thing/T/updated", []byte(`{"versionNumber":9007199254740993}`), fixedEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := out["versionNumber"]; got != json.Number("9007199254740993") {
		t.Errorf("versionNumber = %#v, want json.Number 9007199254740993", got)
	}
}

func BenchmarkEvaluateShadowRule(b *testing.B) {
	st, err := Parse(shadowRuleSQL)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"state":{"reported":{"temp":21.5,"on":true}},"metadata":{"reported":{"temp":{"timestamp":1700000000}}},"version":17,"timestamp":1700000000}`)
	env := Env{NewUUID: func() string { return "u" }}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, ok, err := st.EvaluateEnv("$aws/things/MyThing/shadow/update/accepted", payload, env); err != nil || !ok {
			b.Fatalf("Evaluate = %v, %v", ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
