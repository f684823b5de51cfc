package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const zone = "iot.example.com"

// mapSource is a Source backed by a map the test can change.
type mapSource struct {
	mu      sync.Mutex
	records map[string]record
}

type record struct {
	ip  net.IP
	ttl time.Duration
}

func newMapSource() *mapSource {
	return &mapSource{records: map[string]record{
		zone:            {net.IPv4(127, 0, 0, 1), 60 * time.Second},
		"mqtt." + zone:  {net.IPv4(127, 0, 0, 2), 30 * time.Second},
		"short." + zone: {net.IPv4(127, 0, 0, 3), 1500 * time.Millisecond},
		"zero." + zone:  {net.IPv4(127, 0, 0, 4), 0},
	}}
}

func (s *mapSource) Domain() string { return "IOT.Example.com." }

func (s *mapSource) Resolve(name string) (net.IP, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[name]
	return r.ip, r.ttl, ok
}

func (s *mapSource) set(name string, ip net.IP, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[name] = record{ip, ttl}
}

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

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

func newServer(t *testing.T, src Source, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(src, nil, opts...)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawQuery sends msg over UDP and returns the parsed response, or nil if
// none arrives within a short wait.
func rawQuery(t *testing.T, addr string, msg []byte) *dnsmessage.Message {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatalf("unpack response: %v", err)
	}
	return &m
}

func query(t *testing.T, h dnsmessage.Header, qs ...dnsmessage.Question) []byte {
	t.Helper()
	m := dnsmessage.Message{Header: h, Questions: qs}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func question(name string, typ dnsmessage.Type) dnsmessage.Question {
	return dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}
}

func TestServerResponses(t *testing.T) {
	s := newServer(t, newMapSource())
	tests := []struct {
		name      string
		msg       func(t *testing.T) []byte
		wantRCode dnsmessage.RCode
		wantAA    bool
		wantA     string // "" = no answer
		wantTTL   uint32
	}{
		{"A record", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 1, RecursionDesired: true}, question("MQTT.iot.example.com.", dnsmessage.TypeA))
		}, dnsmessage.RCodeSuccess, true, "127.0.0.2", 30},
		{"apex", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 2}, question(zone+".", dnsmessage.TypeA))
		}, dnsmessage.RCodeSuccess, true, "127.0.0.1", 60},
		{"sub-second TTL rounds up", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 3}, question("short."+zone+".", dnsmessage.TypeA))
		}, dnsmessage.RCodeSuccess, true, "127.0.0.3", 2},
		{"AAAA of existing name is NODATA", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 4}, question("mqtt."+zone+".", dnsmessage.TypeAAAA))
		}, dnsmessage.RCodeSuccess, true, "", 0},
		{"unknown name in zone is NXDOMAIN", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 5}, question("nope."+zone+".", dnsmessage.TypeA))
		}, dnsmessage.RCodeNameError, true, "", 0},
		{"name outside zone is REFUSED", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 6}, question("example.org.", dnsmessage.TypeA))
		}, dnsmessage.RCodeRefused, false, "", 0},
		{"suffix that is not a subdomain is REFUSED", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 7}, question("xiot.example.com.", dnsmessage.TypeA))
		}, dnsmessage.RCodeRefused, false, "", 0},
		{"no question is FORMERR", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 8})
		}, dnsmessage.RCodeFormatError, false, "", 0},
		{"two questions are FORMERR", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 9}, question(zone+".", dnsmessage.TypeA), question(zone+".", dnsmessage.TypeA))
		}, dnsmessage.RCodeFormatError, false, "", 0},
		{"other opcode is NOTIMP", func(t *testing.T) []byte {
			return query(t, dnsmessage.Header{ID: 10, OpCode: 2}, question(zone+".", dnsmessage.TypeA))
		}, dnsmessage.RCodeNotImplemented, false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.msg(t)
			resp := rawQuery(t, s.Addr(), msg)
			if resp == nil {
				t.Fatal("no response")
			}
			h := resp.Header
			if !h.Response || h.RCode != tt.wantRCode || h.Authoritative != tt.wantAA || h.ID != uint16(msg[0])<<8|uint16(msg[1]) {
				t.Fatalf("header %+v, want rcode %v AA %v", h, tt.wantRCode, tt.wantAA)
			}
			if tt.wantA == "" {
				if len(resp.Answers) != 0 {
					t.Fatalf("answers %v, want none", resp.Answers)
				}
				return
			}
			if len(resp.Answers) != 1 {
				t.Fatalf("answers %v, want one", resp.Answers)
			}
			a, ok := resp.Answers[0].Body.(*dnsmessage.AResource)
			if !ok || net.IP(a.A[:]).String() != tt.wantA || resp.Answers[0].Header.TTL != tt.wantTTL {
				t.Fatalf("answer %v, want %s TTL %d", resp.Answers[0], tt.wantA, tt.wantTTL)
			}
		})
	}
	if got := s.Queries(); got != int64(len(tests)) {
		t.Errorf("Queries() = %d, want %d", got, len(tests))
	}
}

func TestServerDropsGarbage(t *testing.T) {
	s := newServer(t, newMapSource())
	if resp := rawQuery(t, s.Addr(), []byte{1, 2, 3}); resp != nil {
		t.Fatalf("answered a 3-byte message: %+v", resp)
	}
	// A response is not a query: no answer, or two servers could loop.
	if resp := rawQuery(t, s.Addr(), query(t, dnsmessage.Header{ID: 1, Response: true}, question(zone+".", dnsmessage.TypeA))); resp != nil {
		t.Fatalf("answered a response: %+v", resp)
	}
	if s.Queries() != 0 {
		t.Errorf("Queries() = %d, want 0", s.Queries())
	}
}

func TestNetResolver(t *testing.T) {
	s := newServer(t, newMapSource())
	r := NewResolver(s.Addr())
	ctx := context.Background()

	addrs, err := r.LookupHost(ctx, "mqtt."+zone)
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.2"}) {
		t.Fatalf("LookupHost = %v, %v", addrs, err)
	}
	ips, err := r.Net().LookupNetIP(ctx, "ip4", "MQTT."+zone+".")
	if err != nil || len(ips) != 1 || ips[0].String() != "127.0.0.2" {
		t.Fatalf("LookupNetIP = %v, %v", ips, err)
	}
	_, err = r.LookupHost(ctx, "nope."+zone+".")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("LookupHost(unknown) error %v, want not found", err)
	}

	// Over TCP: a Dial that returns a stream makes net.Resolver frame messages.
	tcp := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", s.Addr())
	}}
	addrs, err = tcp.LookupHost(ctx, zone+".")
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
		t.Fatalf("LookupHost over TCP = %v, %v", addrs, err)
	}
}

func TestLookupErrors(t *testing.T) {
	s := newServer(t, newMapSource())
	r := NewResolver(s.Addr())
	tests := []struct {
		name     string
		wantErr  error
		notFound bool
	}{
		{"nope." + zone, ErrNotFound, true},
		{"example.org", ErrRefused, false},
		{"bad..name." + zone, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, _, err := r.Lookup(context.Background(), tt.name)
			var dnsErr *net.DNSError
			if err == nil || !errors.As(err, &dnsErr) {
				t.Fatalf("Lookup = %q, %v; want a *net.DNSError", ip, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if dnsErr.IsNotFound != tt.notFound {
				t.Errorf("IsNotFound = %v, want %v", dnsErr.IsNotFound, tt.notFound)
			}
		})
	}
}

func TestLookupTCPFallback(t *testing.T) {
	s := newServer(t, newMapSource())
	r := NewResolver(s.Addr())
	ip, ttl, err := r.exchange(context.Background(), "tcp", dnsmessage.MustNewName("mqtt."+zone+"."))
	if err != nil || ip != "127.0.0.2" || ttl != 30 {
		t.Fatalf("exchange over tcp = %q %d %v", ip, ttl, err)
	}
}

func TestLookupCachesUntilTTL(t *testing.T) {
	src := newMapSource()
	s := newServer(t, src)
	clock := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	r := NewResolver(s.Addr(), WithClock(clock.Now))
	ctx := context.Background()
	lookup := func(wantIP string, wantTTL time.Duration, wantQueries int64) {
		t.Helper()
		ip, ttl, err := r.Lookup(ctx, "mqtt."+zone)
		if err != nil || ip != wantIP || ttl != wantTTL || s.Queries() != wantQueries {
			t.Fatalf("Lookup = %q %v %v after %d queries, want %q %v after %d", ip, ttl, err, s.Queries(), wantIP, wantTTL, wantQueries)
		}
	}

	lookup("127.0.0.2", 30*time.Second, 1)
	src.set("mqtt."+zone, net.IPv4(127, 0, 0, 9), 30*time.Second) // failover in the source
	clock.Advance(10 * time.Second)
	lookup("127.0.0.2", 20*time.Second, 1) // cached: the old answer, no query
	clock.Advance(20*time.Second - time.Nanosecond)
	lookup("127.0.0.2", time.Nanosecond, 1)
	clock.Advance(time.Nanosecond)
	lookup("127.0.0.9", 30*time.Second, 2) // expired: re-queried
	r.Flush()
	lookup("127.0.0.9", 30*time.Second, 3)

	// TTL 0 is never cached.
	for i := range 3 {
		if _, ttl, err := r.Lookup(ctx, "zero."+zone); err != nil || ttl != 0 || s.Queries() != int64(4+i) {
			t.Fatalf("zero TTL lookup %d: ttl %v err %v queries %d", i, ttl, err, s.Queries())
		}
	}
}

func TestTTLUnit(t *testing.T) {
	src := newMapSource()
	src.set("fast."+zone, net.IPv4(127, 0, 0, 5), 250*time.Millisecond)
	unit := WithTTLUnit(10 * time.Millisecond)
	s := newServer(t, src, unit)
	clock := &fakeClock{}
	r := NewResolver(s.Addr(), unit, WithClock(clock.Now))
	if _, ttl, err := r.Lookup(context.Background(), "fast."+zone); err != nil || ttl != 250*time.Millisecond {
		t.Fatalf("Lookup ttl %v err %v, want 250ms", ttl, err)
	}
	if got := wireTTL(1500*time.Millisecond, time.Second); got != 2 {
		t.Errorf("wireTTL(1.5s) = %d, want 2", got)
	}
}

func TestLookupConcurrent(t *testing.T) {
	src := newMapSource()
	s := newServer(t, src)
	clock := &fakeClock{}
	r := NewResolver(s.Addr(), WithClock(clock.Now))
	const callers = 200
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			if i%50 == 0 {
				src.set("mqtt."+zone, net.IPv4(127, 0, 0, byte(2+i/50)), 30*time.Second)
				r.Flush()
			}
			ip, _, err := r.Lookup(context.Background(), "mqtt."+zone)
			if err == nil && !strings.HasPrefix(ip, "127.0.0.") {
				err = fmt.Errorf("bad ip %q", ip)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if q := s.Queries(); q < 1 || q > callers {
		t.Errorf("server saw %d queries for %d callers", q, callers)
	}

	// A warm cache serves everyone without a single query. Its own server and
	// resolver: a retransmission left over from the storm above (a UDP query the
	// loaded machine answered late) would otherwise count against it.
	warmSrv := newServer(t, src)
	warm := NewResolver(warmSrv.Addr(), WithClock(clock.Now))
	if _, _, err := warm.Lookup(context.Background(), "mqtt."+zone); err != nil {
		t.Fatal(err)
	}
	before := warmSrv.Queries()
	for range callers {
		wg.Go(func() {
			if _, _, err := warm.Lookup(context.Background(), "mqtt."+zone); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if warmSrv.Queries() != before {
		t.Errorf("warm cache sent %d queries", warmSrv.Queries()-before)
	}
}

func TestLookupContextAndClosedServer(t *testing.T) {
	base := runtime.NumGoroutine()
	s, err := NewServer(newMapSource(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(s.Addr(), WithTimeout(20*time.Millisecond))
	if _, _, err := r.Lookup(context.Background(), zone); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r.Flush()
	start := time.Now()
	_, _, err = r.Lookup(context.Background(), zone)
	if err == nil {
		t.Fatal("lookup against a closed server succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failed lookup took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := r.Lookup(ctx, "other."+zone); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled lookup: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, started with %d", runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
