package registry

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// delivery publishes registry events under the Options' delivery model:
// each event once, or twice with probability DuplicateRate, each copy
// delayed by a random duration in [0, ReorderWindow) on a timer, so later
// events may overtake earlier ones. Its random draws happen in commit order
// under the registry's pubMu, so a fixed Seed fixes every decision.
type delivery struct {
	dupRate float64
	window  time.Duration
	rng     *mrand.Rand // guarded by Registry.pubMu
	// after starts a delivery timer; tests replace it to fire timers in a
	// chosen order.
	after func(time.Duration, func()) stopper

	mu      sync.Mutex
	closed  bool
	nextID  uint64
	timers  map[uint64]stopper
	pending int
	idle    chan struct{} // closed while pending == 0
	wg      sync.WaitGroup
}

// stopper is the part of *time.Timer the delivery uses.
type stopper interface{ Stop() bool }

func newDelivery(o Options) *delivery {
	d := &delivery{
		dupRate: min(max(o.DuplicateRate, 0), 1),
		window:  max(o.ReorderWindow, 0),
		rng:     mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		timers:  map[uint64]stopper{},
		idle:    make(chan struct{}),
		after:   func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) },
	}
	close(d.idle)
	return d
}

// enabled reports whether the model differs from exactly once, in order.
func (d *delivery) enabled() bool { return d.dupRate > 0 || d.window > 0 }

// send publishes one event's copies; the caller holds pubMu.
func (r *Registry) send(topic string, payload []byte) {
	d := r.deliv
	copies := 1
	if d.dupRate > 0 && d.rng.Float64() < d.dupRate {
		copies = 2
	}
	for range copies {
		var delay time.Duration
		if d.window > 0 {
			delay = time.Duration(d.rng.Int64N(int64(d.window)))
		}
		if delay == 0 {
			_ = r.pub.Publish(topic, payload) // at-most-once per copy, see the package doc
			continue
		}
		d.schedule(delay, func() { _ = r.pub.Publish(topic, payload) })
	}
}

func (d *delivery) schedule(delay time.Duration, publish func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return // dropped, as a stopped broker would drop it
	}
	id := d.nextID
	d.nextID++
	if d.pending == 0 {
		d.idle = make(chan struct{})
	}
	d.pending++
	d.wg.Add(1)
	d.timers[id] = d.after(delay, func() {
		defer d.wg.Done()
		d.mu.Lock()
		delete(d.timers, id)
		d.mu.Unlock()
		publish()
		d.mu.Lock()
		d.doneLocked()
		d.mu.Unlock()
	})
}

func (d *delivery) doneLocked() {
	d.pending--
	if d.pending == 0 {
		close(d.idle)
	}
}

// Pending returns how many delayed event deliveries have not been published
// yet (always 0 without a ReorderWindow).
func (r *Registry) Pending() int {
	r.deliv.mu.Lock()
	defer r.deliv.mu.Unlock()
	return r.deliv.pending
}

// Flush waits until every delayed event delivery queued so far (and any
// queued while it waits) has been published, or ctx is done.
func (r *Registry) Flush(ctx context.Context) error {
	for {
		r.deliv.mu.Lock()
		n, idle := r.deliv.pending, r.deliv.idle
		r.deliv.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("registry: %d event deliveries pending: %w", r.Pending(), ctx.Err())
		}
	}
}

// Close stops the registry's delivery timers: delayed events not yet
// published are dropped, and Close waits for publishes in progress. Events
// of later mutating calls are still published, undelayed ones at once and
// delayed ones not at all. It is safe to call more than once.
func (r *Registry) Close() {
	d := r.deliv
	d.mu.Lock()
	d.closed = true
	for id, t := range d.timers {
		if t.Stop() {
			delete(d.timers, id)
			d.wg.Done()
			d.doneLocked()
		}
	}
	d.mu.Unlock()
	d.wg.Wait()
}
