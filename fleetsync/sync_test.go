package fleetsync

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/state"
)

func TestSyncCopiesFleetAndIsResumable(t *testing.T) {
	w := newWorld(t)
	const n = 30
	seed(t, w, n)
	if d := differences(t, w); len(d) == 0 {
		t.Fatal("the secondary already equals the primary before the sync; the test proves nothing")
	}
	ctx := context.Background()

	var results []Result
	opts := options(w)
	opts.OnResult = func(r Result) { results = append(results, r) }
	sum, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Failed() != 0 {
		t.Fatalf("failures: %+v", sum.Failures)
	}
	if want := (Tally{Copied: n}); sum.Things != want {
		t.Errorf("things = %+v, want %+v", sum.Things, want)
	}
	if want := (Tally{Copied: 2}); sum.ThingTypes != want {
		t.Errorf("thing types = %+v, want %+v", sum.ThingTypes, want)
	}
	// Groups created as parents of another group are already there when their own
	// turn comes, so copied + in sync covers all three.
	if sum.ThingGroups.Total() != 3 || sum.ThingGroups.Failed != 0 || sum.ThingGroups.Copied == 0 {
		t.Errorf("thing groups = %+v, want 3 converged", sum.ThingGroups)
	}
	// And one per policy for its tags: the devices' policy and "telemetry".
	if len(results) != n+2+3+2 {
		t.Errorf("OnResult called %d times, want %d", len(results), n+7)
	}
	if d := differences(t, w); len(d) != 0 {
		t.Fatalf("after sync, verify finds %d differences, first: %v", len(d), d[0])
	}

	// A second run finds everything in sync and writes nothing.
	sum, err = Run(ctx, options(w))
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if want := (Tally{InSync: n}); sum.Things != want {
		t.Errorf("second run things = %+v, want %+v", sum.Things, want)
	}
	if want := (Tally{InSync: 3}); sum.ThingGroups != want {
		t.Errorf("second run groups = %+v, want %+v", sum.ThingGroups, want)
	}
}

func TestSyncDryRunWritesNothing(t *testing.T) {
	w := newWorld(t)
	seed(t, w, 6)
	ctx := context.Background()
	// One device is already in the secondary, equal.
	if _, err := w.DirectReplicator().Thing(ctx, deviceName(3)); err != nil {
		t.Fatalf("replicate one thing: %v", err)
	}
	var changes []string
	opts := options(w)
	opts.DryRun = true
	opts.OnResult = func(r Result) {
		if r.Kind == KindThing {
			changes = append(changes, r.Changes...)
		}
	}
	sum, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !sum.DryRun || sum.Failed() != 0 {
		t.Fatalf("summary = %+v", sum)
	}
	if want := (Tally{Copied: 5, InSync: 1}); sum.Things != want {
		t.Errorf("things = %+v, want %+v", sum.Things, want)
	}
	if got := countThings(t, w.Secondary.Registry); got != 1 {
		t.Errorf("the dry run wrote: the secondary has %d things, want 1", got)
	}
	if !strings.Contains(strings.Join(changes, "\n"), "thing "+deviceName(0)+": missing in target") {
		t.Errorf("dry-run changes do not name the missing thing: %q", changes)
	}
}

func TestSyncNamedThingsNeverDeletes(t *testing.T) {
	w := newWorld(t)
	seed(t, w, 2)
	ctx := context.Background()
	// "ghost" exists only in the secondary; naming it must not delete it.
	if _, err := w.Secondary.Registry.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("ghost")}); err != nil {
		t.Fatal(err)
	}
	opts := options(w)
	opts.Things = Names([]string{deviceName(0), "ghost", deviceName(1)})
	opts.NamesFromUser = true
	sum, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := (Tally{Copied: 2, Failed: 1}); sum.Things != want {
		t.Fatalf("things = %+v, want %+v", sum.Things, want)
	}
	if f := sum.Failures[0]; f.Name != "ghost" || !strings.Contains(f.Err.Error(), "not found in "+w.Primary.Name) {
		t.Errorf("failure = %s: %v, want ghost not found in the primary", f.Name, f.Err)
	}
	if _, err := w.Secondary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("ghost")}); err != nil {
		t.Errorf("ghost was deleted from the secondary: %v", err)
	}
}

func TestSyncBacksOffOnThrottlingWithoutLosingDevices(t *testing.T) {
	w := newWorld(t)
	const n = 40
	seed(t, w, n)
	// The secondary enforces tight quotas that the (unlimited) client ignores, so
	// calls are throttled and must be retried.
	for _, api := range []string{"CreateThing", "RegisterCertificateWithoutCA", "AttachThingPrincipal", "DescribeThing"} {
		w.Secondary.Registry.SetRate(api, 20)
	}

	retry := Retry{Attempts: 50, Base: 5 * time.Millisecond, Cap: 100 * time.Millisecond}
	src, tgt := NewLimiter(w.Primary.Name, nil, retry), NewLimiter(w.Secondary.Name, nil, retry)
	opts := options(w)
	opts.Source = &LimitedIoT{Next: w.Primary.Registry, Limiter: src}
	opts.Target = &LimitedIoT{Next: w.Secondary.Registry, Limiter: tgt}
	opts.Concurrency = 16
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Failed() != 0 {
		t.Fatalf("%d failed, first: %v", sum.Failed(), sum.Failures[0].Err)
	}
	if sum.Things.Copied != n {
		t.Errorf("copied %d things, want %d", sum.Things.Copied, n)
	}
	if tgt.Throttled() == 0 || tgt.Retried() == 0 {
		t.Errorf("throttled %d, retried %d: the test did not exercise throttling", tgt.Throttled(), tgt.Retried())
	}
	for _, api := range []string{"CreateThing", "RegisterCertificateWithoutCA", "AttachThingPrincipal", "DescribeThing"} {
		w.Secondary.Registry.SetRate(api, 0)
	}
	if d := differences(t, w); len(d) != 0 {
		t.Errorf("after sync: %d differences, first: %v", len(d), d[0])
	}
}

func TestSyncReportsDeviceFailedAfterBoundedAttempts(t *testing.T) {
	w := newWorld(t)
	seed(t, w, 3)
	retry := Retry{Attempts: 3, Base: time.Millisecond, Cap: 2 * time.Millisecond}
	tgt := NewLimiter(w.Secondary.Name, nil, retry)
	var calls atomic.Int64
	opts := options(w)
	opts.Shadows = false
	opts.Target = &LimitedIoT{Next: &failingCreate{IoT: w.Secondary.Registry, calls: &calls}, Limiter: tgt}
	opts.DeviceAttempts = 2
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Things.Failed != 3 {
		t.Fatalf("things = %+v, want 3 failed", sum.Things)
	}
	for _, f := range sum.Failures {
		if f.Kind != KindThing {
			continue
		}
		if msg := f.Err.Error(); !strings.Contains(msg, "gave up after 3 attempts") || !strings.Contains(msg, "ThrottlingException") {
			t.Errorf("failure reason %q does not say it gave up on throttling", msg)
		}
	}
	// 3 things x 2 device attempts x 3 call attempts.
	if got := calls.Load(); got != 18 {
		t.Errorf("CreateThing called %d times, want 18", got)
	}
}

func TestSyncQueryUnsupportedBySimulator(t *testing.T) {
	w := newWorld(t)
	opts := options(w)
	lim := NewLimiter(w.Primary.Name, nil, Retry{})
	opts.Things = Query(&LimitedIoT{Next: w.Primary.Registry, Limiter: lim}, "thingTypeName:sensor")
	_, err := Run(context.Background(), opts)
	if !errors.Is(err, ErrQueryUnsupported) {
		t.Fatalf("Run error = %v, want ErrQueryUnsupported", err)
	}
	// Said once: the limiter's error already wraps ErrQueryUnsupported.
	if want := "sync things: " + w.Primary.Name + ": fleet indexing query not supported by this endpoint"; err.Error() != want {
		t.Errorf("Run error = %q, want %q", err, want)
	}
}

func TestSyncStopsOnCancelAndResumes(t *testing.T) {
	w := newWorld(t)
	const n = 60
	seed(t, w, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := options(w)
	opts.Concurrency = 2
	done := 0
	opts.OnResult = func(r Result) {
		if r.Kind == KindThing {
			if done++; done == 10 {
				cancel()
			}
		}
	}
	sum, err := Run(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Run error = %v, want context.Canceled", err)
	}
	first := sum.Things.Copied
	if first < 10 || first >= n {
		t.Fatalf("interrupted run copied %d things, want 10..%d", first, n-1)
	}
	sum, err = Run(context.Background(), options(w))
	if err != nil {
		t.Fatalf("resumed Run: %v", err)
	}
	// Things the interrupted run finished are in sync now; the rest are copied.
	if sum.Failed() != 0 || sum.Things.Total() != n || sum.Things.InSync < first || sum.Things.Copied == 0 {
		t.Errorf("resumed run = %+v after %d copied", sum.Things, first)
	}
	if d := differences(t, w); len(d) != 0 {
		t.Errorf("after resume: %d differences, first: %v", len(d), d[0])
	}
}

// failingCreate throttles every CreateThing.
type failingCreate struct {
	replication.IoT
	calls *atomic.Int64
}

func (f *failingCreate) CreateThing(ctx context.Context, in *iot.CreateThingInput, optFns ...func(*iot.Options)) (*iot.CreateThingOutput, error) {
	f.calls.Add(1)
	return nil, &smithy.OperationError{ServiceID: "IoT", OperationName: "CreateThing",
		Err: &types.ThrottlingException{Message: aws.String("Rate exceeded")}}
}

// TestSyncIsNotCapturedInTarget: the target runs the pipeline too (failback), so its
// capture sees every registry event sync's writes raise there. With the target's
// mark table, sync's writes are taken for what they are (a copy of the source, not a
// change made in the target) and the target's capture writes nothing to the state
// table; without it, the capture sends the copies (some of them half done) back.
func TestSyncIsNotCapturedInTarget(t *testing.T) {
	for _, tc := range []struct {
		name  string
		marks bool
	}{{"marked", true}, {"unmarked", false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			seed(t, w, 30)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := w.Settle(ctx); err != nil {
				t.Fatal(err)
			}
			before := w.Secondary.State.Stream().Latest()
			opts := options(w)
			if !tc.marks {
				opts.Marks = nil
			}
			sum, err := Run(ctx, opts)
			if err != nil || sum.Failed() != 0 {
				t.Fatalf("sync: %v, %d failed", err, sum.Failed())
			}
			if err := w.Settle(ctx); err != nil {
				t.Fatal(err)
			}
			captured := 0
			for _, rec := range w.Secondary.State.Stream().Read(before, 1<<20) {
				if it, err := state.FromImage(rec.Change.NewImage); err == nil && it.Origin == w.Secondary.Name {
					captured++
				}
			}
			switch {
			case tc.marks && captured != 0:
				t.Errorf("the target's capture wrote %d items of sync's copies to the state table; want 0", captured)
			case !tc.marks && captured == 0:
				t.Errorf("without marks the target's capture wrote nothing: the test no longer shows what marks prevent")
			}
			if tc.marks {
				if n := w.Secondary.Errors.Len(); n != 0 {
					t.Errorf("%d error-table records in the target", n)
				}
			}
		})
	}
}
