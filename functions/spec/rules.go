package spec

import (
	"fmt"
	"strings"
	"unicode"
)

// Rule names as deployed (topic-rule names allow only letters, digits and underscores).
const (
	RegistryRuleName     = "iotdr_registry_capture"
	ShadowRuleName       = "iotdr_shadow_capture"
	ShadowDeleteRuleName = "iotdr_shadow_delete_capture"
)

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
// the capture function there. The registry rule passes each registry event with its
// topic. The shadow rules pass what a classic shadow's update/documents message carries
// (the full current state and its version) and what delete/accepted carries (the
// version at the delete), both with the clientToken that tells an apply's own write.
func CaptureRules() []Rule {
	var where []string
	for _, k := range registryEventKinds {
		where = append(where, fmt.Sprintf("topic(3) = '%s'", k))
	}
	registry := fmt.Sprintf("SELECT *, topic() AS topic FROM '$aws/events/#' WHERE %s", strings.Join(where, " OR "))
	shadow := fmt.Sprintf("SELECT current, previous, timestamp, clientToken, topic(3) AS thingName, '%s' AS eventType, "+
		"'UPDATE' AS operation, timestamp() AS capturedAt FROM '$aws/things/+/shadow/update/documents'", EventShadow)
	shadowDelete := fmt.Sprintf("SELECT version, timestamp, clientToken, topic(3) AS thingName, '%s' AS eventType, "+
		"'DELETE' AS operation, timestamp() AS capturedAt FROM '$aws/things/+/shadow/delete/accepted'", EventShadow)
	return []Rule{
		{Name: RegistryRuleName, SQL: registry},
		{Name: ShadowRuleName, SQL: shadow},
		{Name: ShadowDeleteRuleName, SQL: shadowDelete},
	}
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
