package fleet

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/iot-dr/iot-dr/simulator/dns"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// statsEvery is how often a worker sends its counters.
const statsEvery = 50 * time.Millisecond

// workerGCPercent trades a worker's CPU for memory: its heap is mostly live
// connection state, and the default 100 % headroom doubled the fleet's resident size.
const workerGCPercent = 40

// ServeWorker runs one fleet worker: it reads its devices and options from r (one
// JSON line, written by StartProcesses), starts them, and writes their events and
// counters to w as JSON lines until r reaches EOF, which is how the parent stops it
// (or how a parent that died without stopping it does). It then disconnects its
// devices, writes its final counters and returns.
func ServeWorker(r io.Reader, w io.Writer) error {
	debug.SetGCPercent(workerGCPercent)
	in := bufio.NewReaderSize(r, 1<<20)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("fleet worker: read devices: %w", err)
	}
	var spec workerSpec
	if err := json.Unmarshal(line, &spec); err != nil {
		return fmt.Errorf("fleet worker: read devices: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(spec.RootsPEM) {
		return errors.New("fleet worker: no CA certificate in RootsPEM")
	}
	devices := make([]Device, len(spec.Devices))
	for i, d := range spec.Devices {
		cert, err := tls.X509KeyPair(d.CertPEM, d.Key)
		if err != nil {
			return fmt.Errorf("fleet worker: device %s: %w", d.Thing, err)
		}
		// Only the TLS identity crosses: the PEMs are not kept.
		devices[i] = Device{Thing: d.Thing, Cert: &pki.Device{TLS: cert}, WithoutSNI: d.WithoutSNI}
	}
	spec.Devices = nil

	out := newEmitter(w)
	defer out.close()
	opts := Options{Domain: spec.Domain, Port: spec.Port, Roots: roots,
		Resolver:       dns.NewResolver(spec.DNSAddr, dns.WithTTLUnit(spec.TTLUnit)),
		TelemetryEvery: spec.TelemetryEvery, ShadowEvery: spec.ShadowEvery, Backoff: spec.Backoff, Seed: spec.Seed,
		Regions: spec.Regions, KeepAlive: spec.KeepAlive, ConnectTimeout: spec.ConnectTimeout, StartSpread: spec.StartSpread,
		FirstIndex: spec.FirstIndex, OnEvent: out.event, forwardOnly: true}
	f, err := Start(context.Background(), devices, opts)
	if err != nil {
		return err
	}
	devices = nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(statsEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				out.stats(f.Stats())
			case <-out.closed:
				return
			}
		}
	}()
	_, _ = io.Copy(io.Discard, in) // until the parent closes our stdin
	f.Stop()
	out.stats(f.Stats())
	out.close()
	<-done
	return out.err()
}

// emitter writes a worker's lines; a writer that fails (the parent gone) stops it
// from writing more.
type emitter struct {
	mu      sync.Mutex
	enc     *json.Encoder
	buf     *bufio.Writer
	werr    error
	dirty   bool
	closed  chan struct{}
	once    sync.Once
	flushed chan struct{}
}

// flushEvery bounds how long an event waits in the worker's buffer.
const flushEvery = 5 * time.Millisecond

func newEmitter(w io.Writer) *emitter {
	buf := bufio.NewWriterSize(w, 64<<10)
	e := &emitter{enc: json.NewEncoder(buf), buf: buf, closed: make(chan struct{}), flushed: make(chan struct{})}
	go func() {
		defer close(e.flushed)
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				e.flush()
			case <-e.closed:
				e.flush()
				return
			}
		}
	}()
	return e
}

func (e *emitter) write(m workerMsg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.werr == nil {
		e.werr = e.enc.Encode(m)
		e.dirty = true
	}
}

func (e *emitter) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dirty && e.werr == nil {
		e.werr = e.buf.Flush()
		e.dirty = false
	}
}

func (e *emitter) event(thing string, ev Event) { e.write(workerMsg{Thing: thing, Event: &ev}) }

func (e *emitter) stats(s Stats) { e.write(workerMsg{Stats: &s, PeakRSS: selfPeakRSS()}) }

func (e *emitter) close() {
	e.once.Do(func() { close(e.closed) })
	<-e.flushed
}

func (e *emitter) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.werr
}
