package fleet_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// BenchmarkFleetConnect connects 1,000 devices to one Region's broker over
// mutual TLS with policy checks and reports the cost of a connected device:
// heap plus goroutine stacks per device (device and broker side: both live
// in this process) and goroutines per device, and the time to connect all.
func BenchmarkFleetConnect(b *testing.B) {
	const n = 1000
	w := newWorld(b)
	devs := w.devices(b, "bench", n, w.a)
	opts := w.options(&switchResolver{ip: ipA})
	opts.TelemetryEvery = time.Second
	opts.ShadowEvery = 0
	opts.Backoff = fleet.Backoff{Base: 50 * time.Millisecond, Cap: time.Second}

	var bytesPerDevice, goroutinesPerDevice, connectSeconds float64
	for b.Loop() {
		b.StopTimer()
		before := memInUse()
		g0 := runtime.NumGoroutine()
		b.StartTimer()

		start := time.Now()
		f, err := fleet.Start(context.Background(), devs, opts)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err = f.WaitConnected(ctx, primary, n)
		cancel()
		if err != nil {
			f.Stop()
			b.Fatal(err)
		}
		connectSeconds = time.Since(start).Seconds()

		b.StopTimer()
		bytesPerDevice = float64(memInUse()-before) / n
		goroutinesPerDevice = float64(runtime.NumGoroutine()-g0) / n
		f.Stop()
		b.StartTimer()
	}
	b.ReportMetric(bytesPerDevice, "B/device")
	b.ReportMetric(goroutinesPerDevice, "goroutines/device")
	b.ReportMetric(connectSeconds, "connect-s")
}

// memInUse is the live heap plus goroutine stacks after a collection.
func memInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}
