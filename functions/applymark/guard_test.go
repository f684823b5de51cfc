package applymark_test

import (
	"context"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// TestGuardWaitsForTheApplyOfTheItem: a capture over another Region's registry item
// waits until this Region's apply has recorded that item (or a newer one) as applied,
// whatever else the apply is doing; an item older than any stream record, or a shadow
// while no apply batch runs, does not wait.
func TestGuardWaitsForTheApplyOfTheItem(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	mt := spec.MarkTable()
	table := dynamo.NewTable("us-east-1", "123456789012", dynamo.Schema{Name: "marks", HashKey: mt.HashKey, TTLAttribute: mt.TTLAttribute})
	clock := func() time.Time { return now }
	marks := &applymark.Marks{Table: table, Name: "marks", Now: clock}
	g := &applymark.Guard{Marks: marks, Progress: &applymark.Progress{Table: table, Name: "marks", Region: "us-east-1", Now: clock}}
	pending := func(it state.Item) bool {
		t.Helper()
		ok, _, err := g.ApplyPending(ctx, it)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// appliedAt is when the guard says an apply last finished with it.
	appliedAt := func(it state.Item) time.Time {
		t.Helper()
		_, at, err := g.ApplyPending(ctx, it)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	item := func(kind, name string, seq int64, captured time.Time) state.Item {
		return state.Item{Kind: kind, Name: name, Origin: "eu-west-1", Seq: seq, CapturedAt: captured.UnixMilli()}
	}

	principals := item(spec.KindThingPrincipals, "t1", 100, now.Add(-time.Second))
	if !pending(principals) {
		t.Error("an item the apply has never reached is not pending")
	}
	sp, err := marks.Begin(ctx, principals.Key())
	if err != nil {
		t.Fatal(err)
	}
	if !pending(principals) {
		t.Error("an item whose apply has begun but not ended is not pending")
	}
	if err := marks.EndApplied(ctx, principals.Key(), sp, 100); err != nil {
		t.Fatal(err)
	}
	if pending(principals) {
		t.Error("an applied item is still pending")
	}
	if at := appliedAt(principals); !at.Equal(now) {
		t.Errorf("applied at %v, want the apply's end %v: a capture that read before it must read again", at, now)
	}
	if newer := item(spec.KindThingPrincipals, "t1", 101, now); !pending(newer) {
		t.Error("a newer item than the one applied is not pending")
	}
	// A later apply's Begin keeps what the earlier one recorded.
	sp, err = marks.Begin(ctx, principals.Key())
	if err != nil {
		t.Fatal(err)
	}
	if pending(principals) {
		t.Error("Begin dropped the resource's Applied")
	}
	if err := marks.End(ctx, principals.Key(), sp); err != nil {
		t.Fatal(err)
	}

	// Certificates have no spans: SetApplied alone.
	cert := item(spec.KindCertificate, "c1", 7, now)
	if !pending(cert) {
		t.Error("an unapplied certificate is not pending")
	}
	if err := marks.SetApplied(ctx, cert.Key(), 7); err != nil {
		t.Fatal(err)
	}
	if pending(cert) {
		t.Error("an applied certificate is still pending")
	}
	// An apply of the same item again changes the resource again: its time moves.
	now = now.Add(time.Minute)
	if err := marks.SetApplied(ctx, cert.Key(), 7); err != nil {
		t.Fatal(err)
	}
	if at := appliedAt(cert); !at.Equal(now) {
		t.Errorf("certificate applied at %v after its second apply, want %v", at, now)
	}

	if old := item(spec.KindThing, "t2", 5, now.Add(-applymark.AppliedRetention-time.Minute)); pending(old) {
		t.Error("an item older than the stream's retention, without a mark, is pending")
	}
	if pending(item(spec.KindShadow, "t1", 3, now)) {
		t.Error("a shadow is pending while no apply batch runs")
	}
}

// TestCrashedApplyStopsCoveringChanges: an apply that never closed its span (the
// function crashed or timed out) covers the resource's changes only until the
// applying functions' timeout; after that, a change made in the Region is its own
// again, and the capture must not skip it as the apply's.
func TestCrashedApplyStopsCoveringChanges(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	mt := spec.MarkTable()
	table := dynamo.NewTable("us-east-1", "123456789012", dynamo.Schema{Name: "marks", HashKey: mt.HashKey, TTLAttribute: mt.TTLAttribute})
	marks := &applymark.Marks{Table: table, Name: "marks", Now: func() time.Time { return now }}
	key := spec.StateKey(spec.KindThing, "t1")
	if _, err := marks.Begin(ctx, key); err != nil { // never ended
		t.Fatal(err)
	}
	covered := func(at time.Time) bool {
		t.Helper()
		ok, err := marks.Covered(ctx, at.UnixMilli(), key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !covered(now.Add(time.Second)) {
		t.Fatal("a running apply does not cover a change made while it runs")
	}
	limit := max(spec.ApplyTimeout, spec.RedriveTimeout)
	now = now.Add(limit + time.Minute)
	sp, err := marks.Begin(ctx, key) // the retry
	if err != nil {
		t.Fatal(err)
	}
	if err := marks.End(ctx, key, sp); err != nil {
		t.Fatal(err)
	}
	if at := now.Add(time.Second); covered(at) {
		t.Errorf("a change %v after the crashed apply began is still covered by it", at.Sub(now.Add(-limit-time.Minute)))
	}
	if !covered(now.Add(-limit - time.Minute).Add(time.Second)) {
		t.Error("a change made while the crashed apply ran is no longer covered")
	}
}
