package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator"
)

// membersOf returns the things in a group of r, sorted.
func membersOf(t testing.TB, r *simulator.Region, group string) []string {
	t.Helper()
	out := must(t)(r.Registry.ListThingsInThingGroup(context.Background(), &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group)})).(*iot.ListThingsInThingGroupOutput)
	return out.Things
}

// TestDynamicGroupReplicates: a dynamic group created in the primary exists in the
// secondary with its query, description and tags after replication (its registry
// event carries it), the secondary's fleet indexing raised to what the query needs
// while what other users of that account set is kept, and the secondary's members
// are the things matching the query there, following a thing's change once the
// thing has replicated. Sweeps of both Regions afterwards write nothing (no echo);
// a delete replicates and leaves the secondary's indexing as it was.
func TestDynamicGroupReplicates(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	p, s := w.Primary.Registry, w.Secondary.Registry
	must(t)(p.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &iottypes.ThingIndexingConfiguration{
		ThingIndexingMode: iottypes.ThingIndexingModeRegistry,
		CustomFields:      []iottypes.Field{{Name: aws.String("attributes.battery"), Type: iottypes.FieldTypeNumber}}}}))
	// Another team's settings in the secondary's account.
	others := iottypes.ThingIndexingConfiguration{ThingIndexingMode: iottypes.ThingIndexingModeRegistryAndShadow,
		ThingConnectivityIndexingMode: iottypes.ThingConnectivityIndexingModeStatus,
		CustomFields:                  []iottypes.Field{{Name: aws.String("attributes.site"), Type: iottypes.FieldTypeString}}}
	must(t)(s.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &others}))

	for name, battery := range map[string]string{"dyn-a": "90", "dyn-b": "30", "dyn-c": "75"} {
		must(t)(p.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name),
			AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"battery": battery}}}))
	}
	must(t)(p.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("charged"),
		QueryString:          aws.String("attributes.battery>50"),
		ThingGroupProperties: &iottypes.ThingGroupProperties{ThingGroupDescription: aws.String("above half")},
		Tags:                 []iottypes.Tag{{Key: aws.String("team"), Value: aws.String("fleet")}}}))
	settle(t, w)

	d, err := s.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("charged")})
	if err != nil {
		t.Fatalf("charged in the secondary: %v", err)
	}
	if aws.ToString(d.QueryString) != "attributes.battery>50" || aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != "above half" {
		t.Errorf("secondary's group: query %q, description %q", aws.ToString(d.QueryString), aws.ToString(d.ThingGroupProperties.ThingGroupDescription))
	}
	if tags := tagsOf(t, w, w.Secondary, "thinggroup", "charged"); tags["team"] != "fleet" {
		t.Errorf("secondary's group tags %v", tags)
	}
	if m := membersOf(t, w.Secondary, "charged"); !slices.Equal(m, []string{"dyn-a", "dyn-c"}) {
		t.Errorf("secondary's members %v, want [dyn-a dyn-c]", m)
	}
	idx := must(t)(s.GetIndexingConfiguration(ctx, nil)).(*iot.GetIndexingConfigurationOutput).ThingIndexingConfiguration
	var fields []string
	for _, f := range idx.CustomFields {
		fields = append(fields, aws.ToString(f.Name)+":"+string(f.Type))
	}
	slices.Sort(fields)
	if idx.ThingIndexingMode != others.ThingIndexingMode || idx.ThingConnectivityIndexingMode != others.ThingConnectivityIndexingMode ||
		!slices.Equal(fields, []string{"attributes.battery:Number", "attributes.site:String"}) {
		t.Errorf("secondary's indexing %+v (fields %v): the other team's settings must stay, the query's field be added", idx, fields)
	}

	// A thing's change replicates; the secondary's own index derives the membership.
	must(t)(p.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dyn-b"),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"battery": "80"}, Merge: true}}))
	settle(t, w)
	if m := membersOf(t, w.Secondary, "charged"); !slices.Equal(m, []string{"dyn-a", "dyn-b", "dyn-c"}) {
		t.Errorf("after dyn-b charged: secondary's members %v", m)
	}

	writes := tableWrites(w)
	sweep(t, w, w.Secondary)
	sweep(t, w, w.Primary)
	if n := tableWrites(w) - writes; n != 0 {
		t.Errorf("sweeps after the dynamic group was applied wrote %d items, want 0", n)
	}

	must(t)(p.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("charged")}))
	settle(t, w)
	if _, err := s.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("charged")}); err == nil {
		t.Error("charged still in the secondary after its delete")
	}
	after := must(t)(s.GetIndexingConfiguration(ctx, nil)).(*iot.GetIndexingConfigurationOutput).ThingIndexingConfiguration
	if after.ThingIndexingMode != others.ThingIndexingMode || len(after.CustomFields) != 2 {
		t.Errorf("the delete changed the secondary's indexing: %+v", after)
	}
}
