package fleetsync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"golang.org/x/time/rate"
)

// Retry is the back-off policy for throttled and other transient call failures.
type Retry struct {
	// Attempts bounds the calls made for one request (first try included).
	Attempts int
	// Base and Cap bound the back-off: before retry n the caller sleeps a random
	// duration in [0, min(Cap, Base*2^n)) ("full jitter"), so that many workers
	// throttled together do not retry in lock step.
	Base, Cap time.Duration
}

// DefaultRetry is the policy Limiter uses when none is set: up to 8 attempts over
// roughly 10 s in the worst case.
var DefaultRetry = Retry{Attempts: 8, Base: 100 * time.Millisecond, Cap: 5 * time.Second}

// Limiter paces the calls to one Region: one token bucket per API at the configured
// rate, with a burst of one, so calls are spread evenly instead of arriving in bursts
// that the service's own bucket would throttle. It also counts calls and throttles.
// It is safe for concurrent use.
type Limiter struct {
	region string
	retry  Retry

	buckets map[string]*rate.Limiter // fixed after NewLimiter: read without a lock

	mu        sync.Mutex
	calls     map[string]int64
	throttled atomic.Int64
	retried   atomic.Int64
}

// NewLimiter returns a Limiter for region enforcing rates (APIs absent from rates are
// not limited) and retrying transient failures with retry (DefaultRetry when its
// Attempts is 0).
func NewLimiter(region string, rates Rates, r Retry) *Limiter {
	if r.Attempts <= 0 {
		r = DefaultRetry
	}
	l := &Limiter{region: region, retry: r, buckets: map[string]*rate.Limiter{}, calls: map[string]int64{}}
	for api, tps := range rates {
		if tps > 0 {
			l.buckets[api] = rate.NewLimiter(rate.Limit(tps), 1)
		}
	}
	return l
}

// Region returns the Region the limiter paces.
func (l *Limiter) Region() string { return l.region }

// Rate returns the configured rate of api, 0 when unlimited.
func (l *Limiter) Rate(api string) float64 {
	if b := l.buckets[api]; b != nil {
		return float64(b.Limit())
	}
	return 0
}

// Calls returns how many calls were made per API so far (retries included).
func (l *Limiter) Calls() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.calls))
	for k, v := range l.calls {
		out[k] = v
	}
	return out
}

// Throttled returns how many calls failed with a throttling error.
func (l *Limiter) Throttled() int64 { return l.throttled.Load() }

// Retried returns how many calls were retried after a transient failure.
func (l *Limiter) Retried() int64 { return l.retried.Load() }

// wait blocks until api may be called.
func (l *Limiter) wait(ctx context.Context, api string) error {
	if b := l.buckets[api]; b != nil {
		if err := b.Wait(ctx); err != nil {
			// Wait also fails early when ctx's deadline is nearer than the token.
			return fmt.Errorf("%s %s: waiting for the rate limiter: %w", l.region, api, errors.Join(ctx.Err(), err))
		}
	}
	l.mu.Lock()
	l.calls[api]++
	l.mu.Unlock()
	return nil
}

var (
	isThrottle  = retry.IsErrorThrottles(retry.DefaultThrottles)
	isRetryable = retry.IsErrorRetryables(retry.DefaultRetryables)
)

// do calls fn for api under the limiter, retrying throttling and other transient
// failures (as the SDK classifies them) with jittered exponential back-off. Other
// errors, and the last transient one, are returned as fn returned them (wrapped with
// the attempt count when retries ran out), so callers still see the SDK's error
// types.
func do[O any](ctx context.Context, l *Limiter, api string, fn func() (*O, error)) (*O, error) {
	for attempt := 1; ; attempt++ {
		if err := l.wait(ctx, api); err != nil {
			return nil, err
		}
		out, err := fn()
		if err == nil || ctx.Err() != nil {
			return out, err
		}
		throttled := isThrottle.IsErrorThrottle(err) == aws.TrueTernary
		if throttled {
			l.throttled.Add(1)
		}
		if !throttled && isRetryable.IsErrorRetryable(err) != aws.TrueTernary {
			return out, err
		}
		if attempt >= l.retry.Attempts {
			return out, fmt.Errorf("%s %s: gave up after %d attempts: %w", l.region, api, attempt, err)
		}
		l.retried.Add(1)
		if err := sleepCtx(ctx, backoff(l.retry, attempt)); err != nil {
			return nil, fmt.Errorf("%s %s: backing off: %w", l.region, api, err)
		}
	}
}

// backoff returns the full-jitter delay before retry number attempt (1-based).
func backoff(r Retry, attempt int) time.Duration {
	d := r.Cap
	if attempt < 32 {
		if e := r.Base << attempt; e > 0 && e < r.Cap {
			d = e
		}
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
