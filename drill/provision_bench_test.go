package drill

import (
	"context"
	"flag"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator"
)

var (
	provisionDevices = flag.Int("provision.devices", 1000, "devices BenchmarkProvision provisions")
	provisionHeap    = flag.String("provision.heapprofile", "", "write the heap profile of the converged World to this file")
)

// BenchmarkProvision provisions a drill's fleet in the primary and waits for the
// secondary to converge, as every drill does before its fleet connects, with the
// drill's garbage-collector settings (TuneGC), and reports the provisioning's and the
// convergence's wall time, devices per second, the process's CPU time per device
// (cpu-ms-per-device: provisioning, capture, replication and apply in both Regions,
// collection included) and the converged World's live heap per device
// (-provision.heapprofile for where it is). A secondary that differs from the primary
// once the pipeline is idle fails it.
func BenchmarkProvision(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Devices = *provisionDevices
	defer debug.SetGCPercent(debug.SetGCPercent(drillGCPercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(drillMemoryLimit))
	var provisionS, settleS, heapPerDevice, cpuPerDevice float64
	for b.Loop() {
		w, err := simulator.New(context.Background(), simulator.Options{BrokerQuotas: cfg.quotas(),
			Fidelity: simulator.StrictFidelity(uint64(cfg.Seed))})
		if err != nil {
			b.Fatal(err)
		}
		d := &run{cfg: cfg, w: w, start: time.Now(), replicated: map[string]bool{}, noSNI: map[string]bool{}, rep: &Report{}}
		start, cpu0 := time.Now(), processCPU()
		if _, err := d.provision(context.Background()); err != nil {
			b.Fatal(err)
		}
		provisionS = time.Since(start).Seconds()
		if err := d.settle(context.Background()); err != nil {
			b.Fatal(err)
		}
		settleS = time.Since(start).Seconds() - provisionS
		cpuPerDevice = (processCPU() - cpu0).Seconds() * 1000 / float64(cfg.Devices)
		// Converged means equal: a difference left once the pipeline is idle is a
		// change the pipeline lost (a drill would find it refused or in its RPO).
		reg, _, err := d.differences(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(reg) > 0 {
			b.Errorf("the secondary has not converged once the pipeline is idle: %d differences, e.g. %s", len(reg), reg[0])
		}
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
	b.ReportMetric(cpuPerDevice, "cpu-ms-per-device")
}

// processCPU is the CPU time (user and system) this process has used so far.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
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
