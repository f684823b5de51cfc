package stepfn

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var testCtx = &ctxObj{execName: "exec-1", execID: "arn:exec", smID: "arn:sm", stateName: "S", entered: "2025-03-04T05:06:07.890Z"}

func TestPathGet(t *testing.T) {
	doc := mustDecode(t, `{"a":{"b":{"c":1}},"x y":"spaced","n":null,"s":"str"}`)
	tests := []struct {
		path string
		want string // JSON; "" means not found
	}{
		{"$", `{"a":{"b":{"c":1}},"n":null,"s":"str","x y":"spaced"}`},
		{"$.a.b.c", `1`},
		{"$['a']['b']", `{"c":1}`},
		{"$.a['b'].c", `1`},
		{"$['x y']", `"spaced"`},
		{"$.n", `null`},
		{"$.missing", ""},
		{"$.s.deeper", ""},
		{"$$.Execution.Name", `"exec-1"`},
		{"$$.Execution.Id", `"arn:exec"`},
		{"$$.StateMachine.Id", `"arn:sm"`},
		{"$$.State.Name", `"S"`},
		{"$$.State.EnteredTime", `"2025-03-04T05:06:07.890Z"`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			p, err := parsePath(tc.path, true)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := p.get(doc, testCtx)
			if tc.want == "" {
				if ok {
					t.Fatalf("found %v, want not found", v)
				}
				return
			}
			got, _ := encodeJSON(v)
			if !ok || got != tc.want {
				t.Fatalf("got %s (found %v), want %s", got, ok, tc.want)
			}
		})
	}
}

func TestPathRefused(t *testing.T) {
	for _, p := range []string{"", "a.b", "$.", "$.a[0]", "$[*]", "$..a", "$.a.*", "$['a", "$.a[?(@.b)]", "$$", "$$.Execution", "$$.Execution.Input", "$$.Map.Item.Value"} {
		if _, err := parsePath(p, true); err == nil {
			t.Errorf("parsePath(%q) accepted", p)
		}
	}
	if _, err := parsePath("$$.Execution.Name", false); err == nil {
		t.Error("context path accepted where only input paths are allowed")
	}
}

func TestPathSetCopiesOnWrite(t *testing.T) {
	orig := mustDecode(t, `{"a":{"keep":1},"b":2}`)
	p, _ := parsePath("$.a.new.deep", false)
	got, err := p.set(orig, "v")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := encodeJSON(got); s != `{"a":{"keep":1,"new":{"deep":"v"}},"b":2}` {
		t.Fatalf("set result %s", s)
	}
	if s, _ := encodeJSON(orig); s != `{"a":{"keep":1},"b":2}` {
		t.Fatalf("original mutated: %s", s)
	}
	bad, _ := parsePath("$.b.c", false)
	if _, err := bad.set(orig, 1); err == nil || !strings.Contains(err.Error(), "not an object") {
		t.Fatalf("set through a number: %v", err)
	}
	if _, err := rootPath.set("scalar", 1); err != nil {
		t.Fatalf("$ replaces any input: %v", err)
	}
}

func TestIntrinsics(t *testing.T) {
	doc := mustDecode(t, `{"name":"bob","n":42,"f":1.5,"ok":true,"nil":null,"obj":{"b":"<&>","a":[1,2]},"js":"{\"x\":[1,{\"y\":null}]}"}`)
	tests := []struct {
		expr, want string // want is the JSON of the result
	}{
		{`States.Format('hello {}', $.name)`, `"hello bob"`},
		{`States.Format('{}-{}-{}-{}', $.n, $.f, $.ok, $.nil)`, `"42-1.5-true-null"`},
		{`States.Format('literal \{\} and \'quote\' and \\ {}', 'x')`, `"literal {} and 'quote' and \\ x"`},
		{`States.Format('id {} by {}', $$.Execution.Name, 7)`, `"id exec-1 by 7"`},
		{`States.JsonToString($.obj)`, `"{\"a\":[1,2],\"b\":\"<&>\"}"`},
		{`States.JsonToString($)`, ``}, // checked below: round-trips
		{`States.StringToJson($.js)`, `{"x":[1,{"y":null}]}`},
		{`States.StringToJson('[1, "a"]')`, `[1,"a"]`},
		{`States.StringToJson(States.JsonToString($.obj))`, `{"a":[1,2],"b":"<&>"}`},
		{`States.Format('{}', States.JsonToString($['obj']))`, `"{\"a\":[1,2],\"b\":\"<&>\"}"`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := compileExpr(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			v, err := e.eval(doc, testCtx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				back := mustDecode(t, v.(string))
				if !reflect.DeepEqual(back, doc) {
					t.Fatalf("JsonToString($) does not round-trip: %v", v)
				}
				return
			}
			got, _ := encodeJSON(v)
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestIntrinsicRuntimeErrors(t *testing.T) {
	doc := mustDecode(t, `{"obj":{},"num":1,"bad":"{nope"}`)
	for expr, want := range map[string]string{
		`States.Format('{}', $.obj)`:       "argument 2 is an object",
		`States.Format('{}', $.missing)`:   `the JSONPath "$.missing" could not be found`,
		`States.StringToJson($.num)`:       "not a string",
		`States.StringToJson($.bad)`:       "invalid JSON",
		`States.JsonToString($.missing.x)`: "could not be found",
	} {
		e, err := compileExpr(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if _, err := e.eval(doc, testCtx); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", expr, err, want)
		}
	}
}

func TestIntrinsicParseErrors(t *testing.T) {
	for _, expr := range []string{
		`States.Format($.a)`,
		`States.Format('{}')`,
		`States.Format('x', 1)`,
		`States.Format('unterminated`,
		`States.Format('lone { brace')`,
		`States.JsonToString('literal')`,
		`States.JsonToString($.a, $.b)`,
		`States.StringToJson()`,
		`States.Format('x') trailing`,
		`States.UUID()`,
		`States.Format('{}', true)`,
		`States.Format('{}', $.a[1])`,
		`States.Format('bad \q escape')`,
	} {
		if _, err := compileExpr(expr); err == nil {
			t.Errorf("%s: accepted", expr)
		}
	}
}

func TestTemplate(t *testing.T) {
	raw := mustDecode(t, `{"TableName":"t","Item":{"id":{"S.$":"$$.Execution.Name"},"v":{"N.$":"$.n"}},"list":[{"x.$":"$.n"},2],"const":{"a":[1]}}`)
	tpl, err := compileTemplate(raw, "Parameters")
	if err != nil {
		t.Fatal(err)
	}
	v, err := tpl.eval(mustDecode(t, `{"n":5}`), testCtx)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := encodeJSON(v)
	want := `{"Item":{"id":{"S":"exec-1"},"v":{"N":5}},"TableName":"t","const":{"a":[1]},"list":[{"x":5},2]}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	_, err = tpl.eval(mustDecode(t, `{}`), testCtx)
	if err == nil || !strings.Contains(err.Error(), `field "N.$"`) {
		t.Fatalf("missing path error %v does not name the field", err)
	}
	if _, ok := mustCompile(t, `{"a":{"b":[1,2]}}`).(constTmpl); !ok {
		t.Error("template without .$ fields should compile to a constant")
	}
}

func mustCompile(t *testing.T, s string) tmpl {
	t.Helper()
	tp, err := compileTemplate(mustDecode(t, s), "Parameters")
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestChoiceRules(t *testing.T) {
	doc := mustDecode(t, `{"s":"thing/abc","n":3,"f":2.5,"b":true,"z":null,"obj":{"k":1},"star":"a*b"}`)
	tests := []struct {
		rule    string
		want    bool
		wantErr string
	}{
		{`{"Variable":"$.s","StringEquals":"thing/abc"}`, true, ""},
		{`{"Variable":"$.s","StringEquals":"thing"}`, false, ""},
		{`{"Variable":"$.n","StringEquals":"3"}`, false, ""}, // type mismatch is false
		{`{"Variable":"$.s","StringMatches":"thing/*"}`, true, ""},
		{`{"Variable":"$.s","StringMatches":"*abc"}`, true, ""},
		{`{"Variable":"$.s","StringMatches":"*/a*c"}`, true, ""},
		{`{"Variable":"$.s","StringMatches":"shadow/*"}`, false, ""},
		{`{"Variable":"$.star","StringMatches":"a\\*b"}`, true, ""},
		{`{"Variable":"$.s","StringMatches":"thing\\*"}`, false, ""},
		{`{"Variable":"$.s","StringMatches":"*"}`, true, ""},
		{`{"Variable":"$.n","NumericEquals":3}`, true, ""},
		{`{"Variable":"$.n","NumericEquals":3.0}`, true, ""},
		{`{"Variable":"$.f","NumericLessThan":3}`, true, ""},
		{`{"Variable":"$.f","NumericGreaterThan":2.5}`, false, ""},
		{`{"Variable":"$.f","NumericGreaterThanEquals":2.5}`, true, ""},
		{`{"Variable":"$.n","NumericLessThanEquals":2}`, false, ""},
		{`{"Variable":"$.s","NumericGreaterThan":0}`, false, ""},
		{`{"Variable":"$.b","BooleanEquals":true}`, true, ""},
		{`{"Variable":"$.n","BooleanEquals":true}`, false, ""},
		{`{"Variable":"$.z","IsNull":true}`, true, ""},
		{`{"Variable":"$.n","IsNull":true}`, false, ""},
		{`{"Variable":"$.obj.k","IsPresent":true}`, true, ""},
		{`{"Variable":"$.obj.q","IsPresent":true}`, false, ""},
		{`{"Variable":"$.obj.q","IsPresent":false}`, true, ""},
		{`{"Variable":"$$.State.Name","StringEquals":"S"}`, true, ""},
		{`{"Not":{"Variable":"$.b","BooleanEquals":false}}`, true, ""},
		{`{"And":[{"Variable":"$.n","NumericEquals":3},{"Variable":"$.b","BooleanEquals":true}]}`, true, ""},
		{`{"Or":[{"Variable":"$.n","NumericEquals":4},{"Variable":"$.b","BooleanEquals":false}]}`, false, ""},
		// AWS: a Variable that does not resolve is a runtime error...
		{`{"Variable":"$.missing","NumericGreaterThan":0}`, false, `invalid path "$.missing"`},
		{`{"Variable":"$.missing","IsNull":true}`, false, `invalid path`},
		// ...unless a preceding IsPresent in an And short-circuits.
		{`{"And":[{"Variable":"$.missing","IsPresent":true},{"Variable":"$.missing","NumericGreaterThan":0}]}`, false, ""},
		{`{"Or":[{"Variable":"$.n","IsPresent":true},{"Variable":"$.missing","NumericGreaterThan":0}]}`, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := compileRule(mustDecode(t, tc.rule), "Choices/0", false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.eval(doc, testCtx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestDecodeJSONKeepsNumbers(t *testing.T) {
	v := mustDecode(t, `{"big":12345678901234567890}`)
	if n := v.(map[string]any)["big"].(json.Number); n.String() != "12345678901234567890" {
		t.Fatalf("number changed: %s", n)
	}
	for _, bad := range []string{``, `{}}`, `{} {}`, `{"a":}`} {
		if _, err := decodeJSON([]byte(bad)); err == nil {
			t.Errorf("decodeJSON(%q) accepted", bad)
		}
	}
}
