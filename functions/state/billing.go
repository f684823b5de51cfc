package state

import (
	"context"

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
