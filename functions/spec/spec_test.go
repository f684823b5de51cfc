package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCaptureRules(t *testing.T) {
	rules := CaptureRules()
	var names, want []string
	for _, r := range rules {
		names = append(names, r.Name)
	}
	for _, k := range registryEventKinds {
		want = append(want, RegistryRuleName(k))
	}
	want = append(want, ShadowRuleName, ShadowDeleteRuleName, NamedShadowRuleName, NamedShadowDeleteRuleName)
	if !slices.Equal(names, want) {
		t.Fatalf("rules %v, want %v", names, want)
	}
	type check struct {
		rule          Rule
		want, notWant []string
	}
	var checks []check
	n := len(registryEventKinds)
	for i, k := range registryEventKinds {
		// The kind is in the topic filter: a rule on $aws/events/# would be evaluated for
		// every lifecycle (presence, subscription) event too.
		checks = append(checks, check{rules[i],
			[]string{"SELECT *, topic() AS topic", "FROM '$aws/events/" + k + "/#'"},
			[]string{"$aws/events/#", "WHERE"}})
	}
	shadowCommon := []string{"clientToken", "topic(3) AS thingName", "'" + EventShadow + "' AS eventType", "timestamp() AS capturedAt"}
	checks = append(checks,
		check{rules[n], append([]string{"SELECT current,", "FROM '$aws/things/+/shadow/update/documents'", "'UPDATE' AS operation"}, shadowCommon...),
			[]string{"/accepted", "'DELETE'"}},
		check{rules[n+1], append([]string{"SELECT version,", "FROM '$aws/things/+/shadow/delete/accepted'", "'DELETE' AS operation"}, shadowCommon...),
			[]string{"update/", "'UPDATE'"}},
		check{rules[n+2], append([]string{"SELECT current,", "FROM '$aws/things/+/shadow/name/+/update/documents'", "topic(6) AS shadowName", "'UPDATE' AS operation"}, shadowCommon...),
			[]string{"/accepted", "'DELETE'", "WHERE"}},
		check{rules[n+3], append([]string{"SELECT version,", "FROM '$aws/things/+/shadow/name/+/delete/accepted'", "topic(6) AS shadowName", "'DELETE' AS operation"}, shadowCommon...),
			[]string{"update/", "'UPDATE'", "WHERE"}},
	)

	for _, tc := range checks {
		sql := tc.rule.SQL
		for _, w := range tc.want {
			if !strings.Contains(sql, w) {
				t.Errorf("%s SQL lacks %q:\n%s", tc.rule.Name, w, sql)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(sql, w) {
				t.Errorf("%s SQL contains %q:\n%s", tc.rule.Name, w, sql)
			}
		}
		// Topic-rule names allow letters, digits and underscores only.
		if strings.Trim(tc.rule.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Errorf("rule name %q is not a valid topic-rule name", tc.rule.Name)
		}
	}
}

// asl is the part of a state machine definition the tests look at.
type asl struct {
	StartAt string
	States  map[string]aslState
}

type aslState struct {
	Type, Resource, Next, Default, SecondsPath string
	ResultPath                                 *string
	Choices                                    []map[string]any
	Retry                                      []struct {
		ErrorEquals     []string
		IntervalSeconds int
		BackoffRate     float64
		MaxAttempts     int
		JitterStrategy  string
	}
	Catch []struct {
		ErrorEquals []string
		ResultPath  string
		Next        string
	}
	Parameters struct {
		TableName string
		Item      map[string]map[string]string
	}
}

// parseMachine decodes def and checks every transition names an existing state.
func parseMachine(t *testing.T, def string) asl {
	t.Helper()
	var m asl
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		t.Fatalf("definition is not JSON: %v\n%s", err, def)
	}
	if _, ok := m.States[m.StartAt]; !ok {
		t.Fatalf("StartAt %q is not a state", m.StartAt)
	}
	for name, st := range m.States {
		targets := []string{st.Next, st.Default}
		for _, c := range st.Catch {
			targets = append(targets, c.Next)
		}
		for _, c := range st.Choices {
			n, _ := c["Next"].(string)
			targets = append(targets, n)
		}
		for _, n := range targets {
			if _, ok := m.States[n]; n != "" && !ok {
				t.Errorf("state %s goes to %q, which does not exist", name, n)
			}
		}
		if st.Next == "" && st.Type != "Choice" && st.Type != "Fail" && st.Type != "Succeed" {
			t.Errorf("state %s (%s) has no Next", name, st.Type)
		}
	}
	return m
}

var (
	testRetry = Retry{IntervalSeconds: 3, BackoffRate: 1.5, MaxAttempts: 4}
	testARN   = func(n string) string { return "arn:aws:lambda:eu-west-1:123456789012:function:" + n }
)

// checkTask: a task retries transient failures with the configured policy and jitter,
// never a permanent one, and hands what is left to RecordError.
func checkTask(t *testing.T, m asl, name, arn string) {
	t.Helper()
	task := m.States[name]
	if task.Type != "Task" || task.Resource != arn {
		t.Fatalf("%s is %s on %q, want a Task on %s", name, task.Type, task.Resource, arn)
	}
	if len(task.Retry) != 2 || task.Retry[0].ErrorEquals[0] != PermanentErrorType || task.Retry[0].MaxAttempts != 0 {
		t.Errorf("%s does not refuse to retry %s: %+v", name, PermanentErrorType, task.Retry)
	} else if r := task.Retry[1]; r.ErrorEquals[0] != "States.ALL" || r.IntervalSeconds != testRetry.IntervalSeconds ||
		r.BackoffRate != testRetry.BackoffRate || r.MaxAttempts != testRetry.MaxAttempts || r.JitterStrategy != "FULL" {
		t.Errorf("%s transient retry %+v, want %+v with full jitter", name, r, testRetry)
	}
	if len(task.Catch) != 1 || task.Catch[0].Next != StateRecordError || task.Catch[0].ResultPath != "$.error" {
		t.Errorf("%s catch %+v, want everything to %s with the error at $.error", name, task.Catch, StateRecordError)
	}
}

// checkRecordError: the error is written to the error table with every attribute
// the redrive function and an operator read, and the execution then fails.
func checkRecordError(t *testing.T, m asl, idPrefix string) {
	t.Helper()
	rec := m.States[StateRecordError]
	if rec.Type != "Task" || rec.Resource != "arn:aws:states:::dynamodb:putItem" || rec.Parameters.TableName != "errors" {
		t.Fatalf("RecordError %+v, want a putItem on the error table", rec)
	}
	for _, a := range []string{ErrorAttrID, ErrorAttrKey, ErrorAttrStage, ErrorAttrError, ErrorAttrCause, ErrorAttrInput, ErrorAttrRecordedAt} {
		if _, ok := rec.Parameters.Item[a]; !ok {
			t.Errorf("RecordError item lacks %s: %v", a, rec.Parameters.Item)
		}
	}
	if got := rec.Parameters.Item[ErrorAttrStage]["S"]; got != StageCapture {
		t.Errorf("RecordError stage %q, want %q", got, StageCapture)
	}
	if id := rec.Parameters.Item[ErrorAttrID]["S.$"]; !strings.Contains(id, "'"+idPrefix) {
		t.Errorf("RecordError id %q, want it to start with %s", id, idPrefix)
	}
	if rec.ResultPath != nil {
		t.Errorf("RecordError keeps its result at %q; it should discard it", *rec.ResultPath)
	}
	if rec.Next != StateFailed || m.States[StateFailed].Type != "Fail" {
		t.Errorf("RecordError goes to %s (%s), want the Fail state", rec.Next, m.States[rec.Next].Type)
	}
}

func TestRecheckMachine(t *testing.T) {
	def, err := RecheckMachine{Recheck: testARN("recheck"), ErrorTable: "errors", Retry: testRetry}.Definition()
	if err != nil {
		t.Fatal(err)
	}
	m := parseMachine(t, def)
	if m.StartAt != StateWaitRecheck || m.States[StateWaitRecheck].Type != "Wait" || m.States[StateWaitRecheck].SecondsPath != "$."+RecheckWaitField {
		t.Errorf("re-check starts at %s %+v, want a Wait on $.%s", m.StartAt, m.States[m.StartAt], RecheckWaitField)
	}
	checkTask(t, m, StateRecheck, testARN("recheck"))
	again := m.States[StateAgain]
	if again.Type != "Choice" || len(again.Choices) != 1 || again.Choices[0]["Next"] != StateWaitRecheck || again.Default != StateDone {
		t.Errorf("Again %+v, want a loop back to %s while a wait is left, else %s", again, StateWaitRecheck, StateDone)
	}
	if !strings.Contains(fmt.Sprint(again.Choices[0]), "NumericGreaterThan:0") {
		t.Errorf("Again loops on %v, want waitSeconds > 0", again.Choices[0])
	}
	checkRecordError(t, m, StageCapture+"#thing#")
}

func TestSweepMachine(t *testing.T) {
	def, err := SweepMachine{Sweep: testARN("sweep"), ErrorTable: "errors", Retry: testRetry}.Definition()
	if err != nil {
		t.Fatal(err)
	}
	m := parseMachine(t, def)
	if m.StartAt != StateSweep {
		t.Errorf("sweep starts at %s", m.StartAt)
	}
	checkTask(t, m, StateSweep, testARN("sweep"))
	more := m.States[StateMore]
	want := []any{
		map[string]any{"Variable": "$." + SweepDoneField, "IsPresent": true},
		map[string]any{"Variable": "$." + SweepDoneField, "BooleanEquals": false},
	}
	if more.Type != "Choice" || len(more.Choices) != 1 || more.Choices[0]["Next"] != StateSweep ||
		!reflect.DeepEqual(more.Choices[0]["And"], want) || more.Default != StateDone {
		t.Errorf("More %+v, want a loop to %s while $.%s is present and false", more, StateSweep, SweepDoneField)
	}
	checkRecordError(t, m, StageCapture+"#sweep#")
}

func TestMachinesRefuseBadInput(t *testing.T) {
	type definer interface{ Definition() (string, error) }
	for _, tc := range []struct {
		name string
		m    definer
		want string
	}{
		{"recheck not an ARN", RecheckMachine{Recheck: "recheck", ErrorTable: "errors", Retry: DefaultRetry}, "re-check function ARN"},
		{"recheck not Lambda", RecheckMachine{Recheck: "arn:aws:sqs:eu-west-1:123456789012:q", ErrorTable: "errors", Retry: DefaultRetry}, "not a Lambda function ARN"},
		{"recheck empty ARN", RecheckMachine{ErrorTable: "errors", Retry: DefaultRetry}, "re-check function ARN"},
		{"recheck no error table", RecheckMachine{Recheck: testARN("r"), Retry: DefaultRetry}, "error table name is empty"},
		{"recheck slow backoff", RecheckMachine{Recheck: testARN("r"), ErrorTable: "errors", Retry: Retry{IntervalSeconds: 1, BackoffRate: 0.5}}, "retry policy"},
		{"sweep not an ARN", SweepMachine{Sweep: "sweep", ErrorTable: "errors", Retry: DefaultRetry}, "sweep function ARN"},
		{"sweep not Lambda", SweepMachine{Sweep: "arn:aws:states:eu-west-1:123456789012:stateMachine:x", ErrorTable: "errors", Retry: DefaultRetry}, "not a Lambda function ARN"},
		{"sweep no error table", SweepMachine{Sweep: testARN("s"), Retry: DefaultRetry}, "error table name is empty"},
		{"sweep zero interval", SweepMachine{Sweep: testARN("s"), ErrorTable: "errors", Retry: Retry{BackoffRate: 2, MaxAttempts: 3}}, "retry policy"},
		{"sweep negative attempts", SweepMachine{Sweep: testARN("s"), ErrorTable: "errors", Retry: Retry{IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: -1}}, "retry policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, err := tc.m.Definition()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v (definition %d bytes), want %q", err, len(def), tc.want)
			}
		})
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
