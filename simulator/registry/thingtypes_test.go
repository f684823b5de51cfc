package registry

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestUpdateThingType(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThingType(t, "cam")
	f.pub.take()
	props := &types.ThingTypeProperties{
		ThingTypeDescription: aws.String("a camera"), SearchableAttributes: []string{"site", "fleet"},
		Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{
			{UserPropertyKey: aws.String("serial"), ThingAttribute: aws.String("serial")},
			{UserPropertyKey: aws.String("client"), ConnectionAttribute: aws.String("iot:ClientId")},
		}},
	}
	update := func(p *types.ThingTypeProperties) {
		t.Helper()
		if _, err := f.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("cam"), ThingTypeProperties: p}); err != nil {
			t.Fatalf("UpdateThingType: %v", err)
		}
	}
	update(props)
	d, err := f.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("cam")})
	if err != nil {
		t.Fatal(err)
	}
	got := d.ThingTypeProperties
	if aws.ToString(got.ThingTypeDescription) != "a camera" || !slices.Equal(got.SearchableAttributes, []string{"fleet", "site"}) ||
		got.Mqtt5Configuration == nil || len(got.Mqtt5Configuration.PropagatingAttributes) != 2 ||
		aws.ToString(got.Mqtt5Configuration.PropagatingAttributes[1].ConnectionAttribute) != "iot:ClientId" {
		t.Errorf("properties after update: %+v", got)
	}
	if topics := f.pub.topics(); !slices.Equal(topics, []string{"$aws/events/thingType/cam/updated"}) {
		t.Errorf("events after update: %q", topics)
	}
	update(props) // the same properties: no change, no event
	update(nil)   // no properties: no change
	if topics := f.pub.topics(); len(topics) != 0 {
		t.Errorf("events after no-op updates: %q", topics)
	}

	// A deprecated type can be updated; properties are replaced whole.
	if _, err := f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("cam")}); err != nil {
		t.Fatal(err)
	}
	update(&types.ThingTypeProperties{SearchableAttributes: []string{"room"}})
	d, _ = f.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("cam")})
	if got := d.ThingTypeProperties; got.ThingTypeDescription != nil || !slices.Equal(got.SearchableAttributes, []string{"room"}) || got.Mqtt5Configuration != nil {
		t.Errorf("properties after replacing: %+v", got)
	}

	var nf *types.ResourceNotFoundException
	if _, err := f.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("ghost"), ThingTypeProperties: props}); !errors.As(err, &nf) {
		t.Errorf("update of a missing type: %v, want ResourceNotFoundException", err)
	}
	var inv *types.InvalidRequestException
	if _, err := f.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("cam"),
		ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"a", "b", "c", "d"}}}); !errors.As(err, &inv) {
		t.Errorf("four searchable attributes: %v, want InvalidRequestException", err)
	}
}
