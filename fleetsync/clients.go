package fleetsync

// Code below is mechanical: one method per API, each paced and retried by do.

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/verify"
)

// Searcher is the fleet-indexing call that --query uses (*iot.Client has it; the
// simulator's registry does not).
type Searcher interface {
	SearchIndex(ctx context.Context, in *iot.SearchIndexInput, optFns ...func(*iot.Options)) (*iot.SearchIndexOutput, error)
}

// ErrQueryUnsupported says the endpoint cannot run a fleet-indexing query.
var ErrQueryUnsupported = errors.New("fleet indexing query not supported by this endpoint")

// LimitedIoT decorates an IoT control-plane client: every call waits for its API's
// token in Limiter and is retried on throttling (see Limiter). It implements
// replication.IoT, verify.IoT and Searcher.
type LimitedIoT struct {
	// Next is the decorated client.
	Next replication.IoT
	// Limiter paces Next's Region.
	Limiter *Limiter
}

// LimitedShadows decorates an IoT data-plane client like LimitedIoT.
type LimitedShadows struct {
	// Next is the decorated client.
	Next replication.Shadows
	// Limiter paces Next's Region.
	Limiter *Limiter
}

// The decorators must satisfy the interfaces the engines use.
var (
	_ replication.IoT     = (*LimitedIoT)(nil)
	_ verify.IoT          = (*LimitedIoT)(nil)
	_ Searcher            = (*LimitedIoT)(nil)
	_ replication.Shadows = (*LimitedShadows)(nil)
	_ verify.Shadows      = (*LimitedShadows)(nil)
)

// SearchIndex runs a fleet-indexing query when Next supports it; otherwise it fails
// with ErrQueryUnsupported.
func (c *LimitedIoT) SearchIndex(ctx context.Context, in *iot.SearchIndexInput, optFns ...func(*iot.Options)) (*iot.SearchIndexOutput, error) {
	s, ok := c.Next.(Searcher)
	if !ok {
		return nil, fmt.Errorf("%s: %w", c.Limiter.Region(), ErrQueryUnsupported)
	}
	return do(ctx, c.Limiter, "SearchIndex", func() (*iot.SearchIndexOutput, error) { return s.SearchIndex(ctx, in, optFns...) })
}

// DescribeThing calls Next.DescribeThing under the limiter.
func (c *LimitedIoT) DescribeThing(ctx context.Context, in *iot.DescribeThingInput, optFns ...func(*iot.Options)) (*iot.DescribeThingOutput, error) {
	return do(ctx, c.Limiter, "DescribeThing", func() (*iot.DescribeThingOutput, error) { return c.Next.DescribeThing(ctx, in, optFns...) })
}

// CreateThing calls Next.CreateThing under the limiter.
func (c *LimitedIoT) CreateThing(ctx context.Context, in *iot.CreateThingInput, optFns ...func(*iot.Options)) (*iot.CreateThingOutput, error) {
	return do(ctx, c.Limiter, "CreateThing", func() (*iot.CreateThingOutput, error) { return c.Next.CreateThing(ctx, in, optFns...) })
}

// UpdateThing calls Next.UpdateThing under the limiter.
func (c *LimitedIoT) UpdateThing(ctx context.Context, in *iot.UpdateThingInput, optFns ...func(*iot.Options)) (*iot.UpdateThingOutput, error) {
	return do(ctx, c.Limiter, "UpdateThing", func() (*iot.UpdateThingOutput, error) { return c.Next.UpdateThing(ctx, in, optFns...) })
}

// DeleteThing calls Next.DeleteThing under the limiter.
func (c *LimitedIoT) DeleteThing(ctx context.Context, in *iot.DeleteThingInput, optFns ...func(*iot.Options)) (*iot.DeleteThingOutput, error) {
	return do(ctx, c.Limiter, "DeleteThing", func() (*iot.DeleteThingOutput, error) { return c.Next.DeleteThing(ctx, in, optFns...) })
}

// ListThings calls Next.ListThings under the limiter.
func (c *LimitedIoT) ListThings(ctx context.Context, in *iot.ListThingsInput, optFns ...func(*iot.Options)) (*iot.ListThingsOutput, error) {
	return do(ctx, c.Limiter, "ListThings", func() (*iot.ListThingsOutput, error) { return c.Next.ListThings(ctx, in, optFns...) })
}

// ListThingPrincipals calls Next.ListThingPrincipals under the limiter.
func (c *LimitedIoT) ListThingPrincipals(ctx context.Context, in *iot.ListThingPrincipalsInput, optFns ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error) {
	return do(ctx, c.Limiter, "ListThingPrincipals", func() (*iot.ListThingPrincipalsOutput, error) { return c.Next.ListThingPrincipals(ctx, in, optFns...) })
}

// ListPrincipalThings calls Next.ListPrincipalThings under the limiter.
func (c *LimitedIoT) ListPrincipalThings(ctx context.Context, in *iot.ListPrincipalThingsInput, optFns ...func(*iot.Options)) (*iot.ListPrincipalThingsOutput, error) {
	return do(ctx, c.Limiter, "ListPrincipalThings", func() (*iot.ListPrincipalThingsOutput, error) { return c.Next.ListPrincipalThings(ctx, in, optFns...) })
}

// AttachThingPrincipal calls Next.AttachThingPrincipal under the limiter.
func (c *LimitedIoT) AttachThingPrincipal(ctx context.Context, in *iot.AttachThingPrincipalInput, optFns ...func(*iot.Options)) (*iot.AttachThingPrincipalOutput, error) {
	return do(ctx, c.Limiter, "AttachThingPrincipal", func() (*iot.AttachThingPrincipalOutput, error) {
		return c.Next.AttachThingPrincipal(ctx, in, optFns...)
	})
}

// DetachThingPrincipal calls Next.DetachThingPrincipal under the limiter.
func (c *LimitedIoT) DetachThingPrincipal(ctx context.Context, in *iot.DetachThingPrincipalInput, optFns ...func(*iot.Options)) (*iot.DetachThingPrincipalOutput, error) {
	return do(ctx, c.Limiter, "DetachThingPrincipal", func() (*iot.DetachThingPrincipalOutput, error) {
		return c.Next.DetachThingPrincipal(ctx, in, optFns...)
	})
}

// DescribeCertificate calls Next.DescribeCertificate under the limiter.
func (c *LimitedIoT) DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput, optFns ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error) {
	return do(ctx, c.Limiter, "DescribeCertificate", func() (*iot.DescribeCertificateOutput, error) { return c.Next.DescribeCertificate(ctx, in, optFns...) })
}

// RegisterCertificateWithoutCA calls Next.RegisterCertificateWithoutCA under the limiter.
func (c *LimitedIoT) RegisterCertificateWithoutCA(ctx context.Context, in *iot.RegisterCertificateWithoutCAInput, optFns ...func(*iot.Options)) (*iot.RegisterCertificateWithoutCAOutput, error) {
	return do(ctx, c.Limiter, "RegisterCertificateWithoutCA", func() (*iot.RegisterCertificateWithoutCAOutput, error) {
		return c.Next.RegisterCertificateWithoutCA(ctx, in, optFns...)
	})
}

// UpdateCertificate calls Next.UpdateCertificate under the limiter.
func (c *LimitedIoT) UpdateCertificate(ctx context.Context, in *iot.UpdateCertificateInput, optFns ...func(*iot.Options)) (*iot.UpdateCertificateOutput, error) {
	return do(ctx, c.Limiter, "UpdateCertificate", func() (*iot.UpdateCertificateOutput, error) { return c.Next.UpdateCertificate(ctx, in, optFns...) })
}

// DeleteCertificate calls Next.DeleteCertificate under the limiter.
func (c *LimitedIoT) DeleteCertificate(ctx context.Context, in *iot.DeleteCertificateInput, optFns ...func(*iot.Options)) (*iot.DeleteCertificateOutput, error) {
	return do(ctx, c.Limiter, "DeleteCertificate", func() (*iot.DeleteCertificateOutput, error) { return c.Next.DeleteCertificate(ctx, in, optFns...) })
}

// GetPolicy calls Next.GetPolicy under the limiter.
func (c *LimitedIoT) GetPolicy(ctx context.Context, in *iot.GetPolicyInput, optFns ...func(*iot.Options)) (*iot.GetPolicyOutput, error) {
	return do(ctx, c.Limiter, "GetPolicy", func() (*iot.GetPolicyOutput, error) { return c.Next.GetPolicy(ctx, in, optFns...) })
}

// CreatePolicy calls Next.CreatePolicy under the limiter.
func (c *LimitedIoT) CreatePolicy(ctx context.Context, in *iot.CreatePolicyInput, optFns ...func(*iot.Options)) (*iot.CreatePolicyOutput, error) {
	return do(ctx, c.Limiter, "CreatePolicy", func() (*iot.CreatePolicyOutput, error) { return c.Next.CreatePolicy(ctx, in, optFns...) })
}

// CreatePolicyVersion calls Next.CreatePolicyVersion under the limiter.
func (c *LimitedIoT) CreatePolicyVersion(ctx context.Context, in *iot.CreatePolicyVersionInput, optFns ...func(*iot.Options)) (*iot.CreatePolicyVersionOutput, error) {
	return do(ctx, c.Limiter, "CreatePolicyVersion", func() (*iot.CreatePolicyVersionOutput, error) { return c.Next.CreatePolicyVersion(ctx, in, optFns...) })
}

// ListPolicyVersions calls Next.ListPolicyVersions under the limiter.
func (c *LimitedIoT) ListPolicyVersions(ctx context.Context, in *iot.ListPolicyVersionsInput, optFns ...func(*iot.Options)) (*iot.ListPolicyVersionsOutput, error) {
	return do(ctx, c.Limiter, "ListPolicyVersions", func() (*iot.ListPolicyVersionsOutput, error) { return c.Next.ListPolicyVersions(ctx, in, optFns...) })
}

// DeletePolicyVersion calls Next.DeletePolicyVersion under the limiter.
func (c *LimitedIoT) DeletePolicyVersion(ctx context.Context, in *iot.DeletePolicyVersionInput, optFns ...func(*iot.Options)) (*iot.DeletePolicyVersionOutput, error) {
	return do(ctx, c.Limiter, "DeletePolicyVersion", func() (*iot.DeletePolicyVersionOutput, error) { return c.Next.DeletePolicyVersion(ctx, in, optFns...) })
}

// DeletePolicy calls Next.DeletePolicy under the limiter.
func (c *LimitedIoT) DeletePolicy(ctx context.Context, in *iot.DeletePolicyInput, optFns ...func(*iot.Options)) (*iot.DeletePolicyOutput, error) {
	return do(ctx, c.Limiter, "DeletePolicy", func() (*iot.DeletePolicyOutput, error) { return c.Next.DeletePolicy(ctx, in, optFns...) })
}

// AttachPolicy calls Next.AttachPolicy under the limiter.
func (c *LimitedIoT) AttachPolicy(ctx context.Context, in *iot.AttachPolicyInput, optFns ...func(*iot.Options)) (*iot.AttachPolicyOutput, error) {
	return do(ctx, c.Limiter, "AttachPolicy", func() (*iot.AttachPolicyOutput, error) { return c.Next.AttachPolicy(ctx, in, optFns...) })
}

// DetachPolicy calls Next.DetachPolicy under the limiter.
func (c *LimitedIoT) DetachPolicy(ctx context.Context, in *iot.DetachPolicyInput, optFns ...func(*iot.Options)) (*iot.DetachPolicyOutput, error) {
	return do(ctx, c.Limiter, "DetachPolicy", func() (*iot.DetachPolicyOutput, error) { return c.Next.DetachPolicy(ctx, in, optFns...) })
}

// ListAttachedPolicies calls Next.ListAttachedPolicies under the limiter.
func (c *LimitedIoT) ListAttachedPolicies(ctx context.Context, in *iot.ListAttachedPoliciesInput, optFns ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error) {
	return do(ctx, c.Limiter, "ListAttachedPolicies", func() (*iot.ListAttachedPoliciesOutput, error) {
		return c.Next.ListAttachedPolicies(ctx, in, optFns...)
	})
}

// ListTargetsForPolicy calls Next.ListTargetsForPolicy under the limiter.
func (c *LimitedIoT) ListTargetsForPolicy(ctx context.Context, in *iot.ListTargetsForPolicyInput, optFns ...func(*iot.Options)) (*iot.ListTargetsForPolicyOutput, error) {
	return do(ctx, c.Limiter, "ListTargetsForPolicy", func() (*iot.ListTargetsForPolicyOutput, error) {
		return c.Next.ListTargetsForPolicy(ctx, in, optFns...)
	})
}

// DescribeThingType calls Next.DescribeThingType under the limiter.
func (c *LimitedIoT) DescribeThingType(ctx context.Context, in *iot.DescribeThingTypeInput, optFns ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error) {
	return do(ctx, c.Limiter, "DescribeThingType", func() (*iot.DescribeThingTypeOutput, error) { return c.Next.DescribeThingType(ctx, in, optFns...) })
}

// CreateThingType calls Next.CreateThingType under the limiter.
func (c *LimitedIoT) CreateThingType(ctx context.Context, in *iot.CreateThingTypeInput, optFns ...func(*iot.Options)) (*iot.CreateThingTypeOutput, error) {
	return do(ctx, c.Limiter, "CreateThingType", func() (*iot.CreateThingTypeOutput, error) { return c.Next.CreateThingType(ctx, in, optFns...) })
}

// DeprecateThingType calls Next.DeprecateThingType under the limiter.
func (c *LimitedIoT) DeprecateThingType(ctx context.Context, in *iot.DeprecateThingTypeInput, optFns ...func(*iot.Options)) (*iot.DeprecateThingTypeOutput, error) {
	return do(ctx, c.Limiter, "DeprecateThingType", func() (*iot.DeprecateThingTypeOutput, error) { return c.Next.DeprecateThingType(ctx, in, optFns...) })
}

// UpdateThingType calls Next.UpdateThingType under the limiter.
func (c *LimitedIoT) UpdateThingType(ctx context.Context, in *iot.UpdateThingTypeInput, optFns ...func(*iot.Options)) (*iot.UpdateThingTypeOutput, error) {
	return do(ctx, c.Limiter, "UpdateThingType", func() (*iot.UpdateThingTypeOutput, error) { return c.Next.UpdateThingType(ctx, in, optFns...) })
}

// DeleteThingType calls Next.DeleteThingType under the limiter.
func (c *LimitedIoT) DeleteThingType(ctx context.Context, in *iot.DeleteThingTypeInput, optFns ...func(*iot.Options)) (*iot.DeleteThingTypeOutput, error) {
	return do(ctx, c.Limiter, "DeleteThingType", func() (*iot.DeleteThingTypeOutput, error) { return c.Next.DeleteThingType(ctx, in, optFns...) })
}

// ListThingTypes calls Next.ListThingTypes under the limiter.
func (c *LimitedIoT) ListThingTypes(ctx context.Context, in *iot.ListThingTypesInput, optFns ...func(*iot.Options)) (*iot.ListThingTypesOutput, error) {
	return do(ctx, c.Limiter, "ListThingTypes", func() (*iot.ListThingTypesOutput, error) { return c.Next.ListThingTypes(ctx, in, optFns...) })
}

// DescribeThingGroup calls Next.DescribeThingGroup under the limiter.
func (c *LimitedIoT) DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error) {
	return do(ctx, c.Limiter, "DescribeThingGroup", func() (*iot.DescribeThingGroupOutput, error) { return c.Next.DescribeThingGroup(ctx, in, optFns...) })
}

// CreateThingGroup calls Next.CreateThingGroup under the limiter.
func (c *LimitedIoT) CreateThingGroup(ctx context.Context, in *iot.CreateThingGroupInput, optFns ...func(*iot.Options)) (*iot.CreateThingGroupOutput, error) {
	return do(ctx, c.Limiter, "CreateThingGroup", func() (*iot.CreateThingGroupOutput, error) { return c.Next.CreateThingGroup(ctx, in, optFns...) })
}

// UpdateThingGroup calls Next.UpdateThingGroup under the limiter.
func (c *LimitedIoT) UpdateThingGroup(ctx context.Context, in *iot.UpdateThingGroupInput, optFns ...func(*iot.Options)) (*iot.UpdateThingGroupOutput, error) {
	return do(ctx, c.Limiter, "UpdateThingGroup", func() (*iot.UpdateThingGroupOutput, error) { return c.Next.UpdateThingGroup(ctx, in, optFns...) })
}

// DeleteThingGroup calls Next.DeleteThingGroup under the limiter.
func (c *LimitedIoT) DeleteThingGroup(ctx context.Context, in *iot.DeleteThingGroupInput, optFns ...func(*iot.Options)) (*iot.DeleteThingGroupOutput, error) {
	return do(ctx, c.Limiter, "DeleteThingGroup", func() (*iot.DeleteThingGroupOutput, error) { return c.Next.DeleteThingGroup(ctx, in, optFns...) })
}

// ListThingGroups calls Next.ListThingGroups under the limiter.
func (c *LimitedIoT) ListThingGroups(ctx context.Context, in *iot.ListThingGroupsInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsOutput, error) {
	return do(ctx, c.Limiter, "ListThingGroups", func() (*iot.ListThingGroupsOutput, error) { return c.Next.ListThingGroups(ctx, in, optFns...) })
}

// ListThingGroupsForThing calls Next.ListThingGroupsForThing under the limiter.
func (c *LimitedIoT) ListThingGroupsForThing(ctx context.Context, in *iot.ListThingGroupsForThingInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsForThingOutput, error) {
	return do(ctx, c.Limiter, "ListThingGroupsForThing", func() (*iot.ListThingGroupsForThingOutput, error) {
		return c.Next.ListThingGroupsForThing(ctx, in, optFns...)
	})
}

// ListThingsInThingGroup calls Next.ListThingsInThingGroup under the limiter.
func (c *LimitedIoT) ListThingsInThingGroup(ctx context.Context, in *iot.ListThingsInThingGroupInput, optFns ...func(*iot.Options)) (*iot.ListThingsInThingGroupOutput, error) {
	return do(ctx, c.Limiter, "ListThingsInThingGroup", func() (*iot.ListThingsInThingGroupOutput, error) {
		return c.Next.ListThingsInThingGroup(ctx, in, optFns...)
	})
}

// AddThingToThingGroup calls Next.AddThingToThingGroup under the limiter.
func (c *LimitedIoT) AddThingToThingGroup(ctx context.Context, in *iot.AddThingToThingGroupInput, optFns ...func(*iot.Options)) (*iot.AddThingToThingGroupOutput, error) {
	return do(ctx, c.Limiter, "AddThingToThingGroup", func() (*iot.AddThingToThingGroupOutput, error) {
		return c.Next.AddThingToThingGroup(ctx, in, optFns...)
	})
}

// RemoveThingFromThingGroup calls Next.RemoveThingFromThingGroup under the limiter.
func (c *LimitedIoT) RemoveThingFromThingGroup(ctx context.Context, in *iot.RemoveThingFromThingGroupInput, optFns ...func(*iot.Options)) (*iot.RemoveThingFromThingGroupOutput, error) {
	return do(ctx, c.Limiter, "RemoveThingFromThingGroup", func() (*iot.RemoveThingFromThingGroupOutput, error) {
		return c.Next.RemoveThingFromThingGroup(ctx, in, optFns...)
	})
}

// GetThingShadow calls Next.GetThingShadow under the limiter.
func (c *LimitedShadows) GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error) {
	return do(ctx, c.Limiter, "GetThingShadow", func() (*iotdataplane.GetThingShadowOutput, error) { return c.Next.GetThingShadow(ctx, in, optFns...) })
}

// UpdateThingShadow calls Next.UpdateThingShadow under the limiter.
func (c *LimitedShadows) UpdateThingShadow(ctx context.Context, in *iotdataplane.UpdateThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.UpdateThingShadowOutput, error) {
	return do(ctx, c.Limiter, "UpdateThingShadow", func() (*iotdataplane.UpdateThingShadowOutput, error) {
		return c.Next.UpdateThingShadow(ctx, in, optFns...)
	})
}

// DeleteThingShadow calls Next.DeleteThingShadow under the limiter.
func (c *LimitedShadows) DeleteThingShadow(ctx context.Context, in *iotdataplane.DeleteThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.DeleteThingShadowOutput, error) {
	return do(ctx, c.Limiter, "DeleteThingShadow", func() (*iotdataplane.DeleteThingShadowOutput, error) {
		return c.Next.DeleteThingShadow(ctx, in, optFns...)
	})
}

// ListNamedShadowsForThing calls Next.ListNamedShadowsForThing under the limiter.
func (c *LimitedShadows) ListNamedShadowsForThing(ctx context.Context, in *iotdataplane.ListNamedShadowsForThingInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error) {
	return do(ctx, c.Limiter, "ListNamedShadowsForThing", func() (*iotdataplane.ListNamedShadowsForThingOutput, error) {
		return c.Next.ListNamedShadowsForThing(ctx, in, optFns...)
	})
}
