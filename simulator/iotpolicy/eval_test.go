package iotpolicy

import (
	"strings"
	"testing"
)

const (
	region  = "us-east-1"
	account = "123456789012"
	arnPfx  = "arn:aws:iot:us-east-1:123456789012:"
)

// Policies adapted from AWS IoT Core's documented examples (publish/subscribe,
// thing and certificate policy examples).
const (
	connectAsThing = `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Effect": "Allow",
	    "Action": ["iot:Connect"],
	    "Resource": ["arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"]
	  }]
	}`

	deviceTopics = `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {
	      "Sid": "pub",
	      "Effect": "Allow",
	      "Action": "iot:Publish",
	      "Resource": [
	        "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/*",
	        "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/update"
	      ]
	    },
	    {
	      "Effect": "Allow",
	      "Action": "iot:Subscribe",
	      "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/cmd/${iot:Connection.Thing.ThingName}/#"
	    },
	    {
	      "Effect": "Allow",
	      "Action": "iot:Receive",
	      "Resource": "arn:aws:iot:us-east-1:123456789012:topic/cmd/${iot:Connection.Thing.ThingName}/*"
	    }
	  ]
	}`

	allowAll = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`

	denyAdmin = `{
	  "Version": "2012-10-17",
	  "Statement": [{"Sid": "noadmin", "Effect": "Deny", "Action": ["iot:Publish", "iot:Receive"],
	                 "Resource": "arn:aws:iot:us-east-1:123456789012:topic/admin/*"}]
	}`

	literalMQTTWildcards = `{
	  "Version": "2012-10-17",
	  "Statement": [{"Effect": "Allow", "Action": "iot:Subscribe",
	                 "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/sensors/+/temperature"}]
	}`

	questionMarks = `{
	  "Version": "2012-10-17",
	  "Statement": [{"Effect": "Allow", "Action": "iot:Publish",
	                 "Resource": "arn:aws:iot:us-east-1:123456789012:topic/sensor/????/data"}]
	}`

	certificateVars = `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": ["iot:Publish"],
	     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:CertificateId}"]},
	    {"Effect": "Allow", "Action": ["iot:Publish"],
	     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/cn/${iot:Certificate.Subject.CommonName}"]},
	    {"Effect": "Allow", "Action": ["iot:Connect"],
	     "Resource": ["arn:aws:iot:us-east-1:123456789012:client/client1",
	                  "arn:aws:iot:us-east-1:123456789012:client/client2"]}
	  ]
	}`

	thingVars = `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.Attributes[site]}/*"},
	    {"Effect": "Allow", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/types/${iot:Connection.Thing.ThingTypeName}"},
	    {"Effect": "Allow", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/attached/${iot:Connection.Thing.IsAttached}"},
	    {"Effect": "Allow", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/client/${iot:ClientId}/x"},
	    {"Effect": "Allow", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/escaped/${*}${?}${$}"}
	  ]
	}`

	actionPatterns = `{
	  "Version": "2012-10-17",
	  "Statement": [{"Effect": "Allow", "Action": ["IOT:pub*", "iot:Rec?ive"], "Resource": "*"}]
	}`

	denyWithUnresolvedVar = `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"},
	    {"Effect": "Deny", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}"}
	  ]
	}`
)

func policies(t *testing.T, docs map[string]string) map[string]*Policy {
	t.Helper()
	out := make(map[string]*Policy, len(docs))
	for name, doc := range docs {
		p, err := Parse(doc)
		if err != nil {
			t.Fatalf("Parse(%s): %v", name, err)
		}
		out[name] = p
	}
	return out
}

func TestEvaluate(t *testing.T) {
	thing1 := []Thing{{Name: "thing-1", TypeName: "sensor", Attributes: map[string]string{"site": "berlin"}}}
	asThing1 := NewVars("thing-1", "c0ffee", "thing-1.example", thing1)
	noThing := NewVars("thing-1", "c0ffee", "thing-1.example", nil)
	otherClient := NewVars("intruder", "c0ffee", "thing-1.example", thing1)
	untypedThing := NewVars("thing-2", "beef", "", []Thing{{Name: "thing-2"}})

	pub := func(topic string) (string, string) { return ActionPublish, TopicARN(region, account, topic) }
	recv := func(topic string) (string, string) { return ActionReceive, TopicARN(region, account, topic) }
	sub := func(filter string) (string, string) { return ActionSubscribe, TopicFilterARN(region, account, filter) }
	conn := func(id string) (string, string) { return ActionConnect, ClientARN(region, account, id) }

	tests := []struct {
		name     string
		docs     map[string]string
		req      func(string) (string, string)
		arg      string
		vars     Vars
		want     bool
		reasonIn string
	}{
		{"connect as own thing name", map[string]string{"c": connectAsThing}, conn, "thing-1", asThing1, true, `policy "c" statement 0`},
		{"connect with client id not a thing name", map[string]string{"c": connectAsThing}, conn, "intruder", otherClient, false, "no policy allows iot:Connect"},
		{"connect with no thing attached", map[string]string{"c": connectAsThing}, conn, "thing-1", noThing, false, "no policy allows"},

		{"publish to own topic", map[string]string{"d": deviceTopics}, pub, "devices/thing-1/telemetry", asThing1, true, `Sid "pub"`},
		{"star crosses slashes", map[string]string{"d": deviceTopics}, pub, "devices/thing-1/a/b/c", asThing1, true, ""},
		{"star needs the slash before it", map[string]string{"d": deviceTopics}, pub, "devices/thing-1", asThing1, false, ""},
		{"publish to another device's topic", map[string]string{"d": deviceTopics}, pub, "devices/thing-2/telemetry", asThing1, false, ""},
		{"publish to own shadow", map[string]string{"d": deviceTopics}, pub, "$aws/things/thing-1/shadow/update", asThing1, true, ""},
		{"publish without thing association", map[string]string{"d": deviceTopics}, pub, "devices/thing-1/telemetry", noThing, false, ""},

		{"subscribe to the literal filter", map[string]string{"d": deviceTopics}, sub, "cmd/thing-1/#", asThing1, true, ""},
		{"hash in policy is literal, not a wildcard", map[string]string{"d": deviceTopics}, sub, "cmd/thing-1/reboot", asThing1, false, ""},
		{"hash in policy does not cover plus", map[string]string{"d": deviceTopics}, sub, "cmd/thing-1/+", asThing1, false, ""},
		{"receive on topic", map[string]string{"d": deviceTopics}, recv, "cmd/thing-1/reboot", asThing1, true, ""},
		{"receive is not publish", map[string]string{"d": deviceTopics}, pub, "cmd/thing-1/reboot", asThing1, false, ""},
		{"subscribe needs topicfilter resource, not topic", map[string]string{"d": deviceTopics},
			func(f string) (string, string) { return ActionSubscribe, TopicARN(region, account, f) }, "cmd/thing-1/#", asThing1, false, ""},
		{"receive needs topic resource, not topicfilter", map[string]string{"d": deviceTopics},
			func(f string) (string, string) { return ActionReceive, TopicFilterARN(region, account, f) }, "cmd/thing-1/x", asThing1, false, ""},

		{"plus in policy is literal", map[string]string{"l": literalMQTTWildcards}, sub, "sensors/+/temperature", asThing1, true, ""},
		{"plus in policy matches no level", map[string]string{"l": literalMQTTWildcards}, sub, "sensors/kitchen/temperature", asThing1, false, ""},

		{"question mark matches one char each", map[string]string{"q": questionMarks}, pub, "sensor/ab/d/data", asThing1, true, ""},
		{"question mark counts characters not bytes", map[string]string{"q": questionMarks}, pub, "sensor/ééé1/data", asThing1, true, ""},
		{"too few characters", map[string]string{"q": questionMarks}, pub, "sensor/abc/data", asThing1, false, ""},
		{"too many characters", map[string]string{"q": questionMarks}, pub, "sensor/abcde/data", asThing1, false, ""},

		{"iot:* on * allows connect", map[string]string{"a": allowAll}, conn, "anything", noThing, true, ""},
		{"deny overrides allow across policies", map[string]string{"a": allowAll, "z": denyAdmin}, pub, "admin/reset", asThing1, false, `explicit deny in policy "z" statement 0 (Sid "noadmin")`},
		{"deny applies to receive too", map[string]string{"a": allowAll, "z": denyAdmin}, recv, "admin/x", asThing1, false, "explicit deny"},
		{"deny does not touch other topics", map[string]string{"a": allowAll, "z": denyAdmin}, pub, "administrators", asThing1, true, `policy "a"`},
		{"deny does not touch other actions", map[string]string{"a": allowAll, "z": denyAdmin}, sub, "admin/x", asThing1, true, ""},
		{"deny alone is still a deny", map[string]string{"z": denyAdmin}, pub, "other", asThing1, false, "no policy allows"},
		{"no policies: implicit deny", map[string]string{}, pub, "x", asThing1, false, "no policy allows iot:Publish on " + arnPfx + "topic/x"},

		{"action pattern iot:pub* is case-insensitive", map[string]string{"p": actionPatterns}, pub, "x", noThing, true, ""},
		{"action pattern iot:Rec?ive", map[string]string{"p": actionPatterns}, recv, "x", noThing, true, ""},
		{"action pattern does not match subscribe", map[string]string{"p": actionPatterns}, sub, "x", noThing, false, ""},

		{"certificate id variable", map[string]string{"c": certificateVars}, pub, "c0ffee", noThing, true, ""},
		{"certificate id of another cert", map[string]string{"c": certificateVars}, pub, "beef", noThing, false, ""},
		{"common name variable", map[string]string{"c": certificateVars}, pub, "cn/thing-1.example", noThing, true, ""},
		{"empty common name is unresolved", map[string]string{"c": certificateVars}, pub, "cn/", untypedThing, false, ""},
		{"fixed client ids", map[string]string{"c": certificateVars}, conn, "client2", noThing, true, ""},
		{"client id not listed", map[string]string{"c": certificateVars}, conn, "client3", noThing, false, ""},

		{"thing attribute", map[string]string{"t": thingVars}, pub, "berlin/temp", asThing1, true, ""},
		{"thing attribute unresolved without association", map[string]string{"t": thingVars}, pub, "berlin/temp", noThing, false, ""},
		{"missing attribute is unresolved", map[string]string{"t": thingVars}, pub, "/temp", untypedThing, false, ""},
		{"thing type name", map[string]string{"t": thingVars}, pub, "types/sensor", asThing1, true, ""},
		{"thing without type: type variable unresolved", map[string]string{"t": thingVars}, pub, "types/", untypedThing, false, ""},
		{"IsAttached true", map[string]string{"t": thingVars}, pub, "attached/true", asThing1, true, ""},
		{"IsAttached false without thing", map[string]string{"t": thingVars}, pub, "attached/false", noThing, true, ""},
		{"IsAttached is not true without thing", map[string]string{"t": thingVars}, pub, "attached/true", noThing, false, ""},
		{"substituted client id is literal", map[string]string{"t": thingVars},
			pub, "client/a*/x", Vars{ClientID: "a*"}, true, ""},
		{"substituted star is no wildcard", map[string]string{"t": thingVars},
			pub, "client/abc/x", Vars{ClientID: "a*"}, false, ""},
		{"escapes are literal", map[string]string{"t": thingVars}, pub, "escaped/*?$", noThing, true, ""},
		{"escaped star is no wildcard", map[string]string{"t": thingVars}, pub, "escaped/x?$", noThing, false, ""},

		{"deny with unresolved variable does not match", map[string]string{"u": denyWithUnresolvedVar}, pub, "thing-1", noThing, true, ""},
		{"deny with resolved variable matches", map[string]string{"u": denyWithUnresolvedVar}, pub, "thing-1", asThing1, false, `explicit deny in policy "u" statement 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action, resource := tc.req(tc.arg)
			got := Evaluate(policies(t, tc.docs), Request{Action: action, Resource: resource, Vars: tc.vars})
			if got.Allowed != tc.want {
				t.Fatalf("Evaluate(%s %s) = %+v, want Allowed=%v", action, resource, got, tc.want)
			}
			if got.Reason == "" {
				t.Fatalf("empty reason")
			}
			if !strings.Contains(got.Reason, tc.reasonIn) {
				t.Fatalf("reason %q does not contain %q", got.Reason, tc.reasonIn)
			}
			if implicit := !got.Allowed && strings.HasPrefix(got.Reason, "no policy allows"); got.ImplicitDeny != implicit {
				t.Fatalf("ImplicitDeny = %v for %+v, want %v", got.ImplicitDeny, got, implicit)
			}
		})
	}
}

func TestUsesThingDetails(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"thing type and attribute variables", thingVars, true},
		{"thing name only", deviceTopics, false},
		{"certificate variables", certificateVars, false},
		{"no variables", allowAll, false},
		{"type variable", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish",
			"Resource":"arn:aws:iot:*:*:topic/${iot:Connection.Thing.ThingTypeName}"}}`, true},
		{"attribute variable", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish",
			"Resource":"arn:aws:iot:*:*:topic/${iot:Connection.Thing.Attributes[site]}"}}`, true},
		{"variable names in a Sid are not variables", `{"Version":"2012-10-17","Statement":{"Sid":"iot:Connection.Thing.ThingTypeName",
			"Effect":"Allow","Action":"iot:Publish","Resource":"*"}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustParse(tc.doc).UsesThingDetails(); got != tc.want {
				t.Errorf("UsesThingDetails() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewVars(t *testing.T) {
	attrs := map[string]string{"k": "v"}
	things := []Thing{{Name: "a"}, {Name: "b", TypeName: "tb", Attributes: attrs}}
	tests := []struct {
		clientID string
		want     Vars
	}{
		{"b", Vars{ClientID: "b", CertificateID: "id", CommonName: "cn", ThingName: "b", ThingTypeName: "tb", Attributes: attrs, IsAttached: true}},
		{"c", Vars{ClientID: "c", CertificateID: "id", CommonName: "cn"}},
		{"B", Vars{ClientID: "B", CertificateID: "id", CommonName: "cn"}}, // exact match only
		{"", Vars{CertificateID: "id", CommonName: "cn"}},
	}
	for _, tc := range tests {
		got := NewVars(tc.clientID, "id", "cn", things)
		if got.ClientID != tc.want.ClientID || got.ThingName != tc.want.ThingName || got.ThingTypeName != tc.want.ThingTypeName ||
			got.IsAttached != tc.want.IsAttached || got.CertificateID != "id" || got.CommonName != "cn" ||
			len(got.Attributes) != len(tc.want.Attributes) {
			t.Errorf("NewVars(%q) = %+v, want %+v", tc.clientID, got, tc.want)
		}
	}
}

func TestEvaluateIsDeterministicAcrossPolicies(t *testing.T) {
	ps := policies(t, map[string]string{"b": allowAll, "a": allowAll, "c": allowAll})
	req := Request{Action: ActionPublish, Resource: TopicARN(region, account, "t")}
	for range 20 {
		got := Evaluate(ps, req)
		if !got.Allowed || !strings.Contains(got.Reason, `policy "a"`) {
			t.Fatalf("Evaluate = %+v, want allowed by policy \"a\"", got)
		}
	}
	ps["nil"] = nil
	if got := Evaluate(ps, req); !got.Allowed {
		t.Fatalf("nil policy broke evaluation: %+v", got)
	}
}

func TestARNs(t *testing.T) {
	tests := []struct{ got, want string }{
		{ClientARN("eu-west-1", "111122223333", "dev-1"), "arn:aws:iot:eu-west-1:111122223333:client/dev-1"},
		{TopicARN("eu-west-1", "111122223333", "a/b"), "arn:aws:iot:eu-west-1:111122223333:topic/a/b"},
		{TopicFilterARN("eu-west-1", "111122223333", "a/+/#"), "arn:aws:iot:eu-west-1:111122223333:topicfilter/a/+/#"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	ps := map[string]*Policy{"d": MustParse(deviceTopics), "z": MustParse(denyAdmin)}
	vars := NewVars("thing-1", "c0ffee", "cn", []Thing{{Name: "thing-1"}})
	req := Request{Action: ActionPublish, Resource: TopicARN(region, account, "devices/thing-1/telemetry"), Vars: vars}
	b.ReportAllocs()
	for b.Loop() {
		if !Evaluate(ps, req).Allowed {
			b.Fatal("denied")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/eval")
}
