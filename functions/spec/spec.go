// Package spec is the deployed contract of iot-dr: the event and error tables' schema,
// the capture rules' IoT SQL, the apply state machine's definition (ASL), the device and
// probe policy templates and the probe topic.
//
// It is the single source of truth: the Pulumi program deploys exactly what it returns
// and the simulator interprets exactly the same text. It holds no logic beyond building
// those documents and performs no I/O.
package spec

// Event types as they appear in the eventType field of an event-table item. The first
// six are AWS IoT registry event types; SHADOW_EVENT is set by the shadow capture rule.
const (
	EventThing                = "THING_EVENT"
	EventThingType            = "THING_TYPE_EVENT"
	EventThingTypeAssociation = "THING_TYPE_ASSOCIATION_EVENT"
	EventThingGroup           = "THING_GROUP_EVENT"
	EventThingGroupMembership = "THING_GROUP_MEMBERSHIP_EVENT"
	EventThingGroupHierarchy  = "THING_GROUP_HIERARCHY_EVENT"
	EventShadow               = "SHADOW_EVENT"
)

// EventTypes lists every event type the pipeline applies, in routing order.
var EventTypes = []string{
	EventThing, EventThingTypeAssociation, EventThingType, EventThingGroup,
	EventThingGroupMembership, EventThingGroupHierarchy, EventShadow,
}

// KnownEventType reports whether t is an event type the pipeline applies.
func KnownEventType(t string) bool {
	for _, k := range EventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Table describes a DynamoDB table's key and stream settings.
type Table struct {
	// HashKey is the partition key attribute; its type is always S.
	HashKey string
	// TTLAttribute names the epoch-seconds attribute DynamoDB expires items by ("" for none).
	TTLAttribute string
	// StreamView is the stream's view type ("" for no stream).
	StreamView string
}

// ErrorTable is each Region's own (not replicated) table of what its capture or apply
// could not do: one record per resource and stage, removed when a later capture or
// apply of that resource succeeds, re-driven by the redrive function.
func ErrorTable() Table {
	return Table{HashKey: ErrorAttrID}
}

// MarkTable is each Region's own apply-mark table (functions/applymark): not
// replicated, marks expire by TTL.
func MarkTable() Table {
	return Table{HashKey: MarkAttrKey, TTLAttribute: MarkAttrExpires}
}

// MarkTableName is the mark table's name under DefaultPrefix (Prefixed gives it for
// another prefix).
const MarkTableName = "iotdr-apply-marks"

// Mark-table attributes.
const (
	// MarkAttrKey is the marked resource's state key.
	MarkAttrKey = "pk"
	// MarkAttrSpans are the recent applies' time spans (JSON list of {s, e}, epoch ms;
	// e 0 while running).
	MarkAttrSpans = "spans"
	// MarkAttrApplied is the Seq of the newest state item the Region's apply has
	// converged the resource to (number): the capture's loop-freedom guard reads it.
	MarkAttrApplied = "applied"
	// MarkAttrAppliedAt is when (epoch ms) the Region's apply last finished changing
	// the resource (number): a capture that read before it may have read the apply
	// half done.
	MarkAttrAppliedAt = "appliedAt"
	MarkAttrExpires   = "expires"
	// MarkAttrHeld is, on a "held#<state key>" mark, the ref ("<origin>/<seq>") of
	// the other Region's retained-message item this Region's apply last converged the
	// topic to (applymark.Held).
	MarkAttrHeld = "held"
)

// Error-table attributes.
const (
	// ErrorAttrID is "<stage>#<state key>", or "<stage>#invalid#<digest>" for input
	// that names no resource.
	ErrorAttrID = "id"
	// ErrorAttrKey is the state key of the resource ("" for unreadable input).
	ErrorAttrKey = "key"
	// ErrorAttrStage is StageCapture or StageApply.
	ErrorAttrStage      = "stage"
	ErrorAttrError      = "error"
	ErrorAttrCause      = "cause"
	ErrorAttrInput      = "input"
	ErrorAttrRecordedAt = "recordedAt"
	ErrorAttrAttempts   = "attempts"
)

// Stages an error-table record belongs to.
const (
	StageCapture = "capture"
	StageApply   = "apply"
	// StageConflict records a resource changed in both Regions since their last
	// common state: the change the global table discarded (key, both sides in the
	// cause). Kept for operators, `iotdr verify` and drills; the redrive leaves it.
	StageConflict = "conflict"
)

// ErrorID is the error-table id of a failure of stage on the resource key.
func ErrorID(stage, key string) string { return stage + "#" + key }
