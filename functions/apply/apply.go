// Package apply is the apply function: it reads the state table's stream in its own
// Region and converges that Region's registry and shadows to the items other Regions
// captured, reading each item from its own replica, never from the Region the change
// came from. A stream record only names a resource; what is applied is the item's
// current content, so late, duplicate and reordered records are harmless.
//
// One batch is coalesced to one apply per resource. Records of one resource reach the
// function in order on one shard and batches of a shard are processed one at a time,
// so applies of a resource are serial; an apply re-reads the item when it is done and
// converges again if the item moved meanwhile (a re-drive racing the stream), so the
// last apply to finish always leaves the newest content.
//
// A failure is recorded in the error table when it happens and reported as a batch
// item failure, so Lambda retries from it and the redrive function re-runs what the
// retries give up on. Bad input (an undecodable record) is recorded and skipped.
package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// Converger is what the applier needs from *replication.Replicator, whose Source is
// a state.View over this Region's replica.
type Converger interface {
	Thing(ctx context.Context, name string) (replication.Outcome, error)
	Principals(ctx context.Context, thing string) (replication.Outcome, error)
	Memberships(ctx context.Context, thing string) (replication.Outcome, error)
	Certificate(ctx context.Context, id string) (replication.Outcome, error)
	Policy(ctx context.Context, name string) (replication.Outcome, error)
	ThingType(ctx context.Context, name string) (replication.Outcome, error)
	ThingGroup(ctx context.Context, name string) (replication.Outcome, error)
	Shadow(ctx context.Context, thing string) (replication.Outcome, error)
	NamedShadow(ctx context.Context, thing, shadow string) (replication.Outcome, error)
	RetainedMessage(ctx context.Context, topic string) (replication.Outcome, error)
	RoleAlias(ctx context.Context, name string) (replication.Outcome, error)
	ProvisioningTemplate(ctx context.Context, name string) (replication.Outcome, error)
	CACertificate(ctx context.Context, id string) (replication.Outcome, error)
	BillingGroup(ctx context.Context, name string) (replication.Outcome, error)
	Tags(ctx context.Context, key string) (replication.Outcome, error)
}

// LagRecorder receives one replication-lag sample per apply that changed something.
type LagRecorder interface {
	RecordLag(ctx context.Context, kind string, lag time.Duration) error
}

// Applier converges one resource of this Region to its state item.
type Applier struct {
	// Region is this Region; items it captured itself are not applied.
	Region    string
	Store     *state.Store
	Converger Converger
	Lag       LagRecorder
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Marks, when set, records each registry apply's time span in this Region's mark
	// table, so that this Region's capture skips the registry events the apply causes.
	Marks *applymark.Marks
	// Held, when set, records which item each resource of the kinds only the sweep
	// captures (applymark.HeldKind: retained messages, billing groups, the
	// onboarding kinds) was converged to, so that this Region's sweep can tell a
	// delete made here from an apply not yet run (capture.HeldCopies).
	Held *applymark.Held
}

// Applied says what applying one key did.
type Applied struct {
	Key     string
	Changes []string
	// Skipped is true when the item is this Region's own capture, or gone.
	Skipped bool
	// Lag is from the change in its origin to this apply, when it changed something.
	Lag time.Duration
}

// maxPasses bounds the converge-again loop of one apply.
const maxPasses = 3

// Key converges the resource the state key names.
func (a *Applier) Key(ctx context.Context, key string) (Applied, error) {
	res := Applied{Key: key}
	kind, name, err := spec.ParseStateKey(key)
	if err != nil {
		return res, &replication.PermanentError{Op: "apply", Err: err}
	}
	for pass := 0; pass < maxPasses; pass++ {
		it, ok, err := a.Store.Get(ctx, kind, name)
		if err != nil {
			return res, err
		}
		if !ok {
			// Expired tombstone (TTL) or never written: nothing to converge to.
			res.Skipped = true
			return res, nil
		}
		cctx := ctx
		if it.Origin == a.Region && pass == 0 {
			// This Region's own capture, which this Region holds already; but a shadow
			// capture takes the sections it did not change from the item it replaced,
			// so a section another Region wrote may be in it and not yet here (its
			// apply found this capture in the replica first): converge those.
			secs := foreignSections(it, a.Region)
			if len(secs) == 0 {
				res.Skipped = true
				return res, nil
			}
			cctx = replication.WithShadowSections(ctx, secs)
		}
		out, err := a.markedConverge(state.WithSnapshot(cctx, it), it)
		res.Changes = append(res.Changes, out.Changes...)
		if err != nil {
			return res, err
		}
		if a.Held != nil && applymark.HeldKind(kind) {
			if err := a.Held.Record(ctx, key, it.Ref(), it.Deleted); err != nil {
				return res, err
			}
		}
		if len(out.Changes) > 0 && it.ChangedAt > 0 {
			res.Lag = a.now().Sub(time.UnixMilli(it.ChangedAt))
		}
		after, ok, err := a.Store.Get(ctx, kind, name)
		if err != nil {
			return res, err
		}
		if !ok || after.Seq == it.Seq || after.Origin == a.Region {
			break
		}
	}
	if len(res.Changes) > 0 && a.Lag != nil {
		if err := a.Lag.RecordLag(ctx, kind, res.Lag); err != nil {
			a.logger().Warn("lag metric not recorded", "key", key, "error", err)
		}
	}
	return res, nil
}

// markedConverge converges to it within a mark of the resource (applymark), closed
// whatever the outcome: the events of a half-done apply are the apply's too. The mark
// records it as applied once the apply is done with it (converged, or failed for good
// and recorded), which is what the capture's guard waits for.
func (a *Applier) markedConverge(ctx context.Context, it state.Item) (replication.Outcome, error) {
	kind, name, key := it.Kind, it.Name, it.Key()
	if a.Marks == nil || !applymark.Tracked(kind) {
		return a.converge(ctx, kind, name)
	}
	done := func(err error) int64 {
		var perm *replication.PermanentError
		if err == nil || errors.As(err, &perm) {
			return it.Seq
		}
		return 0
	}
	if !applymark.Marked(kind) {
		out, err := a.converge(ctx, kind, name)
		if seq := done(err); seq > 0 {
			if merr := a.Marks.SetApplied(ctx, key, seq); merr != nil && err == nil {
				err = merr
			}
		}
		return out, err
	}
	sp, err := a.Marks.Begin(ctx, key)
	if err != nil {
		return replication.Outcome{}, err
	}
	out, err := a.converge(ctx, kind, name)
	if merr := a.Marks.EndApplied(ctx, key, sp, done(err)); merr != nil && err == nil {
		err = merr
	}
	if kind == spec.KindThing && err == nil {
		// A thing's converge covers its principals and groups (their records in the
		// same batch are subsumed): they are applied to the items it read.
		for _, k := range applymark.ThingSubsumed(name) {
			if sub, ok := state.Snapshotted(ctx, k); ok && sub.Origin != a.Region {
				if merr := a.Marks.SetApplied(ctx, k, sub.Seq); merr != nil {
					return out, merr
				}
			}
		}
	}
	return out, err
}

func (a *Applier) converge(ctx context.Context, kind, name string) (replication.Outcome, error) {
	c := a.Converger
	switch kind {
	case spec.KindThing:
		return c.Thing(ctx, name)
	case spec.KindThingPrincipals:
		return c.Principals(ctx, name)
	case spec.KindThingGroups:
		return c.Memberships(ctx, name)
	case spec.KindCertificate:
		return c.Certificate(ctx, name)
	case spec.KindPolicy:
		return c.Policy(ctx, name)
	case spec.KindThingType:
		return c.ThingType(ctx, name)
	case spec.KindThingGroup:
		return c.ThingGroup(ctx, name)
	case spec.KindShadow:
		return c.Shadow(ctx, name)
	case spec.KindNamedShadow:
		thing, shadow, _ := spec.SplitNamedShadowKey(name) // ParseStateKey checked the form
		return c.NamedShadow(ctx, thing, shadow)
	case spec.KindRetained:
		return c.RetainedMessage(ctx, name)
	case spec.KindRoleAlias:
		return c.RoleAlias(ctx, name)
	case spec.KindProvisioningTemplate:
		return c.ProvisioningTemplate(ctx, name)
	case spec.KindCACertificate:
		return c.CACertificate(ctx, name)
	case spec.KindBillingGroup:
		return c.BillingGroup(ctx, name)
	case spec.KindTags:
		return c.Tags(ctx, name)
	}
	return replication.Outcome{}, &replication.PermanentError{Op: "apply", Err: fmt.Errorf("no apply for kind %q", kind)}
}

func (a *Applier) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Applier) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// pending is one resource of a batch and the sequence number a retry resumes from.
type pending struct {
	key      string
	firstSeq string
	// sections are the shadow sections the batch's writes changed; nil: all, as for
	// every other kind.
	sections map[string]bool
	all      bool
}

// addSections adds the sections one record changed (nil: all).
func (p *pending) addSections(secs []string) {
	if p.all {
		return
	}
	if secs == nil {
		p.all, p.sections = true, nil
		return
	}
	if p.sections == nil {
		p.sections = map[string]bool{}
	}
	for _, s := range secs {
		p.sections[s] = true
	}
}

// Handler is the apply function's Lambda handler on the state table's stream.
type Handler struct {
	Applier  *Applier
	Failures *failures.Recorder
	// Concurrency bounds the resources applied at once per batch (default 32): a batch
	// holds distinct resources, and their applies wait on the Region's APIs, not the CPU.
	Concurrency int
}

// Handle applies one stream batch and returns the records to retry.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var (
		order  []*pending
		byKey  = map[string]*pending{}
		mu     sync.Mutex
		failed []events.DynamoDBBatchItemFailure
	)
	for i := range ev.Records {
		rec := &ev.Records[i]
		r := h.route(ctx, rec)
		if r.err != nil && r.key != "" && !r.retry {
			// The keys name a resource but the image is unreadable: apply the resource
			// anyway (what is applied is the current item, not the image).
			h.Applier.logger().Warn("stream image unreadable; applying its key", "key", r.key, "error", r.err)
			r.err, r.sections = nil, nil
		}
		switch {
		case r.err != nil && r.retry:
			// A raced write not merged yet: recorded, and retried from this record.
			if rerr := h.Failures.Record(ctx, spec.StageApply, r.key, "ApplyFailed", r.err, nil); rerr != nil {
				return failAll(ev), nil
			}
			failed = append(failed, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			continue
		case r.err != nil:
			// No retry can make a record without a key readable: keep it for an operator.
			if rerr := h.Failures.Record(ctx, spec.StageApply, "", "InvalidRecord", r.err, []byte("sequence number "+rec.Change.SequenceNumber)); rerr != nil {
				return failAll(ev), nil
			}
			continue
		case r.skip:
			continue
		}
		if p, ok := byKey[r.key]; ok {
			p.addSections(r.sections) // coalesced: the first record's sequence number is where a retry resumes
			continue
		}
		p := &pending{key: r.key, firstSeq: rec.Change.SequenceNumber}
		p.addSections(r.sections)
		byKey[r.key] = p
		order = append(order, p)
	}
	order = subsume(order, byKey)

	n := h.Concurrency
	if n <= 0 {
		n = 32
	}
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, n)
	)
	for _, p := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			actx := ctx
			if p.sections != nil {
				actx = replication.WithShadowSections(ctx, slices.Sorted(maps.Keys(p.sections)))
			}
			res, err := h.Applier.Key(actx, p.key)
			if err == nil {
				if len(res.Changes) > 0 {
					h.Applier.logger().Info("applied", "key", p.key, "changes", res.Changes, "lagMs", res.Lag.Milliseconds())
				}
				return
			}
			name := "ApplyFailed"
			if replication.IsPermanent(err) {
				name = spec.PermanentErrorType
			}
			rerr := h.Failures.Record(ctx, spec.StageApply, p.key, name, err, nil)
			if replication.IsPermanent(err) && rerr == nil {
				return // recorded; retrying cannot help
			}
			mu.Lock()
			failed = append(failed, events.DynamoDBBatchItemFailure{ItemIdentifier: p.firstSeq})
			mu.Unlock()
		}()
	}
	wg.Wait()
	return events.DynamoDBEventResponse{BatchItemFailures: failed}, nil
}

// subsume drops a thing's principals and groups from a batch that converges the thing
// itself: the thing's converge covers both. The thing's apply then resumes a retry
// from the earliest of the three records.
func subsume(order []*pending, byKey map[string]*pending) []*pending {
	out := order[:0]
	for _, p := range order {
		kind, name, _ := spec.ParseStateKey(p.key)
		if kind == spec.KindThingPrincipals || kind == spec.KindThingGroups {
			if t, ok := byKey[spec.StateKey(spec.KindThing, name)]; ok {
				if seqLess(p.firstSeq, t.firstSeq) {
					t.firstSeq = p.firstSeq
				}
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// seqLess orders stream sequence numbers, which are decimal strings.
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// routed is what route decided for one record.
type routed struct {
	key  string
	skip bool
	// sections are the shadow sections the record's write changed (nil: all).
	sections []string
	// err with a key and !retry: the keys were readable and the image was not; with
	// retry: the record must be retried (a raced shadow write not merged yet).
	err   error
	retry bool
}

// route returns the key a record names and whether to skip it: removes (tombstones
// expiring) and this Region's own captures carry nothing to apply.
func (h *Handler) route(ctx context.Context, rec *events.DynamoDBEventRecord) routed {
	key, err := state.KeyOfImage(rec.Change.Keys)
	if err != nil {
		return routed{err: err}
	}
	if rec.EventName == "REMOVE" {
		return routed{key: key, skip: true}
	}
	img := rec.Change.NewImage
	if img == nil {
		return routed{key: key}
	}
	it, err := state.FromImage(img)
	if err != nil {
		return routed{key: key, err: err}
	}
	if it.Key() != key {
		return routed{key: key, err: fmt.Errorf("apply: stream record's keys name %s but its image %s", key, it.Key())}
	}
	if it.Origin == h.Applier.Region {
		return routed{key: key, skip: true}
	}
	merged, err := h.conflict(ctx, rec, it)
	if err != nil {
		return routed{key: key, err: err, retry: true}
	}
	if merged {
		return routed{key: key, skip: true} // the merge applied it
	}
	return routed{key: key, sections: changedSections(rec, it)}
}

// changedSections returns the shadow sections a record's write changed, by their
// stamps against the item it replaced; nil (all) for other kinds, a first write,
// a tombstone or items without stamps.
func changedSections(rec *events.DynamoDBEventRecord, it state.Item) []string {
	if !shadowKind(it.Kind) || it.Deleted || rec.Change.OldImage == nil {
		return nil
	}
	old, err := state.FromImage(rec.Change.OldImage)
	var ob, nb state.Shadow
	if err != nil || old.Deleted || old.Decode(&ob) != nil || it.Decode(&nb) != nil {
		return nil
	}
	changed := []string{}
	mine, theirs := sections(&ob), sections(&nb)
	for i, o := range mine {
		if *o.by == "" || *theirs[i].by == "" {
			return nil
		}
		if *o.by != *theirs[i].by {
			changed = append(changed, o.name)
		}
	}
	return changed
}

// conflict handles a record that replaced this Region's own item with another
// Region's captured without seeing it (its basis is not the item it replaced): the
// resource changed in both Regions since their last common state, and the global
// table kept the other Region's later write. Only the Region whose change lost sees
// such a record (in the winner's replica the older write is discarded), so each
// conflict is recorded once, in the loser's error table. A shadow is merged per
// section first (mergeShadow): what only this Region changed is kept and written
// back (merged reports it applied), and only a section both changed is a conflict.
func (h *Handler) conflict(ctx context.Context, rec *events.DynamoDBEventRecord, it state.Item) (merged bool, err error) {
	if rec.Change.OldImage == nil {
		return false, nil
	}
	old, err := state.FromImage(rec.Change.OldImage)
	if err != nil || old.Origin != h.Applier.Region || it.Basis == old.Ref() {
		return false, nil
	}
	what := ""
	if shadowKind(it.Kind) {
		m, err := h.Applier.mergeShadow(ctx, old, it)
		if err != nil {
			return false, err
		}
		if len(m.Clashed) == 0 {
			return len(m.Kept) > 0, nil
		}
		what = fmt.Sprintf(" (sections %v; %v of this Region's kept)", m.Clashed, m.Kept)
		merged = len(m.Kept) > 0
	}
	cause := fmt.Errorf("%s changed in %s (seq %d) and in %s (seq %d, on basis %q)%s: the later write, %s's, was kept",
		it.Key(), old.Origin, old.Seq, it.Origin, it.Seq, it.Basis, what, it.Origin)
	if h.Failures == nil {
		return merged, nil
	}
	return merged, h.Failures.Record(ctx, spec.StageConflict, it.Key(), "Conflict", cause, nil)
}

func failAll(ev events.DynamoDBEvent) events.DynamoDBEventResponse {
	if len(ev.Records) == 0 {
		return events.DynamoDBEventResponse{}
	}
	return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[0].Change.SequenceNumber}}}
}

// The applier's source is the local replica.
var (
	_ replication.Source         = (*state.View)(nil)
	_ replication.SourceShadows  = (*state.View)(nil)
	_ replication.RetainedSource = (*state.View)(nil)
)
