package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// The capture rules the project deploys (of the registry rules, the thing events' one), from the spec package itself, so that the
// tests parse and evaluate exactly what is deployed. They are looked up by name, so a
// reordering in spec cannot swap them silently.
var registryRuleSQL, shadowRuleSQL, shadowDeleteRuleSQL = func() (string, string, string) {
	sql := map[string]string{}
	for _, r := range spec.CaptureRules() {
		sql[r.Name] = r.SQL
	}
	thing := spec.RegistryRuleName("thing")
	if sql[thing] == "" || sql[spec.ShadowRuleName] == "" || sql[spec.ShadowDeleteRuleName] == "" {
		panic(fmt.Sprintf("spec.CaptureRules() = %v: want the thing registry, shadow and shadow delete rules", sql))
	}
	return sql[thing], sql[spec.ShadowRuleName], sql[spec.ShadowDeleteRuleName]
}()

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name     string
		sql      string
		filter   string
		star     bool
		colNames []string
		where    bool
	}{
		{"registry rule", registryRuleSQL, "$aws/events/thing/#", true, []string{"topic"}, false},
		{"shadow rule", shadowRuleSQL, "$aws/things/+/shadow/update/documents", false,
			[]string{"current", "previous", "timestamp", "clientToken", "thingName", "eventType", "operation", "capturedAt"}, false},
		{"shadow delete rule", shadowDeleteRuleSQL, "$aws/things/+/shadow/delete/accepted", false,
			[]string{"version", "timestamp", "clientToken", "thingName", "eventType", "operation", "capturedAt"}, false},
		{"star only", "SELECT * FROM 'a/b'", "a/b", true, nil, false},
		{"lower-case keywords", "select a as b from 'x' where not a = 1 and (b <> 2 or c >= 3)", "x", false, []string{"b"}, true},
		{"mixed-case functions", "SELECT Topic(2) AS t, NEWUUID() AS u, Floor(1.5) AS f, LOWER('A') AS l FROM 'x/y'", "x/y", false, []string{"t", "u", "f", "l"}, false},
		{"nested field keeps last segment", "SELECT state.reported.temp FROM 'x'", "x", false, []string{"temp"}, false},
		{"arithmetic and unary minus", "SELECT -a + 2 * (b - 3) / 4 AS v FROM 'x' WHERE a > -1.5e3", "x", false, []string{"v"}, true},
		{"escaped quote", "SELECT 'it''s' AS s FROM 'x'", "x", false, []string{"s"}, false},
		{"keyword-ish fields", "SELECT timestamp, version, topic FROM 'x'", "x", false, []string{"timestamp", "version", "topic"}, false},
		{"whitespace", "\tSELECT\n*\r\nFROM 'x'  ", "x", true, nil, false},
		{"plus wildcard", "SELECT * FROM '+/b/#'", "+/b/#", true, nil, false},
		{"boolean literals", "SELECT true AS t, FALSE AS f FROM 'x' WHERE true", "x", false, []string{"t", "f"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Parse(tt.sql)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if st.Filter() != tt.filter {
				t.Errorf("Filter() = %q, want %q", st.Filter(), tt.filter)
			}
			if st.SQL() != tt.sql {
				t.Errorf("SQL() = %q, want the input", st.SQL())
			}
			if st.star != tt.star {
				t.Errorf("star = %v, want %v", st.star, tt.star)
			}
			var names []string
			for _, c := range st.cols {
				names = append(names, c.name)
			}
			if strings.Join(names, ",") != strings.Join(tt.colNames, ",") {
				t.Errorf("columns = %v, want %v", names, tt.colNames)
			}
			if (st.where != nil) != tt.where {
				t.Errorf("has WHERE = %v, want %v", st.where != nil, tt.where)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		sql     string
		wantMsg string
		wantPos int
	}{
		{"", "expected SELECT, found end of statement", 1},
		{"UPDATE x", `expected SELECT, found "UPDATE"`, 1},
		{"SET a = 1 SELECT * FROM 'x'", "unsupported construct: SET clause", 1},
		{"SELECT @a AS b FROM 'x'", `unsupported construct: variable "@"`, 8},
		{"SELECT * FROM x", "expected quoted topic filter after FROM", 15},
		{"SELECT *", "expected FROM, found end of statement", 9},
		{"SELECT * FROM 'a/#/b'", `invalid topic filter "a/#/b"`, 15},
		{"SELECT * FROM 'a/b+'", `invalid topic filter "a/b+"`, 15},
		{"SELECT * FROM ''", `invalid topic filter ""`, 15},
		{"SELECT a, * FROM 'x'", `"*" must be the first SELECT item`, 11},
		{"SELECT \"a\" FROM 'x'", "unsupported construct: double-quoted string", 8},
		{"SELECT a % 2 AS m FROM 'x'", `unsupported construct: modulo operator "%"`, 10},
		{"SELECT a[0] AS m FROM 'x'", `unsupported construct: array literal or index "["`, 9},
		{"SELECT {'a': 1} AS m FROM 'x'", `unsupported construct: object literal "{"`, 8},
		{"SELECT md5(a) AS h FROM 'x'", "unsupported function md5()", 8},
		{"SELECT encode(*, 'base64') AS h FROM 'x'", `unsupported construct: "*" as a function argument`, 15},
		{"SELECT CASE a WHEN 1 THEN 2 END AS c FROM 'x'", "unsupported construct: CASE", 8},
		{"SELECT * FROM 'x' WHERE a IN (1, 2)", "unsupported construct: IN", 27},
		{"SELECT * FROM 'x' WHERE a IS NULL", "unsupported construct: IS", 27},
		{"SELECT * FROM 'x' WHERE a = NULL", "unsupported construct: NULL", 29},
		{"SELECT * FROM 'x' WHERE a LIKE 'b%'", "unsupported construct: LIKE", 27},
		{"SELECT VALUE a FROM 'x'", "unsupported construct: SELECT VALUE", 8},
		{"SELECT (SELECT a FROM b) AS c FROM 'x'", "unsupported construct: nested SELECT", 9},
		{"SELECT a AS b.c FROM 'x'", "unsupported construct: nested alias", 14},
		{"SELECT a b FROM 'x'", `unsupported construct: alias without AS ("b")`, 10},
		{"SELECT topic() FROM 'x'", "expression needs an AS alias", 8},
		{"SELECT 1 FROM 'x'", "expression needs an AS alias", 8},
		{"SELECT a AS x, b AS x FROM 'x'", `duplicate output name "x"`, 16},
		{"SELECT a AS from FROM 'x'", "reserved word FROM cannot be used as an alias", 13},
		{"SELECT topic(1, 2) AS t FROM 'x'", "topic() takes 0 or 1 argument(s), got 2", 8},
		{"SELECT newuuid(1) AS t FROM 'x'", "newuuid() takes 0 argument(s), got 1", 8},
		{"SELECT floor() AS t FROM 'x'", "floor() takes 1 argument(s), got 0", 8},
		{"SELECT upper(a AS t FROM 'x'", `expected ")" to close upper(`, 16},
		{"SELECT topic().x AS t FROM 'x'", "unsupported construct: member access on a function result", 15},
		{"SELECT a.upper(b) AS t FROM 'x'", "unsupported construct: method call upper()", 15},
		{"SELECT * FROM 'x' WHERE a = 1 = 2", "unsupported construct: chained comparison", 31},
		{"SELECT * FROM 'x' WHERE a == 1", `unsupported construct: operator "==" (use "=")`, 27},
		{"SELECT * FROM 'x' WHERE a != 1", `unsupported construct: operator "!=" (use "<>")`, 27},
		{"SELECT * FROM 'x' -- comment", `unsupported construct: comment "--"`, 19},
		{"SELECT * FROM 'x' WHERE", "unexpected end of statement, expected an expression", 24},
		{"SELECT * FROM 'x' WHERE (a = 1", `expected ")", found end of statement`, 31},
		{"SELECT * FROM 'x' GROUP BY a", "unsupported construct: GROUP", 19},
		{"SELECT * FROM 'x' WHERE a = 1 b", `unexpected "b", expected end of statement`, 31},
		{"SELECT 'abc FROM 'x'", "unterminated string literal", 20},
		{"SELECT 'abc AS a FROM x", "unterminated string literal", 8},
		{"SELECT 1. AS a FROM 'x'", `malformed number "1."`, 8},
		{"SELECT 1e AS a FROM 'x'", `malformed number "1e"`, 8},
		{"SELECT 12abc AS a FROM 'x'", `malformed number "12a"`, 8},
		{"SELECT 1e999 AS a FROM 'x'", "number 1e999 is out of range", 8},
		{"SELECT a. FROM 'x'", `expected field name after ".", found "FROM"`, 11},
		{"SELECT é AS a FROM 'x'", `unexpected character 'é'`, 8},
		{"SELECT * FROM 'x'; DROP", `unsupported construct: statement separator ";"`, 18},
		{"SELECT AND FROM 'x'", "unexpected keyword AND", 8},
		{"SELECT * FROM 'x' WHERE NOT", "unexpected end of statement, expected an expression", 28},
		{"SELECT " + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200) + " AS a FROM 'x'", "nested more than 100 levels deep", 108},
		{"SELECT " + strings.Repeat("- ", 200) + "1 AS a FROM 'x'", "nested more than 100 levels deep", 208},
		{"SELECT * FROM 'x' WHERE " + strings.Repeat("NOT ", 200) + "true", "nested more than 100 levels deep", 425},
	}
	for _, tt := range tests {
		name := tt.sql
		if len(name) > 60 {
			name = name[:60] + "..."
		}
		t.Run(name, func(t *testing.T) {
			st, err := Parse(tt.sql)
			if err == nil {
				t.Fatalf("Parse accepted %q (filter %q)", tt.sql, st.Filter())
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if !strings.Contains(se.Msg, tt.wantMsg) {
				t.Errorf("message %q does not contain %q", se.Msg, tt.wantMsg)
			}
			if se.Pos != tt.wantPos {
				t.Errorf("position = %d, want %d (%v)", se.Pos, tt.wantPos, err)
			}
			if !strings.Contains(err.Error(), "position") {
				t.Errorf("Error() %q does not mention the position", err.Error())
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		registryRuleSQL, shadowRuleSQL, shadowDeleteRuleSQL,
		"SELECT * FROM 'a/+/#' WHERE NOT (a.b <= -1.5e-3 AND c <> 'x''y')",
		"SELECT floor(a / 0) AS z, lower(upper(topic(1))) AS t FROM 'x'",
		"SELECT", "'", "SELECT * FROM '#'", "select a.b.c from 'x' where a = b = c",
	} {
		f.Add(s, "$aws/events/thing/t1/created", []byte(`{"a":{"b":1},"c":"x"}`))
	}
	f.Add(shadowRuleSQL, "$aws/things/t1/shadow/update/documents", []byte(`{"current":{"state":{"reported":{"t":1}},"version":2},"timestamp":1700000000}`))
	f.Add(shadowDeleteRuleSQL, "$aws/things/t1/shadow/delete/accepted", []byte(`{"version":3,"timestamp":1700000000,"clientToken":"c"}`))
	f.Add(registryRuleSQL, "$aws/events/thing/t/created", []byte("\x00not json"))
	f.Fuzz(func(t *testing.T, sql, topic string, payload []byte) {
		st, err := Parse(sql)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", sql, err)
			}
			if se.Pos < 1 || se.Pos > len(sql)+1 {
				t.Fatalf("Parse(%q): position %d out of range", sql, se.Pos)
			}
			return
		}
		// Whatever parses must evaluate without panicking.
		env := Env{NewUUID: func() string { return "u" }}
		_, _, _ = st.EvaluateEnv(topic, payload, env)
	})
}
