package conformance

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// dynamicGroupBehaviours are what the dynamic-group replication relies on: the
// indexing configuration reads back as written (the merge reads, raises and writes
// it), and dynamic groups need indexing, keep their query and refuse explicit
// members.
var dynamicGroupBehaviours = []behaviour{
	{
		name: "indexing/round-trip",
		run:  indexingRoundTrip,
	},
	{
		name: "dynamicgroup/lifecycle",
		motoDiffers: "moto 5.2.1 does not implement CreateDynamicThingGroup, UpdateDynamicThingGroup nor DeleteDynamicThingGroup " +
			"(AWS: dynamic thing groups \"require fleet indexing enabled\", \"can't be part of a hierarchy\", membership is defined by the query, " +
			"https://docs.aws.amazon.com/iot/latest/developerguide/dynamic-thing-groups.html; " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_CreateDynamicThingGroup.html)",
		run: dynamicGroupLifecycle,
	},
}

func indexingRoundTrip(ctx context.Context, t *testing.T, tg Target) {
	want := types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
		ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
		CustomFields:                  []types.Field{{Name: aws.String("attributes.battery"), Type: types.FieldTypeNumber}}}
	must[*iot.UpdateIndexingConfigurationOutput](t, "update thing indexing")(tg.IoT.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration:      &want,
		ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOn}}))
	got := must[*iot.GetIndexingConfigurationOutput](t, "get indexing")(tg.IoT.GetIndexingConfiguration(ctx, &iot.GetIndexingConfigurationInput{}))
	c := got.ThingIndexingConfiguration
	if c == nil || c.ThingIndexingMode != want.ThingIndexingMode || c.ThingConnectivityIndexingMode != want.ThingConnectivityIndexingMode {
		t.Fatalf("thing indexing read back %+v", c)
	}
	if !slices.ContainsFunc(c.CustomFields, func(f types.Field) bool {
		return aws.ToString(f.Name) == "attributes.battery" && f.Type == types.FieldTypeNumber
	}) {
		t.Errorf("custom fields read back %+v", c.CustomFields)
	}
	if g := got.ThingGroupIndexingConfiguration; g == nil || g.ThingGroupIndexingMode != types.ThingGroupIndexingModeOn {
		t.Errorf("thing-group indexing read back %+v", g)
	}
}

func dynamicGroupLifecycle(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.UpdateIndexingConfigurationOutput](t, "indexing off")(tg.IoT.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}}))
	create := &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("warm"), QueryString: aws.String("attributes.temp>30")}
	_, err := tg.IoT.CreateDynamicThingGroup(ctx, create)
	wantErr[*types.InvalidRequestException](t, "create with indexing off", err)
	must[*iot.UpdateIndexingConfigurationOutput](t, "indexing on")(tg.IoT.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry}}))
	must[*iot.CreateDynamicThingGroupOutput](t, "create")(tg.IoT.CreateDynamicThingGroup(ctx, create))
	d := must[*iot.DescribeThingGroupOutput](t, "describe")(tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("warm")}))
	if aws.ToString(d.QueryString) != "attributes.temp>30" || aws.ToString(d.IndexName) != "AWS_Things" || aws.ToString(d.QueryVersion) != "2017-09-30" {
		t.Errorf("describe: query %q, index %q, version %q", aws.ToString(d.QueryString), aws.ToString(d.IndexName), aws.ToString(d.QueryVersion))
	}
	must[*iot.CreateThingOutput](t, "create thing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("t"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"temp": "35"}}}))
	_, err = tg.IoT.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("warm"), ThingName: aws.String("t")})
	wantErr[*types.InvalidRequestException](t, "add a thing to a dynamic group", err)
	_, err = tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("child"), ParentGroupName: aws.String("warm")})
	wantErr[*types.InvalidRequestException](t, "a child of a dynamic group", err)
	must[*iot.UpdateDynamicThingGroupOutput](t, "update")(tg.IoT.UpdateDynamicThingGroup(ctx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("warm"),
		QueryString: aws.String("attributes.temp>40"), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("hot")}}))
	d = must[*iot.DescribeThingGroupOutput](t, "describe after update")(tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("warm")}))
	if aws.ToString(d.QueryString) != "attributes.temp>40" || d.Version != 2 {
		t.Errorf("after update: query %q, version %d", aws.ToString(d.QueryString), d.Version)
	}
	must[*iot.DeleteDynamicThingGroupOutput](t, "delete")(tg.IoT.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("warm")}))
	_, err = tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("warm")})
	wantErr[*types.ResourceNotFoundException](t, "describe after delete", err)
}
