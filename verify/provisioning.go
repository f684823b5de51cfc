package verify

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// The onboarding resources compared when the Comparer has clients for them.
const (
	RoleAlias            Resource = "role alias"
	ProvisioningTemplate Resource = "provisioning template"
	CACertificate        Resource = "CA certificate" // Name is the certificate id
)

// describeBoth describes one resource in both Regions; a side's nil output means
// not found there.
func describeBoth[O any](c *Comparer, what, name string, describe func(replication.ProvisioningSource) (*O, error)) (src, tgt *O, err error) {
	src, tgt, err = replication.DescribeBoth(c.SourceProvisioning, c.TargetProvisioning, c.SourceRegion, c.TargetRegion, describe)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", what, name, err)
	}
	return src, tgt, nil
}

// presence is the Missing or Extra difference of a resource one side lacks, done
// reporting whether either side lacks it.
func presence(res Resource, name string, inSource, inTarget bool) (diffs []Difference, done bool) {
	switch {
	case !inSource && !inTarget:
		return nil, true
	case !inSource:
		return []Difference{{Kind: Extra, Resource: res, Name: name}}, true
	case !inTarget:
		return []Difference{{Kind: Missing, Resource: res, Name: name}}, true
	}
	return nil, false
}

func differ(out *[]Difference, res Resource, name string) func(field, a, b string) {
	return func(field, a, b string) {
		if a != b {
			*out = append(*out, Difference{Kind: Different, Resource: res, Name: name, Field: field, Source: a, Target: b})
		}
	}
}

// RoleAlias compares one role alias: its IAM role and credential duration.
func (c *Comparer) RoleAlias(ctx context.Context, name string) ([]Difference, error) {
	s, t, err := describeBoth(c, "role alias", name, func(p replication.ProvisioningSource) (*iot.DescribeRoleAliasOutput, error) {
		return p.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String(name)})
	})
	if err != nil {
		return nil, err
	}
	if diffs, done := presence(RoleAlias, name, s != nil, t != nil); done {
		return diffs, nil
	}
	var out []Difference
	diff := differ(&out, RoleAlias, name)
	sa, ta := s.RoleAliasDescription, t.RoleAliasDescription
	if sa == nil || ta == nil {
		return nil, fmt.Errorf("describe role alias %s: empty description", name)
	}
	diff("role", quote(sa.RoleArn), quote(ta.RoleArn))
	diff("credential duration", fmt.Sprint(aws.ToInt32(sa.CredentialDurationSeconds)), fmt.Sprint(aws.ToInt32(ta.CredentialDurationSeconds)))
	return out, nil
}

// ProvisioningTemplate compares one provisioning template: type, default version's
// body (Region in ARNs rewritten), description, enabled flag, provisioning role and
// pre-provisioning hook (its Lambda's Region rewritten).
func (c *Comparer) ProvisioningTemplate(ctx context.Context, name string) ([]Difference, error) {
	s, t, err := describeBoth(c, "provisioning template", name, func(p replication.ProvisioningSource) (*iot.DescribeProvisioningTemplateOutput, error) {
		return p.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(name)})
	})
	if err != nil {
		return nil, err
	}
	if diffs, done := presence(ProvisioningTemplate, name, s != nil, t != nil); done {
		return diffs, nil
	}
	var out []Difference
	diff := differ(&out, ProvisioningTemplate, name)
	diff("type", string(s.Type), string(t.Type))
	diff("body", excerpt(replication.RewriteRegion(aws.ToString(s.TemplateBody), c.SourceRegion, c.TargetRegion)), excerpt(aws.ToString(t.TemplateBody)))
	diff("description", quote(s.Description), quote(t.Description))
	diff("enabled", fmt.Sprint(aws.ToBool(s.Enabled)), fmt.Sprint(aws.ToBool(t.Enabled)))
	diff("provisioning role", quote(s.ProvisioningRoleArn), quote(t.ProvisioningRoleArn))
	hook := func(h *types.ProvisioningHook, rewrite bool) string {
		if h == nil {
			return "none"
		}
		arn := aws.ToString(h.TargetArn)
		if rewrite {
			arn = replication.RewriteLambdaRegion(arn, c.SourceRegion, c.TargetRegion)
		}
		return arn + " " + aws.ToString(h.PayloadVersion)
	}
	diff("pre-provisioning hook", hook(s.PreProvisioningHook, true), hook(t.PreProvisioningHook, false))
	return out, nil
}

// CACertificate compares one CA certificate: status, auto-registration status,
// registration config and mode. A CA in DEFAULT mode in the source and SNI_ONLY in the
// target is a difference whose target side gives the reason
// (replication.ErrCAModeUnavailable): the replication cannot register it in DEFAULT
// mode.
func (c *Comparer) CACertificate(ctx context.Context, id string) ([]Difference, error) {
	s, t, err := describeBoth(c, "CA certificate", id, func(p replication.ProvisioningSource) (*iot.DescribeCACertificateOutput, error) {
		return p.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
	})
	if err != nil {
		return nil, err
	}
	if diffs, done := presence(CACertificate, id, s != nil, t != nil); done {
		return diffs, nil
	}
	sd, td := s.CertificateDescription, t.CertificateDescription
	if sd == nil || td == nil {
		return nil, fmt.Errorf("describe CA certificate %s: empty description", id)
	}
	var out []Difference
	diff := differ(&out, CACertificate, id)
	diff("status", string(sd.Status), string(td.Status))
	diff("auto-registration", string(sd.AutoRegistrationStatus), string(td.AutoRegistrationStatus))
	config := func(rc *types.RegistrationConfig, rewrite bool) string {
		if rc == nil {
			return "none"
		}
		body := aws.ToString(rc.TemplateBody)
		if rewrite {
			body = replication.RewriteRegion(body, c.SourceRegion, c.TargetRegion)
		}
		return fmt.Sprintf("template %q body %q role %q", aws.ToString(rc.TemplateName), excerpt(body), aws.ToString(rc.RoleArn))
	}
	diff("registration config", config(s.RegistrationConfig, true), config(t.RegistrationConfig, false))
	if sd.CertificateMode != td.CertificateMode {
		tm := string(td.CertificateMode)
		if sd.CertificateMode == types.CertificateModeDefault {
			tm += " (" + replication.ErrCAModeUnavailable.Error() + ")"
		}
		diff("mode", string(sd.CertificateMode), tm)
	}
	return out, nil
}

func (r *run) provisioning(ctx context.Context) error {
	c := r.c
	if c.SourceProvisioning == nil || c.TargetProvisioning == nil {
		return nil
	}
	phases := []phase{
		{resource: RoleAlias, counter: &r.report.RoleAliases, source: replication.RoleAliasNames(c.SourceProvisioning),
			target: replication.RoleAliasNames(c.TargetProvisioning), compare: c.withTags(spec.KindRoleAlias, c.RoleAlias),
			describe: func(ctx context.Context, name string) error {
				_, err := c.SourceProvisioning.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: &name})
				return err
			}},
		{resource: ProvisioningTemplate, counter: &r.report.ProvisioningTemplates, source: replication.ProvisioningTemplateNames(c.SourceProvisioning),
			target: replication.ProvisioningTemplateNames(c.TargetProvisioning), compare: c.withTags(spec.KindProvisioningTemplate, c.ProvisioningTemplate),
			describe: func(ctx context.Context, name string) error {
				_, err := c.SourceProvisioning.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: &name})
				return err
			}},
		{resource: CACertificate, counter: &r.report.CACertificates, source: replication.CACertificateIDs(c.SourceProvisioning),
			target: replication.CACertificateIDs(c.TargetProvisioning), compare: c.withTags(spec.KindCACertificate, c.CACertificate),
			describe: func(ctx context.Context, id string) error {
				_, err := c.SourceProvisioning.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: &id})
				return err
			}},
	}
	for _, ph := range phases {
		if err := r.walk(ctx, ph); err != nil {
			return err
		}
	}
	return nil
}
