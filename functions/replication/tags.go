package replication

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// TagSource is what a resource's wanted tags are read from: a Region's API
// (*iot.Client) or the state view.
type TagSource interface {
	ListTagsForResource(ctx context.Context, in *iot.ListTagsForResourceInput, optFns ...func(*iot.Options)) (*iot.ListTagsForResourceOutput, error)
}

// Tagging is the part of the control plane (*iot.Client) tags are converged with.
type Tagging interface {
	ListTagsForResource(ctx context.Context, in *iot.ListTagsForResourceInput, optFns ...func(*iot.Options)) (*iot.ListTagsForResourceOutput, error)
	TagResource(ctx context.Context, in *iot.TagResourceInput, optFns ...func(*iot.Options)) (*iot.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *iot.UntagResourceInput, optFns ...func(*iot.Options)) (*iot.UntagResourceOutput, error)
}

var _ Tagging = (*iot.Client)(nil)

// ReservedTag reports whether a tag key is AWS's (the aws: prefix, any case): AWS
// sets such tags itself and refuses them from callers, so they are neither copied
// nor removed.
func ReservedTag(key string) bool { return strings.HasPrefix(strings.ToLower(key), "aws:") }

// TagMap returns a tag list as a map, reserved keys left out.
func TagMap(tags []types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		if k := aws.ToString(t.Key); !ReservedTag(k) {
			out[k] = aws.ToString(t.Value)
		}
	}
	return out
}

// ListTags reads a resource's tags (reserved keys left out), every page.
func ListTags(ctx context.Context, c TagSource, arn string) (map[string]string, error) {
	out := map[string]string{}
	var tok *string
	for {
		page, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn), NextToken: tok})
		if err != nil {
			return nil, err
		}
		maps.Copy(out, TagMap(page.Tags))
		if tok = page.NextToken; aws.ToString(tok) == "" {
			return out, nil
		}
	}
}

// errUntaggable says a tags item names a kind whose tags are not replicated.
var errUntaggable = errors.New("not a kind whose tags are replicated")

// ARNReader is what a tagged resource's ARN is read with (*iot.Client): its
// Describe (or GetPolicy) call.
type ARNReader interface {
	DescribeThingType(ctx context.Context, in *iot.DescribeThingTypeInput, optFns ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error)
	DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error)
	GetPolicy(ctx context.Context, in *iot.GetPolicyInput, optFns ...func(*iot.Options)) (*iot.GetPolicyOutput, error)
}

// ResourceARN returns the ARN of a tagged resource (one of spec.TaggedKinds) as c
// describes it (billing groups with billing, role aliases, provisioning templates and
// CA certificates with prov); ok is false when c does not have it.
func ResourceARN(ctx context.Context, c ARNReader, billing BillingGroupSource, prov ProvisioningSource, kind, name string) (arn string, ok bool, err error) {
	switch kind {
	case spec.KindRoleAlias, spec.KindProvisioningTemplate, spec.KindCACertificate:
		if prov == nil {
			return "", false, invalidf("role alias, provisioning template and CA certificate replication is not configured (no clients)")
		}
		arn, err := onboardingARN(ctx, prov, kind, name)
		return arn, err == nil, notFoundOK(err)
	case spec.KindThingType:
		d, err := c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
		if err == nil {
			arn = aws.ToString(d.ThingTypeArn)
		}
		return arn, err == nil, notFoundOK(err)
	case spec.KindThingGroup:
		d, err := c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
		if err == nil {
			arn = aws.ToString(d.ThingGroupArn)
		}
		return arn, err == nil, notFoundOK(err)
	case spec.KindBillingGroup:
		if billing == nil {
			return "", false, invalidf("billing-group replication is not configured (no billing-group clients)")
		}
		d, err := billing.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
		if err == nil {
			arn = aws.ToString(d.BillingGroupArn)
		}
		return arn, err == nil, notFoundOK(err)
	case spec.KindPolicy:
		d, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
		if err == nil {
			arn = aws.ToString(d.PolicyArn)
		}
		return arn, err == nil, notFoundOK(err)
	}
	return "", false, invalidf("tags of %s %s: %v", kind, name, errUntaggable)
}

// onboardingARN describes a role alias, provisioning template or CA certificate for
// its ARN.
func onboardingARN(ctx context.Context, p ProvisioningSource, kind, name string) (string, error) {
	switch kind {
	case spec.KindRoleAlias:
		d, err := p.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String(name)})
		if err != nil || d.RoleAliasDescription == nil {
			return "", err
		}
		return aws.ToString(d.RoleAliasDescription.RoleAliasArn), nil
	case spec.KindProvisioningTemplate:
		d, err := p.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(name)})
		if err != nil {
			return "", err
		}
		return aws.ToString(d.TemplateArn), nil
	}
	d, err := p.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(name)})
	if err != nil || d.CertificateDescription == nil {
		return "", err
	}
	return aws.ToString(d.CertificateDescription.CertificateArn), nil
}

// targetARN is ResourceARN in the target.
func (r *Replicator) targetARN(ctx context.Context, kind, name string) (string, bool, error) {
	var billing BillingGroupSource
	if r.TargetBilling != nil {
		billing = r.TargetBilling
	}
	var prov ProvisioningSource
	if r.TargetProvisioning != nil {
		prov = r.TargetProvisioning
	}
	return ResourceARN(ctx, r.Target, billing, prov, kind, name)
}

func notFoundOK(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}

// convergeResource converges the tagged resource itself (the target lacks it).
func (r *Replicator) convergeResource(ctx context.Context, kind, name string, rec *recorder) error {
	switch kind {
	case spec.KindThingType:
		return r.thingType(ctx, name, rec)
	case spec.KindThingGroup:
		err := r.thingGroup(ctx, name, rec, 0)
		if errors.Is(err, errDynamicGroup) {
			return nil
		}
		return err
	case spec.KindBillingGroup:
		return r.billingGroup(ctx, name, rec)
	case spec.KindPolicy:
		o, err := r.Policy(ctx, name)
		rec.changes = append(rec.changes, o.Changes...)
		return err
	case spec.KindRoleAlias:
		return r.roleAlias(ctx, name, rec)
	case spec.KindProvisioningTemplate:
		return r.template(ctx, name, rec)
	case spec.KindCACertificate:
		return r.caCertificate(ctx, name, rec)
	}
	return invalidf("tags of %s %s: %v", kind, name, errUntaggable)
}

// Tags converges the tags of one resource, named by its tags item
// (spec.TagsKey(kind, name)): the target resource gets exactly the source's tags
// (TagResource for new and changed values, UntagResource for keys the source does
// not have), AWS's own aws: tags untouched on both sides. A resource the target
// lacks is converged first; one the source no longer has is left to its own delete.
// The source's ARN is the target's with the Region changed (source and target are
// one account).
func (r *Replicator) Tags(ctx context.Context, key string) (Outcome, error) {
	rec := &recorder{}
	err := r.tags(ctx, key, rec)
	return r.finish(ctx, "tags of", key, rec, 0, err)
}

func (r *Replicator) tags(ctx context.Context, key string, rec *recorder) error {
	kind, name, ok := spec.SplitTagsKey(key)
	if !ok {
		return invalidf("tags item %q: not <kind>/<name> of a taggable kind", excerpt(key))
	}
	if r.SourceTags == nil || r.TargetTags == nil {
		return invalidf("tag replication is not configured (no tagging clients)")
	}
	arn, ok, err := r.targetARN(ctx, kind, name)
	if err == nil && !ok {
		if err = r.convergeResource(ctx, kind, name, rec); err == nil {
			arn, ok, err = r.targetARN(ctx, kind, name)
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s in %s: %w", kind, name, r.TargetRegion, err)
	}
	if !ok {
		return nil // gone from the source too
	}
	srcARN := strings.Replace(arn, ":iot:"+r.TargetRegion+":", ":iot:"+r.SourceRegion+":", 1)
	want, err := ListTags(ctx, r.SourceTags, srcARN)
	if IsNotFound(err) {
		return nil // deleted in the source: its delete is converged by its own item
	}
	if err != nil {
		return fmt.Errorf("list tags in %s: %w", r.SourceRegion, err)
	}
	have, err := ListTags(ctx, r.TargetTags, arn)
	if err != nil {
		return fmt.Errorf("list tags in %s: %w", r.TargetRegion, err)
	}
	var gone []string
	for k := range have {
		if _, keep := want[k]; !keep {
			gone = append(gone, k)
		}
	}
	var set []types.Tag
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := have[k]; !ok || v != want[k] {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	// Removals first: a resource at AWS's 50-tag limit takes the new ones after.
	if len(gone) > 0 {
		slices.Sort(gone)
		if _, err := r.TargetTags.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: gone}); err != nil {
			return fmt.Errorf("untag %v: %w", gone, err)
		}
		rec.add("removed tags %v from %s %s", gone, kind, name)
	}
	if len(set) > 0 {
		if _, err := r.TargetTags.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: set}); err != nil {
			return fmt.Errorf("tag: %w", err)
		}
		keys := make([]string, len(set))
		for i, t := range set {
			keys[i] = aws.ToString(t.Key)
		}
		rec.add("set tags %v on %s %s", keys, kind, name)
	}
	return nil
}

// TaggingUnsupported reports whether err says the endpoint does not implement the
// tagging APIs (an emulator such as moto_server: NotImplemented codes, HTTP 501, or
// its 500 "has not been implemented"); AWS implements them everywhere.
func TaggingUnsupported(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotImplemented", "NotImplementedException", "UnknownOperationException":
			return true
		}
		if strings.Contains(ae.ErrorMessage(), "not been implemented") {
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == 501 {
		return true
	}
	return strings.Contains(err.Error(), "not been implemented") || strings.Contains(err.Error(), "tagging not supported by this endpoint") || strings.Contains(err.Error(), "StatusCode: 500") && strings.Contains(err.Error(), "ListTagsForResource")
}

// Tags is Replicator.Tags.
func (run *Run) Tags(ctx context.Context, key string) (Outcome, error) { return run.r.Tags(ctx, key) }
