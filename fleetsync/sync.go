package fleetsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/verify"
)

// Status is the outcome of syncing one resource.
type Status string

// Statuses.
const (
	// Copied: the target needed changes and got them (in a dry run: would need them).
	Copied Status = "copied"
	// InSync: the target already matched the source.
	InSync Status = "in sync"
	// Failed: the resource could not be converged (see Result.Err).
	Failed Status = "failed"
)

// Kinds of resources in a Result.
const (
	KindThingType  = replication.KindThingType
	KindThingGroup = replication.KindThingGroup
	KindThing      = replication.KindThing
)

// Result is what syncing one resource did.
type Result struct {
	Kind   string
	Name   string
	Status Status
	// Changes are the writes made, in order ("created thing dev-1"); in a dry run the
	// differences a sync would converge.
	Changes []string
	// Err says why a Failed resource failed.
	Err error
}

// Tally counts results of one kind.
type Tally struct {
	Copied, InSync, Failed int
}

// Total returns how many resources were handled.
func (t Tally) Total() int { return t.Copied + t.InSync + t.Failed }

func (t *Tally) add(s Status) {
	switch s {
	case Copied:
		t.Copied++
	case InSync:
		t.InSync++
	default:
		t.Failed++
	}
}

// Summary is the outcome of a Run.
type Summary struct {
	ThingTypes, ThingGroups, Things Tally
	// Onboarding counts role aliases, provisioning templates and CA certificates.
	Onboarding Tally
	// BillingGroups counts the billing groups (none when the clients have no
	// billing-group calls).
	BillingGroups Tally
	// PolicyTags counts the policies whose tags were converged (none when the
	// clients cannot tag).
	PolicyTags Tally
	// RetainedMessages counts the retained topics (Options.Retained).
	RetainedMessages Tally
	// Failures lists every failed resource, in completion order.
	Failures []Result
	// Elapsed is the run's wall time.
	Elapsed time.Duration
	// DryRun says nothing was written.
	DryRun bool
}

// Failed returns how many resources failed.
func (s Summary) Failed() int {
	return s.ThingTypes.Failed + s.ThingGroups.Failed + s.BillingGroups.Failed + s.Onboarding.Failed + s.PolicyTags.Failed + s.Things.Failed + s.RetainedMessages.Failed
}

// Selector streams the names of the things to sync: it calls yield once per name and
// stops, returning yield's error, when yield fails. It is replication.NameLister, so
// the replication package's listers are selectors as they are.
type Selector = replication.NameLister

// Options configure a Run.
type Options struct {
	// Source and Target are the control-plane clients of the primary and secondary,
	// normally LimitedIoT decorators.
	Source, Target replication.IoT
	// SourceShadows and TargetShadows are the data-plane clients; needed with Shadows.
	SourceShadows, TargetShadows replication.Shadows
	// SourceRegion and TargetRegion name the Regions (policy ARNs are rewritten).
	SourceRegion, TargetRegion string
	// SourceProvisioning and TargetProvisioning, when both set, add role aliases,
	// provisioning templates and CA certificates (LimitedIoT is one).
	SourceProvisioning replication.ProvisioningReader
	TargetProvisioning replication.Provisioning

	// Things selects the things; nil means every thing in the source (AllThings).
	Things Selector
	// Count, when set, counts the selection (for the progress ETA); it runs
	// concurrently with the sync and its failure only leaves the total unknown.
	Count func(ctx context.Context) (int, error)
	// NamesFromUser says the selected names may not exist in the source (a --things
	// file): such a thing is reported failed instead of being converged, because
	// converging a thing the source lacks means deleting it from the target.
	NamesFromUser bool

	// Shadows also syncs each thing's classic shadow.
	Shadows bool
	// Retained also syncs the source's retained messages (payload and QoS), after
	// the things; SourceRetained and TargetRetained are then needed.
	Retained                       bool
	SourceRetained, TargetRetained RetainedAPI
	// DryRun compares instead of writing; Copied then means "would be changed".
	DryRun bool
	// Concurrency bounds how many resources are converged at once (default 32).
	Concurrency int
	// DeviceAttempts bounds how often a resource is converged after transient
	// failures (default 3); each attempt already retries throttled calls.
	DeviceAttempts int
	// Backoff is the pause policy between device attempts (default 1 s to 10 s).
	Backoff Retry

	// OnResult receives every result, never concurrently.
	OnResult func(Result)
	// Progress, when set, is told about every thing (and the total when known).
	Progress *Progress
	// Logger receives the Replicator's per-resource records; nil discards.
	Logger *slog.Logger
	// Marks is the target Region's apply-mark table. With it, sync marks every
	// resource while it converges it, as the apply function does, and sends the
	// apply's client token with shadow updates, so that the target's capture takes
	// neither for changes made there: otherwise it would send a half-copied thing
	// (created, its certificate not yet attached) through the state table back over
	// the source's complete one, and spend the target's API quota doing so. Nil for a
	// target that runs no iot-dr pipeline.
	Marks *applymark.Marks
}

// DefaultConcurrency is Run's concurrency when Options.Concurrency is not set: enough
// in-flight devices to keep the binding API's bucket busy while the others' calls
// wait on theirs.
const DefaultConcurrency = 32

// Run syncs the thing types, then the thing groups, then the selected things (each
// phase on a pool of Concurrency workers) and returns the summary. A resource that
// fails is reported and the run goes on; the error is non-nil only when the run could
// not complete: a list call failed, or ctx ended (the summary then covers what was
// done, and running again resumes).
func Run(ctx context.Context, opts Options) (Summary, error) {
	if opts.Source == nil || opts.Target == nil {
		return Summary{}, errors.New("sync: source and target clients are required")
	}
	if opts.Shadows && (opts.SourceShadows == nil || opts.TargetShadows == nil) {
		return Summary{}, errors.New("sync: shadows requested without data-plane clients")
	}
	if opts.Retained && (opts.SourceRetained == nil || opts.TargetRetained == nil) {
		return Summary{}, errors.New("sync: retained messages requested without data-plane clients")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.DeviceAttempts <= 0 {
		opts.DeviceAttempts = 3
	}
	if opts.Backoff.Attempts == 0 {
		opts.Backoff = Retry{Attempts: 1, Base: time.Second, Cap: 10 * time.Second}
	}
	if opts.Things == nil {
		opts.Things = AllThings(opts.Source)
		if opts.Count == nil {
			opts.Count = CountThings(opts.Source)
		}
	}
	var srcBilling, tgtBilling billingAPI
	if s, t, ok := billingSides(opts.Source, opts.Target); ok {
		srcBilling, tgtBilling = s, t
	}
	var srcTags, tgtTags taggingAPI
	if s, ok := opts.Source.(taggingAPI); ok {
		if t, ok := opts.Target.(taggingAPI); ok {
			srcTags, tgtTags = s, t
		}
	}
	srcIndexing, tgtDynamic := dynamicSides(opts.Source, opts.Target)
	e := &engine{
		opts: opts, billing: srcBilling, tagging: srcTags,
		// One replication.Run per sync: a policy the fleet shares is converged once.
		rep: (&replication.Replicator{
			Source: opts.Source, Target: opts.Target,
			SourceShadows: opts.SourceShadows, TargetShadows: opts.TargetShadows,
			SourceProvisioning: opts.SourceProvisioning, TargetProvisioning: opts.TargetProvisioning,
			SourceRegion: opts.SourceRegion, TargetRegion: opts.TargetRegion,
			Logger: opts.Logger, ClientToken: clientToken(opts.Marks),
			SourceBilling: srcBilling, TargetBilling: tgtBilling,
			SourceTags: srcTags, TargetTags: tgtTags,
			SourceIndexing: srcIndexing, TargetDynamic: tgtDynamic,
			SourceRetained: opts.SourceRetained, TargetRetained: opts.TargetRetained,
		}).NewRun(),
		cmp: &verify.Comparer{
			Source: opts.Source, Target: opts.Target,
			SourceShadows: opts.SourceShadows, TargetShadows: opts.TargetShadows,
			SourceRegion: opts.SourceRegion, TargetRegion: opts.TargetRegion,
			Shadows: opts.Shadows, SourceProvisioning: opts.SourceProvisioning, TargetProvisioning: opts.TargetProvisioning,
			SourceRetained: opts.SourceRetained, TargetRetained: opts.TargetRetained,
		},
		summary: Summary{DryRun: opts.DryRun},
	}
	start := time.Now()
	if opts.Progress != nil {
		opts.Progress.begin()
	}
	err := e.run(ctx)
	e.summary.Elapsed = time.Since(start)
	if opts.Progress != nil {
		opts.Progress.Finish()
	}
	return e.summary, err
}

type engine struct {
	opts Options
	rep  *replication.Run
	cmp  *verify.Comparer
	// billing lists the source's billing groups; nil when the clients have none.
	billing billingAPI
	// tagging lists the source's policies; nil when the clients cannot tag.
	tagging taggingAPI
	// noTags is set once an endpoint answers that it does not implement tagging (an
	// emulator such as moto_server): tags are then not copied.
	noTags atomic.Bool

	mu      sync.Mutex
	summary Summary
}

func (e *engine) run(ctx context.Context) error {
	if e.opts.Count != nil && e.opts.Progress != nil {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go func() {
			defer close(done)
			if n, err := e.opts.Count(cctx); err == nil {
				e.opts.Progress.SetTotal(n)
			}
		}()
	}
	phases := slices.Concat([]phaseSpec{
		{"thing types", replication.ThingTypeNames(e.opts.Source), e.thingType},
		{"thing groups", replication.ThingGroupNames(e.opts.Source), e.thingGroup},
		{"billing groups", nil, e.billingGroup},
	}, e.onboardingPhases(), []phaseSpec{{"things", e.opts.Things, e.thing}, {"policy tags", nil, e.policyTags}})
	if e.opts.Retained {
		phases = append(phases, phaseSpec{"retained messages", replication.RetainedTopics(e.opts.SourceRetained), e.retainedMessage})
	}
	for _, ph := range phases {
		if ph.name == "billing groups" {
			if e.billing == nil {
				continue
			}
			ph.list = replication.BillingGroupNames(e.billing)
		}
		if ph.name == "policy tags" {
			if e.tagging == nil {
				continue
			}
			ph.list = policyNames(e.tagging)
		}
		if ph.name == "thing groups" && e.opts.Marks != nil && !e.opts.DryRun {
			if err := e.markedGroups(ctx, ph.list, ph.work); err != nil {
				return fmt.Errorf("sync %s: %w", ph.name, err)
			}
			continue
		}
		if err := e.pool(ctx, ph.list, ph.work); err != nil {
			return fmt.Errorf("sync %s: %w", ph.name, err)
		}
	}
	return nil
}

// phaseSpec is one phase of a run: the names to sync and the work on each.
type phaseSpec struct {
	name string
	list Selector
	work func(context.Context, string) Result
}

// markedGroups runs the thing-group phase within marks of every group: converging a
// group creates its missing ancestors (and moving one re-creates its descendants), so
// a group's events come from other groups' convergence too. The groups are listed
// first (an account has few); a change an operator makes to a group in the target
// during the phase is skipped with sync's events, and the target's sweep captures it.
func (e *engine) markedGroups(ctx context.Context, list Selector, work func(context.Context, string) Result) error {
	var names, keys []string
	if err := list(ctx, func(n string) error {
		names, keys = append(names, n), append(keys, spec.StateKey(spec.KindThingGroup, n))
		return nil
	}); err != nil {
		return err
	}
	_, err := e.marked(ctx, keys, func() ([]string, error) {
		return nil, e.pool(ctx, Names(names), work)
	})()
	return err
}

// pool runs work on the names list yields, on at most Concurrency goroutines (see
// replication.ForEachName); workers never fail, as failures are results.
func (e *engine) pool(ctx context.Context, list Selector, work func(context.Context, string) Result) error {
	return replication.ForEachName(ctx, e.opts.Concurrency, list, func(ctx context.Context, name string) error {
		e.record(work(ctx, name))
		return nil
	})
}

func (e *engine) record(r Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch r.Kind {
	case KindThingType:
		e.summary.ThingTypes.add(r.Status)
	case KindThingGroup:
		e.summary.ThingGroups.add(r.Status)
	case KindRoleAlias, KindProvisioningTemplate, KindCACertificate:
		e.summary.Onboarding.add(r.Status)
	case KindBillingGroup:
		e.summary.BillingGroups.add(r.Status)
	case KindPolicyTags:
		e.summary.PolicyTags.add(r.Status)
	case KindRetained:
		e.summary.RetainedMessages.add(r.Status)
	default:
		e.summary.Things.add(r.Status)
		if e.opts.Progress != nil {
			e.opts.Progress.Add(r.Status == Failed)
		}
	}
	if r.Status == Failed {
		e.summary.Failures = append(e.summary.Failures, r)
	}
	if e.opts.OnResult != nil {
		e.opts.OnResult(r)
	}
}

func (e *engine) thingType(ctx context.Context, name string) Result {
	if e.opts.DryRun {
		return dryResult(KindThingType, name, func() ([]verify.Difference, error) { return e.cmp.ThingType(ctx, name) })
	}
	return e.converge(ctx, KindThingType, name, e.marked(ctx, []string{spec.StateKey(spec.KindThingType, name)}, e.withTags(ctx, spec.KindThingType, name, func() ([]string, error) {
		o, err := e.rep.ThingType(ctx, name)
		return o.Changes, err
	})))
}

func (e *engine) thingGroup(ctx context.Context, name string) Result {
	if e.opts.DryRun {
		return dryResult(KindThingGroup, name, func() ([]verify.Difference, error) { return e.cmp.ThingGroup(ctx, name) })
	}
	return e.converge(ctx, KindThingGroup, name, e.withTags(ctx, spec.KindThingGroup, name, func() ([]string, error) { // marked by markedGroups
		o, err := e.rep.ThingGroup(ctx, name)
		return o.Changes, err
	}))
}

func (e *engine) thing(ctx context.Context, name string) Result {
	if e.opts.NamesFromUser {
		_, err := e.opts.Source.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
		if replication.IsNotFound(err) {
			return Result{Kind: KindThing, Name: name, Status: Failed,
				Err: fmt.Errorf("thing %s: not found in %s", name, e.opts.SourceRegion)}
		}
		if err != nil {
			return Result{Kind: KindThing, Name: name, Status: Failed,
				Err: fmt.Errorf("thing %s: describe in %s: %w", name, e.opts.SourceRegion, err)}
		}
	}
	if e.opts.DryRun {
		return dryResult(KindThing, name, func() ([]verify.Difference, error) { return e.cmp.Thing(ctx, name) })
	}
	return e.converge(ctx, KindThing, name, e.marked(ctx, applymark.ThingKeys(name), func() ([]string, error) {
		o, err := e.rep.Thing(ctx, name)
		if err != nil || !e.opts.Shadows {
			return o.Changes, err
		}
		so, err := e.rep.Shadow(ctx, name)
		return append(o.Changes, so.Changes...), err
	}))
}

// clientToken is the token sync's shadow updates carry: the apply's where the target
// runs the pipeline, so that its capture skips them.
func clientToken(m *applymark.Marks) string {
	if m == nil {
		return ""
	}
	return spec.ApplyClientToken
}

// marked wraps one resource's convergence in marks of keys in the target's mark
// table (Options.Marks), closed whatever the outcome: the registry events of a
// half-done copy are sync's too.
func (e *engine) marked(ctx context.Context, keys []string, fn func() ([]string, error)) func() ([]string, error) {
	m := e.opts.Marks
	if m == nil {
		return fn
	}
	return func() ([]string, error) {
		spans := make([]applymark.Span, 0, len(keys))
		for _, k := range keys {
			sp, err := m.Begin(ctx, k)
			if err != nil {
				e.end(ctx, keys[:len(spans)], spans)
				return nil, fmt.Errorf("mark %s in the target: %w", k, err)
			}
			spans = append(spans, sp)
		}
		changes, err := fn()
		if merr := e.end(ctx, keys, spans); merr != nil && err == nil {
			err = merr
		}
		return changes, err
	}
}

// end closes the marks marked began; it tries every key and returns the first error.
func (e *engine) end(ctx context.Context, keys []string, spans []applymark.Span) error {
	var first error
	for i, sp := range spans {
		if err := e.opts.Marks.End(ctx, keys[i], sp); err != nil && first == nil {
			first = fmt.Errorf("close the mark of %s in the target: %w", keys[i], err)
		}
	}
	return first
}

// converge runs fn, the Replicator call for one resource, again after transient
// failures, up to DeviceAttempts times. Converging is idempotent, so a repeat only
// finishes what the failed attempt left undone; the changes of all attempts are kept.
func (e *engine) converge(ctx context.Context, kind, name string, fn func() ([]string, error)) Result {
	var changes []string
	for attempt := 1; ; attempt++ {
		c, err := fn()
		changes = append(changes, c...)
		switch {
		case err == nil:
			st := InSync
			if len(changes) > 0 {
				st = Copied
			}
			return Result{Kind: kind, Name: name, Status: st, Changes: changes}
		case replication.IsPermanent(err) || ctx.Err() != nil || attempt >= e.opts.DeviceAttempts:
			return Result{Kind: kind, Name: name, Status: Failed, Changes: changes, Err: err}
		}
		if sleepCtx(ctx, backoff(e.opts.Backoff, attempt)) != nil {
			return Result{Kind: kind, Name: name, Status: Failed, Changes: changes, Err: err}
		}
	}
}

// dryResult turns a comparison into a Result: the differences are the changes a sync
// would make.
func dryResult(kind, name string, cmp func() ([]verify.Difference, error)) Result {
	diffs, err := cmp()
	if err != nil {
		return Result{Kind: kind, Name: name, Status: Failed, Err: err}
	}
	r := Result{Kind: kind, Name: name, Status: InSync}
	for _, d := range diffs {
		if d.Kind == verify.Extra && d.Resource == verify.Resource(kindResource(kind)) {
			continue // sync never deletes what only the target has
		}
		r.Changes = append(r.Changes, d.String())
	}
	if len(r.Changes) > 0 {
		r.Status = Copied
	}
	return r
}

func kindResource(kind string) verify.Resource {
	switch kind {
	case KindThingType:
		return verify.ThingType
	case KindThingGroup:
		return verify.ThingGroup
	case KindBillingGroup:
		return verify.BillingGroup
	case KindPolicyTags:
		return verify.Tags
	case KindRetained:
		return verify.RetainedMessage
	}
	return verify.Thing
}

// AllThings selects every thing of c, page by page.
func AllThings(c replication.IoT) Selector {
	return replication.ThingNames(c, func(o *iot.ListThingsPaginatorOptions) { o.Limit = 250 })
}

// CountThings counts the things of c by paging through ListThings (names are not
// kept). It shares ListThings' quota with the sync's own listing.
func CountThings(c replication.IoT) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		n := 0
		err := AllThings(c)(ctx, func(string) error { n++; return nil })
		return n, err
	}
}

// Names selects the given things, in order.
func Names(names []string) Selector {
	return func(ctx context.Context, yield func(string) error) error {
		for _, n := range names {
			if err := yield(n); err != nil {
				return err
			}
		}
		return nil
	}
}

// Query selects the things matching a fleet-indexing query (AWS_Things index), page
// by page. c must implement Searcher; an endpoint without fleet indexing yields an
// error wrapping ErrQueryUnsupported.
func Query(c replication.IoT, query string) Selector {
	return func(ctx context.Context, yield func(string) error) error {
		s, ok := c.(Searcher)
		if !ok {
			return ErrQueryUnsupported
		}
		in := &iot.SearchIndexInput{IndexName: aws.String("AWS_Things"), QueryString: aws.String(query), MaxResults: aws.Int32(500)}
		for {
			out, err := s.SearchIndex(ctx, in)
			if err != nil {
				if errors.Is(err, ErrQueryUnsupported) {
					return err // already says so (LimitedIoT without a Searcher)
				}
				if unsupported(err) {
					return fmt.Errorf("%w: %w", ErrQueryUnsupported, err)
				}
				return fmt.Errorf("search index: %w", err)
			}
			for _, t := range out.Things {
				if t.ThingName == nil {
					continue
				}
				if err := yield(*t.ThingName); err != nil {
					return err
				}
			}
			if aws.ToString(out.NextToken) == "" {
				return nil
			}
			in.NextToken = out.NextToken
		}
	}
}

// unsupported reports whether err says the endpoint does not implement SearchIndex
// (an emulator) rather than that the query or the index is wrong.
func unsupported(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotImplemented", "NotImplementedException", "UnknownOperationException", "InternalFailure":
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case 404, 405, 501:
			return !replication.IsNotFound(err) // AWS answers 404 ResourceNotFound when indexing is off
		}
	}
	return false
}
