package dynamo

import (
	"slices"
	"sync"
	"time"
)

// maxApplyBatch bounds how many changes a direction applies per wake-up, so
// Pause or Close take effect promptly even with a long backlog.
const maxApplyBatch = 512

// ReplicationOptions configures a Replication.
type ReplicationOptions struct {
	// Delay is how long after a local write the change is applied to the
	// peer (0 = as fast as possible).
	Delay time.Duration
}

// repChange is one local change travelling to a peer replica.
type repChange struct {
	key     string
	keys    Item
	item    Item // nil for a delete; shared, never mutated
	updated time.Time
	region  string
	queued  time.Time // wall-clock time it was queued, for Delay and Lag
}

// Replication is a bidirectional global-table link between two replicas in
// different Regions (global tables version 2019.11.21).
//
// Each local write (put, delete, TTL delete) in one replica is queued and
// applied to the other after the configured Delay, in commit order, by one
// goroutine per direction. Conflicts resolve by last writer wins on the
// write's update time (ties broken by Region name), with tombstones so an
// older put cannot resurrect a newer delete. The replicated copy carries the
// legacy attributes aws:rep:updateregion (the writing Region) and
// aws:rep:updatetime (epoch seconds with microseconds); it appears in the
// peer's stream like any write and is never replicated back.
//
// SetRegionDown holds every change made in the down Region, and every change
// destined for it, in the queue: nothing is lost and nothing is delivered
// until the Region is up again. Real AWS may lose writes that were not yet
// replicated when a Region is really lost; drills therefore measure RPO from
// what Pending and Lag report at fault time. Delay and Lag use the wall clock,
// not the tables' clocks, because delivery runs on real timers.
type Replication struct {
	a, b   *Table
	ab, ba *direction
	wg     sync.WaitGroup

	mu     sync.Mutex // guards everything below and both directions' queues
	delay  time.Duration
	paused bool
	down   map[string]bool
	closed bool
}

// direction carries one replica's local changes to the other.
type direction struct {
	r        *Replication
	src, dst *Table
	queue    []repChange
	inflight []repChange // popped and being applied; still counted as pending
	wake     chan struct{}
}

// Replicate links a and b as replicas of one global table and starts
// replicating. It panics if a and b are the same table or in the same Region.
// Changes made before Replicate are not copied. Call Close to stop.
func Replicate(a, b *Table, opts ReplicationOptions) *Replication {
	if a == b || a.region == b.region {
		panic("dynamo: Replicate needs two tables in different Regions")
	}
	r := &Replication{a: a, b: b, delay: opts.Delay, down: map[string]bool{}}
	r.ab = &direction{r: r, src: a, dst: b, wake: make(chan struct{}, 1)}
	r.ba = &direction{r: r, src: b, dst: a, wake: make(chan struct{}, 1)}
	for _, d := range []*direction{r.ab, r.ba} {
		d.src.mu.Lock()
		d.src.outs = append(d.src.outs, d)
		d.src.mu.Unlock()
		r.wg.Add(1)
		go d.run()
	}
	return r
}

// isClosed reports whether Close ended the replication (the replica is gone).
func (r *Replication) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// enqueue is called with the source table's lock held, which keeps the queue
// in commit order.
func (d *direction) enqueue(c repChange) {
	c.queued = time.Now()
	d.r.mu.Lock()
	if !d.r.closed {
		d.queue = append(d.queue, c)
	}
	d.r.mu.Unlock()
	d.signal()
}

func (d *direction) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// deliverableLocked reports whether changes may flow in this direction now.
func (d *direction) deliverableLocked() bool {
	r := d.r
	return !r.paused && !r.down[d.src.region] && !r.down[d.dst.region]
}

func (d *direction) run() {
	defer d.r.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		batch, ok := d.next(timer)
		if !ok {
			return
		}
		for _, c := range batch {
			d.dst.applyReplicated(c)
		}
		d.r.mu.Lock()
		clear(d.inflight)
		d.inflight = nil
		d.r.mu.Unlock()
	}
}

// next blocks until some changes are due and deliverable and pops them; it
// returns false once the replication is closed.
func (d *direction) next(timer *time.Timer) ([]repChange, bool) {
	r := d.r
	r.mu.Lock()
	for {
		if r.closed {
			r.mu.Unlock()
			return nil, false
		}
		var wait <-chan time.Time
		if len(d.queue) > 0 && d.deliverableLocked() {
			now := time.Now()
			n := 0
			for n < len(d.queue) && n < maxApplyBatch && !now.Before(d.queue[n].queued.Add(r.delay)) {
				n++
			}
			if n > 0 {
				batch := slices.Clone(d.queue[:n])
				clear(d.queue[:n])
				d.queue = d.queue[n:]
				d.inflight = batch
				r.mu.Unlock()
				return batch, true
			}
			timer.Reset(d.queue[0].queued.Add(r.delay).Sub(now))
			wait = timer.C
		}
		r.mu.Unlock()
		select {
		case <-d.wake:
		case <-wait:
		}
		timer.Stop()
		r.mu.Lock()
	}
}

func (r *Replication) wakeAll() {
	r.ab.signal()
	r.ba.signal()
}

// SetDelay changes the replication delay. It applies to changes already
// queued too, since each is due at its queue time plus the current delay.
func (r *Replication) SetDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
	r.wakeAll()
}

// Pause stops delivering changes in both directions; they keep queuing.
func (r *Replication) Pause() {
	r.mu.Lock()
	r.paused = true
	r.mu.Unlock()
	r.wakeAll()
}

// Resume restarts delivery after Pause.
func (r *Replication) Resume() {
	r.mu.Lock()
	r.paused = false
	r.mu.Unlock()
	r.wakeAll()
}

// SetRegionDown marks a Region as lost (down=true) or recovered. While a
// Region is down, changes written there and changes destined for it stay
// queued, neither lost nor delivered. Region names that are not one of the
// two replicas' have no effect.
func (r *Replication) SetRegionDown(region string, down bool) {
	r.mu.Lock()
	if down {
		r.down[region] = true
	} else {
		delete(r.down, region)
	}
	r.mu.Unlock()
	r.wakeAll()
}

// Held reports whether delivery is held back (paused, or a Region down): queued
// changes then wait for an operator's verb, not for time to pass.
func (r *Replication) Held() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paused || len(r.down) > 0
}

// Pending returns the number of changes not yet applied to their peer, in
// both directions.
func (r *Replication) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ab.queue) + len(r.ab.inflight) + len(r.ba.queue) + len(r.ba.inflight)
}

// Lag returns the age of the oldest change not yet applied to its peer, or 0
// when everything is replicated.
func (r *Replication) Lag() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var oldest time.Time
	for _, d := range []*direction{r.ab, r.ba} {
		for _, q := range [][]repChange{d.inflight, d.queue} {
			if len(q) > 0 && (oldest.IsZero() || q[0].queued.Before(oldest)) {
				oldest = q[0].queued
			}
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest)
}

// Close stops replication, waits for both goroutines and detaches from the
// tables. Changes still queued are discarded. Close is idempotent.
func (r *Replication) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.wakeAll()
	r.wg.Wait()
	for _, d := range []*direction{r.ab, r.ba} {
		d.src.mu.Lock()
		d.src.outs = slices.DeleteFunc(d.src.outs, func(x *direction) bool { return x == d })
		d.src.mu.Unlock()
	}
	r.mu.Lock()
	r.ab.queue, r.ba.queue = nil, nil
	r.mu.Unlock()
}
