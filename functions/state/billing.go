package state

import (
	"context"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// DescribeBillingGroup answers from the billing group's item.
func (v *View) DescribeBillingGroup(ctx context.Context, in *iot.DescribeBillingGroupInput, _ ...func(*iot.Options)) (*iot.DescribeBillingGroupOutput, error) {
	var b BillingGroup
	name := aws.ToString(in.BillingGroupName)
	if _, err := v.get(ctx, spec.KindBillingGroup, name, &b); err != nil {
		return nil, err
	}
	return &iot.DescribeBillingGroupOutput{
		BillingGroupName:       aws.String(name),
		BillingGroupProperties: &iottypes.BillingGroupProperties{BillingGroupDescription: optional(b.Description)},
	}, nil
}

// ListTagsForResource answers from the tags item of the resource the ARN names
// (arn:<partition>:iot:<region>:<account>:<type>/<name>; the Region and account are
// not checked, the table holds one account's resources); a resource without a tags
// item has none replicated yet (NotReplicatedError).
func (v *View) ListTagsForResource(ctx context.Context, in *iot.ListTagsForResourceInput, _ ...func(*iot.Options)) (*iot.ListTagsForResourceOutput, error) {
	arn := aws.ToString(in.ResourceArn)
	kind, name, ok := spec.TaggedResourceOfARN(arn)
	if !ok {
		return nil, &iottypes.InvalidRequestException{Message: aws.String("state: " + arn + " is not the ARN of a resource whose tags are replicated")}
	}
	var t Tags
	if _, err := v.get(ctx, spec.KindTags, spec.TagsKey(kind, name), &t); err != nil {
		return nil, err
	}
	out := &iot.ListTagsForResourceOutput{Tags: []iottypes.Tag{}}
	for _, k := range slices.Sorted(maps.Keys(t.Tags)) {
		out.Tags = append(out.Tags, iottypes.Tag{Key: aws.String(k), Value: aws.String(t.Tags[k])})
	}
	return out, nil
}
