package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// Kinds of resources, as passed to ReconcileOptions.OnResult.
const (
	KindThingType  = "thingType"
	KindThingGroup = "thingGroup"
	KindThing      = "thing"
	KindShadow     = "shadow"
)

// DefaultConcurrency is how many resources Reconcile converges at once when
// ReconcileOptions.Concurrency is not set.
const DefaultConcurrency = 8

// ReconcileOptions tunes a Reconcile run.
type ReconcileOptions struct {
	// Shadows also converges the classic shadow of every thing.
	Shadows bool
	// Concurrency bounds how many resources are converged at once (DefaultConcurrency
	// when <= 0). Memory use is bounded by it and the list page size, not the fleet.
	Concurrency int
	// OnResult, when set, is called once per resource checked, never concurrently.
	OnResult func(kind, name string, o Outcome, err error)
}

// Tally counts one kind of resource in a Reconcile run.
type Tally struct {
	// Checked resources were compared, Changed ones needed writes, Failed ones could
	// not be converged.
	Checked, Changed, Failed int
}

// Report summarises a Reconcile run.
type Report struct {
	ThingTypes, ThingGroups, Things, Shadows Tally
}

// Failed returns how many resources could not be converged.
func (rp Report) Failed() int {
	return rp.ThingTypes.Failed + rp.ThingGroups.Failed + rp.Things.Failed + rp.Shadows.Failed
}

// Changed returns how many resources needed writes.
func (rp Report) Changed() int {
	return rp.ThingTypes.Changed + rp.ThingGroups.Changed + rp.Things.Changed + rp.Shadows.Changed
}

// Reconcile compares the whole registry of the two Regions and repairs what differs:
// thing types, then the group tree (parents first), then every thing (with its
// certificates, policies and memberships, and its shadow if opts.Shadows), then it
// deletes the things, groups and types the target has and the source does not. Lists
// are streamed page by page. A resource that fails is counted and reported through
// OnResult and the run goes on; the returned error is non-nil when a list could not
// be read, the context ended, or any resource failed.
func (r *Replicator) Reconcile(ctx context.Context, opts ReconcileOptions) (Report, error) {
	if opts.Shadows && (r.SourceShadows == nil || r.TargetShadows == nil) {
		return Report{}, &PermanentError{Op: "reconcile", Err: errors.New("shadow replication requested without data-plane clients")}
	}
	run := &reconcileRun{r: r, opts: opts, conv: r.NewRun()}
	if run.opts.Concurrency <= 0 {
		run.opts.Concurrency = DefaultConcurrency
	}
	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"thing types", run.thingTypes},
		{"thing groups", run.thingGroups},
		{"things", run.things},
		{"extra things", run.extraThings},
		{"extra thing groups", run.extraThingGroups},
		{"extra thing types", run.extraThingTypes},
	}
	for _, ph := range phases {
		if err := ph.fn(ctx); err != nil {
			return run.report, fmt.Errorf("reconcile %s: %w", ph.name, err)
		}
	}
	if n := run.report.Failed(); n > 0 {
		return run.report, fmt.Errorf("reconcile: %d resources failed to converge; first: %w", n, run.first)
	}
	return run.report, nil
}

type reconcileRun struct {
	r    *Replicator
	opts ReconcileOptions
	// conv converges every resource of the run, sharing its cache.
	conv *Run

	mu     sync.Mutex
	report Report
	first  error
}

// record counts one result and passes it to OnResult.
func (run *reconcileRun) record(kind, name string, o Outcome, err error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	var t *Tally
	switch kind {
	case KindThingType:
		t = &run.report.ThingTypes
	case KindThingGroup:
		t = &run.report.ThingGroups
	case KindShadow:
		t = &run.report.Shadows
	default:
		t = &run.report.Things
	}
	t.Checked++
	if len(o.Changes) > 0 {
		t.Changed++
	}
	if err != nil {
		t.Failed++
		if run.first == nil {
			run.first = err
		}
	}
	if run.opts.OnResult != nil {
		run.opts.OnResult(kind, name, o, err)
	}
}

// pool converges the names list yields on at most Concurrency goroutines (see
// ForEachName); work records its own failures, so that one does not stop the run.
func (run *reconcileRun) pool(ctx context.Context, list NameLister, work func(ctx context.Context, name string)) error {
	return ForEachName(ctx, run.opts.Concurrency, list, func(ctx context.Context, name string) error {
		work(ctx, name)
		return nil
	})
}

func (run *reconcileRun) thingTypes(ctx context.Context) error {
	return run.pool(ctx, ThingTypeNames(run.r.Source), func(ctx context.Context, name string) {
		o, err := run.conv.ThingType(ctx, name)
		run.record(KindThingType, name, o, err)
	})
}

// thingGroups converges every source group; ThingGroup creates missing parents
// first, so the order of the list does not matter.
func (run *reconcileRun) thingGroups(ctx context.Context) error {
	return run.pool(ctx, ThingGroupNames(run.r.Source), func(ctx context.Context, name string) {
		o, err := run.conv.ThingGroup(ctx, name)
		run.record(KindThingGroup, name, o, err)
	})
}

func (run *reconcileRun) things(ctx context.Context) error {
	return run.pool(ctx, ThingNames(run.r.Source), func(ctx context.Context, name string) {
		o, err := run.conv.Thing(ctx, name)
		run.record(KindThing, name, o, err)
		if run.opts.Shadows {
			o, err := run.conv.Shadow(ctx, name)
			run.record(KindShadow, name, o, err)
		}
	})
}

// missingInSource reports whether describe says the source has no such resource; a
// failed describe is recorded and reported as "not missing".
func (run *reconcileRun) missingInSource(kind, name string, describe func() error) bool {
	err := describe()
	if IsNotFound(err) {
		return true
	}
	if err != nil {
		run.record(kind, name, Outcome{}, finishErr(kind+" "+name, fmt.Errorf("describe in %s: %w", run.r.SourceRegion, err)))
	}
	return false
}

// extraThings deletes the target things the source does not have. Things the source
// has were converged in the previous phase and are not counted again.
func (run *reconcileRun) extraThings(ctx context.Context) error {
	return run.pool(ctx, ThingNames(run.r.Target), func(ctx context.Context, name string) {
		if !run.missingInSource(KindThing, name, func() error {
			_, err := run.r.Source.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
			return err
		}) {
			return
		}
		if run.opts.Shadows {
			o, err := run.conv.Shadow(ctx, name)
			run.record(KindShadow, name, o, err)
		}
		o, err := run.conv.Thing(ctx, name)
		run.record(KindThing, name, o, err)
	})
}

func (run *reconcileRun) extraThingGroups(ctx context.Context) error {
	return run.pool(ctx, ThingGroupNames(run.r.Target), func(ctx context.Context, name string) {
		if !run.missingInSource(KindThingGroup, name, func() error {
			_, err := run.r.Source.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
			return err
		}) {
			return
		}
		o, err := run.conv.ThingGroup(ctx, name)
		run.record(KindThingGroup, name, o, err)
	})
}

func (run *reconcileRun) extraThingTypes(ctx context.Context) error {
	return run.pool(ctx, ThingTypeNames(run.r.Target), func(ctx context.Context, name string) {
		if !run.missingInSource(KindThingType, name, func() error {
			_, err := run.r.Source.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
			return err
		}) {
			return
		}
		o, err := run.conv.ThingType(ctx, name)
		run.record(KindThingType, name, o, err)
	})
}
