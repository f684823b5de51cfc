package iotpolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// PolicyVersion is the only policy language version the evaluator accepts; it is
// the version that supports policy variables.
const PolicyVersion = "2012-10-17"

// The MQTT actions the simulator's brokers authorise.
const (
	// ActionConnect is checked against ClientARN when a client connects.
	ActionConnect = "iot:Connect"
	// ActionPublish is checked against TopicARN for every PUBLISH a client sends.
	ActionPublish = "iot:Publish"
	// ActionSubscribe is checked against TopicFilterARN for every filter in a SUBSCRIBE.
	ActionSubscribe = "iot:Subscribe"
	// ActionReceive is checked against TopicARN before a message is delivered to a client.
	ActionReceive = "iot:Receive"
	// ActionRetainPublish is checked against TopicARN, besides ActionPublish, for a
	// PUBLISH with the retain flag set (AWS IoT Core's iot:RetainPublish).
	ActionRetainPublish = "iot:RetainPublish"
)

// ErrInvalidPolicy is wrapped by every error Parse returns, so callers (such as
// a fake CreatePolicy) can map it to an InvalidRequest/MalformedPolicy error.
var ErrInvalidPolicy = errors.New("invalid IoT policy")

// Policy is a parsed, validated IoT policy document. It is immutable and safe
// for concurrent use by any number of evaluations.
type Policy struct {
	statements []statement
	// thingDetails is true when some resource uses the thing type or an
	// attribute variable.
	thingDetails bool
}

// UsesThingDetails reports whether the policy refers to the connected thing's
// type or attributes (${iot:Connection.Thing.ThingTypeName},
// ${iot:Connection.Thing.Attributes[...]}), so that a caller knows whether it
// must look the thing up to build Vars. The thing's name alone does not count.
func (p *Policy) UsesThingDetails() bool { return p.thingDetails }

// statement is one compiled policy statement.
type statement struct {
	index     int
	sid       string
	deny      bool
	actions   []globPattern // lower-cased, matched case-insensitively
	resources []resourcePattern
}

// usesThingDetails reports whether a resource of the statement uses the thing
// type or an attribute variable.
func (s *statement) usesThingDetails() bool {
	for _, r := range s.resources {
		for _, pt := range r.parts {
			if pt.isVar && (pt.kind == varThingTypeName || pt.kind == varAttribute) {
				return true
			}
		}
	}
	return false
}

// label names the statement in decisions, e.g. `statement 2 (Sid "pub")`.
func (s *statement) label() string {
	if s.sid != "" {
		return fmt.Sprintf("statement %d (Sid %q)", s.index, s.sid)
	}
	return fmt.Sprintf("statement %d", s.index)
}

// Parse parses and validates an IoT policy document. Anything the evaluator
// does not model (Condition, NotAction, NotResource, unknown policy variables,
// ...) is rejected rather than ignored, so a parsed policy never grants more
// than AWS would. Errors wrap ErrInvalidPolicy and name the offending field and
// statement index (zero-based).
func Parse(doc string) (*Policy, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &top); err != nil {
		return nil, invalid("document is not a JSON object: %v", err)
	}
	if top == nil {
		return nil, invalid("document is not a JSON object")
	}
	for key := range top {
		switch key {
		case "Version", "Statement", "Id":
		default:
			return nil, invalid("unknown top-level field %q", key)
		}
	}
	rawVersion, ok := top["Version"]
	if !ok {
		return nil, invalid("missing Version (want %q)", PolicyVersion)
	}
	var version string
	if err := json.Unmarshal(rawVersion, &version); err != nil || version != PolicyVersion {
		return nil, invalid("Version must be %q, got %s", PolicyVersion, excerpt(rawVersion))
	}
	if rawID, ok := top["Id"]; ok {
		var id string
		if err := json.Unmarshal(rawID, &id); err != nil || isNull(rawID) {
			return nil, invalid("Id must be a string, got %s", excerpt(rawID))
		}
	}
	rawStmt, ok := top["Statement"]
	if !ok {
		return nil, invalid("missing Statement")
	}
	raws, err := objectOrArray(rawStmt)
	if err != nil {
		return nil, invalid("Statement: %v", err)
	}
	if len(raws) == 0 {
		return nil, invalid("Statement: must contain at least one statement")
	}
	p := &Policy{statements: make([]statement, 0, len(raws))}
	for i, raw := range raws {
		st, err := parseStatement(i, raw)
		if err != nil {
			return nil, err
		}
		p.statements = append(p.statements, st)
		p.thingDetails = p.thingDetails || st.usesThingDetails()
	}
	return p, nil
}

// MustParse is like Parse but panics on error. It is meant for policy
// documents that are constants in tests and templates.
func MustParse(doc string) *Policy {
	p, err := Parse(doc)
	if err != nil {
		panic(err)
	}
	return p
}

func parseStatement(i int, raw json.RawMessage) (statement, error) {
	st := statement{index: i}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return st, invalid("statement %d: not a JSON object: %s", i, excerpt(raw))
	}
	for key := range fields {
		switch key {
		case "Sid", "Effect", "Action", "Resource":
		case "Condition", "NotAction", "NotResource":
			return st, invalid("statement %d: %s is not modelled by the simulator's policy evaluator", i, key)
		case "Principal", "NotPrincipal":
			return st, invalid("statement %d: %s is not allowed in an IoT policy", i, key)
		default:
			return st, invalid("statement %d: unknown field %q", i, key)
		}
	}
	if rawSid, ok := fields["Sid"]; ok {
		if err := json.Unmarshal(rawSid, &st.sid); err != nil || isNull(rawSid) {
			return st, invalid("statement %d: Sid must be a string, got %s", i, excerpt(rawSid))
		}
	}
	rawEffect, ok := fields["Effect"]
	if !ok {
		return st, invalid("statement %d: missing Effect", i)
	}
	var effect string
	if err := json.Unmarshal(rawEffect, &effect); err != nil {
		return st, invalid("statement %d: Effect must be a string, got %s", i, excerpt(rawEffect))
	}
	switch effect {
	case "Allow":
	case "Deny":
		st.deny = true
	default:
		return st, invalid("statement %d: Effect must be \"Allow\" or \"Deny\", got %q", i, effect)
	}

	actions, err := stringOrList(fields, "Action")
	if err != nil {
		return st, invalid("statement %d: %v", i, err)
	}
	for j, a := range actions {
		if a != "*" && !validAction(a) {
			return st, invalid("statement %d: Action[%d] %q is not of the form \"service:action\"", i, j, a)
		}
		st.actions = append(st.actions, compileGlob(strings.ToLower(a)))
	}

	resources, err := stringOrList(fields, "Resource")
	if err != nil {
		return st, invalid("statement %d: %v", i, err)
	}
	for j, r := range resources {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return st, invalid("statement %d: Resource[%d] %q is neither \"*\" nor an ARN", i, j, r)
		}
		rp, err := compileResource(r)
		if err != nil {
			return st, invalid("statement %d: Resource[%d]: %v", i, j, err)
		}
		st.resources = append(st.resources, rp)
	}
	return st, nil
}

// validAction reports whether a is "service:pattern" with a non-empty service
// made of letters, digits and '-', and a non-empty action pattern.
func validAction(a string) bool {
	service, name, ok := strings.Cut(a, ":")
	if !ok || service == "" || name == "" {
		return false
	}
	for _, r := range service {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// stringOrList decodes the required field name as a string or a non-empty
// array of strings.
func stringOrList(fields map[string]json.RawMessage, name string) ([]string, error) {
	raw, ok := fields[name]
	if !ok {
		return nil, fmt.Errorf("missing %s", name)
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && !isNull(raw) {
		if one == "" {
			return nil, fmt.Errorf("%s must not be empty", name)
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || many == nil {
		return nil, fmt.Errorf("%s must be a string or an array of strings, got %s", name, excerpt(raw))
	}
	if len(many) == 0 {
		return nil, fmt.Errorf("%s must not be an empty array", name)
	}
	for j, s := range many {
		if s == "" {
			return nil, fmt.Errorf("%s[%d] must not be empty", name, j)
		}
	}
	return many, nil
}

// objectOrArray returns the elements of a JSON array, or the value itself when
// it is a single object.
func objectOrArray(raw json.RawMessage) ([]json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(raw))
	switch {
	case strings.HasPrefix(trimmed, "{"):
		return []json.RawMessage{raw}, nil
	case strings.HasPrefix(trimmed, "["):
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		return list, nil
	default:
		return nil, fmt.Errorf("must be an object or an array of objects, got %s", excerpt(raw))
	}
}

func isNull(raw json.RawMessage) bool {
	return strings.TrimSpace(string(raw)) == "null"
}

// excerpt renders a raw JSON value for an error message without echoing an
// arbitrarily large document.
func excerpt(raw json.RawMessage) string {
	const max = 64
	s := strings.TrimSpace(string(raw))
	if len(s) > max {
		return fmt.Sprintf("%s... (%d bytes)", s[:max], len(s))
	}
	return s
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...))
}
