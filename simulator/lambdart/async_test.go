package lambdart

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestInvokeAsyncRetries(t *testing.T) {
	for _, tc := range []struct {
		name          string
		failures      int64 // the handler fails this many times, then succeeds
		wantCalls     int64
		wantGivenUp   int64
		throttleFirst bool
	}{
		{"succeeds at once", 0, 1, 0, false},
		{"function error retried twice, then succeeds", 2, 3, 0, false},
		{"three function errors: given up", 10, 3, 1, false},
		{"throttled, then runs", 0, 1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(testRegion, testAccount, nil, WithTimeScale(0.0001))
			t.Cleanup(r.Close)
			var calls atomic.Int64
			var ranAt atomic.Int64
			mustRegister(t, r, "fn", func(context.Context, map[string]any) error {
				ranAt.Store(time.Now().UnixNano())
				if calls.Add(1) <= tc.failures {
					return errors.New("boom")
				}
				return nil
			}, FunctionOptions{ReservedConcurrency: 1})
			start := time.Now()
			if tc.throttleFirst {
				// Hold the function's only slot so that the first attempts are throttled.
				r.funcs["fn"].mu.Lock()
				r.funcs["fn"].inFlight = 1
				r.funcs["fn"].mu.Unlock()
				time.AfterFunc(20*time.Millisecond, func() {
					r.funcs["fn"].mu.Lock()
					r.funcs["fn"].inFlight = 0
					r.funcs["fn"].mu.Unlock()
				})
			}
			r.InvokeAsync("fn", []byte(`{}`))
			waitFor(t, "the event to be done", func() bool { return r.AsyncPending() == 0 })
			if calls.Load() != tc.wantCalls || r.AsyncGivenUp() != tc.wantGivenUp {
				t.Errorf("handler ran %d times, %d given up; want %d and %d", calls.Load(), r.AsyncGivenUp(), tc.wantCalls, tc.wantGivenUp)
			}
			if tc.throttleFirst && time.Duration(ranAt.Load()-start.UnixNano()) < 20*time.Millisecond {
				t.Error("the event ran while the function's concurrency was exhausted")
			}
		})
	}
}

func TestCloseStopsTheAsyncQueue(t *testing.T) {
	r := New(testRegion, testAccount, nil) // real-time retries: the retry waits a minute
	mustRegister(t, r, "fn", func(context.Context, map[string]any) error { return errors.New("boom") }, FunctionOptions{})
	r.InvokeAsync("fn", []byte(`{}`))
	waitFor(t, "the first attempt", func() bool { return r.Invocations("fn") == 1 })
	r.Close() // must not wait for the retry
	if n := r.AsyncPending(); n != 0 {
		t.Errorf("%d pending after Close", n)
	}
	r.InvokeAsync("fn", []byte(`{}`))
	if r.AsyncPending() != 0 || r.Invocations("fn") != 1 {
		t.Error("an event queued after Close ran")
	}
}
