package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ErrWrongSecret is SecretChecker.Check's answer to a missing or wrong secret.
var ErrWrongSecret = errors.New("missing or wrong probe secret")

// SecretChecker decides whether the secret a caller presented is accepted.
type SecretChecker interface {
	// Check returns nil for an accepted secret, ErrWrongSecret for a refused one,
	// and any other error when the accepted secrets cannot be known.
	Check(ctx context.Context, presented string) error
}

// FixedSecret is a SecretChecker for one secret that never changes (tests and the
// simulator's edge). An empty FixedSecret accepts nothing and reports itself unavailable.
type FixedSecret string

// Check compares in constant time.
func (f FixedSecret) Check(_ context.Context, presented string) error {
	if f == "" {
		return errors.New("no probe secret configured")
	}
	if !secretMatches(presented, string(f)) {
		return ErrWrongSecret
	}
	return nil
}

// Defaults of RotatingSecret's zero fields.
const (
	DefaultSecretTTL     = time.Minute
	DefaultSecretGrace   = 5 * time.Minute
	DefaultSecretRecheck = 5 * time.Second
)

// RotatingSecret checks callers against the shared secret in an SSM parameter
// without a window of 403s when the secret is rotated. A rotation writes the
// parameter first and then changes the health check's path (the stacks order the
// two), and Route 53's checkers pick up the new path over a while, so for some time
// callers present both:
//   - the new secret: a secret that matches nothing known makes Check re-read the
//     parameter at once (at most every RecheckEvery, so strangers cannot make the
//     probe hammer SSM), instead of waiting for the cache to expire;
//   - the old one: while the current version is younger than Grace, the previous
//     version (GetParameter on "name:version-1") is accepted too. It is read from
//     the parameter's history, not remembered, so a cold start in the middle of a
//     rotation accepts it as well.
//
// Safe for concurrent use; one SSM read runs at a time.
type RotatingSecret struct {
	// Store is the SSM client; Name the SecureString parameter's name.
	Store ParameterStore
	Name  string
	// TTL is how long the values are served from the cache (0: DefaultSecretTTL).
	TTL time.Duration
	// Grace is how long after a new version was written the previous one is still
	// accepted (0: DefaultSecretGrace).
	Grace time.Duration
	// RecheckEvery spaces the re-reads an unknown secret triggers (0: DefaultSecretRecheck).
	RecheckEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives read failures (never values); nil discards.
	Logger *slog.Logger

	mu         sync.Mutex
	ok         bool
	cur, prev  string
	prevUntil  time.Time
	fetched    time.Time
	lastForced time.Time
}

// Check accepts the current secret, and the previous one during the grace period.
func (r *RotatingSecret) Check(ctx context.Context, presented string) error {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ok || now.Sub(r.fetched) >= or(r.TTL, DefaultSecretTTL) {
		if err := r.load(ctx, now); err != nil && !r.ok {
			return err
		}
	}
	if r.accepts(presented, now) {
		return nil
	}
	if presented == "" || now.Sub(r.lastForced) < or(r.RecheckEvery, DefaultSecretRecheck) {
		return ErrWrongSecret
	}
	r.lastForced = now
	if err := r.load(ctx, now); err != nil {
		return ErrWrongSecret // load logged it; the cached values were checked already
	}
	if r.accepts(presented, now) {
		return nil
	}
	return ErrWrongSecret
}

func (r *RotatingSecret) accepts(presented string, now time.Time) bool {
	if secretMatches(presented, r.cur) {
		return true
	}
	return r.prev != "" && now.Before(r.prevUntil) && secretMatches(presented, r.prev)
}

// load reads the current version and, within the grace period, the previous one. A
// failure keeps the cached values (logged), so an SSM hiccup does not fail the probe.
func (r *RotatingSecret) load(ctx context.Context, now time.Time) error {
	cur, version, modified, err := r.read(ctx, r.Name)
	if err == nil && cur == "" {
		err = fmt.Errorf("SSM parameter %s is empty", r.Name)
	}
	if err != nil {
		if r.ok {
			r.logger().Warn("serving the cached probe secret", "parameter", r.Name, "error", err)
		}
		return err
	}
	prev, until := "", modified.Add(or(r.Grace, DefaultSecretGrace))
	if version > 1 && now.Before(until) {
		p, _, _, perr := r.read(ctx, fmt.Sprintf("%s:%d", r.Name, version-1))
		if perr != nil {
			r.logger().Warn("previous probe secret unreadable; only the current one is accepted", "parameter", r.Name, "error", perr)
		}
		prev = p
	}
	r.ok, r.cur, r.prev, r.prevUntil, r.fetched = true, cur, prev, until, now
	return nil
}

func (r *RotatingSecret) read(ctx context.Context, name string) (value string, version int64, modified time.Time, err error) {
	out, err := r.Store.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err == nil && (out == nil || out.Parameter == nil || out.Parameter.Value == nil) {
		err = errors.New("no value in the response")
	}
	if err != nil {
		return "", 0, time.Time{}, fmt.Errorf("read SSM parameter %s: %w", name, err)
	}
	return *out.Parameter.Value, out.Parameter.Version, aws.ToTime(out.Parameter.LastModifiedDate), nil
}

func (r *RotatingSecret) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *RotatingSecret) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
