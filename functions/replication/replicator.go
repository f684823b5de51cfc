package replication

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// IoT is the subset of the AWS IoT control-plane client (*iot.Client) the replication
// uses, with the SDK's exact method signatures.
type IoT interface {
	DescribeThing(ctx context.Context, in *iot.DescribeThingInput, optFns ...func(*iot.Options)) (*iot.DescribeThingOutput, error)
	CreateThing(ctx context.Context, in *iot.CreateThingInput, optFns ...func(*iot.Options)) (*iot.CreateThingOutput, error)
	UpdateThing(ctx context.Context, in *iot.UpdateThingInput, optFns ...func(*iot.Options)) (*iot.UpdateThingOutput, error)
	DeleteThing(ctx context.Context, in *iot.DeleteThingInput, optFns ...func(*iot.Options)) (*iot.DeleteThingOutput, error)
	ListThings(ctx context.Context, in *iot.ListThingsInput, optFns ...func(*iot.Options)) (*iot.ListThingsOutput, error)

	ListThingPrincipals(ctx context.Context, in *iot.ListThingPrincipalsInput, optFns ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error)
	ListPrincipalThings(ctx context.Context, in *iot.ListPrincipalThingsInput, optFns ...func(*iot.Options)) (*iot.ListPrincipalThingsOutput, error)
	AttachThingPrincipal(ctx context.Context, in *iot.AttachThingPrincipalInput, optFns ...func(*iot.Options)) (*iot.AttachThingPrincipalOutput, error)
	DetachThingPrincipal(ctx context.Context, in *iot.DetachThingPrincipalInput, optFns ...func(*iot.Options)) (*iot.DetachThingPrincipalOutput, error)

	DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput, optFns ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error)
	RegisterCertificateWithoutCA(ctx context.Context, in *iot.RegisterCertificateWithoutCAInput, optFns ...func(*iot.Options)) (*iot.RegisterCertificateWithoutCAOutput, error)
	UpdateCertificate(ctx context.Context, in *iot.UpdateCertificateInput, optFns ...func(*iot.Options)) (*iot.UpdateCertificateOutput, error)
	DeleteCertificate(ctx context.Context, in *iot.DeleteCertificateInput, optFns ...func(*iot.Options)) (*iot.DeleteCertificateOutput, error)

	GetPolicy(ctx context.Context, in *iot.GetPolicyInput, optFns ...func(*iot.Options)) (*iot.GetPolicyOutput, error)
	CreatePolicy(ctx context.Context, in *iot.CreatePolicyInput, optFns ...func(*iot.Options)) (*iot.CreatePolicyOutput, error)
	CreatePolicyVersion(ctx context.Context, in *iot.CreatePolicyVersionInput, optFns ...func(*iot.Options)) (*iot.CreatePolicyVersionOutput, error)
	ListPolicyVersions(ctx context.Context, in *iot.ListPolicyVersionsInput, optFns ...func(*iot.Options)) (*iot.ListPolicyVersionsOutput, error)
	DeletePolicyVersion(ctx context.Context, in *iot.DeletePolicyVersionInput, optFns ...func(*iot.Options)) (*iot.DeletePolicyVersionOutput, error)
	DeletePolicy(ctx context.Context, in *iot.DeletePolicyInput, optFns ...func(*iot.Options)) (*iot.DeletePolicyOutput, error)
	AttachPolicy(ctx context.Context, in *iot.AttachPolicyInput, optFns ...func(*iot.Options)) (*iot.AttachPolicyOutput, error)
	DetachPolicy(ctx context.Context, in *iot.DetachPolicyInput, optFns ...func(*iot.Options)) (*iot.DetachPolicyOutput, error)
	ListAttachedPolicies(ctx context.Context, in *iot.ListAttachedPoliciesInput, optFns ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error)
	ListTargetsForPolicy(ctx context.Context, in *iot.ListTargetsForPolicyInput, optFns ...func(*iot.Options)) (*iot.ListTargetsForPolicyOutput, error)

	DescribeThingType(ctx context.Context, in *iot.DescribeThingTypeInput, optFns ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error)
	CreateThingType(ctx context.Context, in *iot.CreateThingTypeInput, optFns ...func(*iot.Options)) (*iot.CreateThingTypeOutput, error)
	DeprecateThingType(ctx context.Context, in *iot.DeprecateThingTypeInput, optFns ...func(*iot.Options)) (*iot.DeprecateThingTypeOutput, error)
	UpdateThingType(ctx context.Context, in *iot.UpdateThingTypeInput, optFns ...func(*iot.Options)) (*iot.UpdateThingTypeOutput, error)
	DeleteThingType(ctx context.Context, in *iot.DeleteThingTypeInput, optFns ...func(*iot.Options)) (*iot.DeleteThingTypeOutput, error)
	ListThingTypes(ctx context.Context, in *iot.ListThingTypesInput, optFns ...func(*iot.Options)) (*iot.ListThingTypesOutput, error)

	DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error)
	CreateThingGroup(ctx context.Context, in *iot.CreateThingGroupInput, optFns ...func(*iot.Options)) (*iot.CreateThingGroupOutput, error)
	UpdateThingGroup(ctx context.Context, in *iot.UpdateThingGroupInput, optFns ...func(*iot.Options)) (*iot.UpdateThingGroupOutput, error)
	DeleteThingGroup(ctx context.Context, in *iot.DeleteThingGroupInput, optFns ...func(*iot.Options)) (*iot.DeleteThingGroupOutput, error)
	ListThingGroups(ctx context.Context, in *iot.ListThingGroupsInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsOutput, error)
	ListThingGroupsForThing(ctx context.Context, in *iot.ListThingGroupsForThingInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsForThingOutput, error)
	ListThingsInThingGroup(ctx context.Context, in *iot.ListThingsInThingGroupInput, optFns ...func(*iot.Options)) (*iot.ListThingsInThingGroupOutput, error)
	AddThingToThingGroup(ctx context.Context, in *iot.AddThingToThingGroupInput, optFns ...func(*iot.Options)) (*iot.AddThingToThingGroupOutput, error)
	RemoveThingFromThingGroup(ctx context.Context, in *iot.RemoveThingFromThingGroupInput, optFns ...func(*iot.Options)) (*iot.RemoveThingFromThingGroupOutput, error)
}

// Source is what the replication reads the wanted state from, with the SDK's exact
// method signatures: a Region's own API (*iot.Client, as sync uses it), or the state
// table's local replica (state.View, as the apply function uses it, which never calls
// the Region the state came from).
type Source interface {
	DescribeThing(ctx context.Context, in *iot.DescribeThingInput, optFns ...func(*iot.Options)) (*iot.DescribeThingOutput, error)
	ListThings(ctx context.Context, in *iot.ListThingsInput, optFns ...func(*iot.Options)) (*iot.ListThingsOutput, error)
	ListThingPrincipals(ctx context.Context, in *iot.ListThingPrincipalsInput, optFns ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error)
	ListPrincipalThings(ctx context.Context, in *iot.ListPrincipalThingsInput, optFns ...func(*iot.Options)) (*iot.ListPrincipalThingsOutput, error)
	DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput, optFns ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error)
	GetPolicy(ctx context.Context, in *iot.GetPolicyInput, optFns ...func(*iot.Options)) (*iot.GetPolicyOutput, error)
	ListAttachedPolicies(ctx context.Context, in *iot.ListAttachedPoliciesInput, optFns ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error)
	DescribeThingType(ctx context.Context, in *iot.DescribeThingTypeInput, optFns ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error)
	ListThingTypes(ctx context.Context, in *iot.ListThingTypesInput, optFns ...func(*iot.Options)) (*iot.ListThingTypesOutput, error)
	DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error)
	ListThingGroups(ctx context.Context, in *iot.ListThingGroupsInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsOutput, error)
	ListThingGroupsForThing(ctx context.Context, in *iot.ListThingGroupsForThingInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsForThingOutput, error)
	ListThingsInThingGroup(ctx context.Context, in *iot.ListThingsInThingGroupInput, optFns ...func(*iot.Options)) (*iot.ListThingsInThingGroupOutput, error)
}

// SourceShadows is what the shadow replication reads the wanted shadow from (classic,
// or named with ShadowName). ListNamedShadowsForThing is for bulk passes (sync, the
// sweep); the state view refuses it.
type SourceShadows interface {
	GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error)
	ListNamedShadowsForThing(ctx context.Context, in *iotdataplane.ListNamedShadowsForThingInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error)
}

// Shadows is the subset of the AWS IoT data-plane client (*iotdataplane.Client) the
// shadow replication uses, with the SDK's exact method signatures.
type Shadows interface {
	GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error)
	UpdateThingShadow(ctx context.Context, in *iotdataplane.UpdateThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.UpdateThingShadowOutput, error)
	DeleteThingShadow(ctx context.Context, in *iotdataplane.DeleteThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.DeleteThingShadowOutput, error)
	ListNamedShadowsForThing(ctx context.Context, in *iotdataplane.ListNamedShadowsForThingInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error)
}

// Replicator converges the target Region to the source. Its methods are safe for
// concurrent use; it holds no state between calls.
type Replicator struct {
	// Source is where the wanted state is read; Target is the Region converged.
	Source Source
	Target IoT
	// SourceShadows and TargetShadows are the data-plane sides; only Shadow and
	// Reconcile with shadows need them.
	SourceShadows SourceShadows
	TargetShadows Shadows
	// SourceRetained and TargetRetained are the data-plane sides of retained
	// messages; only RetainedMessage needs them.
	SourceRetained RetainedSource
	TargetRetained RetainedTarget
	// SourceProvisioning and TargetProvisioning are the sides of role aliases,
	// provisioning templates and CA certificates; only their converges need them.
	SourceProvisioning ProvisioningSource
	TargetProvisioning Provisioning
	// SourceBilling and TargetBilling are the billing-group sides; BillingGroup
	// needs them, and Thing does for a thing in a billing group.
	SourceBilling BillingGroupSource
	TargetBilling BillingGroups
	// SourceTags and TargetTags are the tagging sides; only Tags needs them.
	SourceTags TagSource
	TargetTags Tagging
	// SourceIndexing says what a dynamic group's query needs of fleet indexing
	// (state.View, or SourceIndexing over the source's API); nil: the query alone.
	// TargetDynamic converges dynamic groups and the target's indexing; nil leaves
	// dynamic groups out (logged).
	SourceIndexing GroupIndexing
	TargetDynamic  DynamicGroups
	// SourceRegion and TargetRegion name the Regions; policy ARNs are rewritten from
	// the one to the other.
	SourceRegion, TargetRegion string
	// ClientToken, when set, is sent with every shadow update to the target, so that
	// the target's capture can tell the replication's writes from devices'.
	ClientToken string
	// Logger receives one record per converged resource; nil discards.
	Logger *slog.Logger
}

// Outcome is what converging one resource did.
type Outcome struct {
	// Changes lists, in order, the writes made to the target in human-readable form,
	// e.g. "created thing dev-1"; empty means the target was already in sync.
	Changes []string
	// Principals is how many certificates are attached to the thing in the source
	// (set by Thing and Principals only).
	Principals int
}

// recorder collects the changes one public call makes.
type recorder struct{ changes []string }

func (rec *recorder) add(format string, args ...any) {
	rec.changes = append(rec.changes, fmt.Sprintf(format, args...))
}

func (r *Replicator) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// finish logs a public call's result and shapes its error (see finishErr).
func (r *Replicator) finish(ctx context.Context, kind, name string, rec *recorder, principals int, err error) (Outcome, error) {
	out := Outcome{Changes: rec.changes, Principals: principals}
	err = finishErr(kind+" "+name, err)
	if r.Logger == nil {
		return out, err
	}
	switch {
	case err != nil:
		r.Logger.LogAttrs(ctx, slog.LevelWarn, "replication failed", slog.String("kind", kind),
			slog.String("name", name), slog.Any("changes", out.Changes),
			slog.Bool("permanent", IsPermanent(err)), slog.String("error", err.Error()))
	case len(out.Changes) > 0:
		r.Logger.LogAttrs(ctx, slog.LevelInfo, "replicated", slog.String("kind", kind),
			slog.String("name", name), slog.Any("changes", out.Changes))
	default:
		r.Logger.LogAttrs(ctx, slog.LevelDebug, "in sync", slog.String("kind", kind), slog.String("name", name))
	}
	return out, err
}

// validName checks a thing, thing type or thing group name against AWS's pattern
// [a-zA-Z0-9:_-]{1,128}, so bad input fails permanently before any call.
func validName(kind, name string) error {
	if name == "" || len(name) > 128 {
		return invalidf("%s name %q: must be 1 to 128 characters", kind, excerpt(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-') {
			return invalidf("%s name %q: only letters, digits, ':', '_' and '-' are allowed", kind, excerpt(name))
		}
	}
	return nil
}

// excerpt shortens untrusted input for error messages and logs.
func excerpt(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:max], len(s))
}

// shortID abbreviates a certificate id for human-readable change lines.
func shortID(id string) string {
	if len(id) <= 10 {
		return id
	}
	return id[:10] + "…"
}

// CertificateID returns the certificate id of a certificate principal ARN
// (arn:<partition>:iot:<region>:<account>:cert/<id>), or "" for other principals.
// The id is the SHA-256 fingerprint of the certificate, the same in every Region.
func CertificateID(principal string) string {
	i := strings.LastIndex(principal, ":cert/")
	if i < 0 || !strings.HasPrefix(principal, "arn:") {
		return ""
	}
	return principal[i+len(":cert/"):]
}

// fullAttrs returns attrs, never nil, so that a replacing AttributePayload with no
// attributes is serialised as {} and clears the target's.
func fullAttrs(attrs map[string]string) map[string]string {
	if attrs == nil {
		return map[string]string{}
	}
	return attrs
}

// The production clients must satisfy the interfaces.
var (
	_ IoT     = (*iot.Client)(nil)
	_ Source  = (*iot.Client)(nil)
	_ Shadows = (*iotdataplane.Client)(nil)
)
