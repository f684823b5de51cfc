package e2e

import (
	"context"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/drill"
)

var failoverDevices = flag.Int("failover.devices", 1000, "devices in BenchmarkFailover")

// BenchmarkFailover runs the region-outage drill (health checks every 200 ms, threshold
// 3, TTL 200 ms, backoff 50..500 ms: Route 53's settings scaled ~50x; slower above 2,000
// devices) and reports the
// RTO percentiles, their ratio to the bound the settings imply, the devices that never
// came back, and the process's peak resident memory.
func BenchmarkFailover(b *testing.B) {
	drill.RaiseFileLimit()
	cfg := drill.DefaultConfig()
	cfg.Devices = *failoverDevices
	if cfg.Devices > 2000 {
		// Thousands of devices retrying every few hundred milliseconds against a dead
		// broker saturate two cores (TLS handshakes) and starve the probes; a real fleet
		// of that size backs off longer too. Scale as Route 53's 10 s interval / 10.
		cfg.Interval, cfg.TTL = time.Second, time.Second
		cfg.BackoffBase, cfg.BackoffCap = 200*time.Millisecond, 5*time.Second
	}
	var rep *drill.Report
	for b.Loop() {
		var err error
		if rep, err = drill.Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		if !rep.Passed {
			b.Errorf("drill failed: %v", rep.Failures)
		}
	}
	b.ReportMetric(rep.RTOP50S, "rto-p50-s")
	b.ReportMetric(rep.RTOP99S, "rto-p99-s")
	b.ReportMetric(rep.RTOP99S/rep.RTOBound, "rto-ratio")
	b.ReportMetric(float64(rep.DevicesLost), "devices-lost")
	b.ReportMetric(peakRSSMiB(), "peak-MiB")
}

// peakRSSMiB reads the process's peak resident set size (VmHWM) on Linux, 0 elsewhere.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
