package broker

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestThrottle drives the token buckets on a fake clock: the account's CONNECT rate
// with its one-second burst, the per-client-ID gap (counting admitted CONNECTs only),
// the cost of a device standing for several, and the per-connection PUBLISH rate.
func TestThrottle(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	type attempt struct {
		at     time.Duration
		client string
		want   string // "" admitted, else a substring of the refusal
	}
	tests := []struct {
		name     string
		q        Quotas
		attempts []attempt
	}{
		{"account burst then rate", Quotas{ConnectPerSecond: 2, ClientConnectPerSecond: -1}, []attempt{
			{0, "a", ""}, {0, "b", ""}, {0, "c", "per account exceeded (2/s)"},
			{400 * time.Millisecond, "c", "per account"}, {500 * time.Millisecond, "c", ""},
		}},
		{"client ID gap", Quotas{ConnectPerSecond: -1}, []attempt{
			{0, "a", ""}, {500 * time.Millisecond, "a", "per client ID exceeded (1/s)"}, {500 * time.Millisecond, "b", ""},
			{time.Second, "a", ""},
		}},
		{"a CONNECT the account refused does not count for the client", Quotas{ConnectPerSecond: 1}, []attempt{
			{0, "a", ""}, {0, "b", "per account"}, {time.Second, "b", ""},
		}},
		{"a device standing for five costs five", Quotas{ConnectPerSecond: 10, ClientConnectPerSecond: -1,
			ConnectCost: func(id string) int {
				if strings.HasPrefix(id, "probe") {
					return 1
				}
				return 5
			}}, []attempt{
			{0, "d1", ""}, {0, "d2", ""}, {0, "d3", "per account"}, {0, "probe-1", "per account"},
			{100 * time.Millisecond, "probe-1", ""}, {100 * time.Millisecond, "d3", "per account"}, {600 * time.Millisecond, "d3", ""},
		}},
		{"rates quoted in AWS seconds", Quotas{ConnectPerSecond: 50, ClientConnectPerSecond: 50, TimeScale: 50}, []attempt{
			{0, "a", ""}, {time.Millisecond, "a", "per client ID exceeded (1/s)"}, {20 * time.Millisecond, "a", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newThrottle(tt.q)
			for i, a := range tt.attempts {
				err := th.connect(a.client, t0.Add(a.at))
				switch {
				case a.want == "" && err != nil:
					t.Errorf("attempt %d (%s at %s): %v, want admitted", i, a.client, a.at, err)
				case a.want != "" && (err == nil || !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), a.want)):
					t.Errorf("attempt %d (%s at %s): %v, want THROTTLED %q", i, a.client, a.at, err, a.want)
				}
			}
		})
	}

	th := newThrottle(Quotas{PublishPerSecond: 3})
	c1, c2 := &net.TCPConn{}, &net.TCPConn{}
	for i, want := range []bool{true, true, true, false} {
		if err := th.publish(c1, t0); (err == nil) != want {
			t.Errorf("publish %d on one connection: %v, want admitted %v", i, err, want)
		}
	}
	if err := th.publish(c2, t0); err != nil {
		t.Errorf("another connection's publish: %v", err)
	}
	if err := th.publish(c1, t0.Add(400*time.Millisecond)); err != nil {
		t.Errorf("publish after refill: %v", err)
	}
}
