package simserver

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/internal/motoserver"
)

// TestAWSCLIDynamicGroup creates a dynamic thing group in the primary with the aws
// CLI and reads it back from the secondary once the pipeline has replicated it: its
// query, the secondary's indexing raised to what the query needs, and its members
// there.
func TestAWSCLIDynamicGroup(t *testing.T) {
	bin := motoserver.Tool(t, "aws")
	s := startServer(t, testConfig(t, 0))
	c := cli{t: t, bin: bin, url: s.Info().AWSEndpointURL, env: awsEnv(t, "")}
	p, sec := s.World().Primary.Name, s.World().Secondary.Name

	c.must(sec, "iot", "update-indexing-configuration", "--thing-indexing-configuration", `{"thingIndexingMode":"OFF"}`)
	c.must(p, "iot", "update-indexing-configuration", "--thing-indexing-configuration", `{"thingIndexingMode":"REGISTRY","thingConnectivityIndexingMode":"STATUS"}`)
	c.must(p, "iot", "create-thing", "--thing-name", "cli-hot", "--attribute-payload", `{"attributes":{"temp":"41"}}`)
	c.must(p, "iot", "create-thing", "--thing-name", "cli-cold", "--attribute-payload", `{"attributes":{"temp":"12"}}`)
	c.must(p, "iot", "create-dynamic-thing-group", "--thing-group-name", "cli-hot-things",
		"--query-string", "attributes.temp>30 AND connectivity.connected:false")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.World().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	g := c.must(sec, "iot", "describe-thing-group", "--thing-group-name", "cli-hot-things")
	if g["queryString"] != "attributes.temp>30 AND connectivity.connected:false" || g["indexName"] != "AWS_Things" {
		t.Errorf("secondary describe-thing-group: %v", g)
	}
	idx := c.must(sec, "iot", "get-indexing-configuration")
	ti, _ := idx["thingIndexingConfiguration"].(map[string]any)
	if ti["thingIndexingMode"] != "REGISTRY" || ti["thingConnectivityIndexingMode"] != "STATUS" {
		t.Errorf("secondary indexing: %v", idx)
	}
	m := c.must(sec, "iot", "list-things-in-thing-group", "--thing-group-name", "cli-hot-things")
	var things []string
	for _, v := range m["things"].([]any) {
		things = append(things, v.(string))
	}
	if !slices.Equal(things, []string{"cli-hot"}) {
		t.Errorf("secondary members %v, want [cli-hot]", things)
	}
}
