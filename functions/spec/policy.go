package spec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Topics a device uses. Each device owns the topics under its thing name.
const (
	// TelemetryTopicFormat is the topic a device publishes telemetry on (thing name).
	TelemetryTopicFormat = "devices/%s/telemetry"
	// ProbeTopicPrefix is the probe's topic root; each probe run adds a unique suffix.
	ProbeTopicPrefix = "iotdr/probe"
	// ProbePath is the probe's route on its HTTP API.
	ProbePath = "/probe"
	// ProbeSecretQuery is the query parameter carrying the probe's shared secret: Route 53
	// health checks cannot send headers.
	ProbeSecretQuery = "secret"
	// ProbeClientIDPrefix starts the MQTT client id of every probe connection.
	ProbeClientIDPrefix = "iotdr-probe-"
	// DevicePolicyName is the device policy's name in both Regions.
	DevicePolicyName = "iotdr-device"
	// ProbePolicyName is the probe policy's name in each Region.
	ProbePolicyName = "iotdr-probe"
)

// Prefixed returns name, one of the spec's rule or policy names (they start with
// DefaultPrefix, the names the simulator uses), as a deployment with prefix names it,
// so that two deployments in one account and Region do not collide. Topic-rule names
// allow only letters, digits and underscores, so a rule name gets the prefix's
// hyphens as underscores.
func Prefixed(prefix, name string) string {
	rest, ok := strings.CutPrefix(name, DefaultPrefix)
	if !ok {
		return name
	}
	if strings.HasPrefix(rest, "_") {
		prefix = strings.ReplaceAll(prefix, "-", "_")
	}
	return prefix + rest
}

// TelemetryTopic returns the telemetry topic of thing.
func TelemetryTopic(thing string) string { return fmt.Sprintf(TelemetryTopicFormat, thing) }

// ProbeTopic returns the probe topic for one probe run identified by suffix.
func ProbeTopic(suffix string) string { return ProbeTopicPrefix + "/" + suffix }

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// DevicePolicy returns the IoT policy every device certificate carries: connect only
// with the client id of a thing attached to the certificate, publish and receive on its
// own topics and its own classic shadow, subscribe to filters under them.
func DevicePolicy(region, account string) (string, error) {
	if err := validRegion(region); err != nil {
		return "", err
	}
	if !accountRE.MatchString(account) {
		return "", fmt.Errorf("spec: %q is not a 12-digit AWS account id", account)
	}
	arn := func(kind, rest string) string {
		return fmt.Sprintf("arn:aws:iot:%s:%s:%s/%s", region, account, kind, rest)
	}
	const thing = "${iot:Connection.Thing.ThingName}"
	own := []string{"devices/" + thing + "/*", "$aws/things/" + thing + "/shadow/*"}
	var topics, filters []string
	for _, t := range own {
		topics = append(topics, arn("topic", t))
		filters = append(filters, arn("topicfilter", t))
	}
	return policyJSON([]statement{
		{Effect: "Allow", Action: []string{"iot:Connect"}, Resource: []string{arn("client", thing)}},
		{Effect: "Allow", Action: []string{"iot:Publish", "iot:Receive"}, Resource: topics},
		{Effect: "Allow", Action: []string{"iot:Subscribe"}, Resource: filters},
	})
}

// ProbePolicy returns the policy of the health probe's certificate: connect with a probe
// client id, and use the probe topics only.
func ProbePolicy(region, account string) (string, error) {
	if err := validRegion(region); err != nil {
		return "", err
	}
	if !accountRE.MatchString(account) {
		return "", fmt.Errorf("spec: %q is not a 12-digit AWS account id", account)
	}
	arn := func(kind, rest string) string {
		return fmt.Sprintf("arn:aws:iot:%s:%s:%s/%s", region, account, kind, rest)
	}
	return policyJSON([]statement{
		{Effect: "Allow", Action: []string{"iot:Connect"}, Resource: []string{arn("client", ProbeClientIDPrefix+"*")}},
		{Effect: "Allow", Action: []string{"iot:Publish", "iot:Receive"}, Resource: []string{arn("topic", ProbeTopicPrefix+"/*")}},
		{Effect: "Allow", Action: []string{"iot:Subscribe"}, Resource: []string{arn("topicfilter", ProbeTopicPrefix+"/*")}},
	})
}

type statement struct {
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

func policyJSON(st []statement) (string, error) {
	b, err := json.MarshalIndent(struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{"2012-10-17", st}, "", "  ")
	if err != nil {
		return "", fmt.Errorf("spec: encode policy: %w", err)
	}
	return string(b), nil
}
