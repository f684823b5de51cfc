package fleetsync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/verify"
)

// newWorld starts a simulator World whose replication is paused, so that what is
// provisioned in the primary does not reach the secondary: the situation sync is for.
func newWorld(t testing.TB) *simulator.World {
	t.Helper()
	w, err := simulator.New(context.Background(), simulator.Options{})
	if err != nil {
		t.Fatalf("simulator.New: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	w.Replication.Pause()
	return w
}

// seed provisions n devices in the primary, with a thing type, a three-level group
// tree, an extra policy and, for every third device, a shadow.
func seed(t testing.TB, w *simulator.World, n int) {
	t.Helper()
	ctx := context.Background()
	reg := w.Primary.Registry
	if _, err := reg.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor"),
		ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("a sensor"), SearchableAttributes: []string{"site"}}}); err != nil {
		t.Fatalf("create thing type: %v", err)
	}
	if _, err := reg.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("old")}); err != nil {
		t.Fatalf("create thing type: %v", err)
	}
	if _, err := reg.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("old")}); err != nil {
		t.Fatalf("deprecate thing type: %v", err)
	}
	parent := ""
	for _, g := range []string{"fleet", "eu", "eu-west"} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g),
			ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("group " + g),
				AttributePayload: &types.AttributePayload{Attributes: map[string]string{"level": g}}}}
		if parent != "" {
			in.ParentGroupName = aws.String(parent)
		}
		if _, err := reg.CreateThingGroup(ctx, in); err != nil {
			t.Fatalf("create thing group %s: %v", g, err)
		}
		parent = g
	}
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:%s:123456789012:topic/telemetry/*"}]}`, w.Primary.Name)
	if _, err := reg.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("telemetry"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatalf("create policy: %v", err)
	}
	for i := range n {
		d := simulator.Device{
			Thing:      deviceName(i),
			Attributes: map[string]string{"site": fmt.Sprintf("s%d", i%7), "serial": fmt.Sprint(i)},
		}
		if i%2 == 0 {
			d.ThingType = "sensor"
		}
		if i%3 == 0 {
			d.Groups = []string{"eu-west"}
			d.ExtraPolicies = []string{"telemetry"}
		}
		if _, err := w.ProvisionDevice(ctx, d); err != nil {
			t.Fatalf("provision: %v", err)
		}
		if i%3 == 1 {
			if _, err := w.Primary.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(d.Thing),
				Payload: fmt.Appendf(nil, `{"state":{"desired":{"led":"on"},"reported":{"temp":%d}}}`, i)}); err != nil {
				t.Fatalf("update shadow: %v", err)
			}
		}
	}
}

func deviceName(i int) string { return fmt.Sprintf("dev-%05d", i) }

// options returns sync options for the World, unlimited, with shadows.
func options(w *simulator.World) Options {
	return Options{
		Source: w.Primary.Registry, Target: w.Secondary.Registry,
		SourceShadows: w.Primary.Shadows, TargetShadows: w.Secondary.Shadows,
		SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name,
		Shadows: true, Concurrency: 8, Marks: w.Secondary.ApplyMarks(),
		Backoff: Retry{Attempts: 1, Base: time.Millisecond, Cap: 10 * time.Millisecond},
	}
}

// differences runs a full verify of the World's Regions and returns its lines.
func differences(t testing.TB, w *simulator.World) []string {
	t.Helper()
	c := &verify.Comparer{
		Source: w.Primary.Registry, Target: w.Secondary.Registry,
		SourceShadows: w.Primary.Shadows, TargetShadows: w.Secondary.Shadows,
		SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name, Shadows: true,
	}
	var out []string
	if _, err := c.Run(context.Background(), verify.RunOptions{OnDifference: func(d verify.Difference) { out = append(out, d.String()) }}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return out
}

func countThings(t testing.TB, c verify.IoT) int {
	t.Helper()
	n := 0
	p := iot.NewListThingsPaginator(c, &iot.ListThingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list things: %v", err)
		}
		n += len(page.Things)
	}
	return n
}
