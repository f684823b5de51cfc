package registry

import (
	"encoding/json"
	"time"
)

// Registry event types and operations, as AWS spells them.
const (
	EventTypeThing                = "THING_EVENT"
	EventTypeThingType            = "THING_TYPE_EVENT"
	EventTypeThingTypeAssociation = "THING_TYPE_ASSOCIATION_EVENT"
	EventTypeThingGroup           = "THING_GROUP_EVENT"
	EventTypeThingGroupMembership = "THING_GROUP_MEMBERSHIP_EVENT"
	EventTypeThingGroupHierarchy  = "THING_GROUP_HIERARCHY_EVENT"

	opCreated = "CREATED"
	opUpdated = "UPDATED"
	opDeleted = "DELETED"
	opAdded   = "ADDED"
	opRemoved = "REMOVED"
)

// event is a queued registry event; body is marshalled at publish time.
type event struct {
	topic string
	body  any
}

// The payload structs follow AWS's "Registry events" documentation field by
// field and in its order.

type thingEvent struct {
	EventType     string            `json:"eventType"`
	EventID       string            `json:"eventId"`
	Timestamp     int64             `json:"timestamp"`
	Operation     string            `json:"operation"`
	AccountID     string            `json:"accountId"`
	ThingID       string            `json:"thingId"`
	ThingName     string            `json:"thingName"`
	VersionNumber int64             `json:"versionNumber"`
	ThingTypeName *string           `json:"thingTypeName"`
	Attributes    map[string]string `json:"attributes"`
}

type propagatingAttribute struct {
	UserPropertyKey     string  `json:"userPropertyKey"`
	ThingAttribute      *string `json:"thingAttribute,omitempty"`
	ConnectionAttribute *string `json:"connectionAttribute,omitempty"`
}

type thingTypeEvent struct {
	EventType             string                 `json:"eventType"`
	EventID               string                 `json:"eventId"`
	Timestamp             int64                  `json:"timestamp"`
	Operation             string                 `json:"operation"`
	AccountID             string                 `json:"accountId"`
	ThingTypeID           string                 `json:"thingTypeId"`
	ThingTypeName         string                 `json:"thingTypeName"`
	IsDeprecated          bool                   `json:"isDeprecated"`
	DeprecationDate       *int64                 `json:"deprecationDate"`
	SearchableAttributes  []string               `json:"searchableAttributes"`
	PropagatingAttributes []propagatingAttribute `json:"propagatingAttributes,omitempty"`
	Description           *string                `json:"description"`
}

type thingTypeAssociationEvent struct {
	EventID       string `json:"eventId"`
	EventType     string `json:"eventType"`
	Operation     string `json:"operation"`
	ThingID       string `json:"thingId"`
	ThingName     string `json:"thingName"`
	ThingTypeName string `json:"thingTypeName"`
	Timestamp     int64  `json:"timestamp"`
}

type groupRef struct {
	GroupArn string `json:"groupArn"`
	GroupID  string `json:"groupId"`
}

type thingGroupEvent struct {
	EventType               string            `json:"eventType"`
	EventID                 string            `json:"eventId"`
	Timestamp               int64             `json:"timestamp"`
	Operation               string            `json:"operation"`
	AccountID               string            `json:"accountId"`
	ThingGroupID            string            `json:"thingGroupId"`
	ThingGroupName          string            `json:"thingGroupName"`
	VersionNumber           int64             `json:"versionNumber"`
	ParentGroupName         *string           `json:"parentGroupName"`
	ParentGroupID           *string           `json:"parentGroupId"`
	Description             *string           `json:"description"`
	RootToParentThingGroups []groupRef        `json:"rootToParentThingGroups"`
	Attributes              map[string]string `json:"attributes"`
	DynamicGroupMappingID   *string           `json:"dynamicGroupMappingId"`
}

type thingGroupMembershipEvent struct {
	EventType    string `json:"eventType"`
	EventID      string `json:"eventId"`
	Timestamp    int64  `json:"timestamp"`
	Operation    string `json:"operation"`
	AccountID    string `json:"accountId"`
	GroupArn     string `json:"groupArn"`
	GroupID      string `json:"groupId"`
	ThingArn     string `json:"thingArn"`
	ThingID      string `json:"thingId"`
	MembershipID string `json:"membershipId"`
}

type thingGroupHierarchyEvent struct {
	EventType      string `json:"eventType"`
	EventID        string `json:"eventId"`
	Timestamp      int64  `json:"timestamp"`
	Operation      string `json:"operation"`
	AccountID      string `json:"accountId"`
	ThingGroupID   string `json:"thingGroupId"`
	ThingGroupName string `json:"thingGroupName"`
	ChildGroupID   string `json:"childGroupId"`
	ChildGroupName string `json:"childGroupName"`
}

// lower-case topic suffixes for operations.
var topicVerb = map[string]string{
	opCreated: "created", opUpdated: "updated", opDeleted: "deleted",
	opAdded: "added", opRemoved: "removed",
}

// emit queues an event. The caller holds mu for writing, which makes the
// queue order the commit order.
func (r *Registry) emit(topic string, body any) {
	if r.pub == nil || !r.settings.published(topic) {
		return
	}
	r.qMu.Lock()
	r.queue = append(r.queue, event{topic: topic, body: body})
	r.qMu.Unlock()
	r.queued.Add(1)
}

// flush publishes everything queued so far, in order. Callers must not hold
// mu. When it returns, every event queued before the call has been published,
// by this flusher or by one that held pubMu before it (a holder publishes its
// whole batch before releasing pubMu), or, under a ReorderWindow, handed to
// its delivery timer.
func (r *Registry) flush() {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	r.qMu.Lock()
	batch := r.queue
	r.queue = nil
	r.qMu.Unlock()
	for _, e := range batch {
		payload, err := json.Marshal(e.body)
		if err != nil {
			continue // cannot happen: payloads are plain structs
		}
		if r.model.Enabled() {
			r.send(e.topic, payload)
			continue
		}
		_ = r.pub.Publish(e.topic, payload) // at-most-once, see the package doc
	}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func (r *Registry) emitThing(op string, t *thing, now time.Time) {
	var typeName *string
	if t.typeName != "" {
		typeName = &t.typeName
	}
	r.emit("$aws/events/thing/"+t.name+"/"+topicVerb[op], &thingEvent{
		EventType: EventTypeThing, EventID: newUUID(), Timestamp: ms(now), Operation: op,
		AccountID: r.account, ThingID: t.id, ThingName: t.name, VersionNumber: t.version,
		ThingTypeName: typeName, Attributes: copyMap(t.attrs),
	})
}

func (r *Registry) emitTypeAssociation(op string, t *thing, typeName string, now time.Time) {
	r.emit("$aws/events/thingTypeAssociation/thing/"+t.name+"/"+typeName, &thingTypeAssociationEvent{
		EventID: newUUID(), EventType: EventTypeThingTypeAssociation, Operation: op,
		ThingID: t.id, ThingName: t.name, ThingTypeName: typeName, Timestamp: ms(now),
	})
}

func (r *Registry) emitThingType(op string, tt *thingType, now time.Time) {
	e := &thingTypeEvent{
		EventType: EventTypeThingType, EventID: newUUID(), Timestamp: ms(now), Operation: op,
		AccountID: r.account, ThingTypeID: tt.id, ThingTypeName: tt.name, IsDeprecated: tt.deprecated,
		SearchableAttributes: append([]string{}, tt.searchable...), Description: tt.description,
	}
	if tt.deprecated {
		d := ms(tt.deprecationDate)
		e.DeprecationDate = &d
	}
	for _, pa := range tt.propagating {
		e.PropagatingAttributes = append(e.PropagatingAttributes, propagatingAttribute{
			UserPropertyKey: deref(pa.UserPropertyKey), ThingAttribute: pa.ThingAttribute, ConnectionAttribute: pa.ConnectionAttribute,
		})
	}
	r.emit("$aws/events/thingType/"+tt.name+"/"+topicVerb[op], e)
}

// emitThingGroup needs mu held (it walks the group's ancestors).
func (r *Registry) emitThingGroup(op string, g *thingGroup, now time.Time) {
	e := &thingGroupEvent{
		EventType: EventTypeThingGroup, EventID: newUUID(), Timestamp: ms(now), Operation: op,
		AccountID: r.account, ThingGroupID: g.id, ThingGroupName: g.name, VersionNumber: g.version,
		Description: g.description, RootToParentThingGroups: []groupRef{}, Attributes: copyMap(g.attrs),
	}
	for _, a := range r.ancestors(g) {
		e.RootToParentThingGroups = append(e.RootToParentThingGroups, groupRef{GroupArn: a.arn, GroupID: a.id})
	}
	if p := r.groups[g.parent]; g.parent != "" && p != nil {
		e.ParentGroupName, e.ParentGroupID = &p.name, &p.id
	}
	r.emit("$aws/events/thingGroup/"+g.name+"/"+topicVerb[op], e)
}

func (r *Registry) emitMembership(op string, g *thingGroup, t *thing, membershipID string, now time.Time) {
	r.emit("$aws/events/thingGroupMembership/thingGroup/"+g.name+"/thing/"+t.name+"/"+topicVerb[op], &thingGroupMembershipEvent{
		EventType: EventTypeThingGroupMembership, EventID: newUUID(), Timestamp: ms(now), Operation: op,
		AccountID: r.account, GroupArn: g.arn, GroupID: g.id, ThingArn: t.arn, ThingID: t.id, MembershipID: membershipID,
	})
}

func (r *Registry) emitHierarchy(op string, parent, child *thingGroup, now time.Time) {
	r.emit("$aws/events/thingGroupHierarchy/thingGroup/"+parent.name+"/childThingGroup/"+child.name+"/"+topicVerb[op], &thingGroupHierarchyEvent{
		EventType: EventTypeThingGroupHierarchy, EventID: newUUID(), Timestamp: ms(now), Operation: op,
		AccountID: r.account, ThingGroupID: parent.id, ThingGroupName: parent.name, ChildGroupID: child.id, ChildGroupName: child.name,
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
