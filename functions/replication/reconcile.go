package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"golang.org/x/sync/errgroup"
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
	run := &reconcileRun{r: r, opts: opts, cache: &runCache{}}
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
	r     *Replicator
	opts  ReconcileOptions
	cache *runCache

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

// pool runs the items a lister produces on at most Concurrency goroutines; the lister
// blocks while all are busy, which bounds memory.
func (run *reconcileRun) pool(ctx context.Context, list func(submit func(name string) error) error, work func(ctx context.Context, name string)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(run.opts.Concurrency)
	listErr := list(func(name string) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		g.Go(func() error {
			work(gctx, name)
			return nil
		})
		return nil
	})
	waitErr := g.Wait()
	if listErr != nil {
		return listErr
	}
	if waitErr != nil {
		return waitErr
	}
	return ctx.Err()
}

func (run *reconcileRun) listThingTypes(ctx context.Context, c IoT, submit func(string) error) error {
	p := iot.NewListThingTypesPaginator(c, &iot.ListThingTypesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list thing types: %w", err)
		}
		for _, t := range page.ThingTypes {
			if err := submit(aws.ToString(t.ThingTypeName)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (run *reconcileRun) listThingGroups(ctx context.Context, c IoT, submit func(string) error) error {
	p := iot.NewListThingGroupsPaginator(c, &iot.ListThingGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list thing groups: %w", err)
		}
		for _, g := range page.ThingGroups {
			if err := submit(aws.ToString(g.GroupName)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (run *reconcileRun) listThings(ctx context.Context, c IoT, submit func(string) error) error {
	p := iot.NewListThingsPaginator(c, &iot.ListThingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list things: %w", err)
		}
		for _, t := range page.Things {
			if err := submit(aws.ToString(t.ThingName)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (run *reconcileRun) thingTypes(ctx context.Context) error {
	return run.pool(ctx, func(submit func(string) error) error {
		return run.listThingTypes(ctx, run.r.Source, submit)
	}, func(ctx context.Context, name string) {
		o, err := run.r.ThingType(ctx, name)
		run.record(KindThingType, name, o, err)
	})
}

// thingGroups converges every source group; ThingGroup creates missing parents
// first, so the order of the list does not matter.
func (run *reconcileRun) thingGroups(ctx context.Context) error {
	return run.pool(ctx, func(submit func(string) error) error {
		return run.listThingGroups(ctx, run.r.Source, submit)
	}, func(ctx context.Context, name string) {
		o, err := run.r.ThingGroup(ctx, name)
		run.record(KindThingGroup, name, o, err)
	})
}

func (run *reconcileRun) things(ctx context.Context) error {
	return run.pool(ctx, func(submit func(string) error) error {
		return run.listThings(ctx, run.r.Source, submit)
	}, func(ctx context.Context, name string) {
		o, err := run.r.convergeThing(ctx, name, run.cache)
		run.record(KindThing, name, o, err)
		if run.opts.Shadows {
			o, err := run.r.Shadow(ctx, name)
			run.record(KindShadow, name, o, err)
		}
	})
}

// missingInSource reports whether describe says the source has no such resource; a
// failed describe is recorded and reported as "not missing".
func (run *reconcileRun) missingInSource(kind, name string, describe func() error) bool {
	err := describe()
	if isNotFound(err) {
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
	return run.pool(ctx, func(submit func(string) error) error {
		return run.listThings(ctx, run.r.Target, submit)
	}, func(ctx context.Context, name string) {
		if !run.missingInSource(KindThing, name, func() error {
			_, err := run.r.Source.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
			return err
		}) {
			return
		}
		if run.opts.Shadows {
			o, err := run.r.Shadow(ctx, name)
			run.record(KindShadow, name, o, err)
		}
		o, err := run.r.convergeThing(ctx, name, run.cache)
		run.record(KindThing, name, o, err)
	})
}

func (run *reconcileRun) extraThingGroups(ctx context.Context) error {
	return run.pool(ctx, func(submit func(string) error) error {
		return run.listThingGroups(ctx, run.r.Target, submit)
	}, func(ctx context.Context, name string) {
		if !run.missingInSource(KindThingGroup, name, func() error {
			_, err := run.r.Source.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
			return err
		}) {
			return
		}
		o, err := run.r.ThingGroup(ctx, name)
		run.record(KindThingGroup, name, o, err)
	})
}

func (run *reconcileRun) extraThingTypes(ctx context.Context) error {
	return run.pool(ctx, func(submit func(string) error) error {
		return run.listThingTypes(ctx, run.r.Target, submit)
	}, func(ctx context.Context, name string) {
		if !run.missingInSource(KindThingType, name, func() error {
			_, err := run.r.Source.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
			return err
		}) {
			return
		}
		o, err := run.r.ThingType(ctx, name)
		run.record(KindThingType, name, o, err)
	})
}
