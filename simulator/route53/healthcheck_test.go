package route53

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewHealthCheckValidation(t *testing.T) {
	valid := CheckConfig{Name: "p", URL: "http://127.0.0.1/", Interval: 10 * time.Second, FailureThreshold: 3}
	tests := []struct {
		name    string
		mutate  func(*CheckConfig)
		wantErr string
	}{
		{"valid", func(*CheckConfig) {}, ""},
		{"no URL", func(c *CheckConfig) { c.URL = "" }, "URL is required"},
		{"zero interval", func(c *CheckConfig) { c.Interval = 0 }, "interval"},
		{"threshold 0", func(c *CheckConfig) { c.FailureThreshold = 0 }, "threshold 0"},
		{"threshold 11", func(c *CheckConfig) { c.FailureThreshold = 11 }, "threshold 11"},
		{"negative checkers", func(c *CheckConfig) { c.Checkers = -1 }, "checkers"},
		{"negative timeout", func(c *CheckConfig) { c.Timeout = -time.Second }, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			_, err := NewHealthCheck(cfg, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		interval    time.Duration
		wantTimeout time.Duration
	}{
		{10 * time.Second, 4 * time.Second},
		{30 * time.Second, 4 * time.Second},
		{tick, tick},
	}
	for _, tt := range tests {
		h, err := NewHealthCheck(CheckConfig{URL: "http://x/", Interval: tt.interval, FailureThreshold: 3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := h.Config()
		if cfg.Checkers != DefaultCheckers || cfg.Timeout != tt.wantTimeout {
			t.Errorf("interval %v: checkers %d timeout %v, want %d and %v", tt.interval, cfg.Checkers, cfg.Timeout, DefaultCheckers, tt.wantTimeout)
		}
		if want := 3*tt.interval + tt.wantTimeout; h.DetectionBound() != want {
			t.Errorf("DetectionBound = %v, want %v", h.DetectionBound(), want)
		}
		if !h.Healthy() {
			t.Error("a new health check must start healthy")
		}
	}
}

// TestCheckerThreshold drives one checker through result sequences and checks
// the damping: a flip needs threshold consecutive results the other way.
func TestCheckerThreshold(t *testing.T) {
	tests := []struct {
		name      string
		threshold int
		results   string // '.' success, 'x' failure
		want      string // Healthy after each result: 'H' or 'U'
	}{
		{"threshold 3 failures", 3, "xxx", "HHU"},
		{"single failure below threshold", 3, "x..x.", "HHHHH"},
		{"two failures then success resets", 3, "xx.xx", "HHHHH"},
		{"flapping never flips", 2, "x.x.x.x.x.", "HHHHHHHHHH"},
		{"recovery needs threshold successes", 2, "xx.x..", "HUUUUH"},
		{"threshold 1 follows every result", 1, "x.x", "UHU"},
		{"flapping while unhealthy stays unhealthy", 2, "xx.x.x", "HUUUUU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newManualCheck(t, 1, tt.threshold)
			var got strings.Builder
			for _, r := range tt.results {
				if r == 'x' {
					h.fail(0)
				} else {
					h.succeed(0)
				}
				if h.Healthy() {
					got.WriteByte('H')
				} else {
					got.WriteByte('U')
				}
			}
			if got.String() != tt.want {
				t.Fatalf("results %s: health %s, want %s", tt.results, got.String(), tt.want)
			}
		})
	}
}

// TestEighteenPercentRule fails some checkers and checks the aggregate:
// healthy while more than 18% of the checkers are healthy.
func TestEighteenPercentRule(t *testing.T) {
	tests := []struct {
		checkers, failing int
		want              bool
	}{
		{8, 0, true},
		{8, 6, true},  // 2/8 = 25%
		{8, 7, false}, // 1/8 = 12.5%
		{5, 4, true},  // 1/5 = 20%
		{5, 5, false},
		{6, 5, false}, // 1/6 = 16.7%
		{1, 0, true},
		{1, 1, false},
	}
	for _, tt := range tests {
		h := newManualCheck(t, tt.checkers, 2)
		for i := range tt.failing {
			h.fail(i)
			h.fail(i)
		}
		if got := h.Healthy(); got != tt.want {
			t.Errorf("%d of %d checkers failing: healthy %v, want %v", tt.failing, tt.checkers, got, tt.want)
		}
	}
}

func TestTransitionCauses(t *testing.T) {
	clock := newFakeClock()
	var mu sync.Mutex
	var seen []bool
	h := newManualCheck(t, 2, 2, WithClock(clock.Now))
	h.addListener(func(healthy bool, _ time.Time) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, healthy)
	})
	t0 := clock.Now()
	h.fail(0) // checker 0's streak starts at t0
	clock.Advance(time.Second)
	h.fail(1) // checker 1's streak starts at t0+1s
	clock.Advance(time.Second)
	h.fail(0) // checker 0 unhealthy; 1 of 2 healthy is 50%
	clock.Advance(time.Second)
	h.fail(1) // both unhealthy at t0+3s
	clock.Advance(time.Second)
	h.succeed(1)
	clock.Advance(time.Second)
	h.succeed(1) // checker 1 healthy again at t0+5s

	want := []Transition{
		{At: t0.Add(3 * time.Second), Healthy: false, FirstFailure: t0},
		{At: t0.Add(5 * time.Second), Healthy: true, FirstSuccess: t0.Add(4 * time.Second)},
	}
	got := h.History()
	if len(got) != len(want) {
		t.Fatalf("history %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].At.Equal(want[i].At) || got[i].Healthy != want[i].Healthy ||
			!got[i].FirstFailure.Equal(want[i].FirstFailure) || !got[i].FirstSuccess.Equal(want[i].FirstSuccess) {
			t.Errorf("transition %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] || !seen[1] {
		t.Errorf("listener saw %v, want [false true]", seen)
	}
	st := h.Status()
	if st[1].ConsecutiveSuccesses != 2 || st[0].ConsecutiveFailures != 2 || st[0].LastError == "" || st[1].Checks != 4 {
		t.Errorf("status %+v", st)
	}
}

// TestHTTPFailureThreshold runs real checkers against a loopback server: the
// check turns unhealthy only after threshold consecutive failures, and
// recovers after threshold successes.
func TestHTTPFailureThreshold(t *testing.T) {
	const threshold = 3
	e := newEndpoint(t)
	var mu sync.Mutex
	var atFlip []CheckerStatus
	h := newCheck(t, CheckConfig{URL: e.srv.URL + "/probe?secret=s", FailureThreshold: threshold, Checkers: 1})
	h.addListener(func(bool, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		atFlip = append(atFlip, h.Status()[0])
	})
	h.Start(context.Background())
	t.Cleanup(h.Stop)
	e.waitRequests(t, 2)
	if !h.Healthy() {
		t.Fatal("unhealthy while the endpoint answers 200")
	}

	e.fail.Store(true)
	waitFor(t, "unhealthy", func() bool { return !h.Healthy() })
	e.fail.Store(false)
	waitFor(t, "healthy again", func() bool { return h.Healthy() })

	mu.Lock()
	defer mu.Unlock()
	if len(atFlip) != 2 {
		t.Fatalf("flips: %+v", atFlip)
	}
	if atFlip[0].ConsecutiveFailures != threshold || atFlip[0].LastStatusCode != http.StatusServiceUnavailable {
		t.Errorf("flipped unhealthy at %+v, want exactly %d consecutive 503s", atFlip[0], threshold)
	}
	if atFlip[1].ConsecutiveSuccesses != threshold || atFlip[1].LastStatusCode != http.StatusOK {
		t.Errorf("flipped healthy at %+v, want exactly %d consecutive successes", atFlip[1], threshold)
	}
	hist := h.History()
	if len(hist) != 2 || hist[0].Healthy || !hist[1].Healthy {
		t.Fatalf("history %+v", hist)
	}
	// The failures that led to the flip span threshold-1 intervals between their
	// starts; the times are the probes' ends, so a slow first probe shortens the span
	// (31 ms seen under -race): half of it still tells paced probes from back-to-back.
	if d := hist[0].At.Sub(hist[0].FirstFailure); d < (threshold-1)*tick/2 {
		t.Errorf("unhealthy %v after the first failure, want about %v", d, (threshold-1)*tick)
	}
}

func TestHTTPDamping(t *testing.T) {
	tests := []struct {
		name   string
		script func(n int64, checker int) int
	}{
		{"single failure", func(n int64, _ int) int {
			if n == 3 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}},
		{"flapping", func(n int64, _ int) int {
			if n%2 == 0 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}},
		{"redirect is success", func(int64, int) int { return http.StatusFound }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t)
			e.setScript(tt.script)
			h := startCheck(t, CheckConfig{URL: e.srv.URL, FailureThreshold: 2, Checkers: 1})
			e.waitRequests(t, 12)
			if !h.Healthy() || len(h.History()) != 0 {
				t.Fatalf("healthy %v, history %+v: want no flip", h.Healthy(), h.History())
			}
		})
	}
}

func TestHTTPTimeoutIsFailure(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	h := startCheck(t, CheckConfig{URL: srv.URL, FailureThreshold: 1, Checkers: 1, Timeout: 5 * time.Millisecond})
	waitFor(t, "unhealthy", func() bool { return !h.Healthy() })
	if st := h.Status()[0]; !strings.Contains(st.LastError, "deadline") && !strings.Contains(st.LastError, "Timeout") {
		t.Errorf("last error %q, want a timeout", st.LastError)
	}
}

// TestHTTPPerCheckerFailures fails some checkers through the X-Checker header
// and checks the 18% rule end to end.
func TestHTTPPerCheckerFailures(t *testing.T) {
	e := newEndpoint(t)
	// The failing checkers get HTTP 500s; the healthy ones must not time out on a
	// loaded machine, so the timeout is well above the interval.
	h := startCheck(t, CheckConfig{URL: e.srv.URL, FailureThreshold: 2, Checkers: 8, Timeout: 2 * time.Second})

	e.setFailing(0, 1, 2, 3, 4, 5) // 2 of 8 still healthy: 25%
	waitFor(t, "six checkers unhealthy", func() bool {
		n := 0
		for _, s := range h.Status() {
			if !s.Healthy {
				n++
			}
		}
		return n == 6
	})
	if !h.Healthy() {
		t.Fatal("unhealthy with 2 of 8 checkers healthy")
	}
	for _, s := range h.Status()[6:] {
		if !s.Healthy || s.LastStatusCode != http.StatusOK {
			t.Errorf("checker %d: %+v, want healthy", s.Index, s)
		}
	}

	e.setFailing(0, 1, 2, 3, 4, 5, 6) // 1 of 8: 12.5%
	waitFor(t, "unhealthy", func() bool { return !h.Healthy() })
	if st := h.Status(); !st[7].Healthy || st[6].Healthy {
		t.Errorf("status %+v: want only checker 7 healthy", st)
	}
}

func TestStartStop(t *testing.T) {
	noLeak(t)
	e := newEndpoint(t)
	// A probe that timed out counts as a check the server may never have seen: the
	// generous timeout keeps a loaded machine from timing any out (seen at load 25).
	h, err := NewHealthCheck(CheckConfig{URL: e.srv.URL, Interval: tick, FailureThreshold: 1, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.Start(ctx)
	h.Start(ctx) // no second set of checkers
	e.waitRequests(t, 16)
	h.Stop()
	h.Stop()
	n := e.requests.Load()
	h.Start(ctx) // a stopped check stays stopped
	// Nothing to wait for: the point is that several intervals pass with no probe.
	quiet := time.NewTimer(5 * tick)
	defer quiet.Stop()
	<-quiet.C
	// A request each checker sent just before Stop may reach the server after it; a
	// check started again would send one per checker per interval.
	if late := e.requests.Load() - n; late > int64(len(h.Status())) {
		t.Errorf("server saw %d requests after Start following Stop, want at most the %d in flight at Stop", late, len(h.Status()))
	}
	st := h.Status()
	total := 0
	for _, s := range st {
		total += s.Checks
	}
	// Probes cut short by Stop are not observations, so a few may be missing.
	if int64(total) > n || int64(total) < n-int64(len(st)) {
		t.Errorf("checkers completed %d probes, server saw %d", total, n)
	}
	for _, s := range st {
		if s.Checks == 0 {
			t.Errorf("checker %d never probed", s.Index)
		}
	}

	// Cancelling the context stops the checkers as well.
	h2, err := NewHealthCheck(CheckConfig{URL: e.srv.URL, Interval: tick, FailureThreshold: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	h2.Start(ctx2)
	e.waitRequests(t, 4)
	cancel2()
	h2.Stop()
	if !h2.Healthy() || len(h2.History()) != 0 {
		t.Error("shutting down must not count as a failure")
	}
}

func TestProbeErrorsDoNotCarryTheSecret(t *testing.T) {
	_, err := (&http.Client{}).Get("http://127.0.0.1:1/probe?secret=s3cr3t")
	if err == nil {
		t.Skip("something listens on port 1")
	}
	if got := describeProbeError(err); strings.Contains(got, "s3cr3t") || got == "" {
		t.Errorf("probe error %q", got)
	}
}

// TestFailuresAndSteady: every failed probe is logged with its checker and time, also
// those no streak turned into a flip; Steady holds only once every checker's latest
// probe, made after the given moment, succeeded.
func TestFailuresAndSteady(t *testing.T) {
	tests := []struct {
		name       string
		results    []string // per checker: '.' success, 'x' failure, in turn
		wantFailed []int    // the checkers of the logged failures, in order
		wantSteady bool
	}{
		{"all pass", []string{"..", ".."}, nil, true},
		{"one failure below threshold, then a success", []string{"x.", ".."}, []int{0}, true},
		{"latest probe failed", []string{".x", ".."}, []int{0}, false},
		{"a checker silent since", []string{"..", ""}, nil, false},
		{"flipped checker not yet recovered", []string{"xx.", "..."}, []int{0, 0}, false},
		{"flipped checker recovered", []string{"xx..", "...."}, []int{0, 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			h := newManualCheck(t, len(tt.results), 2, WithClock(clock.Now))
			since := clock.Now()
			clock.Advance(time.Millisecond)
			for step := 0; ; step++ {
				more := false
				for c, rs := range tt.results {
					if step >= len(rs) {
						continue
					}
					more = true
					if rs[step] == 'x' {
						h.fail(c)
					} else {
						h.succeed(c)
					}
					clock.Advance(time.Millisecond)
				}
				if !more {
					break
				}
			}
			var got []int
			for _, f := range h.Failures() {
				if f.At.Before(since) || f.Error == "" {
					t.Errorf("failure %+v: before the start or without a reason", f)
				}
				got = append(got, f.Checker)
			}
			if !slices.Equal(got, tt.wantFailed) {
				t.Errorf("failures from checkers %v, want %v", got, tt.wantFailed)
			}
			if s := h.Steady(since); s != tt.wantSteady {
				t.Errorf("Steady = %v, want %v", s, tt.wantSteady)
			}
		})
	}
}
