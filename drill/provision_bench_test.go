package drill

import (
	"context"
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator"
)

var (
	provisionDevices = flag.Int("provision.devices", 1000, "devices BenchmarkProvision provisions")
	provisionHeap    = flag.String("provision.heapprofile", "", "write the heap profile of the converged World to this file")
)

// BenchmarkProvision provisions a drill's fleet in the primary and waits for the
// secondary to converge, as every drill does before its fleet connects, and reports
// the provisioning's and the convergence's wall time and devices per second
// and the converged
// World's live heap per device (-provision.heapprofile for where it is).
func BenchmarkProvision(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Devices = *provisionDevices
	var provisionS, settleS, heapPerDevice float64
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
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		heapPerDevice = float64(m.HeapAlloc) / float64(cfg.Devices)
		if *provisionHeap != "" {
			writeHeapProfile(b, *provisionHeap)
		}
		w.Close()
	}
	b.ReportMetric(provisionS, "provision-s")
	b.ReportMetric(settleS, "settle-s")
	b.ReportMetric(float64(cfg.Devices)/provisionS, "devices/s")
	b.ReportMetric(heapPerDevice, "heap-B/device")
}

func writeHeapProfile(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}
