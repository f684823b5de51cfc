package dns_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/dns"
	"github.com/iot-dr/iot-dr/simulator/route53"
)

// The zone's adapter is a dns.Source.
var _ dns.Source = route53.ZoneSource{}

// TestRoute53Failover wires a health-checked failover zone to the server and
// follows a device's view of the domain through a failover.
func TestRoute53Failover(t *testing.T) {
	const name = "iot.example.com"
	var failing atomic.Bool
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(probe.Close)

	hc, err := route53.NewHealthCheck(route53.CheckConfig{Name: "primary", URL: probe.URL, Interval: 20 * time.Millisecond, FailureThreshold: 2, Checkers: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc.Start(context.Background())
	t.Cleanup(hc.Stop)
	zone := route53.NewZone(name)
	if err := zone.AddFailover(
		route53.Record{Name: name, TTL: 50 * time.Millisecond, Value: net.IPv4(127, 0, 0, 1), Check: hc},
		route53.Record{Name: name, TTL: 50 * time.Millisecond, Value: net.IPv4(127, 0, 0, 2)},
	); err != nil {
		t.Fatal(err)
	}

	unit := dns.WithTTLUnit(10 * time.Millisecond)
	srv, err := dns.NewServer(zone.DNSSource(), nil, unit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	r := dns.NewResolver(srv.Addr(), unit)
	ctx := context.Background()

	ip, ttl, err := r.Lookup(ctx, name)
	if err != nil || ip != "127.0.0.1" || ttl <= 0 || ttl > 50*time.Millisecond {
		t.Fatalf("Lookup = %q %v %v, want the primary with a TTL of at most 50ms", ip, ttl, err)
	}
	failing.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for ip != "127.0.0.2" {
		if time.Now().After(deadline) {
			t.Fatal("device never saw the secondary")
		}
		time.Sleep(5 * time.Millisecond)
		if ip, _, err = r.Lookup(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	addrs, err := r.LookupHost(ctx, name)
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.2" {
		t.Fatalf("LookupHost = %v, %v; want the secondary", addrs, err)
	}
	if a := zone.Answers(); len(a) != 2 || a[1].Which != route53.Secondary {
		t.Fatalf("answers %+v", a)
	}
}
