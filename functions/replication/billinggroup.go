package replication

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// BillingGroupSource is what a billing group's wanted state is read from: a Region's
// API (*iot.Client) or the state view. A thing's billing group is read with the
// thing (DescribeThing's billingGroupName).
type BillingGroupSource interface {
	DescribeBillingGroup(ctx context.Context, in *iot.DescribeBillingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeBillingGroupOutput, error)
}

// BillingGroups is the part of the control plane (*iot.Client) billing groups and
// their memberships are converged with.
type BillingGroups interface {
	DescribeBillingGroup(ctx context.Context, in *iot.DescribeBillingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeBillingGroupOutput, error)
	CreateBillingGroup(ctx context.Context, in *iot.CreateBillingGroupInput, optFns ...func(*iot.Options)) (*iot.CreateBillingGroupOutput, error)
	UpdateBillingGroup(ctx context.Context, in *iot.UpdateBillingGroupInput, optFns ...func(*iot.Options)) (*iot.UpdateBillingGroupOutput, error)
	DeleteBillingGroup(ctx context.Context, in *iot.DeleteBillingGroupInput, optFns ...func(*iot.Options)) (*iot.DeleteBillingGroupOutput, error)
	AddThingToBillingGroup(ctx context.Context, in *iot.AddThingToBillingGroupInput, optFns ...func(*iot.Options)) (*iot.AddThingToBillingGroupOutput, error)
	RemoveThingFromBillingGroup(ctx context.Context, in *iot.RemoveThingFromBillingGroupInput, optFns ...func(*iot.Options)) (*iot.RemoveThingFromBillingGroupOutput, error)
}

// BillingGroupLister pages a Region's billing groups (the sweep, sync and verify).
type BillingGroupLister interface {
	ListBillingGroups(ctx context.Context, in *iot.ListBillingGroupsInput, optFns ...func(*iot.Options)) (*iot.ListBillingGroupsOutput, error)
}

var (
	_ BillingGroups      = (*iot.Client)(nil)
	_ BillingGroupLister = (*iot.Client)(nil)
)

// BillingGroupNames lists the name of every billing group in c. A failed page is
// reported as "list billing groups: ...".
func BillingGroupNames(c BillingGroupLister) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iot.NewListBillingGroupsPaginator(c, &iot.ListBillingGroupsInput{})
		return eachName(ctx, p, "billing groups", func(o *iot.ListBillingGroupsOutput) []string {
			return namesOf(o.BillingGroups, groupName)
		}, yield)
	}
}

// BillingGroupDescription returns a described billing group's description ("" for
// none).
func BillingGroupDescription(d *iot.DescribeBillingGroupOutput) string {
	if d == nil || d.BillingGroupProperties == nil {
		return ""
	}
	return aws.ToString(d.BillingGroupProperties.BillingGroupDescription)
}

// BillingGroup converges one billing group: created with the source's description
// when missing, its description updated to the source's, deleted when the source no
// longer has it (AWS then takes its things out of it). Its memberships are converged
// with the things (Thing).
func (r *Replicator) BillingGroup(ctx context.Context, name string) (Outcome, error) {
	rec := &recorder{}
	err := r.billingGroup(ctx, name, rec)
	return r.finish(ctx, "billing group", name, rec, 0, err)
}

func (r *Replicator) billingGroup(ctx context.Context, name string, rec *recorder) error {
	if err := validName("billing group", name); err != nil {
		return err
	}
	if r.SourceBilling == nil || r.TargetBilling == nil {
		return invalidf("billing-group replication is not configured (no billing-group clients)")
	}
	src, err := r.SourceBilling.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
	if IsNotFound(err) {
		return r.deleteBillingGroup(ctx, name, rec)
	}
	if err != nil {
		return fmt.Errorf("describe in %s: %w", r.SourceRegion, err)
	}
	want := BillingGroupDescription(src)
	for attempt := 0; ; attempt++ {
		tgt, err := r.TargetBilling.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
		switch {
		case IsNotFound(err):
			in := &iot.CreateBillingGroupInput{BillingGroupName: aws.String(name)}
			if want != "" {
				in.BillingGroupProperties = &types.BillingGroupProperties{BillingGroupDescription: aws.String(want)}
			}
			_, err := r.TargetBilling.CreateBillingGroup(ctx, in)
			if isAlreadyExists(err) && attempt == 0 {
				continue // created concurrently, or with another description: compare
			}
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			rec.add("created billing group %s", name)
			return nil
		case err != nil:
			return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
		case BillingGroupDescription(tgt) == want:
			return nil
		}
		_, err = r.TargetBilling.UpdateBillingGroup(ctx, &iot.UpdateBillingGroupInput{
			BillingGroupName:       aws.String(name),
			BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: aws.String(want)},
		})
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		rec.add("updated billing group %s", name)
		return nil
	}
}

func (r *Replicator) deleteBillingGroup(ctx context.Context, name string, rec *recorder) error {
	_, err := r.TargetBilling.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
	}
	if _, err := r.TargetBilling.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String(name)}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete: %w", err)
	}
	rec.add("deleted billing group %s", name)
	return nil
}

// billingMembership puts the target thing into the billing group want ("" for none)
// when it is in have, converging the group first when the target lacks it. Adding a
// thing to a billing group takes it out of its previous one.
func (r *Replicator) billingMembership(ctx context.Context, thing, want, have string, rec *recorder) error {
	if want == have {
		return nil
	}
	if r.TargetBilling == nil {
		return invalidf("thing %s is in billing group %q in %s, and billing-group replication is not configured", thing, want, r.SourceRegion)
	}
	if want == "" {
		_, err := r.TargetBilling.RemoveThingFromBillingGroup(ctx, &iot.RemoveThingFromBillingGroupInput{BillingGroupName: aws.String(have), ThingName: aws.String(thing)})
		if err != nil && !IsNotFound(err) {
			return fmt.Errorf("remove from billing group %s: %w", have, err)
		}
		rec.add("removed thing %s from billing group %s", thing, have)
		return nil
	}
	add := func() error {
		_, err := r.TargetBilling.AddThingToBillingGroup(ctx, &iot.AddThingToBillingGroupInput{BillingGroupName: aws.String(want), ThingName: aws.String(thing)})
		return err
	}
	err := add()
	if IsNotFound(err) {
		// The group is missing in the target (the thing was just converged).
		if err := r.billingGroup(ctx, want, rec); err != nil {
			return fmt.Errorf("billing group %s: %w", want, err)
		}
		if _, derr := r.TargetBilling.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(want)}); IsNotFound(derr) {
			return nil // gone from the source meanwhile: its tombstone's apply follows
		}
		err = add()
	}
	if err != nil {
		return fmt.Errorf("add to billing group %s: %w", want, err)
	}
	rec.add("added thing %s to billing group %s", thing, want)
	return nil
}

// BillingGroup is Replicator.BillingGroup.
func (run *Run) BillingGroup(ctx context.Context, name string) (Outcome, error) {
	return run.r.BillingGroup(ctx, name)
}
