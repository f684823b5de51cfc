package dynamo

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	primary   = "eu-west-1"
	secondary = "us-east-1"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newPair(t *testing.T, opts ReplicationOptions) (a, b *Table, r *Replication) {
	t.Helper()
	a = newTestTable(t, primary, ViewNewImage, nil)
	b = newTestTable(t, secondary, ViewNewImage, nil)
	r = Replicate(a, b, opts)
	t.Cleanup(r.Close)
	return a, b, r
}

func TestReplicationPutAndDelete(t *testing.T) {
	a, b, r := newPair(t, ReplicationOptions{})
	put(t, a, Item{"id": s("x"), "v": s("1")})
	waitFor(t, "item in secondary", func() bool { return b.Len() == 1 })
	waitFor(t, "queue drained", func() bool { return r.Pending() == 0 })

	got := get(t, b, "x")
	if strAttr(t, got, "v") != "1" || strAttr(t, got, AttrUpdateRegion) != primary {
		t.Fatalf("replicated item = %#v", got)
	}
	ut, ok := got[AttrUpdateTime].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("no %s on replicated item", AttrUpdateTime)
	}
	var sec, usec int64
	if _, err := fmt.Sscanf(ut.Value, "%d.%d", &sec, &usec); err != nil || sec < time.Now().Add(-time.Minute).Unix() {
		t.Fatalf("%s = %q", AttrUpdateTime, ut.Value)
	}
	if _, ok := get(t, a, "x")[AttrUpdateRegion]; ok {
		t.Fatal("local write in primary was stamped with replication attributes")
	}

	// The replicated write shows up in the secondary's stream...
	recs := b.Stream().Read("", 0)
	if len(recs) != 1 || recs[0].EventName != "INSERT" || recs[0].Change.NewImage[AttrUpdateRegion].String() != primary {
		t.Fatalf("secondary stream = %+v", recs)
	}
	// ...and is not replicated back (no loop): the primary has its own record only.
	if n := a.Stream().Len(); n != 1 {
		t.Fatalf("primary stream has %d records, want 1", n)
	}

	del(t, a, "x")
	waitFor(t, "delete replicated", func() bool { return b.Len() == 0 })
	recs = b.Stream().Read("", 0)
	if len(recs) != 2 || recs[1].EventName != "REMOVE" {
		t.Fatalf("secondary stream after delete = %+v", recs)
	}
	waitFor(t, "queue drained", func() bool { return r.Pending() == 0 })
	if a.Stream().Len() != 2 {
		t.Fatalf("primary stream has %d records, want 2", a.Stream().Len())
	}
}

func TestReplicationBothDirections(t *testing.T) {
	a, b, r := newPair(t, ReplicationOptions{})
	put(t, b, Item{"id": s("from-secondary")})
	waitFor(t, "item in primary", func() bool { return a.Len() == 1 })
	if strAttr(t, get(t, a, "from-secondary"), AttrUpdateRegion) != secondary {
		t.Fatal("failback write not stamped with its Region")
	}
	waitFor(t, "queue drained", func() bool { return r.Pending() == 0 })
	if b.Stream().Len() != 1 {
		t.Fatalf("secondary stream has %d records: replicated write came back", b.Stream().Len())
	}
}

func TestReplicationTTLDelete(t *testing.T) {
	clk := newFakeClock()
	a := newTestTable(t, primary, ViewNewImage, clk)
	b := newTestTable(t, secondary, ViewNewImage, clk)
	r := Replicate(a, b, ReplicationOptions{})
	t.Cleanup(r.Close)
	put(t, a, Item{"id": s("x"), "expires": n(fmt.Sprint(clk.Now().Unix() - 1))})
	waitFor(t, "item in secondary", func() bool { return b.Len() == 1 })
	if a.ExpireNow() != 1 {
		t.Fatal("item did not expire")
	}
	waitFor(t, "TTL delete replicated", func() bool { return b.Len() == 0 })
}

func TestReplicationDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	a, b, r := newPair(t, ReplicationOptions{Delay: delay})
	start := time.Now()
	put(t, a, Item{"id": s("x")})
	if b.Len() != 0 || r.Pending() != 1 {
		t.Fatalf("delivered before the delay: Len %d Pending %d", b.Len(), r.Pending())
	}
	waitFor(t, "delayed item", func() bool { return b.Len() == 1 })
	if elapsed := time.Since(start); elapsed < delay {
		t.Fatalf("delivered after %v, delay %v", elapsed, delay)
	}

	// Shortening the delay applies to changes already queued.
	r.SetDelay(time.Hour)
	put(t, a, Item{"id": s("y")})
	if r.Lag() <= 0 {
		t.Fatal("Lag is zero with a change queued")
	}
	r.SetDelay(0)
	waitFor(t, "item after SetDelay(0)", func() bool { return b.Len() == 2 })
	waitFor(t, "lag back to zero", func() bool { return r.Lag() == 0 })
}

func TestReplicationPauseResume(t *testing.T) {
	a, b, r := newPair(t, ReplicationOptions{})
	r.Pause()
	for i := range 3 {
		put(t, a, Item{"id": s(fmt.Sprint(i))})
	}
	if got := r.Pending(); got != 3 {
		t.Fatalf("Pending = %d, want 3", got)
	}
	waitFor(t, "lag to grow", func() bool { return r.Lag() >= 5*time.Millisecond })
	if b.Len() != 0 {
		t.Fatal("delivered while paused")
	}
	r.Resume()
	waitFor(t, "items after resume", func() bool { return b.Len() == 3 })
	waitFor(t, "queue drained", func() bool { return r.Pending() == 0 && r.Lag() == 0 })
	// Order is preserved: the stream of the secondary shows 0,1,2.
	recs := b.Stream().Read("", 0)
	for i, rec := range recs {
		if rec.Change.Keys["id"].String() != fmt.Sprint(i) {
			t.Fatalf("record %d is %s", i, rec.Change.Keys["id"].String())
		}
	}
}

func TestReplicationRegionDown(t *testing.T) {
	a, b, r := newPair(t, ReplicationOptions{})
	r.SetRegionDown(primary, true)
	put(t, a, Item{"id": s("made-in-down-region")})
	put(t, b, Item{"id": s("made-in-secondary")})
	if got := r.Pending(); got != 2 {
		t.Fatalf("Pending = %d, want 2 (both directions held)", got)
	}
	if b.Len() != 1 || a.Len() != 1 {
		t.Fatalf("delivered while the Region is down: a=%d b=%d", a.Len(), b.Len())
	}
	r.SetRegionDown("unknown-region", false) // no effect
	r.SetRegionDown(primary, false)
	waitFor(t, "both sides converge", func() bool { return a.Len() == 2 && b.Len() == 2 })
	waitFor(t, "queue drained", func() bool { return r.Pending() == 0 })
}

func TestReplicationLastWriterWins(t *testing.T) {
	clkA, clkB := newFakeClock(), newFakeClock()
	a := newTestTable(t, primary, ViewNewImage, clkA)
	b := newTestTable(t, secondary, ViewNewImage, clkB)
	r := Replicate(a, b, ReplicationOptions{})
	t.Cleanup(r.Close)

	r.Pause()
	put(t, a, Item{"id": s("k"), "v": s("older")})
	clkB.Advance(time.Second)
	put(t, b, Item{"id": s("k"), "v": s("newer")})
	r.Resume()
	waitFor(t, "replication settles", func() bool { return r.Pending() == 0 })
	if got := strAttr(t, get(t, a, "k"), "v"); got != "newer" {
		t.Fatalf("primary holds %q, want newer", got)
	}
	if got := strAttr(t, get(t, b, "k"), "v"); got != "newer" {
		t.Fatalf("secondary holds %q, want newer", got)
	}

	// A newer delete is not undone by an older put arriving later.
	r.Pause()
	clkA.Advance(2 * time.Second) // a: t0+2s
	put(t, a, Item{"id": s("k"), "v": s("stale")})
	clkB.Advance(5 * time.Second) // b: t0+6s
	del(t, b, "k")
	r.Resume()
	waitFor(t, "replication settles", func() bool { return r.Pending() == 0 })
	if get(t, a, "k") != nil || get(t, b, "k") != nil {
		t.Fatal("older put resurrected a newer delete")
	}
}

func TestReplicationThroughput(t *testing.T) {
	const items = 2000
	a, b, r := newPair(t, ReplicationOptions{})
	start := time.Now()
	for i := range items {
		put(t, a, Item{"id": s(fmt.Sprint(i)), "payload": s("some telemetry")})
	}
	waitFor(t, "all items replicated", func() bool { return b.Len() == items })
	elapsed := time.Since(start)
	if rate := float64(items) / elapsed.Seconds(); rate < 1000 {
		t.Fatalf("replicated %d items in %v (%.0f/s), want > 1000/s", items, elapsed, rate)
	}
	waitFor(t, "queue drained", func() bool { return r.Pending() == 0 })
}

func TestReplicationCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	a := newTestTable(t, primary, ViewNewImage, nil)
	b := newTestTable(t, secondary, ViewNewImage, nil)
	r := Replicate(a, b, ReplicationOptions{Delay: time.Hour})
	put(t, a, Item{"id": s("x")})
	r.Close()
	r.Close() // idempotent
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
	// After Close, local writes are no longer queued.
	put(t, a, Item{"id": s("y")})
	if r.Pending() != 0 || b.Len() != 0 {
		t.Fatalf("after Close: Pending %d, b.Len %d", r.Pending(), b.Len())
	}
}
