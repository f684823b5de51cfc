package applymark

import (
	"context"
	"time"

	"github.com/iot-dr/iot-dr/functions/state"
)

// Guard is the capture's loop-freedom guard (capture.ApplyProgress): it tells whether
// this Region's apply has still to converge the resource to another Region's state
// item, so that the capture does not write what it read over that item. What the
// capture read may be the apply half done (a thing created, its certificate not yet
// attached), or the Region's state from before the item arrived in its replica (its
// stream record not yet delivered to the apply: nothing but the stream sees it).
//
// For the Tracked kinds the answer is the resource's own mark: pending until the
// apply records an Applied at least as new as the item, so captures of other
// resources, and of this Region's own items, never wait. An item captured longer ago
// than AppliedRetention without a mark counts as applied: its stream record is gone.
// Shadows and retained messages carry change times and per-section stamps that order
// a stale read, so for them the guard only waits while the apply holds a batch of the
// other Region's changes (Progress.ApplyPending).
type Guard struct {
	Marks    *Marks
	Progress *Progress
}

// ApplyPending reports whether this Region's apply has yet to converge cur, another
// Region's item, and when an apply last finished with the resource (zero if unknown,
// and for the kinds that are not Tracked). A capture that read the resource before
// that time may have read the apply half done even though it has converged since:
// it must read again.
func (g *Guard) ApplyPending(ctx context.Context, cur state.Item) (bool, time.Time, error) {
	if !Tracked(cur.Kind) {
		pending, err := g.Progress.ApplyPending(ctx)
		return pending, time.Time{}, err
	}
	mk, ok, err := g.Marks.Get(ctx, cur.Key())
	if err != nil {
		return false, time.Time{}, err
	}
	var at time.Time
	if mk.AppliedAt > 0 {
		at = time.UnixMilli(mk.AppliedAt)
	}
	if ok && mk.Applied >= cur.Seq {
		return false, at, nil
	}
	return g.Marks.now().Sub(time.UnixMilli(cur.CapturedAt)) < AppliedRetention, at, nil
}
