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

// Item attributes written by the capture rules next to the event's own fields.
const (
	// AttrUUID is the event table's hash key, newuuid() per captured message.
	AttrUUID = "uuid"
	// AttrExpires is the TTL attribute (epoch seconds).
	AttrExpires = "expires"
	// AttrSourceRegion is the Region whose rule captured the event. Global tables of
	// version 2019.11.21 no longer add aws:rep:updateregion, so the rule writes it.
	AttrSourceRegion = "source_region"
	// AttrTopic is the MQTT topic the event was captured from.
	AttrTopic = "topic"
	// AttrReplicaRegion is the legacy global-table attribute naming the writing Region.
	AttrReplicaRegion = "aws:rep:updateregion"
)

// Table describes a DynamoDB table's key and stream settings.
type Table struct {
	// HashKey is the partition key attribute; its type is always S.
	HashKey string
	// TTLAttribute names the epoch-seconds attribute DynamoDB expires items by ("" for none).
	TTLAttribute string
	// StreamView is the stream's view type ("" for no stream).
	StreamView string
}

// EventTable is the replicated table the capture rules write and the trigger reads.
func EventTable() Table {
	return Table{HashKey: AttrUUID, TTLAttribute: AttrExpires, StreamView: "NEW_IMAGE"}
}

// ErrorTable is the table the state machine records failed applies in, keyed by the
// execution name, for the reconciler to re-drive.
func ErrorTable() Table {
	return Table{HashKey: ErrorAttrID, TTLAttribute: ""}
}

// Error-table attributes, written by the state machine's RecordError state.
const (
	ErrorAttrID         = "id"
	ErrorAttrEventID    = "eventId"
	ErrorAttrEventType  = "eventType"
	ErrorAttrError      = "error"
	ErrorAttrCause      = "cause"
	ErrorAttrEvent      = "event"
	ErrorAttrRecordedAt = "recordedAt"
)
