package iotpolicy

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	const v = `"Version":"2012-10-17",`
	stmt := func(body string) string { return `{` + v + `"Statement":[` + body + `]}` }
	ok := `{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}`
	tests := []struct {
		name, doc, wantIn string
	}{
		{"not json", `{`, "not a JSON object"},
		{"array document", `[]`, "not a JSON object"},
		{"null document", `null`, "not a JSON object"},
		{"trailing data", `{` + v + `"Statement":` + ok + `} x`, "not a JSON object"},
		{"missing version", `{"Statement":` + ok + `}`, "missing Version"},
		{"old version", `{"Version":"2008-10-17","Statement":` + ok + `}`, `Version must be "2012-10-17"`},
		{"numeric version", `{"Version":2012,"Statement":` + ok + `}`, "Version must be"},
		{"unknown top-level field", `{` + v + `"Statement":` + ok + `,"Statements":[]}`, `unknown top-level field "Statements"`},
		{"numeric Id", `{` + v + `"Id":1,"Statement":` + ok + `}`, "Id must be a string"},
		{"missing statement", `{` + v + `"Id":"x"}`, "missing Statement"},
		{"empty statement list", stmt(``), "at least one statement"},
		{"statement is a string", `{` + v + `"Statement":"x"}`, "Statement: must be an object or an array"},
		{"statement element not object", stmt(ok + `,"x"`), "statement 1: not a JSON object"},
		{"missing effect", stmt(`{"Action":"iot:Connect","Resource":"*"}`), "statement 0: missing Effect"},
		{"lower-case effect", stmt(`{"Effect":"allow","Action":"iot:Connect","Resource":"*"}`), `Effect must be "Allow" or "Deny"`},
		{"numeric effect", stmt(`{"Effect":1,"Action":"iot:Connect","Resource":"*"}`), "Effect must be a string"},
		{"missing action", stmt(`{"Effect":"Allow","Resource":"*"}`), "statement 0: missing Action"},
		{"empty action list", stmt(`{"Effect":"Allow","Action":[],"Resource":"*"}`), "Action must not be an empty array"},
		{"empty action", stmt(`{"Effect":"Allow","Action":"","Resource":"*"}`), "Action must not be empty"},
		{"null action", stmt(`{"Effect":"Allow","Action":null,"Resource":"*"}`), "Action must be a string or an array"},
		{"numeric action", stmt(`{"Effect":"Allow","Action":[1],"Resource":"*"}`), "Action must be a string or an array"},
		{"action without service", stmt(`{"Effect":"Allow","Action":"Publish","Resource":"*"}`), `Action[0] "Publish" is not of the form`},
		{"missing resource", stmt(ok + `,{"Effect":"Allow","Action":"iot:Connect"}`), "statement 1: missing Resource"},
		{"resource not an ARN", stmt(`{"Effect":"Allow","Action":"iot:Publish","Resource":["*","topic/x"]}`), `Resource[1] "topic/x" is neither`},
		{"empty resource in list", stmt(`{"Effect":"Allow","Action":"iot:Publish","Resource":["*",""]}`), "Resource[1] must not be empty"},
		{"condition refused", stmt(`{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}`), "statement 0: Condition is not modelled"},
		{"not action refused", stmt(`{"Effect":"Deny","NotAction":"iot:Connect","Resource":"*"}`), "NotAction is not modelled"},
		{"not resource refused", stmt(`{"Effect":"Deny","Action":"iot:*","NotResource":"*"}`), "NotResource is not modelled"},
		{"principal refused", stmt(`{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}`), "Principal is not allowed"},
		{"misspelled field", stmt(`{"Efect":"Allow","Action":"iot:*","Resource":"*"}`), `unknown field "Efect"`},
		{"keys are case-sensitive", stmt(`{"effect":"Allow","Action":"iot:*","Resource":"*"}`), `unknown field "effect"`},
		{"numeric sid", stmt(`{"Sid":1,"Effect":"Allow","Action":"iot:*","Resource":"*"}`), "Sid must be a string"},
		{"unmodelled variable", stmt(`{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/${aws:SourceIp}"}`), "${aws:SourceIp} is not modelled"},
		{"unmodelled cert variable", stmt(`{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/${iot:Certificate.Subject.Country}"}`), "is not modelled"},
		{"wrong-case variable", stmt(`{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/${iot:clientid}"}`), "${iot:clientid} is not modelled"},
		{"variable with default", stmt(`{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/${iot:ClientId, 'x'}"}`), "is not modelled"},
		{"empty attribute name", stmt(`{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/${iot:Connection.Thing.Attributes[]}"}`), "is not modelled"},
		{"unterminated variable", stmt(`{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/${iot:ClientId"}`), "unterminated policy variable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.doc)
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error containing %q", p, tc.wantIn)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v does not wrap ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q does not contain %q", err, tc.wantIn)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	docs := []string{
		connectAsThing, deviceTopics, allowAll, denyAdmin, literalMQTTWildcards, questionMarks,
		certificateVars, thingVars, actionPatterns, denyWithUnresolvedVar,
		`{"Version":"2012-10-17","Id":"p","Statement":[{"Sid":"","Effect":"Deny","Action":"*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iotjobsdata:DescribeJobExecution","Resource":"arn:aws:iot:r:a:thing/t"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/$price/{x}/$"}]}`,
	}
	for i, doc := range docs {
		if _, err := Parse(doc); err != nil {
			t.Errorf("doc %d: %v", i, err)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustParse did not panic on an invalid document")
		}
	}()
	MustParse(`{}`)
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "a/b/c", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a*b", "abab", true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"?", "é", true},
		{"??", "é", false},
		{"a?c", "a/c", true},
		{"*/x", "a/b/x", true},
		{"+", "+", true},
		{"#", "a", false},
	}
	for _, tc := range tests {
		if got := compileGlob(tc.pattern).match(tc.s); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// globRegexp is an independent reference implementation of the glob semantics.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("a*b?c", "axxbyc")
	f.Add("*/+/#", "x/+/#")
	f.Add("??é*", "abéé")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		want := globRegexp(pattern).MatchString(s)
		if got := compileGlob(pattern).match(s); got != want {
			t.Fatalf("match(%q, %q) = %v, regexp says %v", pattern, s, got, want)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, doc := range []string{connectAsThing, deviceTopics, allowAll, denyAdmin, thingVars, certificateVars, `{}`, `[`, `{"Version":"2012-10-17","Statement":{}}`} {
		f.Add(doc)
	}
	vars := NewVars("thing-1", "c0ffee", "cn", []Thing{{Name: "thing-1", TypeName: "t", Attributes: map[string]string{"site": "x"}}})
	reqs := []Request{
		{Action: ActionConnect, Resource: ClientARN(region, account, "thing-1"), Vars: vars},
		{Action: ActionPublish, Resource: TopicARN(region, account, "devices/thing-1/x"), Vars: vars},
		{Action: ActionSubscribe, Resource: TopicFilterARN(region, account, "cmd/#"), Vars: Vars{}},
	}
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc)
		if err != nil {
			if p != nil || !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Parse(%q) = %v, %v", doc, p, err)
			}
			return
		}
		for _, req := range reqs {
			d := Evaluate(map[string]*Policy{"p": p}, req)
			if d.Reason == "" {
				t.Fatalf("empty reason for %+v", req)
			}
			// Adding a policy that denies everything must deny everything.
			deny := MustParse(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`)
			if Evaluate(map[string]*Policy{"p": p, "deny": deny}, req).Allowed {
				t.Fatalf("explicit deny-all did not win for %q", doc)
			}
		}
	})
}
