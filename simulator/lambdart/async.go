package lambdart

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// async is the runtime's queue of asynchronous invocations (InvokeAsync).
type async struct {
	once         sync.Once
	scale        float64
	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	pending      atomic.Int64
	givenUp      atomic.Int64
	mu           sync.Mutex // guards closed against wg.Add racing Close's Wait
	closed       bool
	delays       []time.Duration
	throttleBase time.Duration
	throttleCap  time.Duration
	maxAge       time.Duration
}

// WithTimeScale multiplies the asynchronous invocations' retry delays and maximum
// event age (default 1, real time), as the simulator's TimeScale does Step Functions'.
func WithTimeScale(scale float64) Option {
	return func(r *Runtime) { r.async.scale = scale }
}

func (a *async) init() {
	a.once.Do(func() {
		if a.scale <= 0 {
			a.scale = 1
		}
		d := func(s float64) time.Duration { return time.Duration(s * a.scale * float64(time.Second)) }
		a.delays = []time.Duration{d(60), d(120)}
		a.throttleBase, a.throttleCap, a.maxAge = d(1), d(300), d(6*3600)
		a.ctx, a.cancel = context.WithCancel(context.Background())
	})
}

// InvokeAsync queues an asynchronous invocation (InvocationType Event: what a topic
// rule's Lambda action makes) and returns at once. As in Lambda, a function error is
// retried twice, after one and then two minutes, before the event is given up; a
// throttled invocation (account or reserved concurrency exhausted) goes back to the
// queue and is retried with jittered backoff from one second to five minutes until the
// event is six hours old. Durations are scaled by WithTimeScale. Invocations run
// concurrently; Close stops the queue.
func (r *Runtime) InvokeAsync(function string, payload []byte) {
	a := &r.async
	a.init()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.pending.Add(1)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.pending.Add(-1)
		start, throttles := time.Now(), 0
		for attempt := 0; ; {
			_, err := r.Invoke(a.ctx, function, payload)
			if err == nil || a.ctx.Err() != nil {
				return
			}
			var wait time.Duration
			switch {
			case errors.Is(err, ErrThrottled) && time.Since(start) < a.maxAge:
				wait = min(a.throttleBase<<min(throttles, 20), a.throttleCap)
				wait = wait/2 + rand.N(wait/2+1)
				throttles++
			case errors.Is(err, ErrThrottled), attempt == len(a.delays):
				a.givenUp.Add(1)
				r.logger.Error("asynchronous invocation given up", "function", function, "attempts", attempt+throttles+1, "error", err)
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

// AsyncPending is how many asynchronous invocations are queued, running or waiting to
// be retried.
func (r *Runtime) AsyncPending() int64 { return r.async.pending.Load() }

// AsyncGivenUp counts the asynchronous events whose every attempt failed.
func (r *Runtime) AsyncGivenUp() int64 { return r.async.givenUp.Load() }

// Close stops the asynchronous queue: events not yet run are dropped, running ones are
// cancelled and waited for. Synchronous Invoke still works.
func (r *Runtime) Close() {
	a := &r.async
	a.init()
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
}
