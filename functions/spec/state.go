package spec

import (
	"fmt"
	"strings"
	"time"
)

// Kinds of resource the state table holds, one item per resource. The item key is
// "<kind>#<name>" (see StateKey).
const (
	// KindThing is a thing: type, attributes and the origin's version.
	KindThing = "thing"
	// KindThingPrincipals is the set of certificates attached to one thing (by ARN).
	KindThingPrincipals = "thing-principals"
	// KindThingGroups is the set of static groups one thing is a direct member of.
	KindThingGroups = "thing-groups"
	// KindCertificate is a certificate by id: PEM, status, its policies and its things.
	KindCertificate = "certificate"
	// KindPolicy is an IoT policy's default document, ARNs as the origin wrote them.
	KindPolicy = "policy"
	// KindThingType is a thing type's properties and deprecation.
	KindThingType = "thing-type"
	// KindThingGroup is a static thing group: parent, description, attributes.
	KindThingGroup = "thing-group"
	// KindShadow is a thing's classic shadow: its full desired and reported state.
	KindShadow = "shadow"
	// KindNamedShadow is one named shadow of a thing, as KindShadow is the classic
	// one; its name is NamedShadowKey(thing, shadow).
	KindNamedShadow = "named-shadow"
	// KindRetained is the retained message of one MQTT topic (the name is the
	// topic): payload and QoS. No event announces it; the sweep captures it.
	KindRetained = "retained"
	// KindRoleAlias is a credential-provider role alias: its IAM role and credential
	// duration. No event announces it; the sweep captures it.
	KindRoleAlias = "role-alias"
	// KindProvisioningTemplate is a fleet provisioning or JITP template: its default
	// version's body, role, hook and flags. The sweep captures it.
	KindProvisioningTemplate = "provisioning-template"
	// KindCACertificate is a registered CA certificate by id: PEM, status,
	// auto-registration, mode and registration config. The sweep captures it.
	KindCACertificate = "ca-certificate"
	// KindBillingGroup is a billing group: its description. Billing groups raise no
	// registry events; the sweep captures them. A thing's billing group is part of
	// the thing's item (a thing is in at most one).
	KindBillingGroup = "billing-group"
	// KindTags are the tags of one taggable resource (one of TaggedKinds); its name is TagsKey(kind, name). Tags raise no
	// registry events: the capture of the resource's own change and the sweep read
	// them.
	KindTags = "tags"
)

// TaggedKinds are the kinds whose resources' tags are replicated.
var TaggedKinds = []string{KindThingType, KindThingGroup, KindBillingGroup, KindPolicy, KindRoleAlias, KindProvisioningTemplate, KindCACertificate}

// TagsKey is the name of a resource's tags item: "<kind>/<name>" (no resource name
// holds '/').
func TagsKey(kind, name string) string { return kind + "/" + name }

// SplitTagsKey is TagsKey's inverse; ok is false unless kind is one of TaggedKinds.
func SplitTagsKey(key string) (kind, name string, ok bool) {
	kind, name, ok = strings.Cut(key, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	for _, k := range TaggedKinds {
		if k == kind {
			return kind, name, true
		}
	}
	return "", "", false
}

// NamedShadowKey is a named shadow's name in the state table: "<thing>/<shadow>".
// Neither a thing name nor a shadow name may hold '/' ([a-zA-Z0-9:_-]), so the split
// is unambiguous.
func NamedShadowKey(thing, shadow string) string { return thing + "/" + shadow }

// SplitNamedShadowKey is NamedShadowKey's inverse; ok is false for a name without
// both parts.
func SplitNamedShadowKey(name string) (thing, shadow string, ok bool) {
	thing, shadow, ok = strings.Cut(name, "/")
	return thing, shadow, ok && thing != "" && shadow != "" && !strings.Contains(shadow, "/")
}

// Kinds lists every kind, in the order the sweep and the docs present them.
var Kinds = []string{
	KindThingType, KindThingGroup, KindPolicy, KindCertificate, KindThing,
	KindThingPrincipals, KindThingGroups, KindShadow, KindNamedShadow, KindRetained,
	KindRoleAlias, KindProvisioningTemplate, KindCACertificate,
	KindBillingGroup, KindTags,
}

// KnownKind reports whether k is a kind the pipeline captures and applies.
func KnownKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// StateKey returns the state-table key of one resource.
func StateKey(kind, name string) string { return kind + "#" + name }

// ParseStateKey splits a state-table key into its kind and name.
func ParseStateKey(key string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(key, "#")
	if !ok || name == "" || !KnownKind(kind) {
		return "", "", fmt.Errorf("state key %q is not <kind>#<name> with a known kind", excerptKey(key))
	}
	if _, _, named := SplitNamedShadowKey(name); kind == KindNamedShadow && !named {
		return "", "", fmt.Errorf("state key %q: a named shadow's name is <thing>/<shadow>", excerptKey(key))
	}
	if _, _, tagged := SplitTagsKey(name); kind == KindTags && !tagged {
		return "", "", fmt.Errorf("state key %q: a tags item's name is <kind>/<name> of a taggable kind", excerptKey(key))
	}
	return kind, name, nil
}

func excerptKey(k string) string {
	if len(k) > 80 {
		return k[:80] + "…"
	}
	return k
}

// State-table attributes. The table is a DynamoDB global table: every Region's
// capture writes the resources that changed there, every other Region applies them
// from its own replica.
const (
	// StateAttrKey is the hash key, "<kind>#<name>".
	StateAttrKey = "pk"
	// StateAttrKind and StateAttrName repeat the key's parts for readers and scans.
	StateAttrKind = "kind"
	StateAttrName = "name"
	// StateAttrOrigin is the Region whose capture wrote the item. Appliers skip the
	// items of their own Region.
	StateAttrOrigin = "origin"
	// StateAttrSeq orders writes of one resource: the capture's read time in
	// microseconds, comparable across Regions (Amazon Time Sync). A capture writes only
	// over a smaller seq.
	StateAttrSeq = "seq"
	// StateAttrBasis is the item a capture replaced ("<origin>/<seq>", "" when the
	// table had none): a replicated write whose basis is not the item it overwrites
	// was made without seeing it, which is a conflict.
	StateAttrBasis = "basis"
	// StateAttrVersions is a shadow item's version vector (JSON object, Region to the
	// order 2×version, +1 for a delete, of the last document captured there): shadow
	// versions are per Region, so a document is stale only against its own Region's.
	StateAttrVersions = "versions"
	// StateAttrHash is the SHA-256 of the body (hex); a capture whose body hashes the
	// same writes nothing.
	StateAttrHash = "hash"
	// StateAttrBody is the resource's content as JSON (see the state package).
	StateAttrBody = "body"
	// StateAttrDeleted marks a tombstone: the resource no longer exists in the origin.
	StateAttrDeleted = "deleted"
	// StateAttrCapturedAt is when the capture read the resource (epoch ms), for lag.
	StateAttrCapturedAt = "capturedAt"
	// StateAttrChangedAt is when the change happened in the origin, where the origin
	// says (registry event or shadow timestamp, epoch ms), else capturedAt.
	StateAttrChangedAt = "changedAt"
	// StateAttrExpires is the TTL attribute: set on tombstones only.
	StateAttrExpires = "expires"
)

// TombstoneRetention is how long a delete's tombstone stays in the state table: long
// enough for a Region that was cut off for a week to learn of the delete.
const TombstoneRetention = 14 * 24 * time.Hour

// StateTable is the global table that carries state between the Regions. The stream
// must carry new and old images: global tables require it.
func StateTable() Table {
	return Table{HashKey: StateAttrKey, TTLAttribute: StateAttrExpires, StreamView: "NEW_AND_OLD_IMAGES"}
}

// arnTypes maps the resource types of AWS IoT ARNs to the tagged kinds.
var arnTypes = map[string]string{
	"thingtype": KindThingType, "thinggroup": KindThingGroup, "billinggroup": KindBillingGroup, "policy": KindPolicy,
	"rolealias": KindRoleAlias, "provisioningtemplate": KindProvisioningTemplate, "cacert": KindCACertificate,
}

// TaggedResourceOfARN returns the kind and name of the taggable resource an AWS IoT
// ARN names (arn:<partition>:iot:<region>:<account>:<type>/<name>).
func TaggedResourceOfARN(arn string) (kind, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iot" {
		return "", "", false
	}
	typ, name, ok := strings.Cut(parts[5], "/")
	kind, known := arnTypes[typ]
	if !ok || !known || name == "" {
		return "", "", false
	}
	return kind, name, true
}
