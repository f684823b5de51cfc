package fleetsync

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/verify"
)

// KindBillingGroup is the Result kind of a billing group.
const KindBillingGroup = "billingGroup"

// billingAPI is what the billing-group phase and the things' memberships need of a
// client: *iot.Client and the simulator's registry have it.
type billingAPI interface {
	replication.BillingGroups
	replication.BillingGroupLister
}

var (
	_ billingAPI           = (*LimitedIoT)(nil)
	_ verify.BillingGroups = (*LimitedIoT)(nil)
)

// billing returns Next's billing-group calls, or an error naming the Region when Next
// has none.
func (c *LimitedIoT) billing() (billingAPI, error) {
	b, ok := c.Next.(billingAPI)
	if !ok {
		return nil, fmt.Errorf("%s: billing groups not supported by this endpoint", c.Limiter.Region())
	}
	return b, nil
}

// limitedBilling runs one billing-group call of Next under the limiter.
func limitedBilling[O any](ctx context.Context, c *LimitedIoT, api string, call func(b billingAPI) (*O, error)) (*O, error) {
	b, err := c.billing()
	if err != nil {
		return nil, err
	}
	return do(ctx, c.Limiter, api, func() (*O, error) { return call(b) })
}

// DescribeBillingGroup calls Next.DescribeBillingGroup under the limiter.
func (c *LimitedIoT) DescribeBillingGroup(ctx context.Context, in *iot.DescribeBillingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeBillingGroupOutput, error) {
	return limitedBilling(ctx, c, "DescribeBillingGroup", func(b billingAPI) (*iot.DescribeBillingGroupOutput, error) {
		return b.DescribeBillingGroup(ctx, in, optFns...)
	})
}

// ListBillingGroups calls Next.ListBillingGroups under the limiter.
func (c *LimitedIoT) ListBillingGroups(ctx context.Context, in *iot.ListBillingGroupsInput, optFns ...func(*iot.Options)) (*iot.ListBillingGroupsOutput, error) {
	return limitedBilling(ctx, c, "ListBillingGroups", func(b billingAPI) (*iot.ListBillingGroupsOutput, error) {
		return b.ListBillingGroups(ctx, in, optFns...)
	})
}

// CreateBillingGroup calls Next.CreateBillingGroup under the limiter.
func (c *LimitedIoT) CreateBillingGroup(ctx context.Context, in *iot.CreateBillingGroupInput, optFns ...func(*iot.Options)) (*iot.CreateBillingGroupOutput, error) {
	return limitedBilling(ctx, c, "CreateBillingGroup", func(b billingAPI) (*iot.CreateBillingGroupOutput, error) {
		return b.CreateBillingGroup(ctx, in, optFns...)
	})
}

// UpdateBillingGroup calls Next.UpdateBillingGroup under the limiter.
func (c *LimitedIoT) UpdateBillingGroup(ctx context.Context, in *iot.UpdateBillingGroupInput, optFns ...func(*iot.Options)) (*iot.UpdateBillingGroupOutput, error) {
	return limitedBilling(ctx, c, "UpdateBillingGroup", func(b billingAPI) (*iot.UpdateBillingGroupOutput, error) {
		return b.UpdateBillingGroup(ctx, in, optFns...)
	})
}

// DeleteBillingGroup calls Next.DeleteBillingGroup under the limiter.
func (c *LimitedIoT) DeleteBillingGroup(ctx context.Context, in *iot.DeleteBillingGroupInput, optFns ...func(*iot.Options)) (*iot.DeleteBillingGroupOutput, error) {
	return limitedBilling(ctx, c, "DeleteBillingGroup", func(b billingAPI) (*iot.DeleteBillingGroupOutput, error) {
		return b.DeleteBillingGroup(ctx, in, optFns...)
	})
}

// AddThingToBillingGroup calls Next.AddThingToBillingGroup under the limiter.
func (c *LimitedIoT) AddThingToBillingGroup(ctx context.Context, in *iot.AddThingToBillingGroupInput, optFns ...func(*iot.Options)) (*iot.AddThingToBillingGroupOutput, error) {
	return limitedBilling(ctx, c, "AddThingToBillingGroup", func(b billingAPI) (*iot.AddThingToBillingGroupOutput, error) {
		return b.AddThingToBillingGroup(ctx, in, optFns...)
	})
}

// RemoveThingFromBillingGroup calls Next.RemoveThingFromBillingGroup under the limiter.
func (c *LimitedIoT) RemoveThingFromBillingGroup(ctx context.Context, in *iot.RemoveThingFromBillingGroupInput, optFns ...func(*iot.Options)) (*iot.RemoveThingFromBillingGroupOutput, error) {
	return limitedBilling(ctx, c, "RemoveThingFromBillingGroup", func(b billingAPI) (*iot.RemoveThingFromBillingGroupOutput, error) {
		return b.RemoveThingFromBillingGroup(ctx, in, optFns...)
	})
}

// billingSides returns the billing-group calls of the source and target clients; ok
// is false when either has none (then a thing in a billing group fails with the
// reason, and no billing group is synced).
func billingSides(src, tgt replication.IoT) (s, t billingAPI, ok bool) {
	s, ok1 := src.(billingAPI)
	t, ok2 := tgt.(billingAPI)
	return s, t, ok1 && ok2
}

func (e *engine) billingGroup(ctx context.Context, name string) Result {
	if e.opts.DryRun {
		return dryResult(KindBillingGroup, name, func() ([]verify.Difference, error) { return e.cmp.BillingGroup(ctx, name) })
	}
	// Billing groups raise no registry events: no marks are needed.
	return e.converge(ctx, KindBillingGroup, name, func() ([]string, error) {
		o, err := e.rep.BillingGroup(ctx, name)
		return o.Changes, err
	})
}
