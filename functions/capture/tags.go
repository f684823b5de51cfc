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

// TagReader is the part of a Region's control plane (*iot.Client) tags are read
// with: a resource's tags, and the policies the sweep pages through for theirs.
type TagReader interface {
	replication.TagSource
	ListPolicies(ctx context.Context, in *iot.ListPoliciesInput, optFns ...func(*iot.Options)) (*iot.ListPoliciesOutput, error)
}

// resourceTags captures the tags of the resource arn names (one
// ListTagsForResource); nothing without a tag client. Tags raise no registry
// events: the capture of the resource's own change (its event, the sweep) reads
// them, so a change to tags alone reaches the other Region with the next sweep.
func (c *Capturer) resourceTags(ctx context.Context, res *Result, kind, name, arn string, changedAt time.Time) error {
	if c.Tags == nil || arn == "" {
		return nil
	}
	readAt := c.now()
	tags, err := replication.ListTags(ctx, c.Tags, arn)
	if replication.IsNotFound(err) {
		return c.tagsGone(ctx, res, kind, name, changedAt) // deleted since it was described
	}
	if err != nil {
		return fmt.Errorf("capture: tags of %s %s: %w", kind, name, err)
	}
	if len(tags) == 0 {
		// Most resources have no tags: no item for them until they have some.
		it, ok, err := c.Store.Get(ctx, spec.KindTags, spec.TagsKey(kind, name))
		if err != nil || !ok || it.Deleted {
			return err
		}
	}
	return c.putBody(ctx, res, spec.KindTags, spec.TagsKey(kind, name), state.Tags{Tags: tags}, readAt, changedAt)
}

// tagsGone writes the tombstone of a deleted resource's tags, when the table has
// them.
func (c *Capturer) tagsGone(ctx context.Context, res *Result, kind, name string, changedAt time.Time) error {
	if c.Tags == nil {
		return nil
	}
	key := spec.TagsKey(kind, name)
	readAt := c.now()
	it, ok, err := c.Store.Get(ctx, spec.KindTags, key)
	if err != nil || !ok || it.Deleted {
		return err
	}
	return c.put(ctx, res, state.Tombstone(spec.KindTags, key), readAt, changedAt)
}

// Tags captures the tags of the resource a tags item names (the redrive's and the
// table stage's path): the resource is described for its ARN.
func (c *Capturer) ResourceTags(ctx context.Context, key string) (Result, error) {
	var res Result
	kind, name, ok := spec.SplitTagsKey(key)
	if !ok {
		return res, permanent(fmt.Errorf("capture: tags item %q names no taggable resource", key))
	}
	if c.Tags == nil {
		return res, permanent(fmt.Errorf("capture: no tag client configured"))
	}
	var (
		arn string
		err error
	)
	switch kind {
	case spec.KindThingType:
		var d *iot.DescribeThingTypeOutput
		if d, err = c.IoT.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)}); err == nil {
			arn = aws.ToString(d.ThingTypeArn)
		}
	case spec.KindThingGroup:
		var d *iot.DescribeThingGroupOutput
		if d, err = c.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)}); err == nil {
			arn = aws.ToString(d.ThingGroupArn)
		}
	case spec.KindBillingGroup:
		if c.Billing == nil {
			return res, permanent(fmt.Errorf("capture: no billing-group client configured"))
		}
		var d *iot.DescribeBillingGroupOutput
		if d, err = c.Billing.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)}); err == nil {
			arn = aws.ToString(d.BillingGroupArn)
		}
	case spec.KindPolicy:
		var d *iot.GetPolicyOutput
		if d, err = c.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)}); err == nil {
			arn = aws.ToString(d.PolicyArn)
		}
	default: // role alias, provisioning template, CA certificate
		if c.Provisioning == nil {
			return res, permanent(fmt.Errorf("capture: no client for role aliases, provisioning templates and CA certificates configured"))
		}
		arn, _, err = replication.ResourceARN(ctx, nil, nil, c.Provisioning, kind, name)
		if err == nil && arn == "" {
			return res, c.tagsGone(ctx, &res, kind, name, time.Time{})
		}
	}
	if replication.IsNotFound(err) {
		return res, c.tagsGone(ctx, &res, kind, name, time.Time{})
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe %s %s: %w", kind, name, err)
	}
	return res, c.resourceTags(ctx, &res, kind, name, arn, time.Time{})
}

// policyTagsPage captures the tags of one ListPolicies page's policies that the
// table replicates (a live policy item: policies reachable from a thing); nothing
// without a tag client.
func (c *Capturer) policyTagsPage(ctx context.Context, tok *string, size *int32, record func(key string, err error) error) (visited, written int, next *string, err error) {
	if c.Tags == nil {
		return 0, 0, nil, nil
	}
	out, err := c.Tags.ListPolicies(ctx, &iot.ListPoliciesInput{Marker: tok, PageSize: size})
	if err != nil {
		return 0, 0, nil, err
	}
	for _, p := range out.Policies {
		name := aws.ToString(p.PolicyName)
		it, ok, err := c.Store.Get(ctx, spec.KindPolicy, name)
		if err == nil && (!ok || it.Deleted) {
			continue // not replicated
		}
		visited++
		var res Result
		if err == nil {
			res, err = again(func() (Result, error) {
				var r Result
				return r, c.resourceTags(ctx, &r, spec.KindPolicy, name, aws.ToString(p.PolicyArn), time.Time{})
			})
		}
		written += res.Written
		if err != nil {
			if rerr := record(spec.StateKey(spec.KindTags, spec.TagsKey(spec.KindPolicy, name)), err); rerr != nil {
				return visited, written, nil, rerr
			}
		}
	}
	return visited, written, out.NextMarker, nil
}

// policyTags sweeps one page of policies for their tags, then moves on to the
// retained messages.
func (s *Sweeper) policyTags(ctx context.Context, st SweepState, size int32) (SweepState, error) {
	visited, written, next, err := s.Capturer.policyTagsPage(ctx, optional(st.Token), aws.Int32(size), func(key string, err error) error {
		st.Failed++
		return s.Failures.Record(ctx, spec.StageCapture, key, "SweepCaptureFailed", err, nil)
	})
	if err != nil {
		return st, fmt.Errorf("capture: sweep %s: %w", st.Stage, err) // the state machine retries the page
	}
	st.Visited += visited
	st.Written += written
	if st.Token = aws.ToString(next); st.Token == "" {
		st.Stage = SweepRetained
	}
	return st, nil
}
