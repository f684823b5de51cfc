package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator"
)

// TestThingTypeUpdateReachesSecondary: a thing type's properties changed in place
// (UpdateThingType: description, searchable attributes, MQTT 5 propagating attributes)
// and its deprecation reach the secondary through capture and apply, on a type things
// use (the update must not detach them).
func TestThingTypeUpdateReachesSecondary(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	createType(t, w, "sensor")
	provision(t, w, simulator.Device{Thing: "dev-1", ThingType: "sensor"})
	settle(t, w)
	props := &iottypes.ThingTypeProperties{
		ThingTypeDescription: aws.String("sensors, v2"), SearchableAttributes: []string{"model", "site"},
		Mqtt5Configuration: &iottypes.Mqtt5Configuration{PropagatingAttributes: []iottypes.PropagatingAttribute{
			{UserPropertyKey: aws.String("model"), ThingAttribute: aws.String("model")},
			{UserPropertyKey: aws.String("client"), ConnectionAttribute: aws.String("iot:ClientId")},
		}},
	}
	must(t)(w.Primary.Registry.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("sensor"), ThingTypeProperties: props}))
	must(t)(w.Primary.Registry.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("sensor")}))
	settle(t, w)
	d := must(t)(w.Secondary.Registry.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("sensor")})).(*iot.DescribeThingTypeOutput)
	if got := d.ThingTypeProperties; aws.ToString(got.ThingTypeDescription) != "sensors, v2" || got.Mqtt5Configuration == nil ||
		len(got.Mqtt5Configuration.PropagatingAttributes) != 2 || !d.ThingTypeMetadata.Deprecated {
		t.Errorf("secondary type: properties %+v, deprecated %t", got, d.ThingTypeMetadata.Deprecated)
	}
	th := must(t)(w.Secondary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")})).(*iot.DescribeThingOutput)
	if aws.ToString(th.ThingTypeName) != "sensor" {
		t.Errorf("dev-1 in the secondary has type %q after the update, want sensor", aws.ToString(th.ThingTypeName))
	}
	assertConverged(t, w)
}
