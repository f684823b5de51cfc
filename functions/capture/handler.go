package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/event"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// StepFunctions is the part of *sfn.Client the capture function uses to start a new
// thing's re-checks.
type StepFunctions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Handler is the capture function: the capture rules invoke it (asynchronously, so
// Lambda retries a returned error twice) with one message each.
type Handler struct {
	Capturer *Capturer
	// SFN and RecheckMachineARN start a created thing's re-checks; without them no
	// re-check runs (the sweep still catches late attachments).
	SFN               StepFunctions
	RecheckMachineARN string
	// RecheckSeconds is the first re-check's wait.
	RecheckSeconds int
	// ApplyClientToken is the client token the apply function's shadow writes carry;
	// their documents are not captured again (no echo).
	ApplyClientToken string
	Failures         *failures.Recorder
	Logger           *slog.Logger
	// Marks are this Region's apply marks; a registry event the apply caused is not
	// captured (nil: the Region applies nothing).
	Marks *applymark.Marks
}

// applied reports whether a registry event happened during this Region's apply of
// the resource it names: the apply's own write, which must not come back.
func (h *Handler) applied(ctx context.Context, ev event.Event) (bool, error) {
	if h.Marks == nil || ev.EventType == spec.EventShadow {
		return false, nil
	}
	var keys []string
	switch ev.EventType {
	case spec.EventThing, spec.EventThingTypeAssociation, spec.EventThingGroupMembership:
		keys = applymark.ThingKeys(ev.ThingName)
	case spec.EventThingType:
		keys = []string{spec.StateKey(spec.KindThingType, ev.ThingTypeName)}
	case spec.EventThingGroup:
		keys = []string{spec.StateKey(spec.KindThingGroup, ev.ThingGroupName)}
	case spec.EventThingGroupHierarchy:
		keys = []string{spec.StateKey(spec.KindThingGroup, ev.ChildGroupName)}
	default:
		return false, nil
	}
	return h.Marks.Covered(ctx, ev.Time().UnixMilli(), keys...)
}

// Handle captures one rule message. Bad input is recorded in the error table and not
// retried; a transient failure is recorded and returned, so Lambda retries it.
func (h *Handler) Handle(ctx context.Context, msg json.RawMessage) error {
	ev, err := event.Decode(msg)
	if err != nil {
		return h.Failures.Record(ctx, spec.StageCapture, "", "InvalidEvent", err, msg)
	}
	key, err := again(func() (string, error) { return h.capture(ctx, ev) })
	if err == nil {
		return nil
	}
	name := "CaptureFailed"
	if replication.IsPermanent(err) {
		name = spec.PermanentErrorType
	}
	if rerr := h.Failures.Record(ctx, spec.StageCapture, key, name, err, msg); rerr != nil {
		return errors.Join(err, rerr)
	}
	if replication.IsPermanent(err) {
		return nil // recorded; retrying cannot help
	}
	return err
}

// capture routes one event and returns the state key it is about.
func (h *Handler) capture(ctx context.Context, ev event.Event) (string, error) {
	c, at := h.Capturer, ev.Time()
	if own, err := h.applied(ctx, ev); err != nil {
		return "", err
	} else if own {
		return "", nil // this Region's apply made the change: not a change of this Region
	}
	switch ev.EventType {
	case spec.EventThing, spec.EventThingTypeAssociation:
		key := spec.StateKey(spec.KindThing, ev.ThingName)
		res, err := c.Thing(ctx, ev.ThingName, at)
		if err != nil {
			return key, err
		}
		// A thing captured complete (a certificate with a policy: the provisioning
		// flow attached them before the event reached us) needs no re-check; one that
		// is not gets the bounded loop. This keeps Step Functions off the path of fast
		// provisioning flows, whose rate would otherwise be capped by StartExecution.
		if ev.EventType == spec.EventThing && ev.Operation == "CREATED" && !res.Complete() {
			return key, h.startRecheck(ctx, ev)
		}
		return key, nil
	case spec.EventThingType:
		_, err := c.ThingType(ctx, ev.ThingTypeName, at)
		return spec.StateKey(spec.KindThingType, ev.ThingTypeName), err
	case spec.EventThingGroup:
		_, err := c.ThingGroup(ctx, ev.ThingGroupName, at)
		return spec.StateKey(spec.KindThingGroup, ev.ThingGroupName), err
	case spec.EventThingGroupHierarchy:
		_, err := c.ThingGroup(ctx, ev.ChildGroupName, at)
		return spec.StateKey(spec.KindThingGroup, ev.ChildGroupName), err
	case spec.EventThingGroupMembership:
		_, err := c.Memberships(ctx, ev.ThingName, at)
		return spec.StateKey(spec.KindThingGroups, ev.ThingName), err
	case spec.EventShadow:
		key := spec.StateKey(shadowItem(ev.ThingName, ev.ShadowName))
		if h.ApplyClientToken != "" && ev.ClientToken == h.ApplyClientToken {
			return key, nil // an apply's own write: capturing it would echo it back
		}
		if ev.Operation == "DELETE" {
			_, err := c.NamedShadowDelete(ctx, ev.ThingName, ev.ShadowName, ev.Version, at)
			return key, err
		}
		var prev *Sections
		if ev.Previous != nil {
			prev = &Sections{Desired: ev.Previous.State.Desired, Reported: ev.Previous.State.Reported}
		}
		cur := Sections{Desired: ev.Current.State.Desired, Reported: ev.Current.State.Reported}
		_, err := c.NamedShadowChange(ctx, ev.ThingName, ev.ShadowName, prev, cur, ev.Current.Version, at)
		return key, err
	}
	return "", permanent(fmt.Errorf("capture: event type %q has no capture", ev.EventType))
}

// RecheckInput is the re-check state machine's input and each pass's output.
type RecheckInput struct {
	ThingName string `json:"thingName"`
	// Attempt counts the passes done.
	Attempt int `json:"attempt"`
	// WaitSeconds is the wait before the next pass; 0 ends the loop.
	WaitSeconds int `json:"waitSeconds"`
}

// startRecheck starts a created thing's re-checks, once per event id. When Step
// Functions refuses the start (StartExecution's quota), the thing is recorded in the
// error table instead, so that the redrive re-captures it later, which is what a
// re-check pass does; the capture itself is not replayed.
func (h *Handler) startRecheck(ctx context.Context, ev event.Event) error {
	if h.SFN == nil || h.RecheckMachineARN == "" {
		return nil
	}
	in, err := json.Marshal(RecheckInput{ThingName: ev.ThingName, WaitSeconds: max(h.RecheckSeconds, 1)})
	if err != nil {
		return fmt.Errorf("capture: encode re-check input: %w", err)
	}
	_, err = h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(h.RecheckMachineARN),
		Name:            aws.String(ExecutionName("recheck-" + ev.ID())),
		Input:           aws.String(string(in)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	switch {
	case err == nil, errors.As(err, &exists): // a duplicate event: one loop is enough
		return nil
	case isThrottling(err):
		return h.Failures.Record(ctx, spec.StageCapture, spec.StateKey(spec.KindThing, ev.ThingName), "RecheckThrottled",
			fmt.Errorf("capture: re-checks of thing %s not started: %w", ev.ThingName, err), nil)
	}
	return fmt.Errorf("capture: start re-checks of thing %s: %w", ev.ThingName, err)
}

func isThrottling(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ThrottlingException"
}

// Rechecker is the re-check function: one pass of a new thing's attachment re-checks.
type Rechecker struct {
	Capturer *Capturer
	// Count bounds the passes; the wait doubles after each (capped at 300 s).
	Count int
}

// maxRecheckSeconds caps one re-check wait.
const maxRecheckSeconds = 300

// Handle re-captures the thing's attachments and decides the next wait: keep going
// while the thing is not complete (a certificate, a policy on each) or the pass still
// found something new, and while passes remain; a thing deleted meanwhile ends it.
func (r *Rechecker) Handle(ctx context.Context, in RecheckInput) (RecheckInput, error) {
	if err := validThingName(in.ThingName); err != nil {
		return in, permanent(err)
	}
	res, err := again(func() (Result, error) { return r.Capturer.Attachments(ctx, in.ThingName) })
	if err != nil {
		return in, err
	}
	out := RecheckInput{ThingName: in.ThingName, Attempt: in.Attempt + 1}
	if out.Attempt < r.Count && !res.Gone && (!res.Complete() || res.Written > 0) {
		out.WaitSeconds = min(max(in.WaitSeconds, 1)*2, maxRecheckSeconds)
	}
	return out, nil
}

func validThingName(n string) error {
	if n == "" || len(n) > 128 || strings.ContainsAny(n, "#/ ") {
		return fmt.Errorf("capture: thing name %q is not a valid AWS IoT thing name", event.Excerpt([]byte(n)))
	}
	return nil
}

// ExecutionName derives a Step Functions execution name: the allowed characters kept,
// everything else mapped to '-', at most 80 characters. The same id always gets the
// same name, so a redelivered event cannot start a second run.
func ExecutionName(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() == 80 {
			break
		}
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// shadowDocument is what GetThingShadow returns, in the parts capture keeps.
type shadowDocument struct {
	State struct {
		Desired  json.RawMessage `json:"desired"`
		Reported json.RawMessage `json:"reported"`
	} `json:"state"`
	Version int64 `json:"version"`
}

func decodeShadowDocument(b []byte) (shadowDocument, error) {
	var d shadowDocument
	if err := event.DecodeJSON(b, &d); err != nil {
		return d, fmt.Errorf("shadow document is not JSON (%d bytes, starts %q): %w", len(b), event.Excerpt(b), err)
	}
	if d.Version <= 0 {
		return d, fmt.Errorf("shadow document has no positive version")
	}
	return d, nil
}

// permanent marks an error that retrying cannot fix.
func permanent(err error) error {
	return &replication.PermanentError{Op: "capture", Err: err}
}
