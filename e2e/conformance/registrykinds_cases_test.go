package conformance

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// registryKindBehaviours are the registry kinds beyond things, certificates,
// policies and static groups that replication copies.
var registryKindBehaviours = []behaviour{
	{
		name: "thingtype/update-properties",
		motoDiffers: "moto does not implement UpdateThingType " +
			"(AWS: PATCH /thing-types/{thingTypeName} updates description, searchable attributes and MQTT 5 propagating attributes, " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateThingType.html)",
		run: thingTypeUpdate,
	},
}

func thingTypeUpdate(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingTypeOutput](t, "CreateThingType")(tg.IoT.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("meter"),
		ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("v1")}}))
	must[*iot.UpdateThingTypeOutput](t, "UpdateThingType")(tg.IoT.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("meter"),
		ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("v2"), SearchableAttributes: []string{"site"},
			Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{
				{UserPropertyKey: aws.String("site"), ThingAttribute: aws.String("site")}}}}}))
	d := must[*iot.DescribeThingTypeOutput](t, "DescribeThingType")(tg.IoT.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("meter")}))
	p := d.ThingTypeProperties
	if p == nil || aws.ToString(p.ThingTypeDescription) != "v2" || !slices.Equal(p.SearchableAttributes, []string{"site"}) ||
		p.Mqtt5Configuration == nil || len(p.Mqtt5Configuration.PropagatingAttributes) != 1 ||
		aws.ToString(p.Mqtt5Configuration.PropagatingAttributes[0].ThingAttribute) != "site" {
		t.Errorf("properties after UpdateThingType = %+v", p)
	}
	_, err := tg.IoT.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("nope"),
		ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("x")}})
	wantErr[*types.ResourceNotFoundException](t, "UpdateThingType of a missing type", err)
}
