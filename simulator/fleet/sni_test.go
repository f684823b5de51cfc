package fleet_test

import (
	"strings"
	"testing"

	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// TestDeviceWithoutSNI: a device whose TLS sends no SNI still verifies the broker, but
// its certificate, registered without a CA (SNI_ONLY), is refused with the reason; the
// same certificate with SNI connects.
func TestDeviceWithoutSNI(t *testing.T) {
	checkGoroutines(t)
	w := newWorld(t)
	devs := w.devices(t, "sni", 2, w.a)
	devs[1].WithoutSNI = true
	f := startFleet(t, devs, w.options(&switchResolver{ip: ipA}))
	ctx := waitCtx(t)
	if err := f.WaitConnected(ctx, primary, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Wait(ctx, func() bool { return count(f.Timeline(devs[1].Thing), fleet.KindRefused, primary) >= 1 }); err != nil {
		t.Fatalf("device without SNI not refused: %v\n%v", err, f.Timeline(devs[1].Thing))
	}
	var reasons []broker.Refusal
	for _, r := range w.a.broker.Refusals() {
		if r.ClientID == devs[1].Thing {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) == 0 || !strings.Contains(reasons[0].Reason, "SNI_ONLY mode and the client sent no SNI") {
		t.Errorf("refusals of the device without SNI: %+v", reasons)
	}
	if c := f.Connected()[primary]; c != 1 {
		t.Errorf("%d devices connected, want only the one with SNI", c)
	}
}
