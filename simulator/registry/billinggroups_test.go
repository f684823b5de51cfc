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

func TestBillingGroups(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	create := func(name, desc string) error {
		_, err := f.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String(name),
			BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String(desc)}})
		return err
	}
	for _, g := range []string{"cheap", "dear"} {
		if err := create(g, g+" devices"); err != nil {
			t.Fatal(err)
		}
	}
	if err := create("cheap", "cheap devices"); err != nil {
		t.Errorf("repeated create: %v", err)
	}
	var exists *types.ResourceAlreadyExistsException
	if err := create("cheap", "other"); !errors.As(err, &exists) {
		t.Errorf("conflicting create: %v, want ResourceAlreadyExistsException", err)
	}
	f.pub.take()
	if _, err := f.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev"), BillingGroupName: aws.String("cheap")}); err != nil {
		t.Fatal(err)
	}
	group := func() string {
		t.Helper()
		d, err := f.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(d.BillingGroupName)
	}
	members := func(g string) []string {
		t.Helper()
		out, err := f.ListThingsInBillingGroup(ctx, &iot.ListThingsInBillingGroupInput{BillingGroupName: aws.String(g)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Things
	}
	if group() != "cheap" || !slices.Equal(members("cheap"), []string{"dev"}) {
		t.Errorf("after create: group %q, members %q", group(), members("cheap"))
	}
	// At most one billing group per thing: adding moves it.
	if _, err := f.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("dear"), ThingName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if group() != "dear" || len(members("cheap")) != 0 || !slices.Equal(members("dear"), []string{"dev"}) {
		t.Errorf("after move: group %q, cheap %q, dear %q", group(), members("cheap"), members("dear"))
	}
	if topics := f.pub.topics(); !slices.Equal(topics, []string{"$aws/events/thing/dev/created"}) {
		t.Errorf("events %q: billing groups raise none", topics)
	}
	up, err := f.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("dear"), ExpectedVersion: aws.Int64(1),
		BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String("v2")}})
	if err != nil || up.Version != 2 {
		t.Fatalf("update: %v, %+v", err, up)
	}
	var conflict *types.VersionConflictException
	if _, err := f.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{BillingGroupName: aws.String("dear"), ExpectedVersion: aws.Int64(1),
		BillingGroupProperties: &types.BillingGroupProperties{}}); !errors.As(err, &conflict) {
		t.Errorf("stale update: %v, want VersionConflictException", err)
	}
	if _, err := f.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("dear")}); err != nil {
		t.Fatal(err)
	}
	if group() != "" {
		t.Errorf("thing still in deleted group %q", group())
	}
	var nf *types.ResourceNotFoundException
	if _, err := f.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String("dear")}); !errors.As(err, &nf) {
		t.Errorf("describe deleted: %v", err)
	}
	if _, err := f.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String("cheap"), ThingName: aws.String("ghost")}); !errors.As(err, &nf) {
		t.Errorf("add missing thing: %v", err)
	}
	if _, err := f.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String("dear")}); err != nil {
		t.Errorf("delete missing: %v, want success", err)
	}
	list, err := f.ListBillingGroups(ctx, &iot.ListBillingGroupsInput{})
	if err != nil || len(list.BillingGroups) != 1 || aws.ToString(list.BillingGroups[0].GroupName) != "cheap" {
		t.Errorf("list: %v, %+v", err, list)
	}
}
