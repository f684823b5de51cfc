package fleet_test

import (
	"context"
	"flag"
	"runtime"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/fleet"
)

var benchDevices = flag.Int("fleet.devices", 1000, "devices BenchmarkFleetConnect connects")

// BenchmarkFleetConnect connects 1,000 devices (-fleet.devices) to one Region's broker over
// mutual TLS with policy checks and reports the cost of a connected device:
// heap plus goroutine stacks per device (device and broker side: both live
// in this process) and goroutines per device, and the time to connect all.
func BenchmarkFleetConnect(b *testing.B) {
	n := *benchDevices
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
			reportStragglers(b, f)
			f.Stop()
			b.Fatal(err)
		}
		connectSeconds = time.Since(start).Seconds()

		b.StopTimer()
		bytesPerDevice = float64(memInUse()-before) / float64(n)
		goroutinesPerDevice = float64(runtime.NumGoroutine()-g0) / float64(n)
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

// reportStragglers logs the stats and the timelines of a few devices that
// are not connected.
func reportStragglers(tb testing.TB, f *fleet.Fleet) {
	tb.Helper()
	tb.Logf("stats: %+v", f.Stats())
	shown := 0
	for _, th := range f.Things() {
		tl := f.Timeline(th)
		if len(tl) > 0 && tl[len(tl)-1].Kind == fleet.KindPublished || shown >= 3 {
			continue
		}
		connected := false
		for _, e := range tl {
			switch e.Kind {
			case fleet.KindConnected:
				connected = true
			case fleet.KindDisconnected:
				connected = false
			}
		}
		if connected {
			continue
		}
		shown++
		for _, e := range tl {
			tb.Logf("%s %s %-14s %-10s %s", th, e.At.Format("15:04:05.000"), e.Kind, e.Region, e.Detail)
		}
	}
}
