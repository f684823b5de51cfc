// Package worker holds the apply pipeline's worker handlers: one per event family,
// invoked by the state machine with the captured event, each converging the resource the
// event names to the source Region's current state.
//
// The handlers adapt events to the replication package and shape errors for the state
// machine: failures no retry can fix are returned as *replication.PermanentError so that
// their Lambda errorType is spec.PermanentErrorType and Step Functions skips the retries.
// The convergence itself lives in replication.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/iot-dr/iot-dr/functions/event"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// Converger is what the workers need from *replication.Replicator.
type Converger interface {
	Thing(ctx context.Context, name string) (replication.Outcome, error)
	ThingType(ctx context.Context, name string) (replication.Outcome, error)
	ThingGroup(ctx context.Context, name string) (replication.Outcome, error)
	Memberships(ctx context.Context, thing string) (replication.Outcome, error)
	Shadow(ctx context.Context, thing string) (replication.Outcome, error)
}

// LagRecorder receives one replication-lag sample per event that changed the target.
type LagRecorder interface {
	RecordLag(ctx context.Context, eventType string, lag time.Duration) error
}

// Input is a worker's input: the event-table item, plus the previous pass's result when
// the state machine loops back for an attachment re-check.
type Input struct {
	event.Event
	Result *Result `json:"result,omitempty"`
}

// Result is a worker's output, stored by the state machine at $.result.
type Result struct {
	// Changes lists what this pass changed in the target; empty when already in sync.
	Changes []string `json:"changes"`
	// Attempt counts the passes over this event, 1 for the first.
	Attempt int `json:"attempt"`
	// RecheckSeconds > 0 asks the state machine to wait and run the thing worker again.
	RecheckSeconds int `json:"recheckSeconds"`
	// LagMS is the time from the source change to this pass, when it changed something.
	LagMS int64 `json:"lagMs,omitempty"`
}

// Handlers converge events with Converger.
type Handlers struct {
	Converger Converger
	// RecheckSeconds and RecheckCount bound the thing worker's re-checks of certificates
	// and policies attached after the thing event (AWS publishes no event for those):
	// the first wait is RecheckSeconds, each next one twice as long.
	RecheckSeconds int
	RecheckCount   int
	Lag            LagRecorder
	Logger         *slog.Logger
	Now            func() time.Time
}

// Thing applies THING_EVENT and THING_TYPE_ASSOCIATION_EVENT.
func (h *Handlers) Thing(ctx context.Context, in Input) (Result, error) {
	if err := h.check(in, spec.EventThing, spec.EventThingTypeAssociation); err != nil {
		return Result{}, err
	}
	out, err := h.Converger.Thing(ctx, in.ThingName)
	res, err := h.finish(ctx, in, out, err)
	if err != nil {
		return res, err
	}
	// Keep re-checking while the source thing has no certificate yet, or while the last
	// pass still found something to copy; stop once a pass finds everything in sync.
	if in.Operation != "DELETED" && res.Attempt <= h.RecheckCount && (out.Principals == 0 || len(out.Changes) > 0) {
		res.RecheckSeconds = recheckDelay(h.RecheckSeconds, res.Attempt)
	}
	return res, nil
}

// maxRecheckSeconds caps one re-check wait.
const maxRecheckSeconds = 300

// recheckDelay doubles the wait after each pass (base, 2*base, 4*base, ...): a device
// provisioned by a fast flow is converged within seconds, a slow manual one still within
// the bounded window, at a handful of invocations per thing.
func recheckDelay(base, attempt int) int {
	d := max(base, 1)
	for i := 1; i < attempt && d < maxRecheckSeconds; i++ {
		d *= 2
	}
	return min(d, maxRecheckSeconds)
}

// ThingType applies THING_TYPE_EVENT.
func (h *Handlers) ThingType(ctx context.Context, in Input) (Result, error) {
	if err := h.check(in, spec.EventThingType); err != nil {
		return Result{}, err
	}
	out, err := h.Converger.ThingType(ctx, in.ThingTypeName)
	return h.finish(ctx, in, out, err)
}

// ThingGroup applies THING_GROUP_EVENT, THING_GROUP_MEMBERSHIP_EVENT and
// THING_GROUP_HIERARCHY_EVENT.
func (h *Handlers) ThingGroup(ctx context.Context, in Input) (Result, error) {
	if err := h.check(in, spec.EventThingGroup, spec.EventThingGroupMembership, spec.EventThingGroupHierarchy); err != nil {
		return Result{}, err
	}
	var (
		out replication.Outcome
		err error
	)
	switch in.EventType {
	case spec.EventThingGroup:
		out, err = h.Converger.ThingGroup(ctx, in.ThingGroupName)
	case spec.EventThingGroupMembership:
		out, err = h.Converger.Memberships(ctx, in.ThingName)
	case spec.EventThingGroupHierarchy:
		out, err = h.Converger.ThingGroup(ctx, in.ChildGroupName)
	}
	return h.finish(ctx, in, out, err)
}

// Shadow applies SHADOW_EVENT.
func (h *Handlers) Shadow(ctx context.Context, in Input) (Result, error) {
	if err := h.check(in, spec.EventShadow); err != nil {
		return Result{}, err
	}
	out, err := h.Converger.Shadow(ctx, in.ThingName)
	return h.finish(ctx, in, out, err)
}

// Apply converges whatever ev names, once, without re-checks: the reconciler's re-drive.
func (h *Handlers) Apply(ctx context.Context, ev event.Event) (Result, error) {
	in := Input{Event: ev}
	switch ev.EventType {
	case spec.EventThing, spec.EventThingTypeAssociation:
		res, err := h.Thing(ctx, in)
		res.RecheckSeconds = 0 // no state machine to loop back
		return res, err
	case spec.EventThingType:
		return h.ThingType(ctx, in)
	case spec.EventThingGroup, spec.EventThingGroupMembership, spec.EventThingGroupHierarchy:
		return h.ThingGroup(ctx, in)
	case spec.EventShadow:
		return h.Shadow(ctx, in)
	}
	return Result{}, &replication.PermanentError{Op: "route event " + ev.ID(), Err: fmt.Errorf("unknown eventType %q", ev.EventType)}
}

// check validates the input and that this worker is the one for its type.
func (h *Handlers) check(in Input, types ...string) error {
	if err := in.Validate(); err != nil {
		return &replication.PermanentError{Op: "validate event", Err: err}
	}
	for _, t := range types {
		if in.EventType == t {
			return nil
		}
	}
	return &replication.PermanentError{Op: "route event " + in.ID(),
		Err: fmt.Errorf("eventType %s is not handled by this worker (wants %v)", in.EventType, types)}
}

// finish turns a convergence outcome into the worker's result or error.
func (h *Handlers) finish(ctx context.Context, in Input, out replication.Outcome, err error) (Result, error) {
	res := Result{Changes: out.Changes, Attempt: 1}
	if in.Result != nil {
		res.Attempt = in.Result.Attempt + 1
	}
	if res.Changes == nil {
		res.Changes = []string{}
	}
	log := h.logger().With("eventId", in.ID(), "eventType", in.EventType, "attempt", res.Attempt)
	if err != nil {
		var perm *replication.PermanentError
		if errors.As(err, &perm) {
			log.Error("permanent failure", "error", err)
			return res, perm // unwrapped: its type name is the Lambda errorType
		}
		log.Warn("transient failure", "error", err)
		return res, err
	}
	if len(out.Changes) > 0 {
		if t := in.Time(); !t.IsZero() {
			lag := h.now().Sub(t)
			res.LagMS = lag.Milliseconds()
			if h.Lag != nil {
				if err := h.Lag.RecordLag(ctx, in.EventType, lag); err != nil {
					log.Warn("lag metric not recorded", "error", err)
				}
			}
		}
		log.Info("converged", "changes", out.Changes, "lagMs", res.LagMS)
	}
	return res, nil
}

func (h *Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handlers) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
