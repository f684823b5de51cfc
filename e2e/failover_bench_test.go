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

// BenchmarkFailover runs the region-outage drill (Route 53's 10 s interval, threshold 3,
// TTL 10 s, backoff 2.5..25 s, 500 CONNECT/s, at the default time scale of 50; ten times
// slower above 2,000 devices) and reports the RTO percentiles in AWS-equivalent seconds,
// their ratio to the bound the settings imply (the CONNECT quota's devices / rate
// included), the devices that never came back, the process's peak resident memory and
// the wall time.
func BenchmarkFailover(b *testing.B) {
	drill.RaiseFileLimit()
	cfg := drill.DefaultConfig()
	cfg.Devices = *failoverDevices
	if cfg.Devices > 2000 {
		// Thousands of devices retrying against a dead broker saturate two cores (TLS
		// handshakes) and starve the probes: run at a tenth of the speed, with a longer
		// backoff as a real fleet of that size would use.
		cfg.TimeScale = 10
		cfg.BackoffBase, cfg.BackoffCap = 2*time.Second, 50*time.Second
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
	b.ReportMetric(rep.WallS, "wall-s")
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
