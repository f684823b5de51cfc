package spec

import (
	"fmt"
	"strings"
	"unicode"
)

// Rule names as deployed with DefaultPrefix (topic-rule names allow only letters,
// digits and underscores; Prefixed gives a deployment's own).
const (
	ShadowRuleName       = "iotdr_shadow_capture"
	ShadowDeleteRuleName = "iotdr_shadow_delete_capture"
	// NamedShadowRuleName and NamedShadowDeleteRuleName capture named shadows: their
	// own topic filters, so the rules are not evaluated for the classic shadows' (nor
	// the other way round) and no WHERE clause is billed for every shadow message.
	NamedShadowRuleName       = "iotdr_named_shadow_capture"
	NamedShadowDeleteRuleName = "iotdr_named_shadow_delete_capture"
)

// RegistryRuleName is the name of the capture rule of one registry event kind (a
// topic kind $aws/events/<kind>/...), e.g. iotdr_registry_thingGroup_capture.
func RegistryRuleName(kind string) string { return DefaultPrefix + "_registry_" + kind + "_capture" }

// RegistryRuleTopic is the topic filter of the capture rule of one registry event
// kind. The kind is in the filter, not only in a WHERE clause: a rule on
// $aws/events/# is also evaluated (and billed) for every lifecycle event, each connect,
// disconnect and subscribe of every device and probe.
func RegistryRuleTopic(kind string) string { return "$aws/events/" + kind + "/#" }

// SQLVersion is the IoT SQL version the rules are written for.
const SQLVersion = "2016-03-23"

// Rule is one topic rule: its name and SQL statement.
type Rule struct {
	Name string
	SQL  string
}

// registryEventKinds are the registry event topic kinds ($aws/events/<kind>/...) that
// the registry rule captures; presence, jobs and other event kinds are left out.
var registryEventKinds = []string{
	"thing", "thingType", "thingGroup", "thingTypeAssociation",
	"thingGroupMembership", "thingGroupHierarchy",
}

// RegistryEventConfigurations returns the names the IoT event configuration
// (UpdateEventConfigurations) gives the registry events the registry rule captures:
// each topic kind in upper snake case, e.g. thingTypeAssociation ->
// THING_TYPE_ASSOCIATION. Enabling exactly these makes the primary publish what the
// rule selects.
func RegistryEventConfigurations() []string {
	out := make([]string, 0, len(registryEventKinds))
	for _, k := range registryEventKinds {
		var b strings.Builder
		for i, c := range k {
			if c >= 'A' && c <= 'Z' && i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToUpper(c))
		}
		out = append(out, b.String())
	}
	return out
}

// CaptureRules returns the capture rules deployed in every Region; their action invokes
// the capture function there. One registry rule per registry event kind (a topic filter
// matches one kind only) passes each event of its kind with its topic. The shadow rules pass what a classic shadow's update/documents message carries
// (the full current state and its version) and what delete/accepted carries (the
// version at the delete), both with the clientToken that tells an apply's own write;
// the named shadow rules pass the same for named shadows, with the shadow's name.
func CaptureRules() []Rule {
	var out []Rule
	for _, k := range registryEventKinds {
		out = append(out, Rule{Name: RegistryRuleName(k), SQL: fmt.Sprintf("SELECT *, topic() AS topic FROM '%s'", RegistryRuleTopic(k))})
	}
	shadow := fmt.Sprintf("SELECT current, previous, timestamp, clientToken, topic(3) AS thingName, '%s' AS eventType, "+
		"'UPDATE' AS operation, timestamp() AS capturedAt FROM '$aws/things/+/shadow/update/documents'", EventShadow)
	shadowDelete := fmt.Sprintf("SELECT version, timestamp, clientToken, topic(3) AS thingName, '%s' AS eventType, "+
		"'DELETE' AS operation, timestamp() AS capturedAt FROM '$aws/things/+/shadow/delete/accepted'", EventShadow)
	// Named shadows: $aws/things/<thing>/shadow/name/<shadow>/..., the shadow's name
	// is topic(6).
	named := fmt.Sprintf("SELECT current, previous, timestamp, clientToken, topic(3) AS thingName, topic(6) AS shadowName, '%s' AS eventType, "+
		"'UPDATE' AS operation, timestamp() AS capturedAt FROM '$aws/things/+/shadow/name/+/update/documents'", EventShadow)
	namedDelete := fmt.Sprintf("SELECT version, timestamp, clientToken, topic(3) AS thingName, topic(6) AS shadowName, '%s' AS eventType, "+
		"'DELETE' AS operation, timestamp() AS capturedAt FROM '$aws/things/+/shadow/name/+/delete/accepted'", EventShadow)
	return append(out,
		Rule{Name: ShadowRuleName, SQL: shadow},
		Rule{Name: ShadowDeleteRuleName, SQL: shadowDelete},
		Rule{Name: NamedShadowRuleName, SQL: named},
		Rule{Name: NamedShadowDeleteRuleName, SQL: namedDelete},
	)
}

// validRegion accepts AWS Region names such as us-east-1 or ap-southeast-2; it only
// guards the documents built here against quotes and typos, not against unknown Regions.
func validRegion(r string) error {
	parts := strings.Split(r, "-")
	if len(parts) < 3 {
		return fmt.Errorf("spec: %q is not an AWS Region name (like us-east-1)", r)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("spec: %q is not an AWS Region name (like us-east-1)", r)
		}
		for _, c := range p {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				return fmt.Errorf("spec: %q is not an AWS Region name (like us-east-1)", r)
			}
		}
	}
	return nil
}
