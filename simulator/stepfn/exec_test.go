package stepfn

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

const thingEvent = `{"eventType":"THING_EVENT","eventId":"ev-1","thingName":"t1"}`

func TestProjectThingSucceeds(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, _ string, _ int, in map[string]any) ([]byte, error) {
		return []byte(`{"applied":true}`), nil
	}}
	s, rec := newTestService(t, inv)
	r := runDef(t, s, projectDefinition, thingEvent)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	out := r.output(t)
	if !reflect.DeepEqual(out["result"], map[string]any{"applied": true}) || out["eventId"] != "ev-1" {
		t.Fatalf("output %v", out)
	}
	calls := inv.callsTo(thingARN)
	if len(calls) != 1 || calls[0].input["thingName"] != "t1" {
		t.Fatalf("thing worker calls %v", calls)
	}
	if d := rec.get(); len(d) != 0 {
		t.Fatalf("unexpected delays %v", d)
	}
	want := []types.HistoryEventType{
		"ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited",
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
	if d := r.events[4].LambdaFunctionScheduledEventDetails; d == nil || aws.ToString(d.Resource) != thingARN || !strings.Contains(aws.ToString(d.Input), `"eventId":"ev-1"`) {
		t.Fatalf("scheduled details %+v", d)
	}
}

func TestProjectRetryThenSuccess(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
		if n < 2 {
			return nil, NewTaskError("ThrottlingException", "slow down")
		}
		return []byte(`{}`), nil
	}}
	s, rec := newTestService(t, inv)
	r := runDef(t, s, projectDefinition, thingEvent)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	if n := len(inv.callsTo(thingARN)); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	wantJittered(t, rec.get(), time.Second, 2*time.Second)
	if r.count(types.HistoryEventTypeLambdaFunctionFailed) != 2 || r.count(types.HistoryEventTypeLambdaFunctionScheduled) != 3 || r.count(types.HistoryEventTypeTaskStateEntered) != 1 {
		t.Fatalf("history %v", r.types())
	}
	for _, e := range r.events {
		if d := e.LambdaFunctionFailedEventDetails; d != nil && (aws.ToString(d.Error) != "ThrottlingException" || aws.ToString(d.Cause) != "slow down") {
			t.Fatalf("failed details %+v", d)
		}
	}
}

func TestProjectRetriesExhaustedThenCaughtAndRecorded(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, res string, _ int, _ map[string]any) ([]byte, error) {
		if res == putItem {
			return []byte(`{}`), nil
		}
		return nil, NewTaskError("Transient", "still broken")
	}}
	s, rec := newTestService(t, inv)
	smArn := createSM(t, s, projectDefinition)
	r := run(t, s, smArn, "ev-1-exec", thingEvent)
	wantStatus(t, r, types.ExecutionStatusFailed, "ReplicationFailed")
	if c := aws.ToString(r.desc.Cause); !strings.Contains(c, "error table") {
		t.Fatalf("cause %q", c)
	}
	if n := len(inv.callsTo(thingARN)); n != 4 {
		t.Fatalf("%d attempts, want 1 + MaxAttempts 3", n)
	}
	wantJittered(t, rec.get(), time.Second, 2*time.Second, 4*time.Second)
	puts := inv.callsTo(putItem)
	if len(puts) != 1 {
		t.Fatalf("putItem calls %d", len(puts))
	}
	item := puts[0].input["Item"].(map[string]any)
	str := func(k string) string { return item[k].(map[string]any)["S"].(string) }
	if puts[0].input["TableName"] != "iotdr-errors" || str("id") != "ev-1-exec" || str("eventId") != "ev-1" ||
		str("eventType") != "THING_EVENT" || str("error") != "Transient" || str("cause") != "still broken" ||
		str("recordedAt") != "2025-03-04T05:06:07.890Z" {
		t.Fatalf("error item %v", item)
	}
	// The event field is the state input as JSON: the event plus the caught error.
	var ev map[string]any
	if err := json.Unmarshal([]byte(str("event")), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["thingName"] != "t1" || !reflect.DeepEqual(ev["error"], map[string]any{"Error": "Transient", "Cause": "still broken"}) {
		t.Fatalf("event %v", ev)
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
}

func TestProjectPermanentErrorIsNotRetried(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, res string, _ int, _ map[string]any) ([]byte, error) {
		if res == putItem {
			return []byte(`{}`), nil
		}
		return nil, NewTaskError("PermanentError", "bad input")
	}}
	s, rec := newTestService(t, inv)
	r := runDef(t, s, `{"StartAt":"Route","States":`+projectStatesWithShadowFirst()+`}`, `{"eventType":"SHADOW_EVENT","eventId":"e"}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "ReplicationFailed")
	if n := len(inv.callsTo(shadowARN)); n != 1 {
		t.Fatalf("%d attempts of a MaxAttempts 0 error, want 1", n)
	}
	if d := rec.get(); len(d) != 0 {
		t.Fatalf("delays %v", d)
	}
	if n := len(inv.callsTo(putItem)); n != 1 {
		t.Fatalf("putItem calls %d", n)
	}
}

// projectStatesWithShadowFirst returns the project's States object.
func projectStatesWithShadowFirst() string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(projectDefinition), &m); err != nil {
		panic(err)
	}
	return string(m["States"])
}

func TestProjectUnknownEventType(t *testing.T) {
	inv := &fakeInvoker{}
	s, _ := newTestService(t, inv)
	r := runDef(t, s, projectDefinition, `{"eventType":"WHAT"}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "UnknownEventType")
	if len(inv.callsTo(thingARN))+len(inv.callsTo(putItem)) != 0 {
		t.Fatal("tasks invoked")
	}
}

func TestProjectRecheckLoop(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
		if n == 0 {
			return []byte(`{"recheckSeconds":5}`), nil
		}
		return []byte(`{"done":true}`), nil
	}}
	s, rec := newTestService(t, inv)
	r := runDef(t, s, projectDefinition, thingEvent)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	if got, want := rec.get(), []time.Duration{5 * time.Second}; !reflect.DeepEqual(got, want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	if n := len(inv.callsTo(thingARN)); n != 2 {
		t.Fatalf("thing worker called %d times, want 2", n)
	}
	if out := r.output(t); !reflect.DeepEqual(out["result"], map[string]any{"done": true}) {
		t.Fatalf("output %v", out)
	}
	if r.count(types.HistoryEventTypeWaitStateEntered) != 1 || r.count(types.HistoryEventTypeTaskStateEntered) != 2 {
		t.Fatalf("history %v", r.types())
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
	def := minimal(`{"Type":"Task","Resource":"` + thingARN + `","Next":"End"}`)
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
			r := runDef(t, s, minimal(`{"Type":"Task","Resource":"`+thingARN+`","Retry":`+tc.retry+`,"Next":"End"}`), `{}`)
			if r.desc.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", r.desc.Status, aws.ToString(r.desc.Error), tc.status)
			}
			if n := len(inv.callsTo(thingARN)); n != tc.attempts {
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
	r := runDef(t, s, minimal(`{"Type":"Task","Resource":"`+thingARN+`","Retry":[{"ErrorEquals":["X"],"IntervalSeconds":4,"JitterStrategy":"FULL"}],"Next":"End"}`), `{}`)
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
			  "T":{"Type":"Task","Resource":"` + thingARN + `","OutputPath":"$.never","Catch":` + tc.catch + `,"Next":"End"},
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
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + thingARN + `",
	  "InputPath":"$.payload",
	  "Parameters":{"name.$":"$.name","fixed":"v","exec.$":"$$.Execution.Name","sm.$":"$$.StateMachine.Id","state.$":"$$.State.Name","greeting.$":"States.Format('hi {}', $.name)","parsed.$":"States.StringToJson($.raw)"},
	  "ResultSelector":{"got.$":"$.echo","code.$":"$.meta.code"},
	  "ResultPath":"$.payload.result","OutputPath":"$.payload","End":true}}}`
	smArn := createSM(t, s, def)
	r := run(t, s, smArn, "exec-io", `{"payload":{"name":"bob","raw":"{\"a\":1}"},"other":true}`)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	sent := inv.callsTo(thingARN)[0].input
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
	def := minimal(`{"Type":"Task","Resource":"` + thingARN + `","Parameters":{"x.$":"$.nope"},"Catch":[{"ErrorEquals":["States.ALL"],"Next":"End"}],"Next":"End"}`)
	r := runDef(t, s, def, `{}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "States.Runtime")
	if !strings.Contains(aws.ToString(r.desc.Cause), `"x.$"`) {
		t.Fatalf("cause %q does not name the field", aws.ToString(r.desc.Cause))
	}
	if len(inv.callsTo(thingARN)) != 0 {
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
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + thingARN + `","TimeoutSeconds":1,
	  "Retry":[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":3}],
	  "Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":"$.e","Next":"D"}],"Next":"D"},"D":{"Type":"Succeed"}}}`
	r := runDef(t, s, def, `{}`)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	if n := len(inv.callsTo(thingARN)); n != 1 {
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
	r := runDef(t, s, minimal(`{"Type":"Task","Resource":"`+thingARN+`","Next":"End"}`), `{}`)
	wantStatus(t, r, types.ExecutionStatusFailed, "States.TaskFailed")
}

// wantJittered checks retry delays of the spec's full-jitter retrier: one per ceiling,
// each drawn from (0, interval x rate^n].
func wantJittered(t *testing.T, got []time.Duration, ceilings ...time.Duration) {
	t.Helper()
	if len(got) != len(ceilings) {
		t.Fatalf("delays %v, want %d", got, len(ceilings))
	}
	for i, d := range got {
		if d < 0 || d > ceilings[i] {
			t.Fatalf("delay %d is %v, want at most %v (full jitter)", i, d, ceilings[i])
		}
	}
}
