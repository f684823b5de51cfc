// Package state is the state table's model: one item per resource with its full
// content as its origin Region last saw it, how items are encoded as DynamoDB
// attributes and stream images, the conditional writes capture makes, and View, which
// answers the replication package's reads from a Region's own replica.
//
// It holds no policy about what to capture or when to apply; the capture and apply
// packages decide that. Every decoder here takes outside input (table items, stream
// images) and returns an error naming what was wrong, never panics.
package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Item is one resource in the state table.
type Item struct {
	Kind, Name string
	// Origin is the Region whose capture wrote the item.
	Origin string
	// Seq orders writes of the resource (spec.StateAttrSeq).
	Seq int64
	// Deleted marks a tombstone; Body is then empty.
	Deleted bool
	// Body is the resource's content as canonical JSON (one of the body types below).
	Body json.RawMessage
	// Hash is the hex SHA-256 of Body ("deleted" for tombstones).
	Hash string
	// CapturedAt and ChangedAt are epoch milliseconds (spec.StateAttrCapturedAt,
	// spec.StateAttrChangedAt).
	CapturedAt, ChangedAt int64
	// Expires is the TTL (epoch seconds) of a tombstone, 0 otherwise.
	Expires int64
	// Basis names the item this one replaced when it was captured (spec.StateAttrBasis).
	Basis string
	// Versions is a shadow item's version vector (spec.StateAttrVersions).
	Versions map[string]int64
}

// Ref names this write of the item, as a Basis does: "<origin>/<seq>".
func (it Item) Ref() string { return it.Origin + "/" + strconv.FormatInt(it.Seq, 10) }

// Equivalent reports whether two items carry the same content once each body's own
// Region is taken out of its ARNs: a certificate or policy applied from another Region
// names this Region in its ARNs, and is still the same resource.
func Equivalent(a, b Item) bool {
	if a.Same(b) {
		return true
	}
	if a.Deleted || b.Deleted || a.Kind != b.Kind {
		return false
	}
	if a.Kind == spec.KindShadow || a.Kind == spec.KindNamedShadow {
		// The version is each Region's own counter, not content.
		var sa, sb Shadow
		if a.Decode(&sa) != nil || b.Decode(&sb) != nil {
			return false
		}
		return bytes.Equal(sa.Desired, sb.Desired) && bytes.Equal(sa.Reported, sb.Reported)
	}
	if a.Kind == spec.KindCACertificate {
		return sameCA(a, b)
	}
	if a.Kind == spec.KindThingGroup {
		return sameThingGroup(a, b)
	}
	return bytes.Equal(neutral(a.Body, a.Origin), neutral(b.Body, b.Origin))
}

func neutral(body []byte, region string) []byte {
	if region == "" {
		return body
	}
	body = bytes.ReplaceAll(body, []byte(":iot:"+region+":"), []byte(":iot:*:"))
	// A provisioning template's pre-provisioning hook is a Lambda of its own Region.
	return bytes.ReplaceAll(body, []byte(":lambda:"+region+":"), []byte(":lambda:*:"))
}

// Key is the item's state-table key.
func (it Item) Key() string { return spec.StateKey(it.Kind, it.Name) }

// The body of each kind. Slices are sorted and maps complete, so that equal content
// encodes, and hashes, the same.
type (
	// Thing is a thing's type and attributes.
	Thing struct {
		ThingTypeName string            `json:"thingTypeName,omitempty"`
		Attributes    map[string]string `json:"attributes"`
		// BillingGroup is the billing group the thing is in ("" for none; a thing
		// is in at most one). Omitted when empty, so a thing without one hashes as
		// it did before billing groups were replicated.
		BillingGroup string `json:"billingGroup,omitempty"`
	}
	// Principals are the certificate ARNs attached to a thing, as the origin names them.
	Principals struct {
		Principals []string `json:"principals"`
	}
	// Groups are the static groups a thing is a direct member of.
	Groups struct {
		Groups []string `json:"groups"`
	}
	// Certificate is a certificate with the policies attached to it and the things it
	// is attached to.
	Certificate struct {
		ARN      string   `json:"arn"`
		PEM      string   `json:"pem"`
		Status   string   `json:"status"`
		Policies []string `json:"policies"`
		Things   []string `json:"things"`
	}
	// Policy is an IoT policy's default version, ARNs as the origin wrote them.
	Policy struct {
		ARN      string `json:"arn"`
		Document string `json:"document"`
	}
	// ThingType is a thing type's properties and deprecation.
	ThingType struct {
		Description          string   `json:"description,omitempty"`
		SearchableAttributes []string `json:"searchableAttributes"`
		// PropagatingAttributes are the MQTT 5 user properties the type adds, in the
		// origin's order (the order of the user properties on a message).
		PropagatingAttributes []PropagatingAttribute `json:"propagatingAttributes,omitempty"`
		Deprecated            bool                   `json:"deprecated"`
	}
	// PropagatingAttribute is one MQTT 5 user property of a thing type: from a thing
	// attribute or a connection attribute.
	PropagatingAttribute struct {
		UserPropertyKey     string `json:"userPropertyKey"`
		ThingAttribute      string `json:"thingAttribute,omitempty"`
		ConnectionAttribute string `json:"connectionAttribute,omitempty"`
	}
	// ThingGroup is a thing group: static (with its parent) or dynamic (with its
	// query and what the query needs of fleet indexing; no parent).
	ThingGroup struct {
		Parent      string            `json:"parent,omitempty"`
		Description string            `json:"description,omitempty"`
		Attributes  map[string]string `json:"attributes"`
		// Dynamic marks a dynamic group. Items from before dynamic groups were
		// replicated have no Query: the applier skips them, as it did then.
		Dynamic      bool   `json:"dynamic,omitempty"`
		Query        string `json:"query,omitempty"`
		QueryVersion string `json:"queryVersion,omitempty"`
		IndexName    string `json:"indexName,omitempty"`
		// Indexing is the least fleet indexing the query needs (fleetquery.Needs
		// with the origin's configuration): what the applier raises the target's
		// to.
		Indexing *Indexing `json:"indexing,omitempty"`
	}
	// Indexing is a thing-indexing configuration in the AWS API's terms (modes as
	// their API values; empty for not needed).
	Indexing struct {
		Mode           string        `json:"mode"`
		Connectivity   string        `json:"connectivity,omitempty"`
		NamedShadow    string        `json:"namedShadow,omitempty"`
		NamedShadows   []string      `json:"namedShadows,omitempty"`
		DeviceDefender string        `json:"deviceDefender,omitempty"`
		CustomFields   []CustomField `json:"customFields,omitempty"`
	}
	// CustomField is a fleet-indexing custom field and its type (String, Number,
	// Boolean).
	CustomField struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	// Shadow is a classic shadow's desired and reported state; either may be absent.
	Shadow struct {
		Desired  json.RawMessage `json:"desired,omitempty"`
		Reported json.RawMessage `json:"reported,omitempty"`
		// Version is the origin's shadow version, for reports only.
		Version int64 `json:"version"`
		// DesiredBy and ReportedBy name the capture that last changed each section
		// (an Item.Ref, "<region>/<seq>"; empty in items from before they were kept):
		// the apply of a write that raced this Region's merges the sections by them.
		DesiredBy  string `json:"desired_by,omitempty"`
		ReportedBy string `json:"reported_by,omitempty"`
	}
	// BillingGroup is a billing group's properties (its members are in their
	// things' items).
	BillingGroup struct {
		Description string `json:"description,omitempty"`
	}
	// Tags are one resource's tags, AWS-reserved (aws:) keys left out: AWS sets
	// those itself, nobody may copy them.
	Tags struct {
		Tags map[string]string `json:"tags"`
	}
	// Retained is a topic's retained message: its payload (base64 in the JSON) and
	// QoS. MQTT 5 user properties are not kept.
	Retained struct {
		Payload []byte `json:"payload"`
		Qos     int32  `json:"qos"`
	}
)

// NewItem builds a live item of kind for name with body encoded canonically.
func NewItem(kind, name string, body any) (Item, error) {
	b, err := canonical(body)
	if err != nil {
		return Item{}, fmt.Errorf("state: encode %s %s: %w", kind, name, err)
	}
	return Item{Kind: kind, Name: name, Body: b, Hash: hashOf(b)}, nil
}

// Tombstone builds the delete marker of kind for name.
func Tombstone(kind, name string) Item {
	return Item{Kind: kind, Name: name, Deleted: true, Hash: tombstoneHash}
}

const tombstoneHash = "deleted"

// Same reports whether two items carry the same content (both tombstones, or the same
// body), whatever their origin and sequence.
func (it Item) Same(o Item) bool { return it.Deleted == o.Deleted && it.Hash == o.Hash }

// canonical encodes v as JSON with sorted keys and sorted string slices. Shadow
// sections are re-encoded with sorted keys too, so two equal states hash the same.
func canonical(v any) ([]byte, error) {
	switch b := v.(type) {
	case Principals:
		b.Principals = sortedUnique(b.Principals)
		v = b
	case Groups:
		b.Groups = sortedUnique(b.Groups)
		v = b
	case Certificate:
		b.Policies, b.Things = sortedUnique(b.Policies), sortedUnique(b.Things)
		v = b
	case ThingType:
		b.SearchableAttributes = sortedUnique(b.SearchableAttributes)
		v = b
	case Thing:
		if b.Attributes == nil {
			b.Attributes = map[string]string{}
		}
		v = b
	case Tags:
		if b.Tags == nil {
			b.Tags = map[string]string{}
		}
		v = b
	case ThingGroup:
		if b.Attributes == nil {
			b.Attributes = map[string]string{}
		}
		if b.Indexing != nil {
			ix := *b.Indexing
			ix.NamedShadows = sortedUnique(ix.NamedShadows)
			ix.CustomFields = slices.Clone(ix.CustomFields)
			slices.SortFunc(ix.CustomFields, func(x, y CustomField) int { return strings.Compare(x.Name, y.Name) })
			b.Indexing = &ix
		}
		v = b
	case Shadow:
		var err error
		if b.Desired, err = canonicalRaw(b.Desired); err != nil {
			return nil, fmt.Errorf("desired: %w", err)
		}
		if b.Reported, err = canonicalRaw(b.Reported); err != nil {
			return nil, fmt.Errorf("reported: %w", err)
		}
		v = b
	}
	return json.Marshal(v)
}

// canonicalRaw re-encodes a JSON value with sorted object keys and exact numbers; null
// and absent become absent.
func canonicalRaw(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	if x == nil {
		return nil, nil
	}
	return json.Marshal(x) // encoding/json sorts map keys
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Decode unmarshals the item's body into v, which must be a pointer to the body type
// of the item's kind.
func (it Item) Decode(v any) error {
	if it.Deleted {
		return fmt.Errorf("state: %s is a tombstone", it.Key())
	}
	d := json.NewDecoder(bytes.NewReader(it.Body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("state: body of %s (%d bytes): %w", it.Key(), len(it.Body), err)
	}
	return nil
}

// Attributes encodes the item as a DynamoDB item.
func (it Item) Attributes() map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	m := map[string]types.AttributeValue{
		spec.StateAttrKey:        s(it.Key()),
		spec.StateAttrKind:       s(it.Kind),
		spec.StateAttrName:       s(it.Name),
		spec.StateAttrOrigin:     s(it.Origin),
		spec.StateAttrSeq:        n(it.Seq),
		spec.StateAttrHash:       s(it.Hash),
		spec.StateAttrCapturedAt: n(it.CapturedAt),
		spec.StateAttrChangedAt:  n(it.ChangedAt),
	}
	if it.Basis != "" {
		m[spec.StateAttrBasis] = s(it.Basis)
	}
	if len(it.Versions) > 0 {
		v, _ := json.Marshal(it.Versions) // a map of string to int64 always encodes
		m[spec.StateAttrVersions] = s(string(v))
	}
	if it.Deleted {
		m[spec.StateAttrDeleted] = &types.AttributeValueMemberBOOL{Value: true}
		if it.Expires > 0 {
			m[spec.StateAttrExpires] = n(it.Expires)
		}
	} else {
		m[spec.StateAttrBody] = s(string(it.Body))
	}
	return m
}

// MaxBodyBytes bounds an item's body: DynamoDB items are at most 400 KB, and nothing
// the pipeline stores comes near (a shadow is at most 8 KB, a policy 2 KB per version).
const MaxBodyBytes = 350 * 1024

// FromAttributes decodes a DynamoDB item (GetItem, Scan) into an Item.
func FromAttributes(m map[string]types.AttributeValue) (Item, error) {
	return decode(func(k string) (string, byte, bool) {
		switch v := m[k].(type) {
		case *types.AttributeValueMemberS:
			return v.Value, 'S', true
		case *types.AttributeValueMemberN:
			return v.Value, 'N', true
		case *types.AttributeValueMemberBOOL:
			return strconv.FormatBool(v.Value), 'B', true
		case nil:
			return "", 0, false
		}
		return "", '?', true
	})
}

// FromImage decodes a stream record's image into an Item.
func FromImage(img map[string]events.DynamoDBAttributeValue) (Item, error) {
	return decode(func(k string) (string, byte, bool) {
		v, ok := img[k]
		if !ok {
			return "", 0, false
		}
		switch v.DataType() {
		case events.DataTypeString:
			return v.String(), 'S', true
		case events.DataTypeNumber:
			return v.Number(), 'N', true
		case events.DataTypeBoolean:
			return strconv.FormatBool(v.Boolean()), 'B', true
		}
		return "", '?', true
	})
}

// decode reads an item through get, which returns an attribute's value in text, its
// type (S, N, B for boolean, ? for another) and whether it is present.
func decode(get func(string) (string, byte, bool)) (Item, error) {
	var errs []error
	str := func(k string, required bool) string {
		v, t, ok := get(k)
		switch {
		case !ok && required:
			errs = append(errs, fmt.Errorf("missing %s", k))
		case ok && t != 'S':
			errs = append(errs, fmt.Errorf("%s is not a string", k))
		}
		return v
	}
	num := func(k string) int64 {
		v, t, ok := get(k)
		if !ok {
			return 0
		}
		if t != 'N' {
			errs = append(errs, fmt.Errorf("%s is not a number", k))
			return 0
		}
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a 64-bit integer", k, excerpt(v)))
		}
		return i
	}
	key := str(spec.StateAttrKey, true)
	it := Item{
		Origin:     str(spec.StateAttrOrigin, true),
		Seq:        num(spec.StateAttrSeq),
		Hash:       str(spec.StateAttrHash, true),
		CapturedAt: num(spec.StateAttrCapturedAt),
		ChangedAt:  num(spec.StateAttrChangedAt),
	}
	it.Basis = str(spec.StateAttrBasis, false)
	if v := str(spec.StateAttrVersions, false); v != "" {
		if err := json.Unmarshal([]byte(v), &it.Versions); err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not an object of integers: %w", spec.StateAttrVersions, excerpt(v), err))
		}
	}
	expires := num(spec.StateAttrExpires)
	if v, t, ok := get(spec.StateAttrDeleted); ok {
		if t != 'B' {
			errs = append(errs, fmt.Errorf("%s is not a boolean", spec.StateAttrDeleted))
		}
		it.Deleted = v == "true"
	}
	if it.Deleted && expires > 0 {
		it.Expires = expires // only tombstones expire (spec.StateAttrExpires)
	}
	body := str(spec.StateAttrBody, !it.Deleted)
	if len(errs) > 0 {
		return Item{}, fmt.Errorf("state: item %q: %w", excerpt(key), errors.Join(errs...))
	}
	kind, name, err := spec.ParseStateKey(key)
	if err != nil {
		return Item{}, fmt.Errorf("state: %w", err)
	}
	it.Kind, it.Name = kind, name
	if !it.Deleted {
		if len(body) > MaxBodyBytes {
			return Item{}, fmt.Errorf("state: item %s: body is %d bytes, over %d", key, len(body), MaxBodyBytes)
		}
		if !json.Valid([]byte(body)) {
			return Item{}, fmt.Errorf("state: item %s: body is not JSON (%d bytes, starts %q)", key, len(body), excerpt(body))
		}
		it.Body = json.RawMessage(body)
	}
	return it, nil
}

func excerpt(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// KeyOfImage returns the state key a stream record's keys name.
func KeyOfImage(keys map[string]events.DynamoDBAttributeValue) (string, error) {
	v, ok := keys[spec.StateAttrKey]
	if !ok || v.DataType() != events.DataTypeString {
		return "", fmt.Errorf("state: stream record keys lack a string %s", spec.StateAttrKey)
	}
	if _, _, err := spec.ParseStateKey(v.String()); err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	return v.String(), nil
}

// cloneAttrs copies a string map, never returning nil.
func cloneAttrs(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}
