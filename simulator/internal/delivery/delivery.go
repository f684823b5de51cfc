// Package delivery is the simulator's model of at-least-once, unordered
// delivery, shared by the fakes that deliver events (registry events, rule
// actions): each delivery happens once, or twice with probability
// DuplicateRate, each copy delayed by a random duration in
// [0, ReorderWindow) on a timer the Scheduler owns, so later deliveries may
// overtake earlier ones. The random draws are made in the order Deliver is
// called, from a generator seeded with Seed, so a fixed seed and a fixed
// sequence of calls give the same duplicates and delays. Timers fire in real
// time; which of two copies with nearly equal delays runs first is up to
// the Go scheduler.
//
// It is for the simulator and tests, never production.
package delivery

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// Model is a delivery model. The zero value is exactly once, in order,
// synchronously.
type Model struct {
	// DuplicateRate is the probability (0 to 1) that a delivery happens twice.
	DuplicateRate float64
	// ReorderWindow bounds the random delay of each copy; 0 delivers at once
	// on the caller's goroutine.
	ReorderWindow time.Duration
	// Seed seeds the random draws.
	Seed uint64
}

// Enabled reports whether m differs from exactly once, in order.
func (m Model) Enabled() bool { return m.DuplicateRate > 0 || m.ReorderWindow > 0 }

// Stopper is the part of *time.Timer a Scheduler uses.
type Stopper interface{ Stop() bool }

// Scheduler delivers under a Model. It is safe for concurrent use; create it
// with New and stop it with Close.
type Scheduler struct {
	dupRate float64
	window  time.Duration

	rngMu sync.Mutex
	rng   *mrand.Rand
	after func(time.Duration, func()) Stopper

	mu      sync.Mutex
	closed  bool
	nextID  uint64
	timers  map[uint64]Stopper
	pending int
	idle    chan struct{} // closed while pending == 0
	wg      sync.WaitGroup
}

// New returns a Scheduler for m.
func New(m Model) *Scheduler {
	s := &Scheduler{
		dupRate: min(max(m.DuplicateRate, 0), 1),
		window:  max(m.ReorderWindow, 0),
		rng:     mrand.New(mrand.NewPCG(m.Seed, m.Seed^0x9e3779b97f4a7c15)),
		after:   func(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) },
		timers:  map[uint64]Stopper{},
		idle:    make(chan struct{}),
	}
	close(s.idle)
	return s
}

// SetTimerFunc replaces time.AfterFunc, so tests can fire timers in an order
// of their choosing. Call it before the first Deliver.
func (s *Scheduler) SetTimerFunc(after func(time.Duration, func()) Stopper) {
	s.rngMu.Lock()
	s.after = after
	s.rngMu.Unlock()
}

// Deliver runs f once or twice under the model: undelayed copies at once on
// the caller's goroutine, delayed ones on their timers. After Close, delayed
// copies are dropped.
func (s *Scheduler) Deliver(f func()) {
	s.rngMu.Lock()
	copies := 1
	if s.dupRate > 0 && s.rng.Float64() < s.dupRate {
		copies = 2
	}
	var delays [2]time.Duration
	for i := range copies {
		if s.window > 0 {
			delays[i] = time.Duration(s.rng.Int64N(int64(s.window)))
		}
	}
	after := s.after
	s.rngMu.Unlock()
	for _, d := range delays[:copies] {
		if d == 0 {
			f()
			continue
		}
		s.schedule(after, d, f)
	}
}

func (s *Scheduler) schedule(after func(time.Duration, func()) Stopper, d time.Duration, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	id := s.nextID
	s.nextID++
	if s.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.pending++
	s.wg.Add(1)
	s.timers[id] = after(d, func() {
		defer s.wg.Done()
		s.mu.Lock()
		delete(s.timers, id)
		s.mu.Unlock()
		f()
		s.mu.Lock()
		s.doneLocked()
		s.mu.Unlock()
	})
}

func (s *Scheduler) doneLocked() {
	s.pending--
	if s.pending == 0 {
		close(s.idle)
	}
}

// Pending returns how many delayed copies have not finished yet.
func (s *Scheduler) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// Flush waits until no delayed copy is pending (including copies scheduled
// while it waits) or ctx is done.
func (s *Scheduler) Flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, idle := s.pending, s.idle
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("delivery: %d deliveries pending: %w", s.Pending(), ctx.Err())
		}
	}
}

// Close stops the timers, dropping the copies they held, and waits for
// copies already running. Later Deliver calls still run undelayed copies.
// It is safe to call more than once.
func (s *Scheduler) Close() {
	s.mu.Lock()
	s.closed = true
	for id, t := range s.timers {
		if t.Stop() {
			delete(s.timers, id)
			s.wg.Done()
			s.doneLocked()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}
