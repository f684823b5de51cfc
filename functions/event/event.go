// Package event decodes and validates what the capture rules hand the capture
// function: a registry event with its topic, or a classic shadow's update/documents or
// delete/accepted message reshaped by the shadow rules.
//
// It checks shape only (type known, names present and well formed, sizes within AWS's
// limits); it does not decide what to capture, which is the capture package's job.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Event is the part of a capture rule's message the pipeline reads; other fields are
// ignored.
type Event struct {
	EventType string `json:"eventType"`
	EventID   string `json:"eventId"`
	Operation string `json:"operation,omitempty"`
	// Timestamp is epoch milliseconds for registry events and epoch seconds for shadow
	// messages, as AWS sends them.
	Timestamp int64  `json:"timestamp,omitempty"`
	ThingName string `json:"thingName,omitempty"`
	// ShadowName is a named shadow's name (the named shadow rules set it); empty for
	// the classic shadow.
	ShadowName      string `json:"shadowName,omitempty"`
	ThingTypeName   string `json:"thingTypeName,omitempty"`
	ThingGroupName  string `json:"thingGroupName,omitempty"`
	ParentGroupName string `json:"parentGroupName,omitempty"`
	ChildGroupName  string `json:"childGroupName,omitempty"`
	VersionNumber   int64  `json:"versionNumber,omitempty"`
	Topic           string `json:"topic,omitempty"`
	// Current is a shadow update's new document ({"state": ..., "version": ...}).
	Current *ShadowSnapshot `json:"current,omitempty"`
	// Previous is a shadow update's document before it (absent for a new shadow): the
	// sections equal in both did not change in this update.
	Previous *ShadowSnapshot `json:"previous,omitempty"`
	// Version is a shadow delete's version.
	Version int64 `json:"version,omitempty"`
	// ClientToken is the shadow request's client token, which tells an apply's own
	// write from a device's.
	ClientToken string `json:"clientToken,omitempty"`
	// CapturedAt is when the rule ran (epoch ms), set by the shadow rules.
	CapturedAt int64 `json:"capturedAt,omitempty"`
	// Attributes are the thing's or group's attributes as the event reported them; only
	// validated, since workers re-read the source Region's current state.
	Attributes map[string]json.RawMessage `json:"attributes,omitempty"`
}

// ShadowSnapshot is a shadow document as update/documents carries it.
type ShadowSnapshot struct {
	State struct {
		Desired  json.RawMessage `json:"desired,omitempty"`
		Reported json.RawMessage `json:"reported,omitempty"`
	} `json:"state"`
	Version int64 `json:"version"`
}

// MaxInputBytes is the largest message the capture function accepts: Lambda's
// asynchronous invocation payload limit.
const MaxInputBytes = 256 * 1024

// AWS IoT registry limits the validation enforces.
const (
	maxAttributes     = 50
	maxAttrNameLen    = 128
	maxAttrValueLen   = 800
	maxResourceName   = 128
	maxEventIDLength  = 128
	maxThingGroupName = 128
	// maxShadowName is a named shadow's name limit (AWS IoT Device Shadow quotas).
	maxShadowName = 64
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9:_-]+$`)

// Decode parses one item's JSON and validates it. Errors name the field at fault.
func Decode(b []byte) (Event, error) {
	if len(b) > MaxInputBytes {
		return Event{}, fmt.Errorf("event is %d bytes, over the %d-byte limit", len(b), MaxInputBytes)
	}
	var e Event
	if err := DecodeJSON(b, &e); err != nil {
		return Event{}, fmt.Errorf("malformed event JSON (%d bytes, starts %q): %w", len(b), Excerpt(b), err)
	}
	e.fillFromTopic()
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// DecodeJSON decodes exactly one JSON value from b into v: anything after it but
// white space is an error, so that two concatenated documents are not read as the
// first.
func DecodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("unexpected data after the JSON value at byte %d", d.InputOffset())
	}
	return nil
}

// fillFromTopic takes the names AWS puts only in the topic of membership events
// ($aws/events/thingGroupMembership/thingGroup/<group>/thing/<thing>/added|removed).
func (e *Event) fillFromTopic() {
	if e.EventType != spec.EventThingGroupMembership || e.Topic == "" {
		return
	}
	seg := strings.Split(e.Topic, "/")
	if len(seg) == 8 && seg[3] == "thingGroup" && seg[5] == "thing" {
		if e.ThingGroupName == "" {
			e.ThingGroupName = seg[4]
		}
		if e.ThingName == "" {
			e.ThingName = seg[6]
		}
	}
}

// Validate checks that the event can be routed and names what it must.
func (e Event) Validate() error {
	if e.EventType == "" {
		return fmt.Errorf("event %s: missing eventType", e.ID())
	}
	if !spec.KnownEventType(e.EventType) {
		return fmt.Errorf("event %s: unknown eventType %q", e.ID(), Excerpt([]byte(e.EventType)))
	}
	if e.ID() == "" {
		return fmt.Errorf("%s event: missing eventId", e.EventType)
	}
	if len(e.EventID) > maxEventIDLength {
		return fmt.Errorf("%s event: eventId is %d characters, over %d", e.EventType, len(e.EventID), maxEventIDLength)
	}
	need := func(field, v string) error {
		if v == "" {
			return fmt.Errorf("%s %s: missing %s", e.EventType, e.ID(), field)
		}
		if len(v) > maxResourceName || !nameRE.MatchString(v) {
			return fmt.Errorf("%s %s: %s %q is not a valid AWS IoT name", e.EventType, e.ID(), field, Excerpt([]byte(v)))
		}
		return nil
	}
	var errs []error
	switch e.EventType {
	case spec.EventThing, spec.EventThingTypeAssociation, spec.EventShadow:
		errs = append(errs, need("thingName", e.ThingName))
	case spec.EventThingType:
		errs = append(errs, need("thingTypeName", e.ThingTypeName))
	case spec.EventThingGroup:
		errs = append(errs, need("thingGroupName", e.ThingGroupName))
	case spec.EventThingGroupMembership:
		errs = append(errs, need("thingName", e.ThingName), need("thingGroupName", e.ThingGroupName))
	case spec.EventThingGroupHierarchy:
		// AWS names the parent thingGroupName and the child childGroupName here.
		errs = append(errs, need("childGroupName", e.ChildGroupName), need("thingGroupName", e.ThingGroupName))
	}
	if e.ShadowName != "" && (e.EventType != spec.EventShadow || len(e.ShadowName) > maxShadowName || !nameRE.MatchString(e.ShadowName)) {
		errs = append(errs, fmt.Errorf("%s %s: shadowName %q is not a valid shadow name (1 to %d of [a-zA-Z0-9:_-], shadow messages only)", e.EventType, e.ID(), Excerpt([]byte(e.ShadowName)), maxShadowName))
	}
	if e.EventType == spec.EventShadow {
		switch {
		case e.Operation == "UPDATE" && e.Current == nil:
			errs = append(errs, fmt.Errorf("shadow update of %s: missing current document", e.ThingName))
		case e.Operation == "UPDATE" && e.Current.Version <= 0:
			errs = append(errs, fmt.Errorf("shadow update of %s: current.version must be positive, got %d", e.ThingName, e.Current.Version))
		case e.Operation == "DELETE" && e.Version < 0:
			errs = append(errs, fmt.Errorf("shadow delete of %s: negative version %d", e.ThingName, e.Version))
		case e.Operation != "UPDATE" && e.Operation != "DELETE":
			errs = append(errs, fmt.Errorf("shadow message of %s: operation %q is neither UPDATE nor DELETE", e.ThingName, Excerpt([]byte(e.Operation))))
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return e.validateAttributes()
}

func (e Event) validateAttributes() error {
	if len(e.Attributes) > maxAttributes {
		return fmt.Errorf("%s %s: %d attributes, over the limit of %d", e.EventType, e.ID(), len(e.Attributes), maxAttributes)
	}
	for k, v := range e.Attributes {
		if len(k) > maxAttrNameLen {
			return fmt.Errorf("%s %s: attribute name %q… is %d characters, over %d", e.EventType, e.ID(), Excerpt([]byte(k)), len(k), maxAttrNameLen)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("%s %s: attribute %q is not a string", e.EventType, e.ID(), Excerpt([]byte(k)))
		}
		if len(s) > maxAttrValueLen {
			return fmt.Errorf("%s %s: attribute %q value is %d characters, over %d", e.EventType, e.ID(), Excerpt([]byte(k)), len(s), maxAttrValueLen)
		}
	}
	return nil
}

// ID is the event's identity: AWS's eventId for registry events; for shadow messages,
// which carry none, the thing, operation and version.
func (e Event) ID() string {
	if e.EventID != "" || e.EventType != spec.EventShadow {
		return e.EventID
	}
	v := e.Version
	if e.Current != nil {
		v = e.Current.Version
	}
	if e.ShadowName != "" {
		return fmt.Sprintf("%s/%s:%s:%d", e.ThingName, e.ShadowName, e.Operation, v)
	}
	return fmt.Sprintf("%s:%s:%d", e.ThingName, e.Operation, v)
}

// Time is when the change happened in the origin Region, zero when unknown. Shadow
// timestamps have second resolution; the rule's capture time (ms) is used when it
// is later, so that lag is never measured from before the change.
func (e Event) Time() time.Time {
	switch {
	case e.EventType == spec.EventShadow && e.CapturedAt > 0:
		return time.UnixMilli(e.CapturedAt)
	case e.EventType == spec.EventShadow && e.Timestamp > 0:
		return time.Unix(e.Timestamp, 0)
	case e.Timestamp > 0:
		return time.UnixMilli(e.Timestamp)
	}
	return time.Time{}
}

// Excerpt returns at most the first 64 bytes of b, for error messages and logs that must
// not carry whole payloads of bad input.
func Excerpt(b []byte) string {
	const n = 64
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
