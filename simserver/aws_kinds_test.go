package simserver

import (
	"context"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/internal/motoserver"
)

// TestAWSCLIBillingGroups creates a billing group with a thing in it in the primary
// with the aws CLI, unmodified, and reads both back from the secondary after the
// primary's sweep (billing groups raise no registry events: the sweep captures them).
func TestAWSCLIBillingGroups(t *testing.T) {
	bin := motoserver.Tool(t, "aws")
	s := startServer(t, testConfig(t, 0))
	c := cli{t: t, bin: bin, url: s.Info().AWSEndpointURL, env: awsEnv(t, "")}
	w := s.World()
	p, sec := w.Primary.Name, w.Secondary.Name

	c.must(p, "iot", "create-thing", "--thing-name", "cli-billed")
	c.must(p, "iot", "create-billing-group", "--billing-group-name", "cli-plan",
		"--billing-group-properties", `{"billingGroupDescription":"plan from the CLI"}`)
	c.must(p, "iot", "add-thing-to-billing-group", "--billing-group-name", "cli-plan", "--thing-name", "cli-billed")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if st, err := w.Sweep(ctx, w.Primary); err != nil || st.Failed != 0 {
		t.Fatalf("sweep of the primary: %+v, %v", st, err)
	}
	if err := w.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	bg := c.must(sec, "iot", "describe-billing-group", "--billing-group-name", "cli-plan")
	if props, _ := bg["billingGroupProperties"].(map[string]any); props["billingGroupDescription"] != "plan from the CLI" {
		t.Errorf("secondary describe-billing-group: %v", bg)
	}
	if th := c.must(sec, "iot", "describe-thing", "--thing-name", "cli-billed"); th["billingGroupName"] != "cli-plan" {
		t.Errorf("secondary describe-thing: %v, want billingGroupName cli-plan", th)
	}
}
