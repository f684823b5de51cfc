package route53

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tick is the probe interval of the HTTP tests: small so tests run fast, large
// enough for the race detector on a busy 2-core machine.
const tick = 20 * time.Millisecond

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// endpoint is a loopback HTTP server whose answers the test controls: by
// default 200; fail makes every request fail; failFor selects failing
// checkers by their X-Checker index; script, when set, decides per request.
type endpoint struct {
	srv      *httptest.Server
	requests atomic.Int64
	fail     atomic.Bool

	mu      sync.Mutex
	failFor map[int]bool
	script  func(n int64, checker int) int // status for the n-th request (1-based)
}

func newEndpoint(t *testing.T) *endpoint {
	t.Helper()
	e := &endpoint{failFor: map[int]bool{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	n := e.requests.Add(1)
	idx, err := strconv.Atoi(r.Header.Get(CheckerHeader))
	if err != nil {
		http.Error(w, "missing checker header", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	script, failing := e.script, e.failFor[idx]
	e.mu.Unlock()
	switch {
	case script != nil:
		w.WriteHeader(script(n, idx))
	case e.fail.Load() || failing:
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (e *endpoint) setFailing(idx ...int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failFor = map[int]bool{}
	for _, i := range idx {
		e.failFor[i] = true
	}
}

func (e *endpoint) setScript(f func(n int64, checker int) int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script = f
}

// waitRequests waits until the endpoint has served at least n more requests
// than it had when called.
func (e *endpoint) waitRequests(t *testing.T, n int64) {
	t.Helper()
	target := e.requests.Load() + n
	waitFor(t, "probe requests", func() bool { return e.requests.Load() >= target })
}

// newCheck creates a stopped health check, the interval defaulting to tick.
func newCheck(t *testing.T, cfg CheckConfig, opts ...Option) *HealthCheck {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = tick
	}
	if cfg.Name == "" {
		cfg.Name = t.Name()
	}
	h, err := NewHealthCheck(cfg, nil, opts...)
	if err != nil {
		t.Fatalf("NewHealthCheck: %v", err)
	}
	return h
}

// startCheck creates and starts a health check on url, stopped at cleanup.
func startCheck(t *testing.T, cfg CheckConfig, opts ...Option) *HealthCheck {
	t.Helper()
	h := newCheck(t, cfg, opts...)
	h.Start(context.Background())
	t.Cleanup(h.Stop)
	return h
}

// newManualCheck returns a health check that is never started; tests drive it
// with fail/succeed.
func newManualCheck(t *testing.T, checkers, threshold int, opts ...Option) *HealthCheck {
	t.Helper()
	h, err := NewHealthCheck(CheckConfig{Name: "manual", URL: "http://127.0.0.1:1/", Interval: time.Second,
		FailureThreshold: threshold, Checkers: checkers}, nil, opts...)
	if err != nil {
		t.Fatalf("NewHealthCheck: %v", err)
	}
	return h
}

var errProbe = errors.New("HTTP status 503")

func (h *HealthCheck) fail(i int)    { h.observe(i, http.StatusServiceUnavailable, errProbe) }
func (h *HealthCheck) succeed(i int) { h.observe(i, http.StatusOK, nil) }

// setHealthy drives every checker of a manual check to the given state.
func (h *HealthCheck) setHealthy(healthy bool) {
	for i := range h.checkers {
		for range h.cfg.FailureThreshold {
			if healthy {
				h.succeed(i)
			} else {
				h.fail(i)
			}
		}
	}
}

// noLeak records the goroutine count and, at cleanup, waits for it to return
// to that level. Register it before anything whose goroutines must end.
func noLeak(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
	})
}
