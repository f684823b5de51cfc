package fleet

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"
)

// WorkerEnv is set to "1" in every fleet worker's environment, so that a program
// started as one (the iotdr CLI, or a test binary re-executing itself) can tell.
const WorkerEnv = "IOTDR_FLEET_WORKER"

// DefaultPerProcess is how many devices one worker runs by default: a quarter of a
// 10,000-device fleet, so that two cores share four processes' garbage collection.
const DefaultPerProcess = 2500

// stopGrace bounds how long Stop waits for a worker to disconnect its devices and
// exit after its stdin closes, before killing it.
const stopGrace = 15 * time.Second

// Command starts one fleet worker: a program that calls ServeWorker with its stdin
// and stdout (`iotdr fleet`, or a test binary whose TestMain does when WorkerEnv is
// set).
type Command struct {
	Path string
	Args []string
	// Env is added to the parent's environment (WorkerEnv=1 always is).
	Env []string
}

// ProcessOptions runs a fleet in child processes.
type ProcessOptions struct {
	Command Command
	// PerProcess is the most devices one worker runs (default DefaultPerProcess).
	// Each holds one socket per device, so it must stay within the worker's share
	// of the open-file limit; the broker's ends stay in this process.
	PerProcess int
	// DNSAddr is the DNS server the workers resolve Options.Domain through, with
	// TTLUnit its TTL unit; Options.Resolver is not used (it is this process's).
	DNSAddr string
	TTLUnit time.Duration
	// RootsPEM is the CA the workers verify the brokers against; Options.Roots is
	// not used.
	RootsPEM []byte
	// Stderr receives the workers' standard error (default: this process's).
	Stderr io.Writer
}

// Processes is a fleet running in child processes, observed through the events
// they stream: the same view as a Fleet's (Connected, Timeline, Stats, waits).
// A worker that ends before Stop takes its devices with it: they are recorded as
// KindLost, counted in Stats.DevicesLost, and no wait hangs on them.
type Processes struct {
	opts    Options
	workers []*worker
	things  []string
	wg      sync.WaitGroup // the workers' readers
	stopped chan struct{}

	mu        sync.Mutex
	devices   map[string]*mirror
	connected map[string]int
	lost      int
	stopping  bool
	changed   chan struct{}
	stopOnce  sync.Once
}

// mirror is the parent's copy of one device's timeline.
type mirror struct {
	events []Event
	region string // where it is connected, "" when it is not
	lost   bool
}

// worker is one child process.
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	things []string
	stats  Stats // its latest snapshot
	peak   int64 // its peak resident size as it last reported it
	done   chan struct{}
}

// workerSpec is what a worker reads from its stdin: the fleet options that cross a
// process boundary, and its devices.
type workerSpec struct {
	Domain, Port, DNSAddr                  string
	RootsPEM                               []byte
	TTLUnit, TelemetryEvery, ShadowEvery   time.Duration
	KeepAlive, ConnectTimeout, StartSpread time.Duration
	Backoff                                Backoff
	Seed                                   int64
	FirstIndex                             int
	Regions                                map[string]string
	Devices                                []workerDevice
}

type workerDevice struct {
	Thing        string
	CertPEM, Key []byte
	WithoutSNI   bool `json:",omitempty"`
}

// workerMsg is one line a worker writes to its stdout: an event or a snapshot of
// its counters.
type workerMsg struct {
	Thing string `json:",omitempty"`
	Event *Event `json:",omitempty"`
	Stats *Stats `json:",omitempty"`
	// PeakRSS is the worker's peak resident size in bytes, sent with its counters.
	PeakRSS int64 `json:",omitempty"`
}

// StartProcesses starts the devices in child processes of PerProcess devices each
// and returns once every worker has its devices. The workers run until Stop is
// called or ctx is done (call Stop anyway to wait for them). They end on their own
// when this process does: each exits when its stdin closes, and on Linux the kernel
// kills it when its parent dies.
func StartProcesses(ctx context.Context, devices []Device, opts Options, p ProcessOptions) (*Processes, error) {
	// The in-process checks, with stand-ins for the fields a worker builds itself.
	check := opts
	check.Resolver, check.Roots = unusedResolver{}, x509.NewCertPool()
	if err := check.validate(); err != nil {
		return nil, err
	}
	switch {
	case p.Command.Path == "":
		return nil, errors.New("fleet: ProcessOptions.Command.Path is required")
	case p.DNSAddr == "":
		return nil, errors.New("fleet: ProcessOptions.DNSAddr is required")
	case len(p.RootsPEM) == 0:
		return nil, errors.New("fleet: ProcessOptions.RootsPEM is required")
	}
	per := p.PerProcess
	if per <= 0 {
		per = DefaultPerProcess
	}
	stderr := p.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	ps := &Processes{opts: check, devices: make(map[string]*mirror, len(devices)), connected: map[string]int{},
		changed: make(chan struct{}), stopped: make(chan struct{})}
	for _, region := range opts.Regions {
		ps.connected[region] = 0
	}
	for i, d := range devices {
		if d.Thing == "" || d.Cert == nil {
			return nil, fmt.Errorf("fleet: device %d: thing name and certificate are required", i)
		}
		if _, dup := ps.devices[d.Thing]; dup {
			return nil, fmt.Errorf("fleet: device %q listed twice", d.Thing)
		}
		ps.devices[d.Thing] = &mirror{}
		ps.things = append(ps.things, d.Thing)
	}
	slices.Sort(ps.things)
	for first := 0; first < len(devices); first += per {
		chunk := devices[first:min(first+per, len(devices))]
		w, err := ps.startWorker(opts, p, first, chunk, stderr)
		if err != nil {
			ps.Stop()
			return nil, err
		}
		ps.workers = append(ps.workers, w)
	}
	go func() {
		select {
		case <-ctx.Done():
			ps.Stop()
		case <-ps.stopped:
		}
	}()
	return ps, nil
}

func (ps *Processes) startWorker(opts Options, p ProcessOptions, first int, devices []Device, stderr io.Writer) (*worker, error) {
	spec := workerSpec{Domain: opts.Domain, Port: opts.Port, DNSAddr: p.DNSAddr, RootsPEM: p.RootsPEM, TTLUnit: p.TTLUnit,
		TelemetryEvery: opts.TelemetryEvery, ShadowEvery: opts.ShadowEvery, KeepAlive: opts.KeepAlive,
		ConnectTimeout: opts.ConnectTimeout, StartSpread: opts.StartSpread, Backoff: opts.Backoff, Seed: opts.Seed,
		FirstIndex: opts.FirstIndex + first, Regions: opts.Regions}
	w := &worker{done: make(chan struct{})}
	for _, d := range devices {
		spec.Devices = append(spec.Devices, workerDevice{Thing: d.Thing, CertPEM: d.Cert.CertPEM, Key: d.Cert.KeyPEM, WithoutSNI: d.WithoutSNI})
		w.things = append(w.things, d.Thing)
	}
	cmd := exec.Command(p.Command.Path, p.Command.Args...)
	cmd.Env = append(append(os.Environ(), p.Command.Env...), WorkerEnv+"=1")
	cmd.Stderr = stderr
	cmd.SysProcAttr = workerProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("fleet: worker stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("fleet: worker stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("fleet: start worker %s: %w", p.Command.Path, err)
	}
	w.cmd, w.stdin = cmd, stdin
	ps.wg.Add(1)
	go ps.read(w, stdout)
	if err := json.NewEncoder(stdin).Encode(spec); err != nil {
		_ = stdin.Close()
		<-w.done
		return nil, fmt.Errorf("fleet: send worker its devices: %w (worker: %v)", err, cmd.ProcessState)
	}
	return w, nil
}

// read applies a worker's events until its stdout closes, then reaps it; a worker
// that ends before Stop loses its devices.
func (ps *Processes) read(w *worker, stdout io.Reader) {
	defer ps.wg.Done()
	defer close(w.done)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var bad error
	for sc.Scan() {
		var m workerMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			bad = fmt.Errorf("unreadable line from worker: %w", err)
			break
		}
		ps.apply(w, m)
	}
	if bad != nil {
		_ = w.cmd.Process.Kill()
	}
	_, _ = io.Copy(io.Discard, stdout)
	err := w.cmd.Wait()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.stopping && err == nil && bad == nil {
		return
	}
	why := fmt.Sprintf("worker %d exited: %v", w.cmd.Process.Pid, w.cmd.ProcessState)
	if bad != nil {
		why += "; " + bad.Error()
	}
	for _, thing := range w.things {
		m := ps.devices[thing]
		if m.lost {
			continue
		}
		if m.region != "" {
			ps.connected[m.region]--
			ps.appendLocked(m, Event{At: time.Now(), Kind: KindDisconnected, Region: m.region, Detail: why})
			m.region = ""
		}
		m.lost = true
		ps.lost++
		ps.appendLocked(m, Event{At: time.Now(), Kind: KindLost, Detail: why})
	}
	ps.notifyLocked()
}

func (ps *Processes) apply(w *worker, msg workerMsg) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if msg.Stats != nil {
		w.stats = *msg.Stats
		w.peak = max(w.peak, msg.PeakRSS)
	}
	if msg.Event == nil {
		return
	}
	m := ps.devices[msg.Thing]
	if m == nil {
		return
	}
	e := *msg.Event
	switch e.Kind {
	case KindConnected:
		m.region = e.Region
		ps.connected[e.Region]++
	case KindDisconnected:
		if m.region != "" {
			ps.connected[m.region]--
			m.region = ""
		}
	}
	ps.appendLocked(m, e)
	ps.notifyLocked()
}

// appendLocked keeps the timeline bounded as a device's own is.
func (ps *Processes) appendLocked(m *mirror, e Event) {
	if len(m.events) == maxEvents {
		n := copy(m.events, m.events[maxEvents/4:])
		m.events = m.events[:n]
	}
	m.events = append(m.events, e)
}

func (ps *Processes) notifyLocked() {
	close(ps.changed)
	ps.changed = make(chan struct{})
}

// Stop closes every worker's stdin, which disconnects its devices and ends it, and
// waits for them; a worker still running after a grace period is killed. It is
// safe to call more than once.
func (ps *Processes) Stop() {
	ps.stopOnce.Do(func() {
		ps.mu.Lock()
		ps.stopping = true
		ps.mu.Unlock()
		close(ps.stopped)
		for _, w := range ps.workers {
			_ = w.stdin.Close()
		}
		grace := time.NewTimer(stopGrace)
		defer grace.Stop()
		for _, w := range ps.workers {
			select {
			case <-w.done:
			case <-grace.C:
				for _, w := range ps.workers {
					_ = w.cmd.Process.Kill()
				}
			}
		}
		ps.wg.Wait()
	})
}

// PIDs returns the workers' process ids.
func (ps *Processes) PIDs() []int {
	var out []int
	for _, w := range ps.workers {
		out = append(out, w.cmd.Process.Pid)
	}
	return out
}

// PeakRSS is the sum of the workers' peak resident sizes in bytes as they last
// reported them (each with its counters, and once more as it stops): a sum of
// peaks, so at least any moment's total. 0 where the platform does not report it.
func (ps *Processes) PeakRSS() int64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var n int64
	for _, w := range ps.workers {
		n += w.peak
	}
	return n
}

// Connected returns, per Region, the number of devices currently connected.
func (ps *Processes) Connected() map[string]int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return maps.Clone(ps.connected)
}

// Timeline returns the events of thing the parent has seen, oldest first.
func (ps *Processes) Timeline(thing string) []Event {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if m := ps.devices[thing]; m != nil {
		return slices.Clone(m.events)
	}
	return nil
}

// Things returns the fleet's thing names, sorted.
func (ps *Processes) Things() []string { return slices.Clone(ps.things) }

// Stats sums the workers' latest counters; DevicesLost counts the devices of
// workers that ended before Stop.
func (ps *Processes) Stats() Stats {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s := Stats{Refusals: map[string]int64{}, DevicesLost: int64(ps.lost)}
	for _, w := range ps.workers {
		s.Published += w.stats.Published
		s.PublishFailures += w.stats.PublishFailures
		s.Received += w.stats.Received
		s.Connects += w.stats.Connects
		s.Reconnects += w.stats.Reconnects
		s.ConnectFailures += w.stats.ConnectFailures
		for r, n := range w.stats.Refusals {
			s.Refusals[r] += n
		}
	}
	return s
}

// WaitConnected blocks until at least n devices are connected in region, or ctx
// is done, or too many devices are lost for n to be reached.
func (ps *Processes) WaitConnected(ctx context.Context, region string, n int) error {
	var unreachable bool
	err := ps.wait(ctx, false, func() bool {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		unreachable = len(ps.things)-ps.lost < n
		return unreachable || ps.connected[region] >= n
	})
	have := ps.Connected()[region]
	switch {
	case err != nil:
		return fmt.Errorf("fleet: wait for %d devices connected in %s (have %d): %w", n, region, have, err)
	case unreachable:
		return fmt.Errorf("fleet: wait for %d devices connected in %s (have %d): %d devices lost with their worker processes", n, region, have, ps.Stats().DevicesLost)
	}
	return nil
}

// Wait blocks until cond returns true or ctx is done; cond is evaluated after
// every event and at least every 50 ms.
func (ps *Processes) Wait(ctx context.Context, cond func() bool) error {
	if err := ps.wait(ctx, true, cond); err != nil {
		return fmt.Errorf("fleet: wait: %w", err)
	}
	return nil
}

func (ps *Processes) wait(ctx context.Context, poll bool, cond func() bool) error {
	var tick <-chan time.Time
	if poll {
		t := time.NewTicker(waitPoll)
		defer t.Stop()
		tick = t.C
	}
	for {
		ps.mu.Lock()
		changed := ps.changed
		ps.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-changed:
		case <-tick:
		}
	}
}

// unusedResolver stands in for the workers' resolvers when the options are checked.
type unusedResolver struct{}

func (unusedResolver) Lookup(context.Context, string) (string, time.Duration, error) {
	return "", 0, errors.New("fleet: the workers resolve the domain themselves")
}
