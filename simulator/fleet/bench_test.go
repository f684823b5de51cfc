package fleet_test

import (
	"context"
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/fleet"
)

var (
	benchDevices     = flag.Int("fleet.devices", 1000, "devices BenchmarkFleetConnect connects")
	benchHeapProfile = flag.String("fleet.heapprofile", "", "write the heap profile of the connected fleet to this file")
)

// BenchmarkFleetConnect connects 1,000 devices (-fleet.devices) to one Region's broker over
// mutual TLS with policy checks and reports the cost of a connected device:
// heap plus goroutine stacks per device (device and broker side: both live
// in this process), the two apart, goroutines per device, and the time to connect
// all. -fleet.heapprofile writes the connected fleet's heap profile, to see where
// the bytes are.
func BenchmarkFleetConnect(b *testing.B) {
	n := *benchDevices
	w := newWorld(b)
	devs := w.devices(b, "bench", n, w.a)
	opts := w.options(&switchResolver{ip: ipA})
	opts.TelemetryEvery = time.Second
	opts.ShadowEvery = 0
	opts.Backoff = fleet.Backoff{Base: 50 * time.Millisecond, Cap: time.Second}

	var bytesPerDevice, heapPerDevice, stackPerDevice, goroutinesPerDevice, connectSeconds float64
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
		after := memInUse()
		bytesPerDevice = float64(after.total()-before.total()) / float64(n)
		heapPerDevice = float64(after.heap-before.heap) / float64(n)
		stackPerDevice = float64(after.stack-before.stack) / float64(n)
		goroutinesPerDevice = float64(runtime.NumGoroutine()-g0) / float64(n)
		if *benchHeapProfile != "" {
			writeHeapProfile(b, *benchHeapProfile)
		}
		f.Stop()
		b.StartTimer()
	}
	b.ReportMetric(bytesPerDevice, "B/device")
	b.ReportMetric(heapPerDevice, "heap-B/device")
	b.ReportMetric(stackPerDevice, "stack-B/device")
	b.ReportMetric(goroutinesPerDevice, "goroutines/device")
	b.ReportMetric(connectSeconds, "connect-s")
}

// inUse is the live heap and the goroutine stacks after a collection.
type inUse struct{ heap, stack int64 }

func (m inUse) total() int64 { return m.heap + m.stack }

// memInUse collects three times: each collection at most halves an idle goroutine's
// stack, and a running fleet collects many times, so what remains is its steady state.
func memInUse() inUse {
	for range 3 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return inUse{heap: int64(m.HeapAlloc), stack: int64(m.StackInuse)}
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
