package stepfn

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

const (
	recheckARN = "arn:aws:lambda:eu-west-1:123456789012:function:iotdr-recheck"
	sweepARN   = "arn:aws:lambda:eu-west-1:123456789012:function:iotdr-sweep"
	// fnARN is any Lambda, for the tests of generic interpreter behaviour.
	fnARN      = "arn:aws:lambda:eu-west-1:123456789012:function:iotdr-fn"
	putItem    = "arn:aws:states:::dynamodb:putItem"
	errorTable = "iotdr-errors"
)

// testRetry is the spec's retry policy with short, fixed numbers, so that the tests
// can assert the exact attempt count and the ceiling of every delay.
var testRetry = spec.Retry{IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3}

// recheckDefinition and sweepDefinition are the state machines the spec package
// deploys, built by the spec package itself so that the tests run exactly them.
var recheckDefinition, sweepDefinition = func() (string, string) {
	recheck, err := spec.RecheckMachine{Recheck: recheckARN, ErrorTable: errorTable, Retry: testRetry}.Definition()
	if err != nil {
		panic(err)
	}
	sweep, err := spec.SweepMachine{Sweep: sweepARN, ErrorTable: errorTable, Retry: testRetry}.Definition()
	if err != nil {
		panic(err)
	}
	return recheck, sweep
}()

// call is one task invocation seen by fakeInvoker.
type call struct {
	resource string
	input    map[string]any
}

// fakeInvoker answers task invocations with fn; n counts earlier calls to
// the same resource in the same execution-independent sequence.
type fakeInvoker struct {
	mu    sync.Mutex
	calls []call
	count map[string]int
	fn    func(ctx context.Context, resource string, n int, input map[string]any) ([]byte, error)
}

func (f *fakeInvoker) InvokeTask(ctx context.Context, resource string, input []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(input, &m); err != nil {
		return nil, fmt.Errorf("fake invoker: input is not a JSON object: %w", err)
	}
	f.mu.Lock()
	if f.count == nil {
		f.count = map[string]int{}
	}
	n := f.count[resource]
	f.count[resource]++
	f.calls = append(f.calls, call{resource, m})
	f.mu.Unlock()
	if f.fn == nil {
		return []byte(`{}`), nil
	}
	return f.fn(ctx, resource, n, m)
}

func (f *fakeInvoker) callsTo(resource string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.resource == resource {
			out = append(out, c)
		}
	}
	return out
}

// sleepRecorder replaces Service.sleep: it records every computed delay
// and returns at once (still honouring cancellation).
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *sleepRecorder) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.delays...)
}

var fixedNow = time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// newTestService returns a Service whose delays are recorded, not slept,
// and whose clock is fixed.
func newTestService(t *testing.T, inv TaskInvoker) (*Service, *sleepRecorder) {
	t.Helper()
	s := New(Options{Region: "eu-west-1", AccountID: "123456789012", Invoker: inv, Now: func() time.Time { return fixedNow }})
	rec := &sleepRecorder{}
	s.sleep = rec.sleep
	t.Cleanup(s.Close)
	return s, rec
}

var smCounter atomic.Int64

func createSM(t *testing.T, s *Service, def string) string {
	t.Helper()
	out, err := s.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(fmt.Sprintf("sm-%d", smCounter.Add(1))), Definition: aws.String(def),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn"),
	})
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	return *out.StateMachineArn
}

func waitIdle(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// runResult is a finished execution.
type runResult struct {
	arn    string
	desc   *sfn.DescribeExecutionOutput
	events []types.HistoryEvent
}

func (r runResult) output(t *testing.T) map[string]any {
	t.Helper()
	if r.desc.Output == nil {
		t.Fatalf("execution %s has no output (status %s, error %s: %s)", r.arn, r.desc.Status, aws.ToString(r.desc.Error), aws.ToString(r.desc.Cause))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(*r.desc.Output), &m); err != nil {
		t.Fatalf("output %q: %v", *r.desc.Output, err)
	}
	return m
}

func (r runResult) count(typ types.HistoryEventType) int {
	n := 0
	for _, e := range r.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func (r runResult) types() []types.HistoryEventType {
	out := make([]types.HistoryEventType, len(r.events))
	for i, e := range r.events {
		out[i] = e.Type
	}
	return out
}

// run starts an execution of smArn and waits for it to finish.
func run(t *testing.T, s *Service, smArn, name, input string) runResult {
	t.Helper()
	ctx := context.Background()
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Input: aws.String(input)}
	if name != "" {
		in.Name = aws.String(name)
	}
	st, err := s.StartExecution(ctx, in)
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	waitIdle(t, s)
	d, err := s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: st.ExecutionArn})
	if err != nil {
		t.Fatalf("DescribeExecution: %v", err)
	}
	h, err := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: st.ExecutionArn, MaxResults: 1000})
	if err != nil {
		t.Fatalf("GetExecutionHistory: %v", err)
	}
	return runResult{arn: *st.ExecutionArn, desc: d, events: h.Events}
}

// runDef creates a state machine for def and runs it once.
func runDef(t *testing.T, s *Service, def, input string) runResult {
	t.Helper()
	return run(t, s, createSM(t, s, def), "", input)
}

func wantStatus(t *testing.T, r runResult, status types.ExecutionStatus, errName string) {
	t.Helper()
	if r.desc.Status != status || aws.ToString(r.desc.Error) != errName {
		t.Fatalf("status %s error %q (cause %q), want %s error %q; history %v",
			r.desc.Status, aws.ToString(r.desc.Error), aws.ToString(r.desc.Cause), status, errName, r.types())
	}
}
