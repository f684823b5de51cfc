package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
)

// tableWrites counts the state table's writes so far: every write, captured in either
// Region, appears once in each replica's stream, so one replica's count is the table's.
func tableWrites(w *simulator.World) int64 { return w.Primary.State.Stream().Appended() }

// conflicts returns the conflict records of a Region's error table.
func conflicts(t testing.TB, r *simulator.Region) []failures.Failure {
	t.Helper()
	recs, err := (&failures.Recorder{Table: r.Errors, Name: simulator.ErrorTableName}).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []failures.Failure
	for _, f := range recs {
		if f.Stage == spec.StageConflict {
			out = append(out, f)
		}
	}
	return out
}

// assertNoConflicts fails for every conflict record in either Region.
func assertNoConflicts(t testing.TB, w *simulator.World) {
	t.Helper()
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if c := conflicts(t, r); len(c) != 0 {
			t.Errorf("%s recorded %d conflicts, want 0: %v", r.Name, len(c), c[0])
		}
	}
}

// assertShadowIn fails unless thing's shadow has the desired and reported state
// (fmt.Sprint of each section's map) in both Regions; why says whose changes they are.
func assertShadowIn(t testing.TB, w *simulator.World, thing, desired, reported, why string) {
	t.Helper()
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		s := shadowState(t, r, thing)
		if fmt.Sprint(s["desired"]) != desired || fmt.Sprint(s["reported"]) != reported {
			t.Errorf("shadow of %s in %s = %v, want desired %s and reported %s (%s)", thing, r.Name, s, desired, reported, why)
		}
	}
}

func setAttr(t testing.TB, r *simulator.Region, thing, k, v string) {
	t.Helper()
	must(t)(r.Registry.UpdateThing(context.Background(), &iot.UpdateThingInput{ThingName: aws.String(thing),
		AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{k: v}}}))
}

// TestQuiescentTableGetsNoWrites: once both Regions hold the same fleet, nothing more
// is written to the state table, however often both Regions sweep: every apply that
// came back through the other Region's capture compared equal.
func TestQuiescentTableGetsNoWrites(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	var things []string
	for i := range 20 {
		things = append(things, fmt.Sprintf("q-%02d", i))
		provision(t, w, simulator.Device{Thing: things[i], Attributes: map[string]string{"fw": "1"}})
		updateShadow(t, w.Primary, things[i], `{"state":{"reported":{"on":true},"desired":{"led":"off"}}}`)
	}
	settle(t, w)
	assertConverged(t, w, things...)
	before := tableWrites(w)
	ctx := context.Background()
	for range 2 {
		for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
			if _, err := w.Sweep(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		settle(t, w)
	}
	if n := tableWrites(w) - before; n != 0 {
		t.Errorf("the state table received %d writes after the fleet was quiescent; want 0", n)
	}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if n := r.Errors.Len(); n != 0 {
			t.Errorf("%d error-table records in %s", n, r.Name)
		}
	}
}

// TestAlternatingChangesConverge makes 1,000 changes alternately in both Regions
// (attributes and shadows, every thing changed by both Regions in turn): both Regions
// end equal, the table receives exactly one write per change (no apply echoed back),
// and no conflict is recorded, since no resource changed in both at once.
func TestAlternatingChangesConverge(t *testing.T) {
	const changes, batch = 1000, 50
	w := newWorld(t, simulator.Options{})
	things := make([]string, batch)
	for i := range things {
		things[i] = fmt.Sprintf("alt-%02d", i)
		provision(t, w, simulator.Device{Thing: things[i]})
	}
	settle(t, w)
	before := tableWrites(w)
	regions := []*simulator.Region{w.Primary, w.Secondary}
	for i := range changes {
		r := regions[(i+i/batch)%2] // each thing's Region alternates batch by batch
		th := things[i%batch]
		if (i/(2*batch))%2 == 0 {
			setAttr(t, r, th, "v", fmt.Sprint(i))
		} else {
			updateShadow(t, r, th, fmt.Sprintf(`{"state":{"reported":{"v":%d}}}`, i))
		}
		if i%batch == batch-1 {
			settle(t, w)
		}
	}
	settle(t, w)
	assertConverged(t, w, things...)
	if n := tableWrites(w) - before; n != changes {
		t.Errorf("the state table received %d writes for %d changes; want exactly one per change (%d extra)", n, changes, n-changes)
	}
	assertNoConflicts(t, w)
}

// blockingAttach holds the apply's AttachThingPrincipal calls until released: an
// apply throttled half-way, its thing created and its certificate not attached yet.
type blockingAttach struct {
	replication.IoT
	release chan struct{}
	once    sync.Once
	reached chan struct{}
}

func (b *blockingAttach) AttachThingPrincipal(ctx context.Context, in *iot.AttachThingPrincipalInput, opts ...func(*iot.Options)) (*iot.AttachThingPrincipalOutput, error) {
	b.once.Do(func() { close(b.reached) })
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.IoT.AttachThingPrincipal(ctx, in, opts...)
}

// TestHalfDoneApplyIsNotEchoed: the secondary's apply of a new device is stuck between
// creating the thing and attaching its certificate while the secondary's capture runs
// (the thing's own CREATED event, and a direct capture). The capture neither writes
// the thing without its certificate over the primary's item nor leaves an error
// behind once the apply finishes; the primary keeps its attachment.
func TestHalfDoneApplyIsNotEchoed(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	ctx := context.Background()
	block := &blockingAttach{IoT: w.Secondary.Registry, release: make(chan struct{}), reached: make(chan struct{})}
	w.Secondary.Replicator.Target = block
	before := tableWrites(w)
	provision(t, w, simulator.Device{Thing: "half"})
	select {
	case <-block.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the secondary's apply never reached AttachThingPrincipal")
	}
	if _, err := w.Secondary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("half")}); err != nil {
		t.Fatalf("the half-done apply has not created the thing: %v", err)
	}
	// A capture while the apply is stuck: it defers, writing nothing.
	short := *w.Secondary.Capturer
	short.ApplyWait = 20 * time.Millisecond
	if _, err := short.Key(ctx, spec.StateKey(spec.KindThing, "half")); !errors.Is(err, capture.ErrApplyPending) {
		t.Errorf("capture of the half-applied thing = %v, want ErrApplyPending", err)
	}
	// One that waits for the apply, released meanwhile, reads the complete thing. It
	// may wait as long as the loaded machine needs to finish the apply.
	patient := *w.Secondary.Capturer
	patient.ApplyWait = time.Minute
	done := make(chan error, 1)
	go func() {
		_, err := patient.Key(ctx, spec.StateKey(spec.KindThing, "half"))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the capture reach its wait; not needed for correctness
	close(block.release)
	if err := <-done; err != nil {
		t.Errorf("capture after the apply finished: %v", err)
	}
	settle(t, w)
	assertConverged(t, w, "half")
	// The primary's captures of the new device are the only writes.
	written := tableWrites(w) - before
	princ, err := w.Primary.Registry.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("half")})
	if err != nil || len(princ.Principals) != 1 {
		t.Fatalf("the primary's thing lost its certificate: %v %v", princ, err)
	}
	for _, key := range []string{spec.StateKey(spec.KindThing, "half"), spec.StateKey(spec.KindThingPrincipals, "half")} {
		it, ok, err := w.Primary.Capturer.Store.Get(ctx, mustKind(key), "half")
		if err != nil || !ok || it.Origin != w.Primary.Name {
			t.Errorf("%s: item from %q (%v, %v), want the primary's capture", key, it.Origin, ok, err)
		}
	}
	if n := w.Secondary.Errors.Len(); n != 0 {
		t.Errorf("%d error-table records in the secondary", n)
	}
	t.Logf("table writes for one provisioned device: %d", written)
}

func mustKind(key string) string {
	k, _, _ := strings.Cut(key, "#")
	return k
}

// TestPartitionConflictIsDecidedAndRecorded: while replication is cut, the same thing
// attribute and the same shadow section change in both Regions. When it resumes, the
// later write wins in both Regions (the global table's last writer), and the Region
// whose change lost records the conflict.
func TestPartitionConflictIsDecidedAndRecorded(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "split", Attributes: map[string]string{"fw": "1"}})
	updateShadow(t, w.Primary, "split", `{"state":{"reported":{"v":0}}}`)
	settle(t, w)
	w.Replication.Pause()
	setAttr(t, w.Primary, "split", "fw", "primary")
	updateShadow(t, w.Primary, "split", `{"state":{"reported":{"v":1}}}`)
	settle(t, w)
	setAttr(t, w.Secondary, "split", "fw", "secondary") // later: it wins
	updateShadow(t, w.Secondary, "split", `{"state":{"reported":{"v":2}}}`)
	settle(t, w)
	w.Replication.Resume()
	settle(t, w)
	assertConverged(t, w, "split")
	d := must(t)(w.Primary.Registry.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String("split")})).(*iot.DescribeThingOutput)
	if d.Attributes["fw"] != "secondary" {
		t.Errorf("fw = %q in both Regions, want the later write %q", d.Attributes["fw"], "secondary")
	}
	if s := shadowState(t, w.Primary, "split"); fmt.Sprint(s["reported"]) != "map[v:2]" {
		t.Errorf("shadow reported = %v, want the later write v:2", s["reported"])
	}
	got := map[string]bool{}
	for _, c := range conflicts(t, w.Primary) {
		got[c.Key] = true
	}
	for _, key := range []string{spec.StateKey(spec.KindThing, "split"), spec.StateKey(spec.KindShadow, "split")} {
		if !got[key] {
			t.Errorf("no conflict recorded for %s in the primary (records %v)", key, got)
		}
	}
	if c := conflicts(t, w.Secondary); len(c) != 0 {
		t.Errorf("the winner recorded %d conflicts, want 0", len(c))
	}
}

// TestPartitionMergesDisjointSections: while replication is cut, the primary changes
// a shadow's desired state and the secondary its reported state. Neither write saw
// the other, and the global table keeps only the later; the Region whose write lost
// merges per section, so both Regions end with both changes and no conflict.
func TestPartitionMergesDisjointSections(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "split"})
	updateShadow(t, w.Primary, "split", `{"state":{"desired":{"led":"off"},"reported":{"temp":1}}}`)
	settle(t, w)
	w.Replication.Pause()
	updateShadow(t, w.Primary, "split", `{"state":{"desired":{"led":"on"}}}`)
	updateShadow(t, w.Secondary, "split", `{"state":{"reported":{"temp":2}}}`)
	settle(t, w)
	w.Replication.Resume()
	settle(t, w)
	assertShadowIn(t, w, "split", "map[led:on]", "map[temp:2]", "desired changed in the primary, reported in the secondary")
	assertNoConflicts(t, w)
}
