package shadow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// decode parses a JSON object the way the service does (exact numbers).
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("decode %s: not an object", s)
	}
	return m
}

// assertJSON compares a value's JSON encoding with want, ignoring formatting
// and key order.
func assertJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	b, ok := got.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(got); err != nil {
			t.Fatalf("%s: marshal: %v", what, err)
		}
	}
	var g, w any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: got invalid JSON %s: %v", what, b, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want %s: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, b, want)
	}
}

// assertMetadataMirrors checks that meta has a timestamp for every leaf of
// state and nothing else.
func assertMetadataMirrors(t *testing.T, state, meta any, ts float64) {
	t.Helper()
	switch s := state.(type) {
	case map[string]any:
		m, ok := meta.(map[string]any)
		if !ok || len(m) != len(s) {
			t.Fatalf("metadata %v does not mirror %v", meta, state)
		}
		for k, v := range s {
			assertMetadataMirrors(t, v, m[k], ts)
		}
	case []any:
		m, ok := meta.([]any)
		if !ok || len(m) != len(s) {
			t.Fatalf("metadata %v does not mirror array %v", meta, state)
		}
		for i := range s {
			assertMetadataMirrors(t, s[i], m[i], ts)
		}
	default:
		m, ok := meta.(map[string]any)
		if !ok || len(m) != 1 || toFloat(m["timestamp"]) != ts {
			t.Fatalf("leaf metadata = %v, want timestamp %v", meta, ts)
		}
	}
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return -1
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name         string
		state, patch string
		want         string // "" means the result is empty
	}{
		{"add to empty", "", `{"a":1}`, `{"a":1}`},
		{"add key", `{"a":1}`, `{"b":"x"}`, `{"a":1,"b":"x"}`},
		{"replace scalar", `{"a":1}`, `{"a":2}`, `{"a":2}`},
		{"null removes", `{"a":1,"b":2}`, `{"a":null}`, `{"b":2}`},
		{"null on absent key", `{"a":1}`, `{"z":null}`, `{"a":1}`},
		{"nested merge", `{"l":{"c":{"r":1,"g":2}}}`, `{"l":{"c":{"g":9,"b":3}}}`, `{"l":{"c":{"r":1,"g":9,"b":3}}}`},
		{"nested null", `{"l":{"c":1,"d":2}}`, `{"l":{"c":null}}`, `{"l":{"d":2}}`},
		{"removing last nested key prunes", `{"l":{"c":1},"x":1}`, `{"l":{"c":null}}`, `{"x":1}`},
		{"removing everything empties", `{"a":1}`, `{"a":null}`, ``},
		{"array replaces", `{"c":["r","g","b"]}`, `{"c":["r"]}`, `{"c":["r"]}`},
		{"object replaces scalar", `{"a":1}`, `{"a":{"b":2}}`, `{"a":{"b":2}}`},
		{"scalar replaces object", `{"a":{"b":2}}`, `{"a":true}`, `{"a":true}`},
		{"nulls inside a new object vanish", `{}`, `{"a":{"b":null,"c":1}}`, `{"a":{"c":1}}`},
		{"empty object adds nothing", `{"a":1}`, `{"b":{}}`, `{"a":1}`},
		{"big numbers kept exactly", `{}`, `{"n":12345678901234567890}`, `{"n":12345678901234567890}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := decode(t, tt.state)
			const ts0, ts = 100, 200
			_, meta0 := merge(nil, nil, state, ts0)
			before, _ := json.Marshal(state)

			got, meta := merge(state, meta0, decode(t, tt.patch), ts)

			if after, _ := json.Marshal(state); string(after) != string(before) {
				t.Errorf("merge modified its input: %s -> %s", before, after)
			}
			if tt.want == "" {
				if len(got) != 0 || len(meta) != 0 {
					t.Errorf("got %v / %v, want empty", got, meta)
				}
				return
			}
			b, _ := json.Marshal(got)
			if string(b) != mustCompact(t, tt.want) {
				t.Errorf("got %s, want %s", b, tt.want)
			}
			// Keys touched by the patch carry the new timestamp, others the old.
			patch := decode(t, tt.patch)
			for k, v := range got {
				if _, touched := patch[k]; touched {
					if _, isObj := v.(map[string]any); !isObj {
						assertMetadataMirrors(t, v, meta[k], ts)
					}
				} else {
					assertMetadataMirrors(t, v, meta[k], ts0)
				}
			}
			if len(meta) != len(got) {
				t.Errorf("metadata keys %v, state keys %v", meta, got)
			}
		})
	}
}

func mustCompact(t *testing.T, s string) string {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDelta(t *testing.T) {
	tests := []struct {
		name              string
		desired, reported string
		want              string // "" means no delta
	}{
		{"missing in reported", `{"color":"RED","state":"STOP"}`, `{"color":"GREEN","engine":"ON"}`, `{"color":"RED","state":"STOP"}`},
		{"equal", `{"a":1,"b":{"c":[1,2]}}`, `{"a":1,"b":{"c":[1,2]}}`, ""},
		{"nested path to root", `{"l":{"c":{"r":255,"g":255,"b":255}}}`, `{"l":{"c":{"r":255,"g":0,"b":255}}}`, `{"l":{"c":{"g":255}}}`},
		{"array differs", `{"c":["r","g"]}`, `{"c":["r"]}`, `{"c":["r","g"]}`},
		{"numbers by value", `{"t":1.0,"u":1e2}`, `{"t":1,"u":100}`, ""},
		{"reported-only keys ignored", `{"a":1}`, `{"a":1,"b":2}`, ""},
		{"object against scalar", `{"a":{"b":1}}`, `{"a":1}`, `{"a":{"b":1}}`},
		{"no reported", `{"a":{"b":1}}`, ``, `{"a":{"b":1}}`},
		{"no desired", ``, `{"a":1}`, ""},
		{"type differs", `{"a":"1"}`, `{"a":1}`, `{"a":"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := delta(decode(t, tt.desired), decode(t, tt.reported))
			if tt.want == "" {
				if got != nil {
					t.Errorf("delta = %v, want none", got)
				}
				return
			}
			assertJSON(t, "delta", got, tt.want)
		})
	}
}

func TestDeltaMetadata(t *testing.T) {
	desired := decode(t, `{"l":{"c":{"r":1,"g":2}},"x":[1,2],"y":1}`)
	_, meta := merge(nil, nil, desired, 7)
	d := delta(desired, decode(t, `{"l":{"c":{"r":1,"g":0}},"y":1}`))
	assertJSON(t, "delta", d, `{"l":{"c":{"g":2}},"x":[1,2]}`)
	assertJSON(t, "delta metadata", deltaMetadata(d, meta),
		`{"l":{"c":{"g":{"timestamp":7}}},"x":[{"timestamp":7},{"timestamp":7}]}`)
}

func TestParseUpdateRejects(t *testing.T) {
	deep := `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}}`
	okDeep := `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}`
	tests := []struct {
		name    string
		payload string
		code    int
		msg     string
		token   string
	}{
		{"not JSON", `{"state":`, 400, "Invalid JSON", ""},
		{"trailing garbage", `{"state":{}} x`, 400, "Invalid JSON", ""},
		{"trailing closing brace", `{"state":{}}}`, 400, "Invalid JSON", ""},
		{"trailing closing bracket", `{"state":{}}]`, 400, "Invalid JSON", ""},
		{"second value", `{"state":{}} {}`, 400, "Invalid JSON", ""},
		{"not an object", `[1]`, 400, "Invalid JSON", ""},
		{"empty payload", ``, 400, "Invalid JSON", ""},
		{"missing state", `{"clientToken":"t1"}`, 400, "Missing required node: state", "t1"},
		{"state not object", `{"state":[],"clientToken":"t2"}`, 400, "State node must be an object", "t2"},
		{"invalid state node", `{"state":{"delta":{}}}`, 400, "State contains an invalid node: 'delta'", ""},
		{"desired not object", `{"state":{"desired":5}}`, 400, "Desired node must be an object", ""},
		{"reported not object", `{"state":{"reported":"x"}}`, 400, "Reported node must be an object", ""},
		{"token not string", `{"state":{},"clientToken":5}`, 400, "Invalid clientToken", ""},
		{"token too long", `{"state":{},"clientToken":"` + strings.Repeat("x", 65) + `"}`, 400, "Invalid clientToken", ""},
		{"negative version", `{"state":{},"version":-1}`, 400, "Invalid version", ""},
		{"fractional version", `{"state":{},"version":1.5}`, 400, "Invalid version", ""},
		{"string version", `{"state":{},"version":"1"}`, 400, "Invalid version", ""},
		{"too deep", deep, 400, "JSON contains too many levels of nesting; maximum is 6", ""},
		{"null in array", `{"state":{"desired":{"c":[null,"RED"]}}}`, 400, "Arrays cannot contain null values", ""},
		{"request too large", `{"state":{"reported":{"x":"` + strings.Repeat("x", maxRequestBytes) + `"}}}`, 413, "The payload exceeds the maximum size allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parseUpdate([]byte(tt.payload))
			if err == nil {
				t.Fatal("accepted, want rejection")
			}
			if err.code != tt.code || err.msg != tt.msg {
				t.Errorf("got %d %q, want %d %q", err.code, err.msg, tt.code, tt.msg)
			}
			var tok string
			if req != nil {
				tok = req.clientToken
			}
			if tok != tt.token {
				t.Errorf("clientToken = %q, want %q", tok, tt.token)
			}
		})
	}
	if _, err := parseUpdate([]byte(okDeep)); err != nil {
		t.Errorf("6 levels rejected: %v", err)
	}
	if _, err := parseUpdate([]byte(`{"state":{"desired":null,"reported":{"a":1}},"version":3,"clientToken":"ok"}`)); err != nil {
		t.Errorf("valid request rejected: %v", err)
	}
}
