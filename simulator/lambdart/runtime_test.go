package lambdart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

const (
	testRegion  = "eu-west-1"
	testAccount = "123456789012"
)

type greetIn struct {
	Name string `json:"name"`
}

type greetOut struct {
	Greeting string `json:"greeting"`
}

type ptrError struct{ code int }

func (e *ptrError) Error() string { return fmt.Sprintf("ptr error %d", e.code) }

type valError struct{}

func (valError) Error() string { return "value error" }

func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	return New(testRegion, testAccount, nil)
}

func mustRegister(t *testing.T, r *Runtime, name string, h any, opts FunctionOptions) string {
	t.Helper()
	arn, err := r.Register(name, h, opts)
	if err != nil {
		t.Fatalf("Register(%s): %v", name, err)
	}
	return arn
}

func TestRegister(t *testing.T) {
	r := newTestRuntime(t)
	arn := mustRegister(t, r, "greet", func(context.Context) error { return nil }, FunctionOptions{})
	if want := "arn:aws:lambda:eu-west-1:123456789012:function:greet"; arn != want {
		t.Fatalf("ARN = %s, want %s", arn, want)
	}
	tests := []struct {
		name    string
		fn      string
		handler any
	}{
		{"duplicate", "greet", func() {}},
		{"nil handler", "a", nil},
		{"not a function", "b", 42},
		{"empty name", "", func() {}},
		{"name with colon", "x:y", func() {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Register(tc.fn, tc.handler, FunctionOptions{}); err == nil {
				t.Fatal("Register succeeded")
			}
		})
	}
}

func TestInvokeSuccess(t *testing.T) {
	r := newTestRuntime(t)
	var gotARN string
	arn := mustRegister(t, r, "greet", func(ctx context.Context, in greetIn) (greetOut, error) {
		lc, ok := lambdacontext.FromContext(ctx)
		if ok && lc.AwsRequestID != "" {
			gotARN = lc.InvokedFunctionArn
		}
		return greetOut{Greeting: "hello " + in.Name}, nil
	}, FunctionOptions{})

	for _, target := range []string{"greet", arn} {
		out, err := r.Invoke(context.Background(), target, []byte(`{"name":"dev"}`))
		if err != nil {
			t.Fatalf("Invoke(%s): %v", target, err)
		}
		if string(out) != `{"greeting":"hello dev"}` {
			t.Fatalf("response = %s", out)
		}
	}
	if gotARN != arn {
		t.Fatalf("lambda context ARN = %q, want %q", gotARN, arn)
	}
	if n := r.Invocations("greet"); n != 2 {
		t.Fatalf("Invocations = %d, want 2", n)
	}
	if _, err := r.Invoke(context.Background(), "missing", nil); !errors.Is(err, ErrFunctionNotFound) {
		t.Fatalf("unknown function: %v", err)
	}
	if _, err := r.Invoke(context.Background(), "arn:aws:lambda:us-east-1:123456789012:function:greet", nil); !errors.Is(err, ErrFunctionNotFound) {
		t.Fatalf("other Region's ARN: %v", err)
	}
}

func TestInvokeErrorTypes(t *testing.T) {
	tests := []struct {
		name     string
		handler  any
		payload  string
		wantType string
		wantMsg  string
	}{
		{"errors.New", func() error { return errors.New("plain") }, `{}`, "errorString", "plain"},
		{"pointer custom error", func() error { return &ptrError{code: 7} }, `{}`, "ptrError", "ptr error 7"},
		{"value custom error", func() error { return valError{} }, `{}`, "valError", "value error"},
		{"wrapped error", func() error { return fmt.Errorf("converge thing: %w", &ptrError{code: 1}) }, `{}`, "wrapError", "converge thing: ptr error 1"},
		{"panic with string", func() error { panic("boom") }, `{}`, "string", "boom"},
		{"panic with error", func() error { panic(&ptrError{code: 3}) }, `{}`, "ptrError", "ptr error 3"},
		{"nil pointer dereference", func() error { var p *greetIn; return errors.New(p.Name) }, `{}`, "errorString", "runtime error: invalid memory address or nil pointer dereference"},
		{"explicit InvokeResponse_Error", func() error {
			return messages.InvokeResponse_Error{Type: "Custom.Type", Message: "custom"}
		}, `{}`, "Custom.Type", "custom"},
		{"undecodable payload", func(greetIn) error { return nil }, `{not json`, "SyntaxError", ""},
		{"wrong payload type", func(greetIn) error { return nil }, `{"name":5}`, "UnmarshalTypeError", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRuntime(t)
			mustRegister(t, r, "f", tc.handler, FunctionOptions{})
			out, err := r.Invoke(context.Background(), "f", []byte(tc.payload))
			var fe *FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("want *FunctionError, got %v (out %s)", err, out)
			}
			if fe.Type != tc.wantType {
				t.Errorf("Type = %q, want %q", fe.Type, tc.wantType)
			}
			if tc.wantMsg != "" && fe.Message != tc.wantMsg {
				t.Errorf("Message = %q, want %q", fe.Message, tc.wantMsg)
			}
		})
	}
}

func TestSetCrash(t *testing.T) {
	r := newTestRuntime(t)
	var ran atomic.Int64
	mustRegister(t, r, "f", func() error { ran.Add(1); return nil }, FunctionOptions{})
	r.SetCrash("f", 2)
	for i := range 2 {
		_, err := r.Invoke(context.Background(), "f", []byte(`{}`))
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" || !strings.Contains(fe.Message, "Runtime exited") {
			t.Fatalf("invocation %d: want Runtime.ExitError, got %v", i, err)
		}
	}
	if _, err := r.Invoke(context.Background(), "f", []byte(`{}`)); err != nil {
		t.Fatalf("third invocation: %v", err)
	}
	if ran.Load() != 1 || r.Invocations("f") != 3 {
		t.Fatalf("handler ran %d times, Invocations %d; want 1 and 3", ran.Load(), r.Invocations("f"))
	}
	r.SetCrash("f", 1)
	r.SetCrash("f", 0) // clears
	if _, err := r.Invoke(context.Background(), "f", []byte(`{}`)); err != nil {
		t.Fatalf("after clearing crashes: %v", err)
	}
}

func TestReservedConcurrency(t *testing.T) {
	r := newTestRuntime(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	mustRegister(t, r, "f", func() error {
		entered <- struct{}{}
		<-release
		return nil
	}, FunctionOptions{ReservedConcurrency: 1})

	done := make(chan error, 1)
	go func() {
		_, err := r.Invoke(context.Background(), "f", []byte(`{}`))
		done <- err
	}()
	<-entered
	if _, err := r.Invoke(context.Background(), "f", []byte(`{}`)); !errors.Is(err, ErrThrottled) {
		t.Fatalf("second concurrent invocation: want ErrThrottled, got %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first invocation: %v", err)
	}
	if n := r.Invocations("f"); n != 1 {
		t.Fatalf("Invocations = %d, want 1 (throttled ones do not count)", n)
	}
}

// Concurrent invocations must each get their own response (the handler's
// pooled response buffer must not be shared).
func TestConcurrentInvocations(t *testing.T) {
	r := newTestRuntime(t)
	mustRegister(t, r, "greet", func(in greetIn) (greetOut, error) {
		return greetOut{Greeting: strings.Repeat(in.Name, 50)}, nil
	}, FunctionOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			name := fmt.Sprintf("n%02d", i)
			for range 50 {
				out, err := r.Invoke(context.Background(), "greet", []byte(`{"name":"`+name+`"}`))
				if err != nil {
					errs <- err
					return
				}
				var g greetOut
				if err := json.Unmarshal(out, &g); err != nil || g.Greeting != strings.Repeat(name, 50) {
					errs <- fmt.Errorf("goroutine %d got %s (%v)", i, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
