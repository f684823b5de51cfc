package verify

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/replication"
)

// BillingGroup is the resource of billing-group differences (a thing's billing group
// is a field of the thing).
const BillingGroup Resource = "billing group"

// BillingGroups is the read-only part of the control plane (*iot.Client) billing
// groups are compared with. Run compares them when both clients have it.
type BillingGroups interface {
	replication.BillingGroupSource
	replication.BillingGroupLister
}

var _ BillingGroups = (*iot.Client)(nil)

// billingClients returns the billing-group sides of c's clients; ok is false when
// either lacks them.
func (c *Comparer) billingClients() (src, tgt BillingGroups, ok bool) {
	src, ok1 := c.Source.(BillingGroups)
	tgt, ok2 := c.Target.(BillingGroups)
	return src, tgt, ok1 && ok2
}

// BillingGroup compares one billing group: missing or extra in the target, its
// description. Memberships are compared with the things (Thing).
func (c *Comparer) BillingGroup(ctx context.Context, name string) ([]Difference, error) {
	src, tgt, ok := c.billingClients()
	if !ok {
		return nil, fmt.Errorf("verify: billing group %s: the clients cannot describe billing groups", name)
	}
	s, err := src.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
	sMissing := replication.IsNotFound(err)
	if err != nil && !sMissing {
		return nil, fmt.Errorf("describe billing group %s in %s: %w", name, c.SourceRegion, err)
	}
	t, err := tgt.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
	tMissing := replication.IsNotFound(err)
	if err != nil && !tMissing {
		return nil, fmt.Errorf("describe billing group %s in %s: %w", name, c.TargetRegion, err)
	}
	switch {
	case sMissing && tMissing:
		return nil, nil
	case sMissing:
		return []Difference{{Kind: Extra, Resource: BillingGroup, Name: name}}, nil
	case tMissing:
		return []Difference{{Kind: Missing, Resource: BillingGroup, Name: name}}, nil
	}
	if a, b := replication.BillingGroupDescription(s), replication.BillingGroupDescription(t); a != b {
		return []Difference{{Kind: Different, Resource: BillingGroup, Name: name, Field: "description", Source: quote(&a), Target: quote(&b)}}, nil
	}
	return nil, nil
}

func (r *run) billingGroups(ctx context.Context) error {
	src, tgt, ok := r.c.billingClients()
	if !ok {
		return nil // clients without billing groups (a test fake): nothing to compare
	}
	return r.walk(ctx, phase{
		resource: BillingGroup, counter: &r.report.BillingGroups,
		source: replication.BillingGroupNames(src), target: replication.BillingGroupNames(tgt),
		compare: r.c.BillingGroup,
		describe: func(ctx context.Context, name string) error {
			_, err := src.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: &name})
			return err
		},
	})
}
