package route53

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// Failover record roles, as in the Route 53 API.
const (
	Primary   = "PRIMARY"
	Secondary = "SECONDARY"
)

// TypeA is the only record type the simulator serves.
const TypeA = "A"

// Record is one failover record.
type Record struct {
	// Name is the fully qualified record name (a trailing dot is optional);
	// it must be the zone's domain or a name under it.
	Name string
	// Type is the record type; only "A" (also the default) is supported.
	Type string
	// TTL is how long resolvers may cache the answer; Route 53 uses whole
	// seconds, the simulator accepts any non-negative duration.
	TTL time.Duration
	// Failover is PRIMARY or SECONDARY; empty means the role AddFailover
	// assigns by position.
	Failover string
	// Value is the IPv4 address answered.
	Value net.IP
	// Check is the associated health check; nil means always healthy.
	Check *HealthCheck
}

// healthy reports the record's health for routing purposes.
func (r Record) healthy() bool { return r.Check == nil || r.Check.Healthy() }

// Answer is what the zone answers for a name.
type Answer struct {
	// IP is the chosen record's value.
	IP net.IP
	// TTL is the chosen record's TTL.
	TTL time.Duration
	// Which is PRIMARY or SECONDARY.
	Which string
}

// AnswerChange is one change of the answer for a name.
type AnswerChange struct {
	// At is when the answer changed (the health check flip that caused it, or
	// the time the records were added).
	At time.Time
	// Name is the normalised record name.
	Name string
	// Which is PRIMARY or SECONDARY.
	Which string
	// IP is the new answer.
	IP net.IP
}

type failoverPair struct {
	primary, secondary Record
	last               string // Which was last recorded in the timeline
}

// choose applies Route 53's failover rules: the primary while healthy, else a
// healthy secondary, else (every record unhealthy) the primary, because
// Route 53 then responds as if all records were healthy.
func (p *failoverPair) choose() Answer {
	r := p.primary
	if !p.primary.healthy() && p.secondary.healthy() {
		r = p.secondary
	}
	return Answer{IP: r.Value, TTL: r.TTL, Which: r.Failover}
}

// Zone is a simulated Route 53 hosted zone holding failover record pairs. Its
// methods are safe for concurrent use.
type Zone struct {
	domain string
	opts   options

	mu      sync.RWMutex
	pairs   map[string]*failoverPair
	answers []AnswerChange
}

// NewZone returns an empty zone for domain (e.g. "iot.example.com"). Only
// WithClock and WithLogger apply.
func NewZone(domain string, opts ...Option) *Zone {
	return &Zone{
		domain: normalise(domain),
		opts:   buildOptions(opts),
		pairs:  make(map[string]*failoverPair),
	}
}

// Domain returns the zone's normalised domain (lower case, no trailing dot).
func (z *Zone) Domain() string { return z.domain }

// Contains reports whether name is the zone's domain or under it.
func (z *Zone) Contains(name string) bool {
	name = normalise(name)
	return name == z.domain || strings.HasSuffix(name, "."+z.domain)
}

// AddFailover adds a PRIMARY/SECONDARY pair for one name. Both records must
// have the same name and type, IPv4 values and non-negative TTLs, and the name
// must not have records yet. The zone follows both records' health checks
// from now on to keep its answer timeline.
func (z *Zone) AddFailover(primary, secondary Record) error {
	if err := z.check(&primary, Primary); err != nil {
		return fmt.Errorf("route53: add failover: primary: %w", err)
	}
	if err := z.check(&secondary, Secondary); err != nil {
		return fmt.Errorf("route53: add failover: secondary: %w", err)
	}
	if primary.Name != secondary.Name {
		return fmt.Errorf("route53: add failover: names differ: %q and %q", primary.Name, secondary.Name)
	}
	if primary.Check != nil && primary.Check == secondary.Check {
		return errors.New("route53: add failover: primary and secondary share one health check")
	}

	z.mu.Lock()
	if _, ok := z.pairs[primary.Name]; ok {
		z.mu.Unlock()
		return fmt.Errorf("route53: add failover: %s already has records", primary.Name)
	}
	p := &failoverPair{primary: primary, secondary: secondary}
	z.pairs[primary.Name] = p
	z.mu.Unlock()

	// Listeners are registered before the initial answer is recorded, so a
	// flip in between is either delivered or already reflected in it. (They
	// cannot be registered under z.mu: listeners take z.mu inside the check's
	// own lock.)
	for _, r := range []Record{primary, secondary} {
		if r.Check != nil {
			name := r.Name
			r.Check.addListener(func(_ bool, at time.Time) { z.recheck(name, at) })
		}
	}
	z.mu.Lock()
	z.record(primary.Name, p, z.opts.now())
	z.mu.Unlock()
	return nil
}

// check validates r and normalises it in place.
func (z *Zone) check(r *Record, role string) error {
	r.Name = normalise(r.Name)
	switch {
	case r.Name == "":
		return errors.New("name is required")
	case !z.Contains(r.Name):
		return fmt.Errorf("name %s is outside zone %s", r.Name, z.domain)
	}
	if r.Type == "" {
		r.Type = TypeA
	}
	if r.Type != TypeA {
		return fmt.Errorf("record type %q not supported (only A)", r.Type)
	}
	if r.Failover == "" {
		r.Failover = role
	}
	if r.Failover != role {
		return fmt.Errorf("failover %q, want %s", r.Failover, role)
	}
	ip := r.Value.To4()
	if ip == nil {
		return fmt.Errorf("value %v is not an IPv4 address", r.Value)
	}
	r.Value = append(net.IP(nil), ip...) // the caller keeps its slice
	if r.TTL < 0 {
		return fmt.Errorf("TTL %v is negative", r.TTL)
	}
	return nil
}

// Resolve returns the answer for name per the failover rules, and false when
// the zone has no records for it.
func (z *Zone) Resolve(name string) (Answer, bool) {
	z.mu.RLock()
	p, ok := z.pairs[normalise(name)]
	z.mu.RUnlock()
	if !ok {
		return Answer{}, false
	}
	a := p.choose()
	a.IP = append(net.IP(nil), a.IP...)
	return a, true
}

// Answers returns the timeline of answer changes, oldest first, starting with
// each name's initial answer.
func (z *Zone) Answers() []AnswerChange {
	z.mu.RLock()
	defer z.mu.RUnlock()
	out := make([]AnswerChange, len(z.answers))
	for i, a := range z.answers {
		a.IP = append(net.IP(nil), a.IP...)
		out[i] = a
	}
	return out
}

// recheck re-evaluates name after one of its health checks flipped at at.
func (z *Zone) recheck(name string, at time.Time) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if p, ok := z.pairs[name]; ok {
		z.record(name, p, at)
	}
}

// record appends p's current answer to the timeline if it changed; z.mu must
// be held.
func (z *Zone) record(name string, p *failoverPair, at time.Time) {
	a := p.choose()
	if a.Which == p.last {
		return
	}
	p.last = a.Which
	z.answers = append(z.answers, AnswerChange{At: at, Name: name, Which: a.Which, IP: a.IP})
	z.opts.logger.Info("route53: answer changed", slog.String("name", name), slog.String("which", a.Which), slog.String("ip", a.IP.String()))
}

// DNSSource adapts the zone to the simulator's DNS server (package
// simulator/dns) without either package importing the other.
func (z *Zone) DNSSource() ZoneSource { return ZoneSource{z: z} }

// ZoneSource is a Zone seen as a DNS data source: it satisfies dns.Source.
type ZoneSource struct{ z *Zone }

// Domain returns the zone's domain.
func (s ZoneSource) Domain() string { return s.z.Domain() }

// Resolve returns the current answer's address and TTL for name.
func (s ZoneSource) Resolve(name string) (net.IP, time.Duration, bool) {
	a, ok := s.z.Resolve(name)
	return a.IP, a.TTL, ok
}

// normalise lower-cases a DNS name and drops its trailing dot.
func normalise(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}
