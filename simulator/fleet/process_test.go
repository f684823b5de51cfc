package fleet_test

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/dns"
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// TestMain makes the test binary a fleet worker when StartProcesses re-executes it.
func TestMain(m *testing.M) {
	if os.Getenv(fleet.WorkerEnv) == "1" {
		if err := fleet.ServeWorker(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("fleet worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// zone answers the domain with one fixed IP.
type zone struct{ ip string }

func (zone) Domain() string { return domain }

func (z zone) Resolve(name string) (net.IP, time.Duration, bool) {
	return net.ParseIP(z.ip), time.Second, name == domain
}

// startProcesses runs devs in workers of per devices each, resolving the domain to
// the primary, and checks after the test that none of them outlived it.
func startProcesses(t *testing.T, ctx context.Context, w *world, devs []fleet.Device, per int) *fleet.Processes {
	t.Helper()
	srv, err := dns.NewServer(zone{ip: ipA}, nil)
	if err != nil {
		t.Fatalf("dns server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := w.options(nil)
	opts.Resolver, opts.Roots = nil, nil
	ps, err := fleet.StartProcesses(ctx, devs, opts, fleet.ProcessOptions{
		Command: fleet.Command{Path: exe}, PerProcess: per, DNSAddr: srv.Addr(), RootsPEM: w.ca.CertPEM()})
	if err != nil {
		t.Fatalf("start processes: %v", err)
	}
	pids := ps.PIDs()
	t.Cleanup(func() {
		ps.Stop()
		if kids := children(t); len(kids) > 0 {
			t.Errorf("child processes left after Stop: %v (workers were %v)", kids, pids)
		}
	})
	return ps
}

// children lists the live processes whose parent is this one, from /proc.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to check for orphans: %v", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, pid)
		}
	}
	return out
}

// TestProcessesKilledWorker runs 12 devices in three worker processes, kills one
// worker, and checks that its devices are reported lost at once, that a wait for the
// whole fleet fails instead of hanging, that the others keep publishing, and that no
// process is left behind.
func TestProcessesKilledWorker(t *testing.T) {
	w := newWorld(t)
	devs := w.devices(t, "proc", 12, w.a)
	ps := startProcesses(t, context.Background(), w, devs, 4)
	if got := len(ps.PIDs()); got != 3 {
		t.Fatalf("workers = %d, want 3", got)
	}
	ctx := waitCtx(t)
	if err := ps.WaitConnected(ctx, primary, 12); err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	if err := ps.Wait(ctx, func() bool { return ps.Stats().Published >= 24 }); err != nil {
		t.Fatalf("devices in workers never published: %v (stats %+v)", err, ps.Stats())
	}

	victim := ps.PIDs()[1]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatalf("kill worker %d: %v", victim, err)
	}
	if err := ps.Wait(ctx, func() bool { return ps.Stats().DevicesLost == 4 }); err != nil {
		t.Fatalf("killed worker's devices not reported lost: %v (stats %+v)", err, ps.Stats())
	}
	if got := ps.Connected()[primary]; got != 8 {
		t.Errorf("connected after the kill = %d, want 8", got)
	}
	for i, d := range devs {
		tl := ps.Timeline(d.Thing)
		lost := len(tl) > 0 && tl[len(tl)-1].Kind == fleet.KindLost
		if lost != (i >= 4 && i < 8) {
			t.Errorf("%s: last event %+v, lost = %v", d.Thing, tl[len(tl)-1], lost)
		}
	}
	// A wait the lost devices can never satisfy ends now, not at its deadline.
	start := time.Now()
	err := ps.WaitConnected(ctx, primary, 12)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("WaitConnected for the whole fleet after a kill: %v after %s, want an immediate lost-devices error", err, time.Since(start))
	}
	// The survivors go on.
	if err := ps.Wait(ctx, func() bool {
		for _, d := range []fleet.Device{devs[0], devs[11]} {
			ok := false
			for _, e := range ps.Timeline(d.Thing) {
				ok = ok || e.Kind == fleet.KindConnected && e.At.Before(since)
			}
			if !ok {
				return false
			}
		}
		return ps.Stats().Published >= 60
	}); err != nil {
		t.Errorf("surviving workers stopped publishing: %v (stats %+v)", err, ps.Stats())
	}
}

// TestProcessesStopOnContext checks that cancelling the context ends every worker
// (reaped: no such process after), their devices leave, and none is reported lost.
func TestProcessesStopOnContext(t *testing.T) {
	w := newWorld(t)
	devs := w.devices(t, "ctx", 4, w.a)
	run, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := startProcesses(t, run, w, devs, 2)
	if err := ps.WaitConnected(waitCtx(t), primary, 4); err != nil {
		t.Fatal(err)
	}
	pids := ps.PIDs()
	cancel()
	ps.Stop() // waits for the stop the cancellation began
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("worker %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	if s := ps.Stats(); s.DevicesLost != 0 || ps.Connected()[primary] != 0 {
		t.Errorf("after Stop: %d lost, %d connected; want 0 and 0", s.DevicesLost, ps.Connected()[primary])
	}
}

// TestProcessesPeakRSSIsTheWorkers: the workers' peak memory is their own, not the
// parent's. A finished child's rusage on Linux counts the resident size of the
// parent it was forked from (500 MiB for /bin/true forked by a 500 MiB process),
// which made a 10,000-device drill's peak-MiB 6,600 where the workers used a
// fraction of it; here the parent holds 256 MiB while two devices run in a worker.
func TestProcessesPeakRSSIsTheWorkers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak resident size is reported on Linux only")
	}
	ballast := make([]byte, 256<<20)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1 // resident, not just reserved
	}
	w := newWorld(t)
	devs := w.devices(t, "rss", 2, w.a)
	ps := startProcesses(t, context.Background(), w, devs, 2)
	if err := ps.WaitConnected(waitCtx(t), primary, 2); err != nil {
		t.Fatal(err)
	}
	ps.Stop()
	runtime.KeepAlive(ballast)
	if peak := ps.PeakRSS(); peak <= 0 || peak >= 128<<20 {
		t.Errorf("worker peak %d MiB with a 256 MiB parent: want its own few MiB", peak>>20)
	}
}
