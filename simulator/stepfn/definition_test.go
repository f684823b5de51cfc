package stepfn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// TestProjectDefinitionsAccepted compiles the spec's two state machines and checks
// that each state compiled to what the spec meant: the Lambda task with its two
// retriers (PermanentError never retried, everything else with full jitter) and its
// catcher, the error record as a DynamoDB integration whose result is discarded.
func TestProjectDefinitionsAccepted(t *testing.T) {
	tests := []struct {
		name    string
		def     string
		startAt string
		task    string
		states  []string
	}{
		{"recheck", recheckDefinition, spec.StateWaitRecheck, spec.StateRecheck,
			[]string{spec.StateWaitRecheck, spec.StateRecheck, spec.StateAgain, spec.StateRecordError, spec.StateFailed, spec.StateDone}},
		{"sweep", sweepDefinition, spec.StateSweep, spec.StateSweep,
			[]string{spec.StateSweep, spec.StateMore, spec.StateRecordError, spec.StateFailed, spec.StateDone}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, err := parseDefinition(tc.def)
			if err != nil {
				t.Fatal(err)
			}
			if def.startAt != tc.startAt || len(def.states) != len(tc.states) {
				t.Fatalf("startAt %q, %d states; want %q, %d", def.startAt, len(def.states), tc.startAt, len(tc.states))
			}
			for _, n := range tc.states {
				if def.states[n] == nil {
					t.Fatalf("state %q missing", n)
				}
			}
			task := def.states[tc.task]
			if !task.lambda || len(task.retry) != 2 || len(task.catch) != 1 || task.resultPath.null || task.resultPath.p.raw != "$" {
				t.Fatalf("%s compiled wrong: %+v", tc.task, task)
			}
			if r := task.retry[0]; !slices.Equal(r.errors, []string{spec.PermanentErrorType}) || r.maxAttempts != 0 || r.interval != 1 || r.backoff != 2 || r.jitterFull {
				t.Errorf("PermanentError retrier %+v: want MaxAttempts 0 and defaults interval 1, backoff 2, no jitter", r)
			}
			if r := task.retry[1]; !slices.Equal(r.errors, []string{"States.ALL"}) || r.maxAttempts != 3 || r.interval != 1 || r.backoff != 2 || !r.jitterFull {
				t.Errorf("States.ALL retrier %+v", r)
			}
			if c := task.catch[0]; c.next != spec.StateRecordError || !slices.Equal(c.errors, []string{"States.ALL"}) {
				t.Errorf("catcher %+v", c)
			}
			if rec := def.states[spec.StateRecordError]; rec.resourceType != "dynamodb" || rec.resourceName != "putItem" || !rec.resultPath.null || rec.next != spec.StateFailed {
				t.Errorf("RecordError compiled wrong: %+v", rec)
			}
			if f := def.states[spec.StateFailed]; f.typ != stFail || f.failError != spec.ErrorCapture {
				t.Errorf("Failed compiled wrong: %+v", f)
			}
			if d := def.states[spec.StateDone]; d.typ != stSucceed {
				t.Errorf("Done compiled wrong: %+v", d)
			}
			// The loop: the task's Next is a Choice whose one rule goes back (to the
			// wait or to the task) and whose default ends the execution.
			loop := def.states[task.next]
			if loop == nil || loop.typ != stChoice || len(loop.choices) != 1 || loop.choices[0].next != tc.startAt || loop.defaultNext != spec.StateDone {
				t.Errorf("%s's Next %q compiled wrong: %+v", tc.task, task.next, loop)
			}
			if w := def.states[spec.StateWaitRecheck]; tc.name == "recheck" && (w.typ != stWait || w.waitSecondsPath == nil ||
				w.waitSecondsPath.raw != "$."+spec.RecheckWaitField || w.next != spec.StateRecheck) {
				t.Errorf("WaitRecheck compiled wrong: %+v", w)
			}
		})
	}
}

// minimal wraps one state named S (the start state) plus a Succeed state
// "End" that it may target.
func minimal(state string) string {
	return `{"StartAt":"S","States":{"S":` + state + `,"End":{"Type":"Succeed"}}}`
}

func TestDefinitionRefused(t *testing.T) {
	task := func(extra string) string {
		return minimal(`{"Type":"Task","Resource":"` + fnARN + `","Next":"End"` + extra + `}`)
	}
	pass := func(extra string) string { return minimal(`{"Type":"Pass","Next":"End"` + extra + `}`) }
	choice := func(rule string) string {
		return minimal(`{"Type":"Choice","Choices":[` + rule + `],"Default":"End"}`)
	}
	tests := []struct {
		name, def, want string
	}{
		{"not JSON", `{"StartAt":`, "not valid JSON"},
		{"Map state", minimal(`{"Type":"Map","Next":"End"}`), `State "S": field "Type": state type "Map" is not supported`},
		{"Parallel state", minimal(`{"Type":"Parallel","Branches":[],"End":true}`), `state type "Parallel" is not supported`},
		{"JSONata top level", `{"QueryLanguage":"JSONata","StartAt":"End","States":{"End":{"Type":"Succeed"}}}`, "JSONata is not supported"},
		{"JSONata in state", pass(`,"QueryLanguage":"JSONata"`), `State "S": field "QueryLanguage": JSONata is not supported`},
		{"top-level TimeoutSeconds", `{"TimeoutSeconds":5,"StartAt":"End","States":{"End":{"Type":"Succeed"}}}`, `top-level field "TimeoutSeconds" is not supported`},
		{"unknown task field", task(`,"HeartbeatSeconds":10`), `State "S": field "HeartbeatSeconds" is not supported by the simulator for Task states`},
		{"Arguments field", task(`,"Arguments":{}`), `field "Arguments" is not supported`},
		{"Fail ErrorPath", minimal(`{"Type":"Fail","ErrorPath":"$.e"}`), `field "ErrorPath" is not supported by the simulator for Fail states`},
		{"Result on Task", task(`,"Result":{}`), `field "Result" is not supported by the simulator for Task states`},
		{"unsupported intrinsic", pass(`,"Parameters":{"n.$":"States.ArrayLength($.a)"}`), `intrinsic function "States.ArrayLength" is not supported`},
		{"unsupported path syntax", pass(`,"Parameters":{"n.$":"$.a[0]"}`), `JSONPath "$.a[0]" is not supported`},
		{"recursive descent", pass(`,"InputPath":"$..a"`), `field "InputPath": JSONPath "$..a" is not supported`},
		{"unsupported context path", pass(`,"Parameters":{"t.$":"$$.Execution.StartTime"}`), `context path "$$.Execution.StartTime" is not supported`},
		{"context ResultPath", pass(`,"ResultPath":"$$.Execution.Name"`), `field "ResultPath": context path "$$.Execution.Name" is not allowed here`},
		{".$ value not a path", pass(`,"Parameters":{"n.$":"hello"}`), `Parameters/n.$: "hello" is neither a path nor an intrinsic`},
		{".$ value not a string", pass(`,"Parameters":{"n.$":3}`), `the value of a field ending in .$ must be a string`},
		{"duplicate template key", pass(`,"Parameters":{"n.$":"$.a","n":1}`), `both produce "n"`},
		{"format placeholder count", pass(`,"Parameters":{"n.$":"States.Format('{} {}', $.a)"}`), "template has 2 placeholders but 1 arguments"},
		{"StartAt missing", `{"StartAt":"Nope","States":{"End":{"Type":"Succeed"}}}`, `StartAt "Nope" does not name a state`},
		{"Next missing", minimal(`{"Type":"Pass","Next":"Nowhere"}`), `State "S": field "Next" "Nowhere" does not name a state`},
		{"Catch Next missing", task(`,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Nowhere"}]`), `Catch/0/Next "Nowhere" does not name a state`},
		{"Default missing", minimal(`{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"End"}],"Default":"Nowhere"}`), `field "Default" "Nowhere" does not name a state`},
		{"unreachable", `{"StartAt":"End","States":{"End":{"Type":"Succeed"},"Orphan":{"Type":"Succeed"}}}`, `State "Orphan": state is not reachable`},
		{"no Next or End", minimal(`{"Type":"Pass"}`), `one of "Next" or "End" is required`},
		{"Next and End", minimal(`{"Type":"Pass","Next":"End","End":true}`), `mutually exclusive`},
		{"no terminal state", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}}`, "no terminal state"},
		{"States.ALL not alone", task(`,"Retry":[{"ErrorEquals":["States.ALL","Other"]}]`), "Retry/0/ErrorEquals: States.ALL must appear alone"},
		{"States.ALL retrier not last", task(`,"Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}]`), "Retry/0/ErrorEquals: States.ALL must appear in the last element"},
		{"States.ALL catcher not last", task(`,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"End"},{"ErrorEquals":["X"],"Next":"End"}]`), "Catch/0/ErrorEquals: States.ALL must appear in the last element"},
		{"unknown States error", task(`,"Retry":[{"ErrorEquals":["States.Timout"]}]`), `"States.Timout" is not a known States.* error name`},
		{"empty ErrorEquals", task(`,"Retry":[{"ErrorEquals":[]}]`), "Retry/0/ErrorEquals: required non-empty array"},
		{"BackoffRate below 1", task(`,"Retry":[{"ErrorEquals":["X"],"BackoffRate":0.5}]`), "BackoffRate: must be a number >= 1.0"},
		{"negative MaxAttempts", task(`,"Retry":[{"ErrorEquals":["X"],"MaxAttempts":-1}]`), "MaxAttempts: must be a non-negative integer"},
		{"zero IntervalSeconds", task(`,"Retry":[{"ErrorEquals":["X"],"IntervalSeconds":0}]`), "IntervalSeconds: must be a positive integer"},
		{"fractional IntervalSeconds", task(`,"Retry":[{"ErrorEquals":["X"],"IntervalSeconds":1.5}]`), "IntervalSeconds: must be a positive integer"},
		{"bad JitterStrategy", task(`,"Retry":[{"ErrorEquals":["X"],"JitterStrategy":"HALF"}]`), `JitterStrategy: must be "FULL" or "NONE"`},
		{"unknown retrier field", task(`,"Retry":[{"ErrorEquals":["X"],"Backoff":2}]`), `Retry/0: field "Backoff" is not supported in a retrier`},
		{"bad TimeoutSeconds", task(`,"TimeoutSeconds":0`), `field "TimeoutSeconds" must be a positive integer`},
		{"sqs resource", minimal(`{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Next":"End"}`), `"arn:aws:states:::sqs:sendMessage" is not supported`},
		{"sync resource", minimal(`{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem.sync","Next":"End"}`), "is not supported by the simulator"},
		{"no Resource", minimal(`{"Type":"Task","Next":"End"}`), `field "Resource" is required`},
		{"two wait fields", minimal(`{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","Next":"End"}`), "exactly one of"},
		{"bad Timestamp", minimal(`{"Type":"Wait","Timestamp":"yesterday","Next":"End"}`), `field "Timestamp" must be an RFC 3339 timestamp`},
		{"unsupported comparator", choice(`{"Variable":"$.a","StringLessThan":"b","Next":"End"}`), `Choices/0/StringLessThan: choice operator "StringLessThan" is not supported`},
		{"timestamp comparator", choice(`{"Variable":"$.a","TimestampEquals":"2020-01-01T00:00:00Z","Next":"End"}`), `choice operator "TimestampEquals" is not supported`},
		{"JSONata Condition", choice(`{"Condition":"{% true %}","Next":"End"}`), `choice operator "Condition" is not supported`},
		{"two comparators", choice(`{"Variable":"$.a","StringEquals":"x","IsPresent":true,"Next":"End"}`), "exactly one operator is allowed"},
		{"nested Next", choice(`{"Not":{"Variable":"$.a","IsPresent":true,"Next":"End"},"Next":"End"}`), "nested choice rules must not have Next"},
		{"rule without Next", choice(`{"Variable":"$.a","IsPresent":true}`), "top-level choice rule is missing Next"},
		{"wrong comparator type", choice(`{"Variable":"$.a","NumericEquals":"1","Next":"End"}`), "NumericEquals: must be a number"},
		{"bad glob escape", choice(`{"Variable":"$.a","StringMatches":"a\\b","Next":"End"}`), "invalid escape in pattern"},
		{"empty Choices", minimal(`{"Type":"Choice","Choices":[],"Default":"End"}`), `field "Choices" is required`},
		{"Choice with Next", minimal(`{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"End"}],"Next":"End"}`), `field "Next" is not supported by the simulator for Choice states`},
	}
	s, _ := newTestService(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
				Name: aws.String("refused"), Definition: aws.String(tc.def), RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
			})
			var inv *types.InvalidDefinition
			if !errors.As(err, &inv) {
				t.Fatalf("got %v, want *types.InvalidDefinition", err)
			}
			if !strings.Contains(inv.ErrorMessage(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", inv.ErrorMessage(), tc.want)
			}
		})
	}
}

func TestDefinitionReportsEveryProblem(t *testing.T) {
	_, err := parseDefinition(`{"StartAt":"A","States":{"A":{"Type":"Map","End":true},"B":{"Type":"Pass","Bogus":1,"End":true}}}`)
	if err == nil {
		t.Fatal("definition accepted")
	}
	for _, want := range []string{`State "A"`, `State "B": field "Bogus"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
}

func TestDefinitionAcceptsSupportedForms(t *testing.T) {
	def := `{"Version":"1.0","QueryLanguage":"JSONPath","StartAt":"P","States":{
	  "P":{"Type":"Pass","Comment":"c","InputPath":"$['a b']","Parameters":{"x.$":"States.Format('{} \\{\\}', States.JsonToString($.k))","arr":[{"y.$":"$.y"}]},"ResultPath":"$.r","OutputPath":"$.r","Next":"T"},
	  "T":{"Type":"Task","Resource":"` + fnARN + `:live","TimeoutSeconds":30,"ResultSelector":{"v.$":"$.v"},
	       "Retry":[{"ErrorEquals":["States.Timeout","States.TaskFailed"],"IntervalSeconds":2,"BackoffRate":1.5,"MaxAttempts":5,"MaxDelaySeconds":10,"JitterStrategy":"FULL"}],
	       "Catch":[{"ErrorEquals":["States.ALL"],"Next":"F","ResultPath":null}],"Next":"C"},
	  "C":{"Type":"Choice","Choices":[{"Or":[{"Not":{"Variable":"$.a","IsNull":true}},{"Variable":"$$.State.Name","StringMatches":"C*"}],"Next":"W"}],"Default":"F"},
	  "W":{"Type":"Wait","TimestampPath":"$.when","Next":"W2"},
	  "W2":{"Type":"Wait","Timestamp":"2030-01-01T00:00:00Z","End":true},
	  "F":{"Type":"Fail"}}}`
	if _, err := parseDefinition(def); err != nil {
		t.Fatal(err)
	}
}

func TestRetrierDelay(t *testing.T) {
	tests := []struct {
		name string
		r    retrier
		want []time.Duration
	}{
		{"defaults", retrier{interval: 1, backoff: 2}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"rate 1.5", retrier{interval: 2, backoff: 1.5}, []time.Duration{2 * time.Second, 3 * time.Second, 4500 * time.Millisecond}},
		{"capped", retrier{interval: 3, backoff: 3, maxDelay: 10}, []time.Duration{3 * time.Second, 9 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"constant", retrier{interval: 5, backoff: 1}, []time.Duration{5 * time.Second, 5 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for n, want := range tc.want {
				if got := tc.r.delay(n); got != want {
					t.Errorf("delay(%d) = %v, want %v", n, got, want)
				}
			}
		})
	}
}
