package spec

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Rule names as deployed (topic-rule names allow only letters, digits and underscores).
const (
	RegistryRuleName = "iotdr_registry_events"
	ShadowRuleName   = "iotdr_shadow_updates"
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

// CaptureRules returns the two capture rules deployed in region: registry events and
// classic shadow update/delete acknowledgements, each stamped with the capturing Region,
// a fresh uuid key and an expiry eventTTL from now.
func CaptureRules(region string, eventTTL time.Duration) ([]Rule, error) {
	if err := validRegion(region); err != nil {
		return nil, err
	}
	ttl := int64(eventTTL / time.Second)
	if ttl <= 0 {
		return nil, fmt.Errorf("spec: event TTL must be at least one second, got %s", eventTTL)
	}
	stamp := fmt.Sprintf("newuuid() AS %s, topic() AS %s, '%s' AS %s, floor(timestamp() / 1000) + %d AS %s",
		AttrUUID, AttrTopic, region, AttrSourceRegion, ttl, AttrExpires)

	var where []string
	for _, k := range registryEventKinds {
		where = append(where, fmt.Sprintf("topic(3) = '%s'", k))
	}
	registry := fmt.Sprintf("SELECT *, %s FROM '$aws/events/#' WHERE %s", stamp, strings.Join(where, " OR "))
	// A shadow document's timestamp has second resolution; timestamp() (ms, when the rule
	// ran) is what the replication-lag metric is measured from.
	shadow := fmt.Sprintf("SELECT state, version, timestamp AS shadow_timestamp, timestamp() AS timestamp, '%s' AS eventType, "+
		"upper(topic(5)) AS operation, topic(3) AS thingName, %s "+
		"FROM '$aws/things/+/shadow/+/accepted' WHERE topic(5) = 'update' OR topic(5) = 'delete'",
		EventShadow, stamp)
	return []Rule{{Name: RegistryRuleName, SQL: registry}, {Name: ShadowRuleName, SQL: shadow}}, nil
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
