package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// BillingGroupReader is the part of a Region's control plane (*iot.Client) billing
// groups are read with.
type BillingGroupReader interface {
	replication.BillingGroupSource
	replication.BillingGroupLister
}

// BillingGroup captures a billing group's properties; a group gone from the Region
// becomes a tombstone. AWS raises no registry event for billing groups nor for their
// memberships, so the sweep captures them (and a thing's capture a group it names
// that the table lacks); a thing's billing group is in the thing's own item.
func (c *Capturer) BillingGroup(ctx context.Context, name string, changedAt time.Time) (Result, error) {
	var res Result
	if c.Billing == nil {
		return res, permanent(fmt.Errorf("capture: no billing-group client configured"))
	}
	readAt := c.now()
	d, err := c.Billing.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
	if replication.IsNotFound(err) {
		cur, known, err := c.Store.Get(ctx, spec.KindBillingGroup, name)
		if err != nil {
			return res, err
		}
		if known && !cur.Deleted {
			// Another Region's group not created here yet is no delete made here.
			if deleted, err := c.deletedHere(ctx, cur); err != nil || !deleted {
				return res, err
			}
		}
		if err := c.tagsGone(ctx, &res, spec.KindBillingGroup, name, changedAt); err != nil {
			return res, err
		}
		return res, c.put(ctx, &res, state.Tombstone(spec.KindBillingGroup, name), readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe billing group %s: %w", name, err)
	}
	if err := c.putBody(ctx, &res, spec.KindBillingGroup, name, state.BillingGroup{Description: replication.BillingGroupDescription(d)}, readAt, changedAt); err != nil {
		return res, err
	}
	return res, c.resourceTags(ctx, &res, spec.KindBillingGroup, name, aws.ToString(d.BillingGroupArn), changedAt)
}

// thingBillingGroup makes sure the billing group a captured thing is in has an item,
// so that the thing's apply finds it: one table read per thing in a billing group,
// and one Describe when the table lacks the group (created since the last sweep).
func (c *Capturer) thingBillingGroup(ctx context.Context, res *Result, group string, changedAt time.Time) error {
	if group == "" || c.Billing == nil {
		return nil
	}
	it, ok, err := c.Store.Get(ctx, spec.KindBillingGroup, group)
	if err != nil || (ok && !it.Deleted) {
		return err
	}
	r, err := c.BillingGroup(ctx, group, changedAt)
	res.merge(r)
	return err
}

// billingGroupPage lists one page of the Region's billing groups (none without a
// billing-group client).
func (c *Capturer) billingGroupPage(ctx context.Context, tok *string, size *int32) ([]string, *string, error) {
	if c.Billing == nil {
		return nil, nil, nil
	}
	out, err := c.Billing.ListBillingGroups(ctx, &iot.ListBillingGroupsInput{NextToken: tok, MaxResults: size})
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(out.BillingGroups))
	for _, g := range out.BillingGroups {
		names = append(names, aws.ToString(g.GroupName))
	}
	return names, out.NextToken, nil
}
