package stepfn

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// api is the SDK surface the Service implements; both *sfn.Client and
// *Service must satisfy it, which pins the exact method signatures.
type api interface {
	CreateStateMachine(context.Context, *sfn.CreateStateMachineInput, ...func(*sfn.Options)) (*sfn.CreateStateMachineOutput, error)
	StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
}

var (
	_ api = (*sfn.Client)(nil)
	_ api = (*Service)(nil)
)

// blockingInvoker holds every task until release is closed (or the
// context ends), keeping executions RUNNING.
type blockingInvoker struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (b *blockingInvoker) InvokeTask(ctx context.Context, _ string, _ []byte) ([]byte, error) {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	select {
	case <-b.release:
		return []byte(`{}`), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *blockingInvoker) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

func TestCreateStateMachine(t *testing.T) {
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	in := &sfn.CreateStateMachineInput{Name: aws.String("recheck"), Definition: aws.String(recheckDefinition), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")}
	out, err := s.CreateStateMachine(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.StateMachineArn); got != "arn:aws:states:eu-west-1:123456789012:stateMachine:recheck" {
		t.Fatalf("arn %s", got)
	}
	again, err := s.CreateStateMachine(ctx, in)
	if err != nil || *again.StateMachineArn != *out.StateMachineArn || !again.CreationDate.Equal(*out.CreationDate) {
		t.Fatalf("idempotent create: %v %v", again, err)
	}
	other := *in
	other.Definition = aws.String(minimal(`{"Type":"Pass","Next":"End"}`))
	var exists *types.StateMachineAlreadyExists
	if _, err := s.CreateStateMachine(ctx, &other); !errors.As(err, &exists) {
		t.Fatalf("different definition: %v", err)
	}
	var params smithy.InvalidParamsError
	if _, err := s.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("x")}); !errors.As(err, &params) || !strings.Contains(err.Error(), "RoleArn") {
		t.Fatalf("missing params: %v", err)
	}
	var badName *types.InvalidName
	bad := *in
	bad.Name = aws.String("has space")
	if _, err := s.CreateStateMachine(ctx, &bad); !errors.As(err, &badName) {
		t.Fatalf("bad name: %v", err)
	}
	express := *in
	express.Name, express.Type = aws.String("express"), types.StateMachineTypeExpress
	var val *types.ValidationException
	if _, err := s.CreateStateMachine(ctx, &express); !errors.As(err, &val) {
		t.Fatalf("EXPRESS: %v", err)
	}
}

func TestStartExecutionIdempotency(t *testing.T) {
	inv := &blockingInvoker{release: make(chan struct{})}
	s, _ := newTestService(t, inv)
	ctx := context.Background()
	smArn := createSM(t, s, recheckDefinition)
	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String(name), Input: aws.String(input)})
	}
	first, err := start("ev-1", recheckInput)
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:states:eu-west-1:123456789012:execution:" + smArn[strings.LastIndex(smArn, ":")+1:] + ":ev-1"; *first.ExecutionArn != want {
		t.Fatalf("arn %s, want %s", *first.ExecutionArn, want)
	}
	// Same name and input while RUNNING: same execution, no second run.
	second, err := start("ev-1", recheckInput)
	if err != nil || *second.ExecutionArn != *first.ExecutionArn || !second.StartDate.Equal(*first.StartDate) {
		t.Fatalf("repeat start: %v %v", second, err)
	}
	// Same name, other input.
	var exists *types.ExecutionAlreadyExists
	if _, err := start("ev-1", `{"thingName":"dev-2","attempt":0,"waitSeconds":5}`); !errors.As(err, &exists) {
		t.Fatalf("different input: %v", err)
	}
	close(inv.release)
	waitIdle(t, s)
	if n := inv.count(); n != 1 {
		t.Fatalf("recheck invoked %d times, want 1", n)
	}
	list, err := s.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
	if err != nil || len(list.Executions) != 1 {
		t.Fatalf("executions %v %v", list, err)
	}
	// Same name and input after the execution closed: AWS refuses too.
	if _, err := start("ev-1", recheckInput); !errors.As(err, &exists) {
		t.Fatalf("restart of a closed execution: %v", err)
	}
}

func TestStartExecutionValidation(t *testing.T) {
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	smArn := createSM(t, s, minimal(`{"Type":"Pass","Next":"End"}`))
	var (
		badName  *types.InvalidName
		badInput *types.InvalidExecutionInput
		noSM     *types.StateMachineDoesNotExist
		badArn   *types.InvalidArn
	)
	tests := []struct {
		name   string
		in     *sfn.StartExecutionInput
		target any
	}{
		{"empty name", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String("")}, &badName},
		{"long name", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String(strings.Repeat("a", 81))}, &badName},
		{"space", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String("a b")}, &badName},
		{"slash", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String("a/b")}, &badName},
		{"colon", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String("a:b")}, &badName},
		{"brace", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String("a{b")}, &badName},
		{"control", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String("a\x01")}, &badName},
		{"bad JSON", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Input: aws.String(`{"a":`)}, &badInput},
		{"two documents", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Input: aws.String(`{} {}`)}, &badInput},
		{"unknown machine", &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn + "-nope")}, &noSM},
		{"not an ARN", &sfn.StartExecutionInput{StateMachineArn: aws.String("apply")}, &badArn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.StartExecution(ctx, tc.in)
			if err == nil || !errors.As(err, tc.target) {
				t.Fatalf("got %v, want %T", err, tc.target)
			}
		})
	}
	for _, ok := range []string{strings.Repeat("a", 80), "ev-1_x", "a.b", "a+b=c@d!", "événement"} {
		if _, err := s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String(ok)}); err != nil {
			t.Errorf("name %q refused: %v", ok, err)
		}
	}
	// No name: a UUID; no input: {}.
	out, err := s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn)})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(*out.ExecutionArn) {
		t.Fatalf("generated name in %s", *out.ExecutionArn)
	}
	waitIdle(t, s)
	d, err := s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	if err != nil || aws.ToString(d.Input) != "{}" || aws.ToString(d.Output) != "{}" || d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("describe %+v %v", d, err)
	}
}

func TestDescribeAndHistoryErrors(t *testing.T) {
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	var (
		missing *types.ExecutionDoesNotExist
		badArn  *types.InvalidArn
		params  smithy.InvalidParamsError
	)
	if _, err := s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:eu-west-1:123456789012:execution:sm:x")}); !errors.As(err, &missing) {
		t.Fatalf("unknown execution: %v", err)
	}
	if _, err := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("arn:aws:states:eu-west-1:123456789012:stateMachine:sm")}); !errors.As(err, &badArn) {
		t.Fatalf("state machine ARN as execution: %v", err)
	}
	if _, err := s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{}); !errors.As(err, &params) {
		t.Fatalf("missing ARN: %v", err)
	}
	var noSM *types.StateMachineDoesNotExist
	if _, err := s.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:eu-west-1:123456789012:stateMachine:none")}); !errors.As(err, &noSM) {
		t.Fatalf("unknown machine: %v", err)
	}
}

func TestHistoryPagination(t *testing.T) {
	s, _ := newTestService(t, &fakeInvoker{})
	ctx := context.Background()
	r := runDef(t, s, recheckDefinition, recheckInput)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	full := r.events
	for _, reverse := range []bool{false, true} {
		var got []types.HistoryEvent
		var token *string
		for pages := 0; ; pages++ {
			if pages > len(full) {
				t.Fatal("pagination does not end")
			}
			out, err := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(r.arn), MaxResults: 3, NextToken: token, ReverseOrder: reverse})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Events) > 3 {
				t.Fatalf("page of %d", len(out.Events))
			}
			got = append(got, out.Events...)
			if token = out.NextToken; token == nil {
				break
			}
		}
		if len(got) != len(full) {
			t.Fatalf("reverse=%v: %d events, want %d", reverse, len(got), len(full))
		}
		for i := range got {
			j := i
			if reverse {
				j = len(full) - 1 - i
			}
			if got[i].Id != full[j].Id {
				t.Fatalf("reverse=%v: event %d has id %d, want %d", reverse, i, got[i].Id, full[j].Id)
			}
		}
	}
	var bad *types.InvalidToken
	if _, err := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(r.arn), NextToken: aws.String("x")}); !errors.As(err, &bad) {
		t.Fatalf("bad token: %v", err)
	}
	out, err := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(r.arn), IncludeExecutionData: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out.Events {
		if d := e.StateEnteredEventDetails; d != nil && (d.Input != nil || d.Name == nil) {
			t.Fatalf("IncludeExecutionData=false kept input: %+v", d)
		}
		if d := e.LambdaFunctionScheduledEventDetails; d != nil && d.Input != nil {
			t.Fatalf("IncludeExecutionData=false kept task input")
		}
	}
	// The stored history is untouched.
	if r2 := run(t, s, createSM(t, s, recheckDefinition), "", recheckInput); r2.events[1].StateEnteredEventDetails.Input == nil {
		t.Fatal("stored history lost its data")
	}
	again, _ := s.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(r.arn)})
	if again.Events[1].StateEnteredEventDetails.Input == nil {
		t.Fatal("stripping mutated the stored history")
	}
}

func TestListExecutions(t *testing.T) {
	s, _ := newTestService(t, &fakeInvoker{})
	ctx := context.Background()
	smArn := createSM(t, s, recheckDefinition)
	for i := range 7 {
		input := recheckInput
		if i%3 == 0 {
			input = `{"thingName":"dev-1"}` // no first wait: fails
		}
		name := fmt.Sprintf("ex-%d", i)
		if _, err := s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String(name), Input: aws.String(input)}); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, s)
	list := func(filter types.ExecutionStatus, size int32) []string {
		var out []string
		var token *string
		for {
			page, err := s.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn), StatusFilter: filter, MaxResults: size, NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Executions {
				if e.StopDate == nil || e.StartDate == nil || aws.ToString(e.StateMachineArn) != smArn {
					t.Fatalf("item %+v", e)
				}
				out = append(out, aws.ToString(e.Name))
			}
			if token = page.NextToken; token == nil {
				return out
			}
		}
	}
	all := strings.Join(list("", 2), ",")
	if want := "ex-6,ex-5,ex-4,ex-3,ex-2,ex-1,ex-0"; all != want {
		t.Fatalf("all newest first: %s, want %s", all, want)
	}
	if got := strings.Join(list(types.ExecutionStatusFailed, 2), ","); got != "ex-6,ex-3,ex-0" {
		t.Fatalf("failed: %s", got)
	}
	if got := strings.Join(list(types.ExecutionStatusSucceeded, 0), ","); got != "ex-5,ex-4,ex-2,ex-1" {
		t.Fatalf("succeeded: %s", got)
	}
	if got := list(types.ExecutionStatusRunning, 0); len(got) != 0 {
		t.Fatalf("running: %v", got)
	}
}

func TestSetAvailable(t *testing.T) {
	s, _ := newTestService(t, nil)
	ctx := context.Background()
	smArn := createSM(t, s, minimal(`{"Type":"Pass","Next":"End"}`))
	s.SetAvailable(false)
	_, err := s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ServiceUnavailable" || apiErr.ErrorFault() != smithy.FaultServer {
		t.Fatalf("while down: %v", err)
	}
	if _, err := s.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)}); err == nil {
		t.Fatal("ListExecutions succeeded while down")
	}
	s.SetAvailable(true)
	if _, err := s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn)}); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	waitIdle(t, s)
}

func TestCloseAbortsAndLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	inv := &blockingInvoker{release: make(chan struct{})}
	s := New(Options{Invoker: inv})
	ctx := context.Background()
	taskSM := createSM(t, s, minimal(`{"Type":"Task","Resource":"`+fnARN+`","TimeoutSeconds":3600,"Next":"End"}`))
	waitSM := createSM(t, s, minimal(`{"Type":"Wait","Seconds":3600,"Next":"End"}`))
	var arns []*string
	for i := range 20 {
		sm := taskSM
		if i%2 == 0 {
			sm = waitSM
		}
		out, err := s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm)})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, out.ExecutionArn)
	}
	if s.Running() != 20 {
		t.Fatalf("running %d", s.Running())
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with running executions: %v", err)
	}
	s.Close()
	if s.Running() != 0 {
		t.Fatalf("running after Close: %d", s.Running())
	}
	for _, arn := range arns {
		d, err := s.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: arn})
		if err != nil || d.Status != types.ExecutionStatusAborted {
			t.Fatalf("after Close: %v %v", d.Status, err)
		}
	}
	if _, err := s.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(waitSM)}); err == nil {
		t.Fatal("StartExecution after Close succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond) // goroutines exiting after wg.Done need a moment to vanish
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestManyConcurrentExecutions(t *testing.T) {
	inv := &fakeInvoker{fn: func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
		if n%5 == 0 {
			return nil, NewTaskError("Transient", "flaky")
		}
		return []byte(`{"ok":true}`), nil
	}}
	s, _ := newTestService(t, inv)
	smArn := createSM(t, s, recheckDefinition)
	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := s.StartExecution(context.Background(), &sfn.StartExecutionInput{
				StateMachineArn: aws.String(smArn), Name: aws.String(fmt.Sprintf("ev-%d", i)),
				Input: aws.String(fmt.Sprintf(`{"thingName":"dev-%d","attempt":0,"waitSeconds":5}`, i)),
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, s)
	page, err := s.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn), StatusFilter: types.ExecutionStatusSucceeded, MaxResults: 1000})
	if err != nil || len(page.Executions) != n {
		t.Fatalf("%d succeeded of %d (%v)", len(page.Executions), n, err)
	}
}

// BenchmarkSweepExecution measures start-to-finish throughput of the spec's sweep
// machine (Lambda task, Choice, Succeed).
func BenchmarkSweepExecution(b *testing.B) {
	inv := &fakeInvoker{fn: func(context.Context, string, int, map[string]any) ([]byte, error) {
		return []byte(`{"stage":"shadows","done":true,"visited":100,"written":0,"failed":0}`), nil
	}}
	s := New(Options{Invoker: inv})
	b.Cleanup(s.Close)
	out, err := s.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String("bench"), Definition: aws.String(sweepDefinition), RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
	})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.StartExecution(context.Background(), &sfn.StartExecutionInput{
			StateMachineArn: out.StateMachineArn, Name: aws.String(fmt.Sprintf("b-%d", i)), Input: aws.String(`{}`),
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Wait(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "executions/s")
}
