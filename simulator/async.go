package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iot-dr/iot-dr/simulator/lambdart"
	"github.com/iot-dr/iot-dr/simulator/rules"
)

// asyncInvoker runs asynchronous Lambda invocations (a topic rule's Lambda action) as
// AWS does: the caller does not wait; a function error is retried twice, after one and
// then two minutes, before the event is given up (the capture function records its own
// failures in the error table, so a given-up event is already there); a throttled
// invocation (the account's or function's concurrency exhausted) goes back to the
// queue and is retried with backoff from one second to five minutes until the event
// is six hours old. Every duration is scaled by the World's TimeScale. Invocations run
// concurrently.
type asyncInvoker struct {
	rt     *lambdart.Runtime
	delays []time.Duration
	// throttleBase, throttleCap and maxAge shape the retries of throttled invocations.
	throttleBase, throttleCap, maxAge time.Duration
	log                               *slog.Logger
	ctx                               context.Context
	cancel                            context.CancelFunc
	wg                                sync.WaitGroup
	pending                           atomic.Int64
	// GivenUp counts events whose every attempt failed.
	givenUp atomic.Int64
}

func newAsyncInvoker(rt *lambdart.Runtime, scale float64, log *slog.Logger) *asyncInvoker {
	ctx, cancel := context.WithCancel(context.Background())
	d := func(s float64) time.Duration { return time.Duration(s * scale * float64(time.Second)) }
	return &asyncInvoker{rt: rt, delays: []time.Duration{d(60), d(120)},
		throttleBase: d(1), throttleCap: d(300), maxAge: d(6 * 3600), log: log, ctx: ctx, cancel: cancel}
}

// action is a rules.Action that invokes function with the rule's message.
func (a *asyncInvoker) action(function string) rules.Action {
	return rules.ActionFunc(func(_ context.Context, msg map[string]any) error {
		payload, err := json.Marshal(msg)
		if err != nil {
			return fmt.Errorf("simulator: encode rule message for %s: %w", function, err)
		}
		a.invoke(function, payload)
		return nil
	})
}

func (a *asyncInvoker) invoke(function string, payload []byte) {
	a.pending.Add(1)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.pending.Add(-1)
		start, throttles := time.Now(), 0
		for attempt := 0; ; {
			_, err := a.rt.Invoke(a.ctx, function, payload)
			if err == nil || a.ctx.Err() != nil {
				return
			}
			var wait time.Duration
			switch {
			case errors.Is(err, lambdart.ErrThrottled) && time.Since(start) < a.maxAge:
				wait = min(a.throttleBase<<min(throttles, 20), a.throttleCap)
				wait = wait/2 + rand.N(wait/2+1) // jittered, as Lambda's queue spreads retries
				throttles++
			case errors.Is(err, lambdart.ErrThrottled), attempt == len(a.delays):
				a.givenUp.Add(1)
				a.log.Error("asynchronous invocation given up", "function", function, "attempts", attempt+throttles+1, "error", err)
				return
			default:
				wait = a.delays[attempt]
				attempt++
			}
			t := time.NewTimer(wait)
			select {
			case <-a.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// Pending is how many invocations are queued, running or waiting to retry.
func (a *asyncInvoker) Pending() int64 { return a.pending.Load() }

func (a *asyncInvoker) close() {
	a.cancel()
	a.wg.Wait()
}
