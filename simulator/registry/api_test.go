package registry

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// iotAPI is every *iot.Client method the fake implements. Both *iot.Client
// and *Registry must satisfy it, which pins the fake to the SDK's exact
// signatures.
type iotAPI interface {
	AddThingToBillingGroup(context.Context, *iot.AddThingToBillingGroupInput, ...func(*iot.Options)) (*iot.AddThingToBillingGroupOutput, error)
	CreateBillingGroup(context.Context, *iot.CreateBillingGroupInput, ...func(*iot.Options)) (*iot.CreateBillingGroupOutput, error)
	DeleteBillingGroup(context.Context, *iot.DeleteBillingGroupInput, ...func(*iot.Options)) (*iot.DeleteBillingGroupOutput, error)
	DescribeBillingGroup(context.Context, *iot.DescribeBillingGroupInput, ...func(*iot.Options)) (*iot.DescribeBillingGroupOutput, error)
	ListBillingGroups(context.Context, *iot.ListBillingGroupsInput, ...func(*iot.Options)) (*iot.ListBillingGroupsOutput, error)
	ListThingsInBillingGroup(context.Context, *iot.ListThingsInBillingGroupInput, ...func(*iot.Options)) (*iot.ListThingsInBillingGroupOutput, error)
	RemoveThingFromBillingGroup(context.Context, *iot.RemoveThingFromBillingGroupInput, ...func(*iot.Options)) (*iot.RemoveThingFromBillingGroupOutput, error)
	UpdateBillingGroup(context.Context, *iot.UpdateBillingGroupInput, ...func(*iot.Options)) (*iot.UpdateBillingGroupOutput, error)
	AddThingToThingGroup(context.Context, *iot.AddThingToThingGroupInput, ...func(*iot.Options)) (*iot.AddThingToThingGroupOutput, error)
	AttachPolicy(context.Context, *iot.AttachPolicyInput, ...func(*iot.Options)) (*iot.AttachPolicyOutput, error)
	AttachThingPrincipal(context.Context, *iot.AttachThingPrincipalInput, ...func(*iot.Options)) (*iot.AttachThingPrincipalOutput, error)
	CreatePolicy(context.Context, *iot.CreatePolicyInput, ...func(*iot.Options)) (*iot.CreatePolicyOutput, error)
	CreatePolicyVersion(context.Context, *iot.CreatePolicyVersionInput, ...func(*iot.Options)) (*iot.CreatePolicyVersionOutput, error)
	CreateThing(context.Context, *iot.CreateThingInput, ...func(*iot.Options)) (*iot.CreateThingOutput, error)
	CreateThingGroup(context.Context, *iot.CreateThingGroupInput, ...func(*iot.Options)) (*iot.CreateThingGroupOutput, error)
	CreateThingType(context.Context, *iot.CreateThingTypeInput, ...func(*iot.Options)) (*iot.CreateThingTypeOutput, error)
	DeleteCertificate(context.Context, *iot.DeleteCertificateInput, ...func(*iot.Options)) (*iot.DeleteCertificateOutput, error)
	DeletePolicy(context.Context, *iot.DeletePolicyInput, ...func(*iot.Options)) (*iot.DeletePolicyOutput, error)
	DeletePolicyVersion(context.Context, *iot.DeletePolicyVersionInput, ...func(*iot.Options)) (*iot.DeletePolicyVersionOutput, error)
	DeleteThing(context.Context, *iot.DeleteThingInput, ...func(*iot.Options)) (*iot.DeleteThingOutput, error)
	DeleteThingGroup(context.Context, *iot.DeleteThingGroupInput, ...func(*iot.Options)) (*iot.DeleteThingGroupOutput, error)
	DeleteThingType(context.Context, *iot.DeleteThingTypeInput, ...func(*iot.Options)) (*iot.DeleteThingTypeOutput, error)
	DeprecateThingType(context.Context, *iot.DeprecateThingTypeInput, ...func(*iot.Options)) (*iot.DeprecateThingTypeOutput, error)
	DescribeCertificate(context.Context, *iot.DescribeCertificateInput, ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error)
	DescribeThing(context.Context, *iot.DescribeThingInput, ...func(*iot.Options)) (*iot.DescribeThingOutput, error)
	DescribeThingGroup(context.Context, *iot.DescribeThingGroupInput, ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error)
	DescribeThingType(context.Context, *iot.DescribeThingTypeInput, ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error)
	DetachPolicy(context.Context, *iot.DetachPolicyInput, ...func(*iot.Options)) (*iot.DetachPolicyOutput, error)
	DetachThingPrincipal(context.Context, *iot.DetachThingPrincipalInput, ...func(*iot.Options)) (*iot.DetachThingPrincipalOutput, error)
	GetPolicy(context.Context, *iot.GetPolicyInput, ...func(*iot.Options)) (*iot.GetPolicyOutput, error)
	ListAttachedPolicies(context.Context, *iot.ListAttachedPoliciesInput, ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error)
	ListCertificates(context.Context, *iot.ListCertificatesInput, ...func(*iot.Options)) (*iot.ListCertificatesOutput, error)
	ListPolicies(context.Context, *iot.ListPoliciesInput, ...func(*iot.Options)) (*iot.ListPoliciesOutput, error)
	ListPolicyVersions(context.Context, *iot.ListPolicyVersionsInput, ...func(*iot.Options)) (*iot.ListPolicyVersionsOutput, error)
	ListPrincipalThings(context.Context, *iot.ListPrincipalThingsInput, ...func(*iot.Options)) (*iot.ListPrincipalThingsOutput, error)
	ListTargetsForPolicy(context.Context, *iot.ListTargetsForPolicyInput, ...func(*iot.Options)) (*iot.ListTargetsForPolicyOutput, error)
	ListThingGroups(context.Context, *iot.ListThingGroupsInput, ...func(*iot.Options)) (*iot.ListThingGroupsOutput, error)
	ListThingGroupsForThing(context.Context, *iot.ListThingGroupsForThingInput, ...func(*iot.Options)) (*iot.ListThingGroupsForThingOutput, error)
	ListThingPrincipals(context.Context, *iot.ListThingPrincipalsInput, ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error)
	ListThingTypes(context.Context, *iot.ListThingTypesInput, ...func(*iot.Options)) (*iot.ListThingTypesOutput, error)
	ListThings(context.Context, *iot.ListThingsInput, ...func(*iot.Options)) (*iot.ListThingsOutput, error)
	ListThingsInThingGroup(context.Context, *iot.ListThingsInThingGroupInput, ...func(*iot.Options)) (*iot.ListThingsInThingGroupOutput, error)
	RegisterCertificate(context.Context, *iot.RegisterCertificateInput, ...func(*iot.Options)) (*iot.RegisterCertificateOutput, error)
	RegisterCertificateWithoutCA(context.Context, *iot.RegisterCertificateWithoutCAInput, ...func(*iot.Options)) (*iot.RegisterCertificateWithoutCAOutput, error)
	RemoveThingFromThingGroup(context.Context, *iot.RemoveThingFromThingGroupInput, ...func(*iot.Options)) (*iot.RemoveThingFromThingGroupOutput, error)
	SetDefaultPolicyVersion(context.Context, *iot.SetDefaultPolicyVersionInput, ...func(*iot.Options)) (*iot.SetDefaultPolicyVersionOutput, error)
	UpdateCertificate(context.Context, *iot.UpdateCertificateInput, ...func(*iot.Options)) (*iot.UpdateCertificateOutput, error)
	UpdateThing(context.Context, *iot.UpdateThingInput, ...func(*iot.Options)) (*iot.UpdateThingOutput, error)
	UpdateThingGroup(context.Context, *iot.UpdateThingGroupInput, ...func(*iot.Options)) (*iot.UpdateThingGroupOutput, error)
	UpdateThingType(context.Context, *iot.UpdateThingTypeInput, ...func(*iot.Options)) (*iot.UpdateThingTypeOutput, error)
}

var (
	_ iotAPI = (*iot.Client)(nil)
	_ iotAPI = (*Registry)(nil)
)
