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
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

var (
	failoverDevices     = flag.Int("failover.devices", 1000, "live devices in BenchmarkFailover")
	failoverFleetSize   = flag.Int("failover.fleet-size", 0, "the fleet they stand for (0: the live devices)")
	failoverConnectRate = flag.Float64("failover.connect-rate", 0, "CONNECT/s per account (0: AWS's 500)")
	failoverTimeScale   = flag.Float64("failover.time-scale", 0, "AWS seconds per wall second (0: 20,000 / devices, 2-50)")
	failoverPerProcess  = flag.Int("failover.per-process", fleet.DefaultPerProcess, "devices per fleet worker process (0: the fleet runs in the benchmark's process)")
)

// BenchmarkFailover runs the region-outage drill (Route 53's 10 s interval, threshold 3,
// TTL 10 s, backoff 2.5..25 s, 500 CONNECT/s) and reports the RTO percentiles in
// AWS-equivalent seconds, their ratio to the bound the settings imply (the CONNECT
// quota's devices / rate included), the devices that never came back, the peak
// resident memory of every process (the benchmark's VmHWM plus each fleet worker's
// own, as it reports it: a sum of peaks, so an upper bound on any moment's total),
// the workers' part of it, the whole per live device, and the wall time.
// The fleet runs in worker processes (this test binary re-executed, see TestMain).
//
// The time scale is chosen so that the simulator's own CPU stays off the critical path:
// reconnecting a fleet costs about a millisecond of two cores per device (both TLS ends
// run here), which at the default scale of 50 would be 50 ms of AWS time per device and
// would put the machine's load, not the settings, into rto-ratio. The scale is 20,000 /
// devices, between 2 and 50: the reconnect work stays near a second of AWS time per
// thousand devices. At 10,000 devices a floor of 5 gave rto-ratio 1.38 on this machine
// under load (reconnecting took longer than the quota's 20 s), 2 gave 0.66.
//
// -failover.fleet-size runs a represented fleet, to check the prediction against a
// direct run of that size (same -failover.time-scale and -failover.connect-rate).
func BenchmarkFailover(b *testing.B) {
	cfg := fleetConfig(b, *failoverDevices, *failoverFleetSize, *failoverTimeScale, *failoverConnectRate)
	rep := runDrill(b, cfg)
	if rep.DevicesLost > 0 || rep.DNSSwitchS == 0 {
		b.Errorf("the fleet did not fail over: %d devices lost, DNS switch %.3fs", rep.DevicesLost, rep.DNSSwitchS)
	}
	b.ReportMetric(rep.RTOP50S, "rto-p50-s")
	b.ReportMetric(rep.RTOP99S, "rto-p99-s")
	b.ReportMetric(rep.RTOP99S/rep.RTOBound, "rto-ratio")
	b.ReportMetric(float64(rep.DevicesLost), "devices-lost")
	peak := peakRSSMiB() + rep.FleetWorkersPeakMiB
	b.ReportMetric(peak, "peak-MiB")
	b.ReportMetric(rep.FleetWorkersPeakMiB, "workers-peak-MiB")
	b.ReportMetric(peak*1024/float64(cfg.Devices), "peak-KiB/device")
	b.ReportMetric(float64(rep.FleetWorkers), "workers")
	b.ReportMetric(rep.WallS, "wall-s")
	b.ReportMetric(cfg.TimeScale, "time-scale")
}

// fleetConfig is BenchmarkFailover's drill: devices live devices standing for
// fleetSize (0: themselves) at timeScale (0: 20,000 / devices, 2-50) and connectRate
// CONNECT/s (0: AWS's 500), in worker processes of -failover.per-process devices.
func fleetConfig(b *testing.B, devices, fleetSize int, timeScale, connectRate float64) drill.Config {
	cfg := benchConfig(devices, timeScale)
	cfg.FleetSize = fleetSize
	if connectRate > 0 {
		cfg.ConnectRate = connectRate
	}
	if max(cfg.Devices, cfg.FleetSize) > 2000 {
		// Thousands of devices retrying against a dead broker saturate two cores (TLS
		// handshakes): a longer backoff, as a real fleet of that size would use. A
		// represented fleet uses its size's, so that it stands for the direct run.
		cfg.BackoffBase, cfg.BackoffCap = 2*time.Second, 50*time.Second
	}
	if *failoverPerProcess > 0 {
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		cfg.FleetWorker, cfg.FleetPerProcess = &fleet.Command{Path: exe}, *failoverPerProcess
	}
	return cfg
}

// runDrill runs cfg's drill once per b.Loop iteration and returns the last report. The
// report's figures are the benchmark's finding, so a failed drill is logged with its
// failures (each benchmark errors on those that break its own figures).
func runDrill(b *testing.B, cfg drill.Config) *drill.Report {
	var rep *drill.Report
	for b.Loop() {
		var err error
		if rep, err = drill.Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
	if !rep.Passed {
		b.Logf("drill failed: %v", rep.Failures)
	}
	return rep
}

// benchConfig is the default drill with devices live devices at timeScale (0: 20,000 /
// devices, between 2 and 50), with the file limit raised for them.
func benchConfig(devices int, timeScale float64) drill.Config {
	drill.RaiseFileLimit()
	drill.TuneGC()
	cfg := drill.DefaultConfig()
	cfg.Devices = devices
	cfg.TimeScale = min(drill.DefaultTimeScale, max(2, 20000/float64(cfg.Devices)))
	if timeScale > 0 {
		cfg.TimeScale = timeScale
	}
	return cfg
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
