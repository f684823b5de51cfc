package stepfn

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// recheckInput is what the capture function starts a created thing's re-checks with
// (capture.RecheckInput).
const recheckInput = `{"thingName":"dev-1","attempt":0,"waitSeconds":5}`

// project is one of the spec's machines with the input its first run gets and a
// successful answer of its Lambda that ends the loop.
type project struct {
	name, def, fn, input, done string
	// waits are the Wait state's delays before the first task attempt.
	waits []time.Duration
}

var (
	recheckProject = project{"recheck", recheckDefinition, recheckARN, recheckInput,
		`{"thingName":"dev-1","attempt":1,"waitSeconds":0}`, []time.Duration{5 * time.Second}}
	sweepProject = project{"sweep", sweepDefinition, sweepARN, `{}`,
		`{"stage":"shadows","done":true,"visited":3,"written":0,"failed":0}`, nil}
	projects = []project{recheckProject, sweepProject}
)

// answers returns a task function that answers the nth call with outputs[n] (the last
// one again once they run out).
func answers(outputs ...string) func(context.Context, string, int, map[string]any) ([]byte, error) {
	return func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
		return []byte(outputs[min(n, len(outputs)-1)]), nil
	}
}

// jsonObject decodes a JSON object for comparisons, or fails the test.
func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return m
}

// TestRecheckLoop runs the re-check machine as the capture function drives it: each
// pass returns the next wait, and the loop ends when a pass returns none, or a wait
// that is not a positive number.
func TestRecheckLoop(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		outputs []string // the recheck Lambda's answers, pass by pass
		delays  []time.Duration
		status  types.ExecutionStatus
		errName string
	}{
		{"one pass", recheckInput, []string{`{"thingName":"dev-1","attempt":1,"waitSeconds":0}`},
			[]time.Duration{5 * time.Second}, types.ExecutionStatusSucceeded, ""},
		{"doubling waits until complete", recheckInput, []string{
			`{"thingName":"dev-1","attempt":1,"waitSeconds":10}`,
			`{"thingName":"dev-1","attempt":2,"waitSeconds":20}`,
			`{"thingName":"dev-1","attempt":3,"waitSeconds":0}`,
		}, []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}, types.ExecutionStatusSucceeded, ""},
		{"no waitSeconds ends the loop", recheckInput, []string{`{"thingName":"dev-1","attempt":1}`},
			[]time.Duration{5 * time.Second}, types.ExecutionStatusSucceeded, ""},
		{"negative wait ends the loop", recheckInput, []string{`{"thingName":"dev-1","attempt":1,"waitSeconds":-4}`},
			[]time.Duration{5 * time.Second}, types.ExecutionStatusSucceeded, ""},
		{"string wait ends the loop", recheckInput, []string{`{"thingName":"dev-1","attempt":1,"waitSeconds":"10"}`},
			[]time.Duration{5 * time.Second}, types.ExecutionStatusSucceeded, ""},
		{"zero first wait still passes once", `{"thingName":"dev-1","attempt":0,"waitSeconds":0}`,
			[]string{`{"thingName":"dev-1","attempt":1,"waitSeconds":0}`}, []time.Duration{0}, types.ExecutionStatusSucceeded, ""},
		{"no first wait is a runtime error", `{"thingName":"dev-1"}`, nil, nil, types.ExecutionStatusFailed, "States.Runtime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{}
			if len(tc.outputs) > 0 {
				inv.fn = answers(tc.outputs...)
			}
			s, rec := newTestService(t, inv)
			r := runDef(t, s, recheckDefinition, tc.input)
			wantStatus(t, r, tc.status, tc.errName)
			if got := rec.get(); !slices.Equal(got, tc.delays) {
				t.Fatalf("delays %v, want %v", got, tc.delays)
			}
			calls := inv.callsTo(recheckARN)
			if len(calls) != len(tc.outputs) || len(inv.calls) != len(calls) {
				t.Fatalf("%d recheck calls of %d task calls, want %d", len(calls), len(inv.calls), len(tc.outputs))
			}
			// ResultPath "$": each pass gets what the previous one returned.
			prev := tc.input
			for i, c := range calls {
				if want := jsonObject(t, prev); !reflect.DeepEqual(c.input, want) {
					t.Fatalf("pass %d input %v, want %v", i, c.input, want)
				}
				prev = tc.outputs[i]
			}
			if tc.status == types.ExecutionStatusSucceeded {
				if r.count(types.HistoryEventTypeWaitStateEntered) != len(tc.delays) || r.count(types.HistoryEventTypeTaskStateEntered) != len(tc.outputs) ||
					r.count(types.HistoryEventTypeChoiceStateEntered) != len(tc.outputs) {
					t.Fatalf("history %v", r.types())
				}
				if got, want := r.output(t), jsonObject(t, prev); !reflect.DeepEqual(got, want) {
					t.Fatalf("output %v, want the last pass's %v", got, want)
				}
			}
		})
	}
}

// TestRecheckHistory pins the event sequence of one re-check pass.
func TestRecheckHistory(t *testing.T) {
	inv := &fakeInvoker{fn: answers(recheckProject.done)}
	s, _ := newTestService(t, inv)
	r := runDef(t, s, recheckDefinition, recheckInput)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	want := []types.HistoryEventType{
		"ExecutionStarted", "WaitStateEntered", "WaitStateExited",
		"TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
		"ChoiceStateEntered", "ChoiceStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded",
	}
	if got := r.types(); !reflect.DeepEqual(got, want) {
		t.Fatalf("history\n got %v\nwant %v", got, want)
	}
	for i, e := range r.events {
		if e.Id != int64(i+1) || e.PreviousEventId != int64(i) || e.Timestamp == nil {
			t.Fatalf("event %d: id %d prev %d", i, e.Id, e.PreviousEventId)
		}
	}
	if d := r.events[4].LambdaFunctionScheduledEventDetails; d == nil || aws.ToString(d.Resource) != recheckARN || !strings.Contains(aws.ToString(d.Input), `"thingName":"dev-1"`) {
		t.Fatalf("scheduled details %+v", d)
	}
	for _, e := range r.events {
		if d := e.StateEnteredEventDetails; d != nil && aws.ToString(d.Name) == spec.StateWaitRecheck && !reflect.DeepEqual(jsonObject(t, aws.ToString(d.Input)), jsonObject(t, recheckInput)) {
			t.Fatalf("WaitRecheck entered with %q", aws.ToString(d.Input))
		}
	}
}

// TestSweepLoop runs the sweep machine page by page until the sweep reports done.
func TestSweepLoop(t *testing.T) {
	tests := []struct {
		name    string
		outputs []string
		status  types.ExecutionStatus
		errName string
	}{
		{"pages until done", []string{
			`{"stage":"things","token":"p2","done":false,"visited":100,"written":2,"failed":0}`,
			`{"stage":"shadows","done":false,"visited":200,"written":2,"failed":0}`,
			`{"stage":"shadows","done":true,"visited":250,"written":3,"failed":0}`,
		}, types.ExecutionStatusSucceeded, ""},
		{"done at once", []string{`{"stage":"shadows","done":true,"visited":0,"written":0,"failed":0}`}, types.ExecutionStatusSucceeded, ""},
		{"non-boolean done ends the loop", []string{`{"stage":"things","done":"false"}`}, types.ExecutionStatusSucceeded, ""},
		// The Choice guards done with IsPresent: a page result without it ends the loop
		// rather than failing in a Choice, which has no Catch.
		{"missing done ends the loop", []string{`{"stage":"things","token":"p2"}`}, types.ExecutionStatusSucceeded, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{fn: answers(tc.outputs...)}
			s, rec := newTestService(t, inv)
			r := runDef(t, s, sweepDefinition, `{}`)
			wantStatus(t, r, tc.status, tc.errName)
			if d := rec.get(); len(d) != 0 {
				t.Fatalf("delays %v: the sweep never waits", d)
			}
			calls := inv.callsTo(sweepARN)
			if len(calls) != len(tc.outputs) || len(inv.calls) != len(calls) {
				t.Fatalf("%d sweep calls of %d task calls, want %d", len(calls), len(inv.calls), len(tc.outputs))
			}
			prev := `{}`
			for i, c := range calls {
				if want := jsonObject(t, prev); !reflect.DeepEqual(c.input, want) {
					t.Fatalf("page %d input %v, want %v", i, c.input, want)
				}
				prev = tc.outputs[i]
			}
			if tc.status == types.ExecutionStatusSucceeded {
				if got, want := r.output(t), jsonObject(t, prev); !reflect.DeepEqual(got, want) {
					t.Fatalf("output %v, want the last page's %v", got, want)
				}
			}
		})
	}
}

// TestProjectRetryThenSuccess: a throttled task is retried with full jitter and the
// loop goes on as if nothing happened.
func TestProjectRetryThenSuccess(t *testing.T) {
	for _, p := range projects {
		t.Run(p.name, func(t *testing.T) {
			inv := &fakeInvoker{fn: func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
				if n < 2 {
					return nil, NewTaskError("ThrottlingException", "slow down")
				}
				return []byte(p.done), nil
			}}
			s, rec := newTestService(t, inv)
			s.jitter = func() float64 { return 0.5 }
			r := runDef(t, s, p.def, p.input)
			wantStatus(t, r, types.ExecutionStatusSucceeded, "")
			if n := len(inv.callsTo(p.fn)); n != 3 {
				t.Fatalf("%d attempts, want 3", n)
			}
			// Half of 1 s and of 2 s: the jitter is applied, to IntervalSeconds x BackoffRate^n.
			want := append(slices.Clone(p.waits), 500*time.Millisecond, time.Second)
			if got := rec.get(); !slices.Equal(got, want) {
				t.Fatalf("delays %v, want %v", got, want)
			}
			if r.count(types.HistoryEventTypeLambdaFunctionFailed) != 2 || r.count(types.HistoryEventTypeLambdaFunctionScheduled) != 3 || r.count(types.HistoryEventTypeTaskStateEntered) != 1 {
				t.Fatalf("history %v", r.types())
			}
			for _, e := range r.events {
				if d := e.LambdaFunctionFailedEventDetails; d != nil && (aws.ToString(d.Error) != "ThrottlingException" || aws.ToString(d.Cause) != "slow down") {
					t.Fatalf("failed details %+v", d)
				}
			}
			if got, want := r.output(t), jsonObject(t, p.done); !reflect.DeepEqual(got, want) {
				t.Fatalf("output %v, want %v", got, want)
			}
		})
	}
}

// TestProjectFailureRecorded: a failure the retries do not fix is caught, written to
// the error table with the ids the spec's States.Format builds, and fails the
// execution with spec.ErrorCapture.
func TestProjectFailureRecorded(t *testing.T) {
	tests := []struct {
		p         project
		execName  string
		errName   string
		attempts  int
		retryWait []time.Duration
		id, key   string
	}{
		{recheckProject, "recheck-ev-1", "Transient", 4, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			"capture#thing#dev-1", "thing#dev-1"},
		{sweepProject, "sweep-20250304", "Transient", 4, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			"capture#sweep#sweep-20250304", ""},
		{recheckProject, "recheck-ev-2", spec.PermanentErrorType, 1, nil, "capture#thing#dev-1", "thing#dev-1"},
		{sweepProject, "sweep-perm", spec.PermanentErrorType, 1, nil, "capture#sweep#sweep-perm", ""},
	}
	for _, tc := range tests {
		t.Run(tc.p.name+" "+tc.errName, func(t *testing.T) {
			inv := &fakeInvoker{fn: func(_ context.Context, res string, _ int, _ map[string]any) ([]byte, error) {
				if res == putItem {
					return []byte(`{}`), nil
				}
				return nil, NewTaskError(tc.errName, "still broken")
			}}
			s, rec := newTestService(t, inv)
			s.jitter = func() float64 { return 0.5 }
			r := run(t, s, createSM(t, s, tc.p.def), tc.execName, tc.p.input)
			wantStatus(t, r, types.ExecutionStatusFailed, spec.ErrorCapture)
			if c := aws.ToString(r.desc.Cause); !strings.Contains(c, "error table") {
				t.Fatalf("cause %q", c)
			}
			if n := len(inv.callsTo(tc.p.fn)); n != tc.attempts {
				t.Fatalf("%d attempts, want %d", n, tc.attempts)
			}
			if got, want := rec.get(), append(slices.Clone(tc.p.waits), tc.retryWait...); !slices.Equal(got, want) {
				t.Fatalf("delays %v, want %v", got, want)
			}
			puts := inv.callsTo(putItem)
			if len(puts) != 1 {
				t.Fatalf("putItem calls %d", len(puts))
			}
			if puts[0].input["TableName"] != errorTable {
				t.Fatalf("TableName %v", puts[0].input["TableName"])
			}
			item := puts[0].input["Item"].(map[string]any)
			got := map[string]string{}
			for k, v := range item {
				got[k] = v.(map[string]any)["S"].(string)
			}
			// The input is the state the task was entered with, plus the caught error.
			in := jsonObject(t, got[spec.ErrorAttrInput])
			caught := in["error"]
			delete(in, "error")
			if wantIn := jsonObject(t, tc.p.input); !reflect.DeepEqual(caught, map[string]any{"Error": tc.errName, "Cause": "still broken"}) || !reflect.DeepEqual(in, wantIn) {
				t.Fatalf("recorded input %v with error %v, want %v plus the error", in, caught, wantIn)
			}
			delete(got, spec.ErrorAttrInput)
			want := map[string]string{
				spec.ErrorAttrID: tc.id, spec.ErrorAttrKey: tc.key, spec.ErrorAttrStage: spec.StageCapture,
				spec.ErrorAttrError: tc.errName, spec.ErrorAttrCause: "still broken", spec.ErrorAttrRecordedAt: "2025-03-04T05:06:07.890Z",
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("error item\n got %v\nwant %v", got, want)
			}
			// putItem is a service integration: Task* events with resource type.
			var sched *types.TaskScheduledEventDetails
			for _, e := range r.events {
				if e.TaskScheduledEventDetails != nil {
					sched = e.TaskScheduledEventDetails
				}
			}
			if sched == nil || aws.ToString(sched.ResourceType) != "dynamodb" || aws.ToString(sched.Resource) != "putItem" || aws.ToString(sched.Region) != "eu-west-1" {
				t.Fatalf("TaskScheduled details %+v", sched)
			}
			tail := r.types()[len(r.events)-3:]
			if want := []types.HistoryEventType{"TaskStateExited", "FailStateEntered", "ExecutionFailed"}; !reflect.DeepEqual(tail, want) {
				t.Fatalf("history tail %v", tail)
			}
		})
	}
}

// TestProjectRecordErrorFailure: RecordError retries a refused write five times and has
// no Catch, so an error table that keeps refusing fails the execution with DynamoDB's
// error, not the spec's.
func TestProjectRecordErrorFailure(t *testing.T) {
	for _, p := range projects {
		t.Run(p.name, func(t *testing.T) {
			inv := &fakeInvoker{fn: func(_ context.Context, res string, _ int, _ map[string]any) ([]byte, error) {
				if res == putItem {
					return nil, NewTaskError("DynamoDB.ProvisionedThroughputExceededException", "slow down")
				}
				return nil, NewTaskError(spec.PermanentErrorType, "bad input")
			}}
			s, _ := newTestService(t, inv)
			r := runDef(t, s, p.def, p.input)
			wantStatus(t, r, types.ExecutionStatusFailed, "DynamoDB.ProvisionedThroughputExceededException")
			if n := len(inv.callsTo(putItem)); n != 6 {
				t.Fatalf("putItem calls %d, want 6 (one and five retries)", n)
			}
		})
	}
}

func TestChoiceMissingPathIsRuntimeError(t *testing.T) {
	// Unguarded comparison of a missing path: States.Runtime, not caught.
	def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.result.recheckSeconds","NumericGreaterThan":0,"Next":"D"}],"Default":"D"},"D":{"Type":"Succeed"}}}`
	s, _ := newTestService(t, nil)
	r := runDef(t, s, def, `{}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "States.Runtime")
	if c := aws.ToString(r.desc.Cause); !strings.Contains(c, "An error occurred while executing the state 'C' (entered at the event id #2)") || !strings.Contains(c, "$.result.recheckSeconds") {
		t.Fatalf("cause %q", c)
	}
}

func TestNoChoiceMatched(t *testing.T) {
	def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x","Next":"D"}]},"D":{"Type":"Succeed"}}}`
	s, _ := newTestService(t, nil)
	r := runDef(t, s, def, `{"a":"y"}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "States.NoChoiceMatched")
}

func TestTaskErrorMapping(t *testing.T) {
	def := minimal(`{"Type":"Task","Resource":"` + fnARN + `","Next":"End"}`)
	tests := []struct {
		name      string
		err       error
		out       string
		wantError string
		wantCause string
	}{
		{"TaskError", NewTaskError("Custom.Error", "why"), "", "Custom.Error", "why"},
		{"wrapped TaskError", errors.Join(errors.New("ctx"), NewTaskError("Wrapped", "c")), "", "Wrapped", "c"},
		{"plain error", errors.New("connection refused"), "", "States.TaskFailed", "connection refused"},
		{"empty error name", NewTaskError("", "no name"), "", "States.TaskFailed", "no name: "},
		{"invalid JSON output", nil, "not json", "States.Runtime", "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{fn: func(context.Context, string, int, map[string]any) ([]byte, error) {
				if tc.err != nil {
					return nil, tc.err
				}
				return []byte(tc.out), nil
			}}
			s, _ := newTestService(t, inv)
			r := runDef(t, s, def, `{}`)
			wantStatus(t, r, types.ExecutionStatusFailed, tc.wantError)
			if !strings.Contains(aws.ToString(r.desc.Cause), strings.TrimSuffix(tc.wantCause, ": ")) {
				t.Fatalf("cause %q, want %q", aws.ToString(r.desc.Cause), tc.wantCause)
			}
		})
	}
}

func TestRetryMatching(t *testing.T) {
	// Which retrier applies: the first that matches, even if exhausted;
	// States.TaskFailed does not match States.Timeout; each retrier has its
	// own counter.
	tests := []struct {
		name     string
		retry    string
		errs     []string // error names returned by successive attempts; then success
		attempts int
		delays   []time.Duration
		status   types.ExecutionStatus
	}{
		{"first match wins even when exhausted", `[{"ErrorEquals":["A"],"MaxAttempts":1},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}]`,
			[]string{"A", "A", "A"}, 2, []time.Duration{time.Second}, types.ExecutionStatusFailed},
		{"independent counters", `[{"ErrorEquals":["A"],"MaxAttempts":1,"IntervalSeconds":3},{"ErrorEquals":["B"],"MaxAttempts":1,"IntervalSeconds":7}]`,
			[]string{"A", "B"}, 3, []time.Duration{3 * time.Second, 7 * time.Second}, types.ExecutionStatusSucceeded},
		{"TaskFailed matches custom errors", `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":2}]`,
			[]string{"Custom", "Other"}, 3, []time.Duration{time.Second, 2 * time.Second}, types.ExecutionStatusSucceeded},
		{"TaskFailed does not match Timeout", `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":2}]`,
			[]string{"States.Timeout"}, 1, nil, types.ExecutionStatusFailed},
		{"ALL does not match Runtime", `[{"ErrorEquals":["States.ALL"]}]`,
			[]string{"States.Runtime"}, 1, nil, types.ExecutionStatusFailed},
		{"explicit Runtime never matches", `[{"ErrorEquals":["States.Runtime"]}]`,
			[]string{"States.Runtime"}, 1, nil, types.ExecutionStatusFailed},
		{"MaxDelaySeconds caps", `[{"ErrorEquals":["X"],"IntervalSeconds":4,"BackoffRate":3,"MaxDelaySeconds":20,"MaxAttempts":4}]`,
			[]string{"X", "X", "X", "X"}, 5, []time.Duration{4 * time.Second, 12 * time.Second, 20 * time.Second, 20 * time.Second}, types.ExecutionStatusSucceeded},
		{"fractional backoff", `[{"ErrorEquals":["X"],"IntervalSeconds":2,"BackoffRate":1.5}]`,
			[]string{"X", "X", "X", "X"}, 4, []time.Duration{2 * time.Second, 3 * time.Second, 4500 * time.Millisecond}, types.ExecutionStatusFailed},
		{"no match", `[{"ErrorEquals":["X"]}]`, []string{"Y"}, 1, nil, types.ExecutionStatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{fn: func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
				if n < len(tc.errs) {
					return nil, NewTaskError(tc.errs[n], "cause")
				}
				return []byte(`{}`), nil
			}}
			s, rec := newTestService(t, inv)
			r := runDef(t, s, minimal(`{"Type":"Task","Resource":"`+fnARN+`","Retry":`+tc.retry+`,"Next":"End"}`), `{}`)
			if r.desc.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", r.desc.Status, aws.ToString(r.desc.Error), tc.status)
			}
			if n := len(inv.callsTo(fnARN)); n != tc.attempts {
				t.Fatalf("%d attempts, want %d", n, tc.attempts)
			}
			if got := rec.get(); !reflect.DeepEqual(got, tc.delays) && (len(got) != 0 || len(tc.delays) != 0) {
				t.Fatalf("delays %v, want %v", got, tc.delays)
			}
		})
	}
}

func TestRetryJitterFull(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
		if n < 2 {
			return nil, NewTaskError("X", "")
		}
		return []byte(`{}`), nil
	}}
	s, rec := newTestService(t, inv)
	s.jitter = func() float64 { return 0.25 }
	r := runDef(t, s, minimal(`{"Type":"Task","Resource":"`+fnARN+`","Retry":[{"ErrorEquals":["X"],"IntervalSeconds":4,"JitterStrategy":"FULL"}],"Next":"End"}`), `{}`)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	if got, want := rec.get(), []time.Duration{time.Second, 2 * time.Second}; !reflect.DeepEqual(got, want) {
		t.Fatalf("delays %v, want %v (a quarter of 4s and 8s)", got, want)
	}
}

func TestCatch(t *testing.T) {
	tests := []struct {
		name       string
		catch      string
		wantStatus types.ExecutionStatus
		wantOut    string
	}{
		{"ResultPath into input", `[{"ErrorEquals":["Boom"],"ResultPath":"$.err","Next":"After"}]`, types.ExecutionStatusSucceeded,
			`{"err":{"Cause":"it broke","Error":"Boom"},"keep":1}`},
		{"default ResultPath replaces input", `[{"ErrorEquals":["States.ALL"],"Next":"After"}]`, types.ExecutionStatusSucceeded,
			`{"Cause":"it broke","Error":"Boom"}`},
		{"null ResultPath keeps input", `[{"ErrorEquals":["States.TaskFailed"],"ResultPath":null,"Next":"After"}]`, types.ExecutionStatusSucceeded,
			`{"keep":1}`},
		{"first matching catcher", `[{"ErrorEquals":["Other"],"Next":"End"},{"ErrorEquals":["Boom"],"ResultPath":"$.e","Next":"After"}]`, types.ExecutionStatusSucceeded,
			`{"e":{"Cause":"it broke","Error":"Boom"},"keep":1}`},
		{"no matching catcher", `[{"ErrorEquals":["Other"],"Next":"After"}]`, types.ExecutionStatusFailed, ""},
		{"catch ResultPath failure is Runtime", `[{"ErrorEquals":["Boom"],"ResultPath":"$.keep.x","Next":"After"}]`, types.ExecutionStatusFailed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{fn: func(context.Context, string, int, map[string]any) ([]byte, error) {
				return nil, NewTaskError("Boom", "it broke")
			}}
			s, _ := newTestService(t, inv)
			def := `{"StartAt":"T","States":{
			  "T":{"Type":"Task","Resource":"` + fnARN + `","OutputPath":"$.never","Catch":` + tc.catch + `,"Next":"End"},
			  "After":{"Type":"Pass","Next":"End"},"End":{"Type":"Succeed"}}}`
			r := runDef(t, s, def, `{"keep":1}`)
			if r.desc.Status != tc.wantStatus {
				t.Fatalf("status %s %s %s", r.desc.Status, aws.ToString(r.desc.Error), aws.ToString(r.desc.Cause))
			}
			if tc.wantOut != "" && aws.ToString(r.desc.Output) != tc.wantOut {
				t.Fatalf("output %s, want %s", aws.ToString(r.desc.Output), tc.wantOut)
			}
		})
	}
}

func TestTaskInputOutputProcessing(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, _ string, _ int, in map[string]any) ([]byte, error) {
		b, _ := json.Marshal(map[string]any{"echo": in, "meta": map[string]any{"code": 200}})
		return b, nil
	}}
	s, _ := newTestService(t, inv)
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `",
	  "InputPath":"$.payload",
	  "Parameters":{"name.$":"$.name","fixed":"v","exec.$":"$$.Execution.Name","sm.$":"$$.StateMachine.Id","state.$":"$$.State.Name","greeting.$":"States.Format('hi {}', $.name)","parsed.$":"States.StringToJson($.raw)"},
	  "ResultSelector":{"got.$":"$.echo","code.$":"$.meta.code"},
	  "ResultPath":"$.payload.result","OutputPath":"$.payload","End":true}}}`
	smArn := createSM(t, s, def)
	r := run(t, s, smArn, "exec-io", `{"payload":{"name":"bob","raw":"{\"a\":1}"},"other":true}`)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	sent := inv.callsTo(fnARN)[0].input
	want := map[string]any{"name": "bob", "fixed": "v", "exec": "exec-io", "sm": smArn, "state": "T", "greeting": "hi bob", "parsed": map[string]any{"a": float64(1)}}
	if !reflect.DeepEqual(sent, want) {
		t.Fatalf("task input\n got %v\nwant %v", sent, want)
	}
	out := r.output(t)
	res := out["result"].(map[string]any)
	if out["name"] != "bob" || res["code"] != float64(200) || !reflect.DeepEqual(res["got"], want) || out["other"] != nil {
		t.Fatalf("output %v", out)
	}
}

func TestParametersMissingPathIsRuntime(t *testing.T) {
	inv := &fakeInvoker{}
	s, _ := newTestService(t, inv)
	def := minimal(`{"Type":"Task","Resource":"` + fnARN + `","Parameters":{"x.$":"$.nope"},"Catch":[{"ErrorEquals":["States.ALL"],"Next":"End"}],"Next":"End"}`)
	r := runDef(t, s, def, `{}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "States.Runtime")
	if !strings.Contains(aws.ToString(r.desc.Cause), `"x.$"`) {
		t.Fatalf("cause %q does not name the field", aws.ToString(r.desc.Cause))
	}
	if len(inv.callsTo(fnARN)) != 0 {
		t.Fatal("task invoked despite bad Parameters")
	}
}

func TestPassAndPaths(t *testing.T) {
	tests := []struct {
		name, state, input, want string
		wantErr                  string
	}{
		{"plain", `{"Type":"Pass","End":true}`, `{"a":1}`, `{"a":1}`, ""},
		{"Result replaces", `{"Type":"Pass","Result":{"r":[1]},"End":true}`, `{"a":1}`, `{"r":[1]}`, ""},
		{"Result at ResultPath", `{"Type":"Pass","Result":"x","ResultPath":"$.b.c","End":true}`, `{"a":1}`, `{"a":1,"b":{"c":"x"}}`, ""},
		{"ResultPath null", `{"Type":"Pass","Result":"x","ResultPath":null,"End":true}`, `{"a":1}`, `{"a":1}`, ""},
		{"Parameters", `{"Type":"Pass","Parameters":{"v.$":"$.a","c":true},"End":true}`, `{"a":1}`, `{"c":true,"v":1}`, ""},
		{"InputPath then Parameters", `{"Type":"Pass","InputPath":"$.in","Parameters":{"v.$":"$.x"},"ResultPath":"$.out","End":true}`, `{"in":{"x":2}}`, `{"in":{"x":2},"out":{"v":2}}`, ""},
		{"InputPath null", `{"Type":"Pass","InputPath":null,"End":true}`, `{"a":1}`, `{}`, ""},
		{"OutputPath", `{"Type":"Pass","OutputPath":"$.a","End":true}`, `{"a":{"b":2}}`, `{"b":2}`, ""},
		{"OutputPath null", `{"Type":"Pass","OutputPath":null,"End":true}`, `{"a":1}`, `{}`, ""},
		{"scalar input with $ ResultPath", `{"Type":"Pass","Result":3,"End":true}`, `"str"`, `3`, ""},
		{"ResultPath into scalar", `{"Type":"Pass","Result":3,"ResultPath":"$.x","End":true}`, `"str"`, "", "States.Runtime"},
		{"InputPath missing", `{"Type":"Pass","InputPath":"$.nope","End":true}`, `{}`, "", "States.Runtime"},
		{"OutputPath missing", `{"Type":"Pass","OutputPath":"$.nope","End":true}`, `{}`, "", "States.Runtime"},
		{"Succeed paths", `{"Type":"Succeed","InputPath":"$.a","OutputPath":"$.b"}`, `{"a":{"b":[true]}}`, `[true]`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestService(t, nil)
			r := runDef(t, s, `{"StartAt":"S","States":{"S":`+tc.state+`}}`, tc.input)
			if tc.wantErr != "" {
				wantStatus(t, r, types.ExecutionStatusFailed, tc.wantErr)
				return
			}
			wantStatus(t, r, types.ExecutionStatusSucceeded, "")
			if got := aws.ToString(r.desc.Output); got != tc.want {
				t.Fatalf("output %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWait(t *testing.T) {
	tests := []struct {
		name, state, input string
		want               time.Duration
		wantErr            string
	}{
		{"Seconds", `{"Type":"Wait","Seconds":3,"Next":"End"}`, `{}`, 3 * time.Second, ""},
		{"Seconds zero", `{"Type":"Wait","Seconds":0,"Next":"End"}`, `{}`, 0, ""},
		{"SecondsPath", `{"Type":"Wait","SecondsPath":"$.s","Next":"End"}`, `{"s":7}`, 7 * time.Second, ""},
		{"SecondsPath negative", `{"Type":"Wait","SecondsPath":"$.s","Next":"End"}`, `{"s":-1}`, 0, "States.Runtime"},
		{"SecondsPath string", `{"Type":"Wait","SecondsPath":"$.s","Next":"End"}`, `{"s":"7"}`, 0, "States.Runtime"},
		{"SecondsPath missing", `{"Type":"Wait","SecondsPath":"$.s","Next":"End"}`, `{}`, 0, "States.Runtime"},
		{"Timestamp", `{"Type":"Wait","Timestamp":"2025-03-04T05:06:17.890Z","Next":"End"}`, `{}`, 10 * time.Second, ""},
		{"Timestamp past", `{"Type":"Wait","Timestamp":"2020-01-01T00:00:00Z","Next":"End"}`, `{}`, 0, ""},
		{"TimestampPath", `{"Type":"Wait","TimestampPath":"$.t","Next":"End"}`, `{"t":"2025-03-04T06:06:07.890+01:00"}`, 0, ""},
		{"TimestampPath ahead", `{"Type":"Wait","TimestampPath":"$.t","Next":"End"}`, `{"t":"2025-03-04T05:08:07.890Z"}`, 2 * time.Minute, ""},
		{"TimestampPath invalid", `{"Type":"Wait","TimestampPath":"$.t","Next":"End"}`, `{"t":"soon"}`, 0, "States.Runtime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := newTestService(t, nil)
			r := runDef(t, s, minimal(tc.state), tc.input)
			if tc.wantErr != "" {
				wantStatus(t, r, types.ExecutionStatusFailed, tc.wantErr)
				return
			}
			wantStatus(t, r, types.ExecutionStatusSucceeded, "")
			if got := rec.get(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("delays %v, want [%v]", got, tc.want)
			}
			if aws.ToString(r.desc.Output) != tc.input {
				t.Fatalf("Wait changed its input: %s", aws.ToString(r.desc.Output))
			}
		})
	}
}

func TestFailState(t *testing.T) {
	s, _ := newTestService(t, nil)
	r := runDef(t, s, `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"C"}}}`, `{}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "E")
	if aws.ToString(r.desc.Cause) != "C" || r.desc.Output != nil || r.desc.StopDate == nil {
		t.Fatalf("describe %+v", r.desc)
	}
	if want := []types.HistoryEventType{"ExecutionStarted", "FailStateEntered", "ExecutionFailed"}; !reflect.DeepEqual(r.types(), want) {
		t.Fatalf("history %v", r.types())
	}
	r = runDef(t, s, `{"StartAt":"F","States":{"F":{"Type":"Fail"}}}`, `{}`)
	if r.desc.Status != types.ExecutionStatusFailed || r.desc.Error != nil || r.desc.Cause != nil {
		t.Fatalf("bare Fail: %+v", r.desc)
	}
}

func TestTaskTimeout(t *testing.T) {
	// The invoker ignores its context; the timeout still fires on time and
	// Close waits for the straggler.
	release := make(chan struct{})
	inv := &fakeInvoker{fn: func(ctx context.Context, _ string, _ int, _ map[string]any) ([]byte, error) {
		<-release
		return []byte(`{}`), nil
	}}
	s, _ := newTestService(t, inv)
	t.Cleanup(func() { close(release) }) // runs before s.Close (LIFO)
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `","TimeoutSeconds":1,
	  "Retry":[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":3}],
	  "Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":"$.e","Next":"D"}],"Next":"D"},"D":{"Type":"Succeed"}}}`
	r := runDef(t, s, def, `{}`)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	if n := len(inv.callsTo(fnARN)); n != 1 {
		t.Fatalf("%d attempts: States.TaskFailed must not retry States.Timeout", n)
	}
	if r.count(types.HistoryEventTypeLambdaFunctionTimedOut) != 1 {
		t.Fatalf("history %v", r.types())
	}
	if out := r.output(t); out["e"].(map[string]any)["Error"] != "States.Timeout" {
		t.Fatalf("output %v", out)
	}
}

func TestTimeScaleRealTimer(t *testing.T) {
	s := New(Options{TimeScale: 0.001})
	t.Cleanup(s.Close)
	r := runDef(t, s, minimal(`{"Type":"Wait","Seconds":2,"Next":"End"}`), `{}`)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	if d := r.events[len(r.events)-1].Timestamp.Sub(*r.events[0].Timestamp); d > 2*time.Second {
		t.Fatalf("a 2s wait at scale 0.001 took %v", d)
	}
}

func TestNoInvoker(t *testing.T) {
	s, _ := newTestService(t, nil)
	r := runDef(t, s, minimal(`{"Type":"Task","Resource":"`+fnARN+`","Next":"End"}`), `{}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "States.TaskFailed")
}
