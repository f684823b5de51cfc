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
	{
		name: "billinggroup/membership",
		motoDiffers: "moto keeps a thing in its old billing group when AddThingToBillingGroup adds it to another " +
			"(AWS: \"a thing can belong to only one billing group\", https://docs.aws.amazon.com/iot/latest/developerguide/tagging-iot-billing-groups.html)",
		run: billingGroupMembership,
	},
	{
		// What the billing-group replication converges with.
		name: "billinggroup/update",
		run:  billingGroupUpdate,
	},
	{
		name: "billinggroup/delete-releases-things",
		motoDiffers: "moto's DeleteBillingGroup leaves billingGroupName on the group's things, and fails on a missing group " +
			"(AWS: deleting a billing group removes its things from it; the fakes model a missing group's delete as succeeding, " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteBillingGroup.html)",
		run: billingGroupDelete,
	},
	{
		// What `iotdr readiness` reads of each Region's custom domain.
		name: "domainconfiguration/lifecycle",
		run:  domainConfigurationLifecycle,
	},
}

func domainConfigurationLifecycle(ctx context.Context, t *testing.T, tg Target) {
	name := aws.String("devices")
	in := &iot.CreateDomainConfigurationInput{DomainConfigurationName: name, DomainName: aws.String("iot.example.com"),
		ServerCertificateArns: []string{"arn:aws:acm:" + tg.Region + ":" + tg.Account + ":certificate/x"}, ServiceType: types.ServiceTypeData}
	out := must[*iot.CreateDomainConfigurationOutput](t, "CreateDomainConfiguration")(tg.IoT.CreateDomainConfiguration(ctx, in))
	// AWS: arn:aws:iot:<region>:<account>:domainconfiguration/<name>/<id>.
	if got, want := aws.ToString(out.DomainConfigurationArn), tg.arn("domainconfiguration", "devices")+"/"; len(got) <= len(want) || got[:len(want)] != want {
		t.Errorf("DomainConfigurationArn = %q, want %s<id>", got, want)
	}
	describe := func() *iot.DescribeDomainConfigurationOutput {
		t.Helper()
		return must[*iot.DescribeDomainConfigurationOutput](t, "DescribeDomainConfiguration")(tg.IoT.DescribeDomainConfiguration(ctx,
			&iot.DescribeDomainConfigurationInput{DomainConfigurationName: name}))
	}
	d := describe()
	if d.DomainConfigurationStatus != types.DomainConfigurationStatusEnabled || aws.ToString(d.DomainName) != "iot.example.com" ||
		d.ServiceType != types.ServiceTypeData || len(d.ServerCertificates) != 1 ||
		aws.ToString(d.ServerCertificates[0].ServerCertificateArn) != in.ServerCertificateArns[0] ||
		d.ServerCertificates[0].ServerCertificateStatus != types.ServerCertificateStatusValid {
		t.Errorf("described %+v", d)
	}
	must[*iot.UpdateDomainConfigurationOutput](t, "UpdateDomainConfiguration")(tg.IoT.UpdateDomainConfiguration(ctx,
		&iot.UpdateDomainConfigurationInput{DomainConfigurationName: name, DomainConfigurationStatus: types.DomainConfigurationStatusDisabled}))
	if st := describe().DomainConfigurationStatus; st != types.DomainConfigurationStatusDisabled {
		t.Errorf("after disabling: %s", st)
	}
	_, err := tg.IoT.CreateDomainConfiguration(ctx, in)
	wantErr[*types.ResourceAlreadyExistsException](t, "CreateDomainConfiguration of a taken name", err)
	_, err = tg.IoT.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "DescribeDomainConfiguration of a missing one", err)
}

func billingGroupMembership(ctx context.Context, t *testing.T, tg Target) {
	out := must[*iot.CreateBillingGroupOutput](t, "CreateBillingGroup")(tg.IoT.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg-a"),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("a")}}))
	if got, want := aws.ToString(out.BillingGroupArn), tg.arn("billinggroup", "bg-a"); got != want {
		t.Errorf("BillingGroupArn = %q, want %q", got, want)
	}
	must[*iot.CreateBillingGroupOutput](t, "CreateBillingGroup")(tg.IoT.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg-b")}))
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("billed")}))
	add := func(g string) {
		t.Helper()
		must[*iot.AddThingToBillingGroupOutput](t, "AddThingToBillingGroup")(tg.IoT.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{
			BillingGroupName: aws.String(g), ThingName: aws.String("billed")}))
	}
	members := func(g string) []string {
		t.Helper()
		return must[*iot.ListThingsInBillingGroupOutput](t, "ListThingsInBillingGroup")(tg.IoT.ListThingsInBillingGroup(ctx,
			&iot.ListThingsInBillingGroupInput{BillingGroupName: aws.String(g)})).Things
	}
	add("bg-a")
	if d := must[*iot.DescribeThingOutput](t, "DescribeThing")(tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("billed")})); aws.ToString(d.BillingGroupName) != "bg-a" {
		t.Errorf("DescribeThing billingGroupName = %q, want bg-a", aws.ToString(d.BillingGroupName))
	}
	if got := members("bg-a"); !slices.Equal(got, []string{"billed"}) {
		t.Errorf("bg-a things = %q", got)
	}
	// AWS: a thing can belong to only one billing group; adding it to another moves it.
	add("bg-b")
	if a, b := members("bg-a"), members("bg-b"); len(a) != 0 || !slices.Equal(b, []string{"billed"}) {
		t.Errorf("after moving: bg-a %q, bg-b %q", a, b)
	}
	d := must[*iot.DescribeBillingGroupOutput](t, "DescribeBillingGroup")(tg.IoT.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("bg-a")}))
	if d.BillingGroupProperties == nil || aws.ToString(d.BillingGroupProperties.BillingGroupDescription) != "a" {
		t.Errorf("DescribeBillingGroup properties = %+v", d.BillingGroupProperties)
	}
	_, err := tg.IoT.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "DescribeBillingGroup of a missing group", err)
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

func billingGroupUpdate(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateBillingGroupOutput](t, "CreateBillingGroup")(tg.IoT.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg-u"),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("v1")}}))
	update := func(desc string, expected *int64) (*iot.UpdateBillingGroupOutput, error) {
		return tg.IoT.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("bg-u"), ExpectedVersion: expected,
			BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String(desc)}})
	}
	// AWS: a new group is at version 1 and every update increments it.
	up := must[*iot.UpdateBillingGroupOutput](t, "UpdateBillingGroup")(update("v2", nil))
	if up.Version != 2 {
		t.Errorf("UpdateBillingGroup version = %d, want 2", up.Version)
	}
	d := must[*iot.DescribeBillingGroupOutput](t, "DescribeBillingGroup")(tg.IoT.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("bg-u")}))
	if d.BillingGroupProperties == nil || aws.ToString(d.BillingGroupProperties.BillingGroupDescription) != "v2" {
		t.Errorf("after UpdateBillingGroup: properties %+v", d.BillingGroupProperties)
	}
	_, err := update("v3", aws.Int64(up.Version-1))
	wantErr[*types.VersionConflictException](t, "UpdateBillingGroup at a stale version", err)
	_, err = tg.IoT.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("nope"),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("x")}})
	wantErr[*types.ResourceNotFoundException](t, "UpdateBillingGroup of a missing group", err)
}

func billingGroupDelete(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateBillingGroupOutput](t, "CreateBillingGroup")(tg.IoT.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("bg-d")}))
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("billed")}))
	must[*iot.AddThingToBillingGroupOutput](t, "AddThingToBillingGroup")(tg.IoT.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{
		BillingGroupName: aws.String("bg-d"), ThingName: aws.String("billed")}))
	must[*iot.DeleteBillingGroupOutput](t, "DeleteBillingGroup")(tg.IoT.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("bg-d")}))
	if d := must[*iot.DescribeThingOutput](t, "DescribeThing")(tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("billed")})); d.BillingGroupName != nil {
		t.Errorf("DescribeThing billingGroupName after the group's delete = %q, want none", aws.ToString(d.BillingGroupName))
	}
	must[*iot.DeleteBillingGroupOutput](t, "DeleteBillingGroup of a missing group")(tg.IoT.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("bg-d")}))
}
