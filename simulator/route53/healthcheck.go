package route53

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultCheckers is the number of checker locations a health check uses when
// CheckConfig.Checkers is zero (Route 53's default set of regions).
const DefaultCheckers = 8

// maxTimeout is Route 53's connect budget for HTTP checks; the default Timeout
// never exceeds it.
const maxTimeout = 4 * time.Second

// healthyPercent is Route 53's aggregation rule: healthy while MORE than this
// percentage of checkers report healthy.
const healthyPercent = 18

// CheckerHeader is the request header carrying the checker's index (0-based).
const CheckerHeader = "X-Checker"

// userAgent mimics the real checkers' User-Agent so probe logs look familiar.
const userAgent = "Amazon-Route53-Health-Check-Service (iot-dr simulator)"

// maxBody bounds how much of a response body a checker reads (Route 53 reads
// at most 5,120 bytes for string matching).
const maxBody = 5120

// maxFailures bounds the failed-probe log; the oldest entries are dropped first.
const maxFailures = 4096

// CheckConfig configures a HealthCheck.
type CheckConfig struct {
	// Name identifies the check in logs and errors.
	Name string
	// URL is the probe URL, query string included.
	URL string
	// Interval is each checker's request interval. AWS allows 10 s or 30 s; the
	// simulator accepts any positive duration so drills can scale time.
	Interval time.Duration
	// FailureThreshold is the number of consecutive failures (or successes)
	// that flips one checker's view, 1 to 10.
	FailureThreshold int
	// Checkers is the number of checker locations (default DefaultCheckers).
	Checkers int
	// Timeout bounds each probe (default min(Interval, 4s)).
	Timeout time.Duration
}

func (c *CheckConfig) validate() error {
	if c.Checkers == 0 {
		c.Checkers = DefaultCheckers
	}
	if c.Timeout == 0 {
		c.Timeout = min(c.Interval, maxTimeout)
	}
	switch {
	case c.URL == "":
		return errors.New("URL is required")
	case c.Interval <= 0:
		return fmt.Errorf("interval %v must be positive", c.Interval)
	case c.FailureThreshold < 1 || c.FailureThreshold > 10:
		return fmt.Errorf("failure threshold %d outside 1-10", c.FailureThreshold)
	case c.Checkers < 1:
		return fmt.Errorf("checkers %d must be at least 1", c.Checkers)
	case c.Timeout < 0:
		return fmt.Errorf("timeout %v must not be negative", c.Timeout)
	}
	return nil
}

// Option customises a HealthCheck or a Zone.
type Option func(*options)

type options struct {
	now    func() time.Time
	logger *slog.Logger
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClock sets the clock used to timestamp observations, transitions and
// answer changes (default time.Now). Probing itself is paced by real timers.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithLogger sets the logger for status changes (default: discarded).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// CheckerStatus is one checker's current view of the endpoint.
type CheckerStatus struct {
	// Index is the checker's index, sent in the X-Checker header.
	Index int
	// Healthy is this checker's verdict after FailureThreshold damping.
	Healthy bool
	// ConsecutiveFailures and ConsecutiveSuccesses count the current streak.
	ConsecutiveFailures, ConsecutiveSuccesses int
	// Checks is the number of probes this checker has completed.
	Checks int
	// LastOK is the result of the latest probe.
	LastOK bool
	// LastStatusCode is the HTTP status of the latest probe (0 if none).
	LastStatusCode int
	// LastError describes why the latest probe failed ("" if it succeeded).
	LastError string
	// LastAt is when the latest probe completed (zero before the first).
	LastAt time.Time
	// LastDuration is how long the latest probe took.
	LastDuration time.Duration
}

// Transition is one flip of a health check's aggregate status.
type Transition struct {
	// At is when the check flipped.
	At time.Time
	// Healthy is the new status.
	Healthy bool
	// FirstFailure is, for a flip to unhealthy, the earliest failed probe of
	// the failure streaks that flipped the checkers behind it.
	FirstFailure time.Time
	// FirstSuccess is, for a flip to healthy, the earliest successful probe of
	// the success streaks that flipped the checkers behind it.
	FirstSuccess time.Time
}

// Failure is one failed probe of one checker, kept so that a report can say when a
// check failed even where no failure streak flipped it.
type Failure struct {
	// At is when the probe completed.
	At time.Time
	// Checker is the checker's index.
	Checker int
	// Error says why it failed (the probe URL and its secret left out).
	Error string
}

type checker struct {
	CheckerStatus
	streakStart time.Time // first probe of the current streak
	flippedAt   time.Time // when this checker last flipped
	flipCause   time.Time // streakStart of the streak that flipped it
}

// HealthCheck is a simulated Route 53 HTTP health check. Create it with
// NewHealthCheck, run it with Start and stop it with Stop. Its methods are safe
// for concurrent use.
type HealthCheck struct {
	cfg    CheckConfig
	client *http.Client
	opts   options

	// notifyMu serialises observations so listeners see flips in order; it is
	// taken before mu and held while listeners run.
	notifyMu  sync.Mutex
	mu        sync.Mutex
	checkers  []checker
	healthy   bool
	history   []Transition
	failures  []Failure // at most maxFailures, oldest first
	listeners []func(healthy bool, at time.Time)
	started   bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// NewHealthCheck validates cfg and returns a stopped health check that probes
// with client. A nil client gets a dedicated one without keep-alives. A
// client's CheckRedirect is overridden (on a copy) so redirects count as
// successes instead of being followed.
func NewHealthCheck(cfg CheckConfig, client *http.Client, opts ...Option) (*HealthCheck, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("route53: health check %q: %w", cfg.Name, err)
	}
	var c http.Client
	if client != nil {
		c = *client
	} else {
		// A fresh connection per probe, as Route 53 checkers make, and no idle
		// connections (or their goroutines) left behind after Stop.
		c.Transport = &http.Transport{DisableKeepAlives: true}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h := &HealthCheck{
		cfg:      cfg,
		client:   &c,
		opts:     buildOptions(opts),
		checkers: make([]checker, cfg.Checkers),
		healthy:  true,
	}
	for i := range h.checkers {
		h.checkers[i].Index = i
		h.checkers[i].Healthy = true
	}
	return h, nil
}

// Config returns the validated configuration, defaults filled in.
func (h *HealthCheck) Config() CheckConfig { return h.cfg }

// DetectionBound is the longest the check can take, after the endpoint starts
// failing, to turn unhealthy: FailureThreshold intervals (the last checker to
// matter starts its streak within one interval) plus one probe timeout.
func (h *HealthCheck) DetectionBound() time.Duration {
	return time.Duration(h.cfg.FailureThreshold)*h.cfg.Interval + h.cfg.Timeout
}

// Start launches the checkers; they run until ctx is done or Stop is called.
// Calling Start more than once has no effect.
func (h *HealthCheck) Start(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return
	}
	h.started = true
	ctx, h.cancel = context.WithCancel(ctx)
	n := len(h.checkers)
	for i := range n {
		h.wg.Add(1)
		offset := h.cfg.Interval * time.Duration(i) / time.Duration(n)
		go h.run(ctx, i, offset)
	}
}

// Stop stops the checkers and waits for them to return. It is idempotent and
// safe to call without Start.
func (h *HealthCheck) Stop() {
	h.mu.Lock()
	cancel := h.cancel
	h.started = true // a stopped check cannot be restarted
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	h.wg.Wait()
}

// Healthy reports the aggregate status: true while more than 18% of the
// checkers report healthy.
func (h *HealthCheck) Healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.healthy
}

// Status returns every checker's current view, by index.
func (h *HealthCheck) Status() []CheckerStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]CheckerStatus, len(h.checkers))
	for i, c := range h.checkers {
		out[i] = c.CheckerStatus
	}
	return out
}

// History returns the aggregate status flips, oldest first.
func (h *HealthCheck) History() []Transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Transition(nil), h.history...)
}

// Failures returns the failed probes, oldest first; only the most recent 4096 are kept.
func (h *HealthCheck) Failures() []Failure {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Failure(nil), h.failures...)
}

// Steady reports whether the check is healthy and every checker's latest probe, made
// after since, succeeded: nothing is failing and every checker has spoken since.
func (h *HealthCheck) Steady(since time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.healthy {
		return false
	}
	for _, c := range h.checkers {
		if !c.Healthy || !c.LastOK || !c.LastAt.After(since) {
			return false
		}
	}
	return true
}

// addListener registers f, called in order each time the aggregate status
// flips; Zone uses it to follow flips. f runs on a checker goroutine, with the
// check's notify lock held, so it must not call Stop or addListener.
func (h *HealthCheck) addListener(f func(healthy bool, at time.Time)) {
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.listeners = append(h.listeners, f)
}

func (h *HealthCheck) run(ctx context.Context, i int, offset time.Duration) {
	defer h.wg.Done()
	timer := time.NewTimer(offset)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	ticker := time.NewTicker(h.cfg.Interval)
	defer ticker.Stop()
	for {
		start := time.Now()
		code, err := h.probe(ctx, i)
		if ctx.Err() != nil {
			return // shutting down is not an endpoint failure
		}
		h.observe(i, code, err)
		h.mu.Lock()
		h.checkers[i].LastDuration = time.Since(start)
		h.mu.Unlock()
		// A probe slower than the interval left a tick pending: drop it, so the next
		// probe waits for its slot rather than following at once (a checker requests
		// once per interval).
		select {
		case <-ticker.C:
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probe performs one HTTP check; err is non-nil when the check failed.
func (h *HealthCheck) probe(ctx context.Context, i int) (int, error) {
	if h.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.cfg.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set(CheckerHeader, strconv.Itoa(i))
	req.Header.Set("User-Agent", userAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return resp.StatusCode, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// describeProbeError drops the URL from a transport error: the probe's URL carries its
// shared secret (Route 53 health checks cannot send headers), and this text is logged.
func describeProbeError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// observe records one probe result for checker i, re-aggregates and notifies
// listeners on a flip.
func (h *HealthCheck) observe(i, code int, probeErr error) {
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	at := h.opts.now()

	h.mu.Lock()
	c := &h.checkers[i]
	ok := probeErr == nil
	c.Checks++
	c.LastOK, c.LastStatusCode, c.LastAt = ok, code, at
	c.LastError = ""
	if !ok {
		c.LastError = describeProbeError(probeErr)
		if len(h.failures) == maxFailures {
			h.failures = slices.Delete(h.failures, 0, maxFailures/4)
		}
		h.failures = append(h.failures, Failure{At: at, Checker: i, Error: c.LastError})
	}
	if ok {
		if c.ConsecutiveSuccesses == 0 {
			c.streakStart = at
		}
		c.ConsecutiveSuccesses++
		c.ConsecutiveFailures = 0
	} else {
		if c.ConsecutiveFailures == 0 {
			c.streakStart = at
		}
		c.ConsecutiveFailures++
		c.ConsecutiveSuccesses = 0
	}
	streak := c.ConsecutiveFailures
	if !c.Healthy {
		streak = c.ConsecutiveSuccesses
	}
	if streak >= h.cfg.FailureThreshold {
		c.Healthy = !c.Healthy
		c.flippedAt, c.flipCause = at, c.streakStart
		h.opts.logger.Debug("route53: checker flipped", "check", h.cfg.Name, "checker", i, "healthy", c.Healthy)
	}

	var tr *Transition
	if healthy := h.aggregate(); healthy != h.healthy {
		t := h.transition(healthy, at)
		h.healthy = healthy
		h.history = append(h.history, t)
		tr = &t
	}
	listeners, lastErr := h.listeners, c.LastError
	h.mu.Unlock()

	if tr == nil {
		return
	}
	if tr.Healthy {
		h.opts.logger.Info("route53: health check healthy", "check", h.cfg.Name, "at", tr.At, "first_success", tr.FirstSuccess)
	} else {
		h.opts.logger.Warn("route53: health check unhealthy", "check", h.cfg.Name, "at", tr.At, "first_failure", tr.FirstFailure, "last_error", lastErr)
	}
	for _, f := range listeners {
		f(tr.Healthy, tr.At)
	}
}

// aggregate applies the 18% rule; h.mu must be held.
func (h *HealthCheck) aggregate() bool {
	n := 0
	for _, c := range h.checkers {
		if c.Healthy {
			n++
		}
	}
	return n*100 > healthyPercent*len(h.checkers)
}

// transition describes a flip to healthy at at: its cause is the earliest
// streak among the checkers that flipped the same way since the previous
// aggregate flip. h.mu must be held.
func (h *HealthCheck) transition(healthy bool, at time.Time) Transition {
	var since time.Time
	if n := len(h.history); n > 0 {
		since = h.history[n-1].At
	}
	var cause time.Time
	for _, c := range h.checkers {
		if c.Healthy != healthy || c.flippedAt.IsZero() || c.flippedAt.Before(since) {
			continue
		}
		if cause.IsZero() || c.flipCause.Before(cause) {
			cause = c.flipCause
		}
	}
	t := Transition{At: at, Healthy: healthy}
	if healthy {
		t.FirstSuccess = cause
	} else {
		t.FirstFailure = cause
	}
	return t
}
