package simserver

import (
	"context"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/internal/motoserver"
)

// TestAWSCLIRegistryKinds creates registry kinds beyond things in the primary with the
// aws CLI and reads them back from the secondary once the pipeline has replicated
// them.
func TestAWSCLIRegistryKinds(t *testing.T) {
	bin := motoserver.Tool(t, "aws")
	s := startServer(t, testConfig(t, 0))
	c := cli{t: t, bin: bin, url: s.Info().AWSEndpointURL, env: awsEnv(t, "")}
	p, sec := s.World().Primary.Name, s.World().Secondary.Name

	c.must(p, "iot", "create-thing-type", "--thing-type-name", "cli-type", "--thing-type-properties", `{"thingTypeDescription":"v1"}`)
	c.must(p, "iot", "update-thing-type", "--thing-type-name", "cli-type", "--thing-type-properties",
		`{"thingTypeDescription":"v2","searchableAttributes":["site"],"mqtt5Configuration":{"propagatingAttributes":[{"userPropertyKey":"site","thingAttribute":"site"}]}}`)
	c.must(p, "iot", "deprecate-thing-type", "--thing-type-name", "cli-type")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.World().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	tt := c.must(sec, "iot", "describe-thing-type", "--thing-type-name", "cli-type")
	props, _ := tt["thingTypeProperties"].(map[string]any)
	meta, _ := tt["thingTypeMetadata"].(map[string]any)
	mqtt5, _ := props["mqtt5Configuration"].(map[string]any)
	if props["thingTypeDescription"] != "v2" || meta["deprecated"] != true || mqtt5 == nil || len(mqtt5["propagatingAttributes"].([]any)) != 1 {
		t.Errorf("secondary describe-thing-type: %v", tt)
	}
}
