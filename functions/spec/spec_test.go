package spec

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCaptureRules(t *testing.T) {
	rules, err := CaptureRules("eu-west-1", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Name != RegistryRuleName || rules[1].Name != ShadowRuleName {
		t.Fatalf("rules = %+v", rules)
	}
	for _, want := range []string{"FROM '$aws/events/#'", "'eu-west-1' AS source_region", "+ 172800 AS expires",
		"topic(3) = 'thingGroupHierarchy'", "topic(3) = 'thingTypeAssociation'"} {
		if !strings.Contains(rules[0].SQL, want) {
			t.Errorf("registry SQL lacks %q:\n%s", want, rules[0].SQL)
		}
	}
	for _, want := range []string{"FROM '$aws/things/+/shadow/+/accepted'", "'SHADOW_EVENT' AS eventType", "topic(3) AS thingName"} {
		if !strings.Contains(rules[1].SQL, want) {
			t.Errorf("shadow SQL lacks %q:\n%s", want, rules[1].SQL)
		}
	}
}

func TestCaptureRulesBadInput(t *testing.T) {
	for _, tc := range []struct {
		region string
		ttl    time.Duration
		want   string
	}{
		{"eu-west", time.Hour, "not an AWS Region"},
		{"eu-west-1'; DROP", time.Hour, "not an AWS Region"},
		{"us-east-1", 0, "TTL"},
	} {
		if _, err := CaptureRules(tc.region, tc.ttl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CaptureRules(%q, %s) error = %v, want %q", tc.region, tc.ttl, err, tc.want)
		}
	}
}

func testMachine() StateMachine {
	arn := func(n string) string { return "arn:aws:lambda:eu-west-1:123456789012:function:" + n }
	return StateMachine{
		Workers:    Workers{Thing: arn("t"), ThingType: arn("tt"), ThingGroup: arn("tg"), Shadow: arn("s")},
		ErrorTable: "errors",
		Retry:      DefaultRetry,
	}
}

func TestStateMachineRoutesEveryEventType(t *testing.T) {
	def, err := testMachine().Definition()
	if err != nil {
		t.Fatal(err)
	}
	var asl struct {
		StartAt string
		States  map[string]struct {
			Type    string
			Choices []struct{ StringEquals, Next string }
			Default string
			Retry   []struct {
				ErrorEquals []string
				MaxAttempts int
			}
			Catch []struct{ Next string }
		}
	}
	if err := json.Unmarshal([]byte(def), &asl); err != nil {
		t.Fatal(err)
	}
	route := asl.States[asl.StartAt]
	routed := map[string]string{}
	for _, c := range route.Choices {
		routed[c.StringEquals] = c.Next
	}
	for _, et := range EventTypes {
		next, ok := routed[et]
		if !ok {
			t.Errorf("event type %s is not routed", et)
			continue
		}
		task := asl.States[next]
		if task.Type != "Task" || len(task.Retry) != 2 || task.Retry[0].ErrorEquals[0] != PermanentErrorType ||
			task.Retry[0].MaxAttempts != 0 || task.Retry[1].MaxAttempts != DefaultRetry.MaxAttempts {
			t.Errorf("%s -> %s: retry policy wrong: %+v", et, next, task)
		}
		if len(task.Catch) != 1 || task.Catch[0].Next != StateRecordError {
			t.Errorf("%s -> %s: catch wrong: %+v", et, next, task.Catch)
		}
	}
	if asl.States[route.Default].Type != "Fail" {
		t.Errorf("unknown types go to %s (%s), want a Fail state", route.Default, asl.States[route.Default].Type)
	}
}

func TestStateMachineBadInput(t *testing.T) {
	m := testMachine()
	m.Workers.Shadow = "shadow"
	if _, err := m.Definition(); err == nil || !strings.Contains(err.Error(), "shadow worker ARN") {
		t.Errorf("bad ARN error = %v", err)
	}
	m = testMachine()
	m.Retry.BackoffRate = 0.5
	if _, err := m.Definition(); err == nil || !strings.Contains(err.Error(), "retry policy") {
		t.Errorf("bad retry error = %v", err)
	}
}

func TestPolicies(t *testing.T) {
	doc, err := DevicePolicy("eu-west-1", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}",
		"arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("device policy lacks %s:\n%s", want, doc)
		}
	}
	if _, err := DevicePolicy("eu-west-1", "12345"); err == nil {
		t.Error("short account id accepted")
	}
	if _, err := ProbePolicy("nowhere", "123456789012"); err == nil {
		t.Error("bad region accepted")
	}
}
