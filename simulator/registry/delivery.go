package registry

import (
	"context"
	"fmt"
)

// send publishes one event under the delivery model; the caller holds
// pubMu, so the model's draws follow commit order.
func (r *Registry) send(topic string, payload []byte) {
	r.deliv.Deliver(func() { _ = r.pub.Publish(topic, payload) }) // at-most-once per copy, see the package doc
}

// Pending returns how many delayed event deliveries have not been published
// yet (always 0 without a ReorderWindow).
func (r *Registry) Pending() int { return r.deliv.Pending() }

// Flush waits until every delayed event delivery queued so far (and any
// queued while it waits) has been published, or ctx is done.
func (r *Registry) Flush(ctx context.Context) error {
	if err := r.deliv.Flush(ctx); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// Close stops the registry's delivery timers: delayed events not yet
// published are dropped, and Close waits for publishes in progress. Later
// mutating calls still publish undelayed copies at once, delayed ones not at
// all. It is safe to call more than once.
func (r *Registry) Close() { r.deliv.Close() }
