package drill

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator"
)

var (
	provisionDevices  = flag.Int("provision.devices", 1000, "devices BenchmarkProvision provisions")
	provisionParallel = flag.Int("provision.parallel", 0, "provisioning calls at once (0: the drill's, one per core)")
)

// BenchmarkProvision provisions a drill's fleet in the primary and waits for the
// secondary to converge, as every drill does before its fleet connects, and reports
// the provisioning's and the convergence's wall time and devices per second
// (-provision.parallel 1 for the provisioning one call at a time).
func BenchmarkProvision(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Devices = *provisionDevices
	if n := *provisionParallel; n > 0 {
		defer func(f func() int) { provisionCalls = f }(provisionCalls)
		provisionCalls = func() int { return n }
	}
	var provisionS, settleS float64
	for b.Loop() {
		w, err := simulator.New(context.Background(), simulator.Options{BrokerQuotas: cfg.quotas(),
			Fidelity: simulator.StrictFidelity(uint64(cfg.Seed))})
		if err != nil {
			b.Fatal(err)
		}
		d := &run{cfg: cfg, w: w, start: time.Now(), replicated: map[string]bool{}, noSNI: map[string]bool{}, rep: &Report{}}
		start := time.Now()
		if _, err := d.provision(context.Background()); err != nil {
			b.Fatal(err)
		}
		provisionS = time.Since(start).Seconds()
		if err := d.settle(context.Background()); err != nil {
			b.Fatal(err)
		}
		settleS = time.Since(start).Seconds() - provisionS
		w.Close()
	}
	b.ReportMetric(provisionS, "provision-s")
	b.ReportMetric(settleS, "settle-s")
	b.ReportMetric(float64(cfg.Devices)/provisionS, "devices/s")
}
