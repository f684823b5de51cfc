package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iot-dr/iot-dr/simulator/pki"
)

// Resolver resolves the custom domain to one IPv4 address and its TTL. The
// simulator's DNS resolver implements it, caching answers for their TTL.
type Resolver interface {
	Lookup(ctx context.Context, name string) (ip string, ttl time.Duration, err error)
}

// Device is one simulated device: its thing name (also its MQTT client ID)
// and its certificate.
type Device struct {
	Thing string
	Cert  *pki.Device
	// WithoutSNI makes the device's TLS send no Server Name Indication (it still
	// verifies the server for the domain), as some older firmware does.
	WithoutSNI bool
}

// Options configures a Fleet.
type Options struct {
	// Domain is the custom domain devices resolve and verify the server
	// certificate against.
	Domain string
	// Port is the MQTT port; every Region's broker listens on it, each on its
	// own loopback IP.
	Port string
	// Roots verifies the brokers' server certificates (the simulator's CA).
	Roots *x509.CertPool
	// Resolver resolves Domain before every connection attempt.
	Resolver Resolver
	// TelemetryEvery is the telemetry interval (required).
	TelemetryEvery time.Duration
	// ShadowEvery is the shadow-report interval; 0 disables shadow reports.
	ShadowEvery time.Duration
	// Backoff paces reconnection attempts (default Base 100 ms, Cap 5 s).
	Backoff Backoff
	// Seed makes the jitter (backoff, start times, schedule phases)
	// reproducible: device i draws from a generator seeded with (Seed, i).
	Seed int64
	// Regions maps a broker IP to its Region's name, to attribute
	// connections; an IP missing from it is reported as the Region.
	Regions map[string]string
	// KeepAlive is the MQTT keep-alive (default 2 s; whole seconds). With
	// thousands of devices on few cores, a longer keep-alive avoids
	// spurious ping timeouts while a reconnect storm saturates the CPU.
	KeepAlive time.Duration
	// ConnectTimeout bounds resolve, dial, TLS handshake and CONNACK of one
	// attempt (default 5 s).
	ConnectTimeout time.Duration
	// StartSpread spreads the devices' first connection attempts uniformly
	// over this window (default 0: all start at once).
	StartSpread time.Duration
	// Logger receives the fleet's logs (default: discarded).
	Logger *slog.Logger
	// FirstIndex numbers the devices from it for their jitter seeds, so that the
	// workers of one fleet in child processes (StartProcesses) draw apart.
	FirstIndex int
	// OnEvent, when set, is called with every timeline event as it is recorded,
	// outside the fleet's locks; a fleet worker forwards them to its parent.
	OnEvent func(thing string, e Event)

	// forwardOnly keeps no timelines (Timeline returns nil): a fleet worker's parent
	// keeps them from OnEvent.
	forwardOnly bool
}

// Defaults for zero Options fields.
const (
	DefaultKeepAlive      = 2 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultBackoffBase    = 100 * time.Millisecond
	DefaultBackoffCap     = 5 * time.Second
)

// maxHandshakes is how many connection attempts of a process's devices may be between
// dial and CONNACK at once: a few per core keep the cores busy. Real devices each
// have their own CPU; here thousands share two cores, and without a bound a
// reconnect storm starts every handshake at once, finishes none of them within
// ConnectTimeout and retries them all (congestion collapse: 10,000 devices never
// connected). Waiting for a slot is the device waiting for the simulator's CPU: it
// delays the device, it never admits one AWS would refuse, and the brokers' quotas
// see every CONNECT as it comes.
func maxHandshakes() int { return 4 * runtime.GOMAXPROCS(0) }

// waitPoll is how often Wait re-checks its condition when no event arrives,
// for conditions on counters that do not produce events.
const waitPoll = 50 * time.Millisecond

func (o *Options) validate() error {
	switch {
	case o.Domain == "":
		return errors.New("fleet: Options.Domain is required")
	case o.Port == "":
		return errors.New("fleet: Options.Port is required")
	case o.Roots == nil:
		return errors.New("fleet: Options.Roots is required")
	case o.Resolver == nil:
		return errors.New("fleet: Options.Resolver is required")
	case o.TelemetryEvery <= 0:
		return errors.New("fleet: Options.TelemetryEvery must be positive")
	case o.ShadowEvery < 0:
		return errors.New("fleet: Options.ShadowEvery must not be negative")
	case o.Backoff.Base < 0 || o.Backoff.Cap < 0:
		return errors.New("fleet: Options.Backoff must not be negative")
	}
	if o.Backoff.Base == 0 {
		o.Backoff.Base = DefaultBackoffBase
	}
	if o.Backoff.Cap == 0 {
		o.Backoff.Cap = max(DefaultBackoffCap, o.Backoff.Base)
	}
	if o.Backoff.Cap < o.Backoff.Base {
		return fmt.Errorf("fleet: Options.Backoff.Cap %v is below Base %v", o.Backoff.Cap, o.Backoff.Base)
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.KeepAlive < time.Second {
		return fmt.Errorf("fleet: Options.KeepAlive %v is below MQTT's 1 s resolution", o.KeepAlive)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats are fleet-wide counters since Start.
type Stats struct {
	// Published counts publishes acknowledged by a broker (PUBACK).
	Published int64
	// PublishFailures counts scheduled publishes that were not acknowledged:
	// sent while disconnected, or lost with their connection.
	PublishFailures int64
	// Received counts messages delivered to the devices' subscriptions.
	Received int64
	// Connects counts successful CONNECTs; Reconnects those of devices that
	// had been connected before.
	Connects, Reconnects int64
	// ConnectFailures counts attempts that failed before CONNACK (resolve,
	// dial, TLS handshake, timeout); refusals are counted in Refusals.
	ConnectFailures int64
	// Refusals counts broker refusals by reason: a CONNACK code (e.g.
	// "connect: Connection Refused: Not Authorised") or a failed SUBACK.
	Refusals map[string]int64
	// DevicesLost counts devices whose worker process ended before Stop
	// (StartProcesses); always 0 in process.
	DevicesLost int64
}

// Fleet is a running set of simulated devices. Its methods are safe for
// concurrent use.
type Fleet struct {
	opts    Options
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	devices map[string]*device

	published, failures, received      atomic.Int64
	connects, reconnects, connectFails atomic.Int64

	// handshakes bounds the attempts between dial and CONNACK in this process.
	handshakes chan struct{}

	mu        sync.Mutex
	connected map[string]int // Region -> devices connected
	refusals  map[string]int64
	changed   chan struct{} // closed and replaced on every timeline event
	stopOnce  sync.Once
}

// Start starts every device; each connects in the background. The fleet runs
// until Stop is called or ctx is done (call Stop anyway to wait for it).
func Start(ctx context.Context, devices []Device, opts Options) (*Fleet, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	f := &Fleet{
		opts:       opts,
		devices:    make(map[string]*device, len(devices)),
		connected:  make(map[string]int),
		refusals:   make(map[string]int64),
		changed:    make(chan struct{}),
		handshakes: make(chan struct{}, maxHandshakes()),
	}
	for _, region := range opts.Regions {
		f.connected[region] = 0
	}
	devs := make([]*device, 0, len(devices))
	for i, d := range devices {
		if d.Thing == "" || d.Cert == nil {
			return nil, fmt.Errorf("fleet: device %d: thing name and certificate are required", i)
		}
		if _, dup := f.devices[d.Thing]; dup {
			return nil, fmt.Errorf("fleet: device %q listed twice", d.Thing)
		}
		// The TLS configuration keeps the key and DER only: the parsed certificate
		// and the PEMs are the caller's (a worker drops them).
		id := pki.Device{TLS: d.Cert.TLS}
		id.TLS.Leaf = nil
		tlsConf := pki.ClientTLS(&id, opts.Roots, opts.Domain)
		if d.WithoutSNI {
			tlsConf = pki.ClientTLSWithoutSNI(&id, opts.Roots, opts.Domain)
		}
		dev := &device{
			f:     f,
			thing: d.Thing,
			tls:   tlsConf,
			rng:   rand.New(rand.NewPCG(uint64(opts.Seed), uint64(opts.FirstIndex+i))),
		}
		f.devices[d.Thing] = dev
		devs = append(devs, dev)
	}
	f.ctx, f.cancel = context.WithCancel(ctx)
	f.wg.Add(len(devs))
	for _, d := range devs {
		var delay time.Duration
		if opts.StartSpread > 0 {
			delay = time.Duration(d.rng.Int64N(int64(opts.StartSpread)))
		}
		go d.run(f.ctx, delay)
	}
	opts.Logger.Info("fleet started", "devices", len(devs), "domain", opts.Domain)
	return f, nil
}

// Stop disconnects every device and waits for all device goroutines. It is
// safe to call more than once.
func (f *Fleet) Stop() {
	f.stopOnce.Do(func() {
		f.cancel()
		f.wg.Wait()
		f.opts.Logger.Info("fleet stopped")
	})
}

// Connected returns, per Region, the number of devices currently connected.
// Every Region in Options.Regions is present, possibly with 0.
func (f *Fleet) Connected() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.connected)
}

// Timeline returns the recorded events of thing, oldest first, or nil for an
// unknown thing.
func (f *Fleet) Timeline(thing string) []Event {
	d := f.devices[thing]
	if d == nil {
		return nil
	}
	return d.timeline()
}

// Things returns the fleet's thing names, sorted.
func (f *Fleet) Things() []string {
	return slices.Sorted(maps.Keys(f.devices))
}

// Stats returns a snapshot of the fleet's counters.
func (f *Fleet) Stats() Stats {
	f.mu.Lock()
	refusals := maps.Clone(f.refusals)
	f.mu.Unlock()
	return Stats{
		Published:       f.published.Load(),
		PublishFailures: f.failures.Load(),
		Received:        f.received.Load(),
		Connects:        f.connects.Load(),
		Reconnects:      f.reconnects.Load(),
		ConnectFailures: f.connectFails.Load(),
		Refusals:        refusals,
	}
}

// WaitConnected blocks until at least n devices are connected in region, or
// ctx is done. It is woken by connection events, not by polling.
func (f *Fleet) WaitConnected(ctx context.Context, region string, n int) error {
	err := f.wait(ctx, false, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.connected[region] >= n
	})
	if err != nil {
		return fmt.Errorf("fleet: wait for %d devices connected in %s (have %d): %w", n, region, f.Connected()[region], err)
	}
	return nil
}

// Wait blocks until cond returns true or ctx is done. cond is evaluated after
// every timeline event of any device, and at least every 50 ms so that
// conditions on Stats hold too; it must not call Wait.
func (f *Fleet) Wait(ctx context.Context, cond func() bool) error {
	if err := f.wait(ctx, true, cond); err != nil {
		return fmt.Errorf("fleet: wait: %w", err)
	}
	return nil
}

func (f *Fleet) wait(ctx context.Context, poll bool, cond func() bool) error {
	var tick <-chan time.Time
	if poll {
		t := time.NewTicker(waitPoll)
		defer t.Stop()
		tick = t.C
	}
	for {
		f.mu.Lock()
		changed := f.changed
		f.mu.Unlock()
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

// notifyLocked wakes every waiter; f.mu must be held.
func (f *Fleet) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// region names the Region of a broker IP.
func (f *Fleet) region(ip string) string {
	if r, ok := f.opts.Regions[ip]; ok {
		return r
	}
	return ip
}

// setConnected moves a device into or out of region's connected count.
func (f *Fleet) setConnected(region string, delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected[region] += delta
}

func (f *Fleet) refused(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refusals[reason]++
}

// dial opens the TLS connection of one attempt: resolve, TCP, handshake. It
// returns the IP it resolved, if it got that far.
func (f *Fleet) dial(ctx context.Context, d *device) (string, *tls.Conn, error) {
	ip, ttl, err := f.opts.Resolver.Lookup(ctx, f.opts.Domain)
	if err != nil {
		d.record(Event{Kind: KindResolve, Detail: "error: " + err.Error()})
		return "", nil, fmt.Errorf("resolve %s: %w", f.opts.Domain, err)
	}
	d.record(Event{Kind: KindResolve, Region: f.region(ip), Detail: ip + " ttl=" + ttl.String()})

	var dialer net.Dialer
	raw, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip, f.opts.Port))
	if err != nil {
		return ip, nil, fmt.Errorf("dial %s: %w", ip, err)
	}
	conn := tls.Client(raw, d.tls)
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return ip, nil, fmt.Errorf("tls handshake with %s: %w", ip, err)
	}
	return ip, conn, nil
}
