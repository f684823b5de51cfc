package probe

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// versionedStore is an SSM parameter with history, answering GetParameter for the
// name (the latest version) and for "name:N" (version N), as SSM does; any other name
// is ParameterNotFound, an unknown version ParameterVersionNotFound.
type versionedStore struct {
	name string
	now  func() time.Time

	mu       sync.Mutex
	versions []string
	modified []time.Time
	reads    int
	fail     error
}

func (s *versionedStore) put(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions = append(s.versions, v)
	s.modified = append(s.modified, s.now())
}

func (s *versionedStore) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail != nil {
		return nil, s.fail
	}
	name, sel, hasSel := strings.Cut(aws.ToString(in.Name), ":")
	if name != s.name {
		return nil, &ssmtypes.ParameterNotFound{}
	}
	v := len(s.versions)
	if hasSel {
		n, err := strconv.Atoi(sel)
		if err != nil || n < 1 || n > len(s.versions) {
			return nil, &ssmtypes.ParameterVersionNotFound{}
		}
		v = n
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{
		Name: aws.String(name), Value: aws.String(s.versions[v-1]), Version: int64(v), LastModifiedDate: aws.Time(s.modified[v-1]),
	}}, nil
}

func (s *versionedStore) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestRotationWithoutForbidden rotates the secret while checkers keep calling the
// probe, some already with the new secret and some still with the old: no call is
// refused, until the grace period is over and the old secret is refused.
func TestRotationWithoutForbidden(t *testing.T) {
	for _, cold := range []bool{false, true} {
		t.Run("cold start mid-rotation "+strconv.FormatBool(cold), func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
			store := &versionedStore{name: "/iotdr/probe/secret", now: clock.now}
			store.put("old-secret")
			newChecker := func() *RotatingSecret {
				return &RotatingSecret{Store: store, Name: store.name, TTL: time.Minute, Grace: 5 * time.Minute, RecheckEvery: 5 * time.Second, Now: clock.now}
			}
			rs := newChecker()
			h := &Handler{Secret: rs, Probe: &fakeProbe{}}
			call := func(secret string) int {
				t.Helper()
				resp, err := h.Handle(t.Context(), request(map[string]string{SecretHeader: secret}, nil))
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode
			}
			if got := call("old-secret"); got != 200 {
				t.Fatalf("before the rotation: %d", got)
			}
			clock.advance(10 * time.Second)
			store.put("new-secret") // the stacks write the parameter first ...
			if cold {
				h.Secret = newChecker()
			}
			// ... then the health check's path changes, and checkers move over during
			// the next minutes, 10 s apart, while the cache would still be fresh.
			for i := range 24 {
				for _, s := range []string{"old-secret", "new-secret"} {
					if got := call(s); got != 200 {
						t.Fatalf("%s after %ds: status %d, want 200", s, 10*i, got)
					}
				}
				clock.advance(10 * time.Second)
			}
			clock.advance(2 * time.Minute) // past the grace period
			if got := call("old-secret"); got != 403 {
				t.Errorf("old secret after the grace period: %d, want 403", got)
			}
			if got := call("new-secret"); got != 200 {
				t.Errorf("new secret: %d, want 200", got)
			}
			// Ten minutes of calls read SSM about once a minute and twice per
			// rotation, not once per call.
			if n := store.readCount(); n > 20 {
				t.Errorf("%d SSM reads", n)
			}
		})
	}
}

// TestRotatingSecretGuards: wrong secrets are refused without making the probe read
// SSM on every guess; SSM failures after a first read serve the cached secret, before
// it they make the probe unavailable (503, not 403).
func TestRotatingSecretGuards(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	store := &versionedStore{name: "s", now: clock.now}
	store.fail = errors.New("AccessDenied")
	rs := &RotatingSecret{Store: store, Name: "s", Now: clock.now}
	if err := rs.Check(t.Context(), "x"); err == nil || errors.Is(err, ErrWrongSecret) {
		t.Fatalf("first read failing: %v, want an unavailable error", err)
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	store.put("right")
	if err := rs.Check(t.Context(), "right"); err != nil {
		t.Fatal(err)
	}
	before := store.readCount()
	for range 100 {
		if err := rs.Check(t.Context(), "guess"); !errors.Is(err, ErrWrongSecret) {
			t.Fatalf("guess: %v", err)
		}
		if err := rs.Check(t.Context(), ""); !errors.Is(err, ErrWrongSecret) {
			t.Fatalf("empty: %v", err)
		}
		clock.advance(100 * time.Millisecond)
	}
	if n := store.readCount() - before; n > 3 {
		t.Errorf("100 wrong guesses over 10 s read SSM %d times, want at most 3 (one per RecheckEvery)", n)
	}
	store.mu.Lock()
	store.fail = errors.New("ThrottlingException")
	store.mu.Unlock()
	clock.advance(2 * time.Minute)
	if err := rs.Check(t.Context(), "right"); err != nil {
		t.Errorf("SSM failing after a first read: %v, want the cached secret accepted", err)
	}
	if err := FixedSecret("").Check(t.Context(), ""); err == nil || errors.Is(err, ErrWrongSecret) {
		t.Errorf("empty FixedSecret: %v", err)
	}
}
