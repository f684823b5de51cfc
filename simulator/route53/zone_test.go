package route53

import (
	"net"
	"strings"
	"testing"
	"time"
)

const domain = "iot.example.com"

var (
	ipPrimary   = net.IPv4(127, 0, 0, 1)
	ipSecondary = net.IPv4(127, 0, 0, 2)
)

func TestAddFailoverValidation(t *testing.T) {
	hc := newManualCheck(t, 1, 1)
	good := func() (Record, Record) {
		return Record{Name: domain, TTL: time.Second, Failover: Primary, Value: ipPrimary, Check: hc},
			Record{Name: domain, TTL: time.Second, Value: ipSecondary}
	}
	tests := []struct {
		name    string
		mutate  func(p, s *Record)
		wantErr string
	}{
		{"valid", func(p, s *Record) {}, ""},
		{"outside zone", func(p, s *Record) { p.Name, s.Name = "evil.com", "evil.com" }, "outside zone"},
		{"names differ", func(p, s *Record) { s.Name = "x." + domain }, "names differ"},
		{"AAAA", func(p, s *Record) { p.Type = "AAAA" }, "not supported"},
		{"roles swapped", func(p, s *Record) { p.Failover = Secondary }, "want PRIMARY"},
		{"IPv6 value", func(p, s *Record) { s.Value = net.ParseIP("::2") }, "IPv4"},
		{"negative TTL", func(p, s *Record) { s.TTL = -time.Second }, "negative"},
		{"shared check", func(p, s *Record) { s.Check = hc }, "share"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := NewZone(domain)
			p, s := good()
			tt.mutate(&p, &s)
			err := z.AddFailover(p, s)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if err := z.AddFailover(p, s); err == nil || !strings.Contains(err.Error(), "already has records") {
					t.Fatalf("duplicate AddFailover: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestFailoverRules checks Route 53's documented failover behaviour for every
// combination of primary and secondary health.
func TestFailoverRules(t *testing.T) {
	tests := []struct {
		name                   string
		primaryOK, secondaryOK bool
		secondaryHasCheck      bool
		wantWhich              string
	}{
		{"primary healthy", true, false, true, Primary},
		{"both healthy", true, true, true, Primary},
		{"primary down, secondary healthy", false, true, true, Secondary},
		{"both unhealthy answers as if all healthy", false, false, true, Primary},
		{"secondary without check is always healthy", false, false, false, Secondary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, sc := newManualCheck(t, 1, 1), newManualCheck(t, 1, 1)
			sec := Record{Name: "Devices." + domain + ".", TTL: 2 * time.Second, Value: ipSecondary}
			if tt.secondaryHasCheck {
				sec.Check = sc
			}
			z := NewZone(domain)
			if err := z.AddFailover(Record{Name: "devices." + domain, TTL: time.Second, Value: ipPrimary, Check: pc}, sec); err != nil {
				t.Fatal(err)
			}
			pc.setHealthy(tt.primaryOK)
			sc.setHealthy(tt.secondaryOK)
			a, ok := z.Resolve("DEVICES." + domain + ".")
			if !ok {
				t.Fatal("name not found")
			}
			wantIP, wantTTL := ipPrimary, time.Second
			if tt.wantWhich == Secondary {
				wantIP, wantTTL = ipSecondary, 2*time.Second
			}
			if a.Which != tt.wantWhich || !a.IP.Equal(wantIP) || a.TTL != wantTTL {
				t.Fatalf("answer %+v, want %s %v TTL %v", a, tt.wantWhich, wantIP, wantTTL)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	z := NewZone(domain + ".")
	if _, ok := z.Resolve("nope." + domain); ok {
		t.Error("unknown name resolved")
	}
	if z.Domain() != domain || !z.Contains("a.b."+domain+".") || z.Contains("x"+domain) {
		t.Errorf("domain %q or Contains wrong", z.Domain())
	}
}

func TestAnswerTimeline(t *testing.T) {
	clock := newFakeClock()
	pc := newManualCheck(t, 1, 1, WithClock(clock.Now))
	sc := newManualCheck(t, 1, 1, WithClock(clock.Now))
	z := NewZone(domain, WithClock(clock.Now))
	if err := z.AddFailover(Record{Name: domain, Value: ipPrimary, Check: pc}, Record{Name: domain, Value: ipSecondary, Check: sc}); err != nil {
		t.Fatal(err)
	}
	t0 := clock.Now()
	steps := []func(){
		func() { pc.fail(0) },    // -> SECONDARY
		func() { sc.fail(0) },    // both down -> PRIMARY
		func() { sc.succeed(0) }, // -> SECONDARY
		func() { pc.succeed(0) }, // -> PRIMARY
		func() { sc.fail(0) },    // no change
	}
	for _, step := range steps {
		clock.Advance(time.Second)
		step()
	}
	want := []string{Primary, Secondary, Primary, Secondary, Primary}
	got := z.Answers()
	if len(got) != len(want) {
		t.Fatalf("answers %+v, want %v", got, want)
	}
	for i, a := range got {
		if a.Which != want[i] || !a.At.Equal(t0.Add(time.Duration(i)*time.Second)) || a.Name != domain {
			t.Errorf("answer %d = %+v, want %s at +%ds", i, a, want[i], i)
		}
	}
	ip, ttl, ok := z.DNSSource().Resolve(domain)
	if !ok || !ip.Equal(ipPrimary) || ttl != 0 || z.DNSSource().Domain() != domain {
		t.Errorf("DNSSource: %v %v %v", ip, ttl, ok)
	}
}

// TestHTTPFailover runs two real health checks against loopback servers and
// follows the zone's answer through failover, both-down and failback.
func TestHTTPFailover(t *testing.T) {
	noLeak(t)
	pe, se := newEndpoint(t), newEndpoint(t)
	pc := startCheck(t, CheckConfig{Name: "primary", URL: pe.srv.URL, FailureThreshold: 2, Checkers: 3})
	sc := startCheck(t, CheckConfig{Name: "secondary", URL: se.srv.URL, FailureThreshold: 2, Checkers: 3})
	z := NewZone(domain)
	if err := z.AddFailover(
		Record{Name: domain, TTL: time.Second, Value: ipPrimary, Check: pc},
		Record{Name: domain, TTL: time.Second, Value: ipSecondary, Check: sc},
	); err != nil {
		t.Fatal(err)
	}
	which := func(w string) func() bool {
		return func() bool { a, _ := z.Resolve(domain); return a.Which == w }
	}
	if !which(Primary)() {
		t.Fatal("initial answer is not the primary")
	}
	pe.fail.Store(true)
	waitFor(t, "failover to secondary", which(Secondary))
	se.fail.Store(true)
	waitFor(t, "secondary unhealthy", func() bool { return !sc.Healthy() })
	if !which(Primary)() {
		t.Fatal("both unhealthy: want the primary")
	}
	se.fail.Store(false)
	waitFor(t, "secondary again", which(Secondary))
	pe.fail.Store(false)
	waitFor(t, "failback to primary", which(Primary))

	var got []string
	for _, a := range z.Answers() {
		got = append(got, a.Which)
	}
	if want := "PRIMARY SECONDARY PRIMARY SECONDARY PRIMARY"; strings.Join(got, " ") != want {
		t.Errorf("timeline %v, want %s", got, want)
	}
}
