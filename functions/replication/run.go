package replication

import "context"

// Run is a handle for one bulk pass over the registry (Reconcile, a fleet sync). Its
// methods converge exactly as the Replicator's do, but share a cache for the length
// of the pass: a policy the whole fleet uses is read and converged once per Run, not
// once per thing, so GetPolicy does not become the binding quota. Event-driven
// callers (the workers) use the Replicator's methods instead, which read the source
// afresh on every call. A Run is safe for concurrent use; make a new one per pass.
type Run struct {
	r     *Replicator
	cache *runCache
}

// NewRun returns a Run of r with an empty cache.
func (r *Replicator) NewRun() *Run { return &Run{r: r, cache: &runCache{}} }

// Thing is Replicator.Thing, skipping the policies this Run already converged.
func (run *Run) Thing(ctx context.Context, name string) (Outcome, error) {
	return run.r.convergeThing(ctx, name, run.cache)
}

// ThingType is Replicator.ThingType.
func (run *Run) ThingType(ctx context.Context, name string) (Outcome, error) {
	return run.r.ThingType(ctx, name)
}

// ThingGroup is Replicator.ThingGroup.
func (run *Run) ThingGroup(ctx context.Context, name string) (Outcome, error) {
	return run.r.ThingGroup(ctx, name)
}

// Shadow is Replicator.AllShadows: a bulk pass converges the classic shadow and every
// named shadow of the thing.
func (run *Run) Shadow(ctx context.Context, thing string) (Outcome, error) {
	return run.r.AllShadows(ctx, thing)
}

// RetainedMessage is Replicator.RetainedMessage.
func (run *Run) RetainedMessage(ctx context.Context, topic string) (Outcome, error) {
	return run.r.RetainedMessage(ctx, topic)
}
