package fleet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// TestThrottledReconnectStorm fails a fleet over to a broker whose account CONNECT
// quota is far below the fleet's size: every device reconnects, none is lost, the
// throttled attempts are refused as THROTTLED, and the storm takes N/quota within 20%.
func TestThrottledReconnectStorm(t *testing.T) {
	tests := []struct {
		devices int
		quota   float64
	}{
		{devices: 40, quota: 5},
	}
	for _, tt := range tests {
		checkGoroutines(t)
		unlimited := broker.Quotas{ConnectPerSecond: -1, ClientConnectPerSecond: -1}
		w := newWorld(t, unlimited, broker.Quotas{ConnectPerSecond: tt.quota})
		devs := w.devices(t, "storm", tt.devices, w.a, w.b)
		res := &switchResolver{ip: ipA}
		opts := w.options(res)
		// A device retries every half second on average: the storm keeps the bucket
		// drained without a TLS handshake storm that would make this test CPU-bound.
		opts.Backoff = fleet.Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
		f := startFleet(t, devs, opts)
		ctx := waitCtx(t)
		if err := f.WaitConnected(ctx, primary, tt.devices); err != nil {
			t.Fatal(err)
		}

		start := time.Now()
		res.set(ipB)
		w.a.broker.SetDown(true)
		if err := f.WaitConnected(ctx, secondary, tt.devices); err != nil {
			t.Fatalf("not every device reconnected under the quota: %v (%v)", err, f.Connected())
		}
		took := time.Since(start)
		want := time.Duration(float64(tt.devices) / tt.quota * float64(time.Second))
		t.Logf("%d devices reconnected in %s at %g CONNECT/s (N/quota %s)", tt.devices, took.Round(time.Millisecond), tt.quota, want)
		if took < want*8/10 || took > want*12/10 {
			t.Errorf("reconnect took %s, want N/quota %s within 20%%", took, want)
		}
		throttled := 0
		for _, r := range w.b.broker.Refusals() {
			if r.Throttled {
				throttled++
				if r.Action != broker.ActionConnect || !strings.Contains(r.Reason, "per account") {
					t.Errorf("throttling refusal %+v, want the account's CONNECT rate", r)
				}
			} else {
				t.Errorf("refusal %+v is not throttling", r)
			}
		}
		if throttled == 0 {
			t.Error("no CONNECT was throttled")
		}
		f.Stop()
	}
}

// TestClientIDConnectRate: a device reconnecting in a tight loop is refused (its
// connection closed without a CONNACK, AWS's THROTTLED) until a second has passed
// since its previous CONNECT, then connects.
func TestClientIDConnectRate(t *testing.T) {
	checkGoroutines(t)
	w := newWorld(t, broker.Quotas{ConnectPerSecond: -1})
	devs := w.devices(t, "loop", 1, w.a)
	opts := w.options(&switchResolver{ip: ipA})
	opts.Backoff = fleet.Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond}
	f := startFleet(t, devs, opts)
	ctx := waitCtx(t)
	if err := f.WaitConnected(ctx, primary, 1); err != nil {
		t.Fatal(err)
	}
	// The broker admitted the first CONNECT after its attempt began (the resolve
	// before it) and the second before the device saw its CONNACK: measuring between
	// those bounds the broker's gap from below whatever each handshake took.
	first, firstBegan := lastConnect(f.Timeline(devs[0].Thing))
	w.a.broker.SetDown(true)
	w.a.broker.SetDown(false)
	if err := f.Wait(ctx, func() bool {
		at, _ := lastConnect(f.Timeline(devs[0].Thing))
		return at.After(first) && f.Connected()[primary] == 1
	}); err != nil {
		t.Fatalf("device did not reconnect: %v", err)
	}
	again, _ := lastConnect(f.Timeline(devs[0].Thing))
	if gap := again.Sub(firstBegan); gap < time.Second {
		t.Errorf("reconnected %s after its previous attempt began, want at least 1s", gap)
	}
	throttled := 0
	for _, r := range w.a.broker.Refusals() {
		if r.Throttled && strings.Contains(r.Reason, "per client ID") && r.ClientID == devs[0].Thing {
			throttled++
		}
	}
	if throttled < 2 {
		t.Errorf("%d CONNECTs refused for the client-ID rate, want the tight loop's many", throttled)
	}
	if st := f.Stats(); st.ConnectFailures < int64(throttled) {
		t.Errorf("device counted %d failed attempts, the broker throttled %d", st.ConnectFailures, throttled)
	}
}

// lastConnect returns when the device last saw a CONNACK and when that attempt
// began (its resolve).
func lastConnect(events []fleet.Event) (at, began time.Time) {
	var resolved time.Time
	for _, e := range events {
		switch e.Kind {
		case fleet.KindResolve:
			resolved = e.At
		case fleet.KindConnected:
			at, began = e.At, resolved
		}
	}
	return at, began
}
