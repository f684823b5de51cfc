package fleetsync

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TestSyncCopiesDynamicGroups: sync copies a dynamic group with its query, raising
// the secondary's fleet indexing to what the query needs (the custom field the
// primary indexes, connectivity) and keeping what the secondary had; verify then
// finds nothing, though the groups' members differ (the secondary derives its
// own), and reports a query changed afterwards.
func TestSyncCopiesDynamicGroups(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	seed(t, w, 6)
	p, s := w.Primary.Registry, w.Secondary.Registry
	if _, err := p.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
		ThingIndexingMode: types.ThingIndexingModeRegistry, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
		CustomFields: []types.Field{{Name: aws.String("attributes.serial"), Type: types.FieldTypeNumber}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
		ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("early"),
		QueryString: aws.String("attributes.serial<3 OR connectivity.connected:true")}); err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(differences(t, w), "\n"); !strings.Contains(d, "early") {
		t.Fatalf("before the sync verify does not report the dynamic group missing:\n%s", d)
	}
	sum, err := Run(ctx, options(w))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Failed() != 0 {
		t.Fatalf("failures: %+v", sum.Failures)
	}
	if d := differences(t, w); len(d) != 0 {
		t.Errorf("after sync, verify finds %v", d)
	}
	g, err := s.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("early")})
	if err != nil || aws.ToString(g.QueryString) != "attributes.serial<3 OR connectivity.connected:true" {
		t.Fatalf("secondary's group %+v, %v", g, err)
	}
	idx, err := s.GetIndexingConfiguration(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := idx.ThingIndexingConfiguration
	if c.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || c.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus ||
		len(c.CustomFields) != 1 || aws.ToString(c.CustomFields[0].Name) != "attributes.serial" {
		t.Errorf("secondary's indexing %+v", c)
	}
	// The members differ (replication of the things is paused in this World, so
	// only what sync copied is there; and the query is evaluated by each Region):
	// verify does not report the dynamic memberships.
	if _, err := p.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(deviceName(4)),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"serial": "1"}, Merge: true}}); err != nil {
		t.Fatal(err)
	}
	d := differences(t, w)
	if len(d) != 1 || !strings.Contains(d[0], "attributes") {
		t.Errorf("after a thing changed in the primary: %v, want only its attributes", d)
	}
	if _, err := p.UpdateDynamicThingGroup(ctx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("early"),
		QueryString: aws.String("attributes.serial<2"), ThingGroupProperties: &types.ThingGroupProperties{}}); err != nil {
		t.Fatal(err)
	}
	if d := differences(t, w); !slices.ContainsFunc(d, func(s string) bool { return strings.Contains(s, "early") && strings.Contains(s, "query") }) {
		t.Errorf("a changed query is not reported: %v", d)
	}
}
