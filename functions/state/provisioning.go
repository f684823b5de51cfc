package state

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// The bodies of the onboarding kinds, which raise no registry event (the sweep
// captures them).
type (
	// RoleAlias is a credential-provider role alias. Its IAM role ARN is global, the
	// same in every Region.
	RoleAlias struct {
		RoleARN                   string `json:"roleArn"`
		CredentialDurationSeconds int32  `json:"credentialDurationSeconds"`
	}
	// ProvisioningTemplate is a provisioning template's default version and settings.
	// HookARN is the pre-provisioning hook's Lambda ARN as the origin names it (its
	// own Region); the apply rewrites the Region.
	ProvisioningTemplate struct {
		Type               string `json:"type"`
		Description        string `json:"description,omitempty"`
		Enabled            bool   `json:"enabled"`
		Body               string `json:"templateBody"`
		RoleARN            string `json:"provisioningRoleArn"`
		HookARN            string `json:"hookArn,omitempty"`
		HookPayloadVersion string `json:"hookPayloadVersion,omitempty"`
	}
	// CACertificate is a registered CA certificate. Mode is the origin's
	// registration mode, which a Region that cannot register the CA in the same mode
	// (DEFAULT needs a verification certificate signed by the CA's private key) holds
	// in another: it is not content (see Equivalent).
	CACertificate struct {
		PEM              string `json:"pem"`
		Status           string `json:"status"`
		AutoRegistration string `json:"autoRegistration"`
		Mode             string `json:"mode"`
		// The registration config: a JITP template's name, or a body and its role.
		TemplateName string `json:"templateName,omitempty"`
		TemplateBody string `json:"templateBody,omitempty"`
		RoleARN      string `json:"roleArn,omitempty"`
	}
)

// sameCA compares two CA certificate items but for their modes.
func sameCA(a, b Item) bool {
	var ca, cb CACertificate
	if a.Decode(&ca) != nil || b.Decode(&cb) != nil {
		return false
	}
	ca.Mode, cb.Mode = "", ""
	return ca == cb
}

// DescribeRoleAlias answers from the role alias's item.
func (v *View) DescribeRoleAlias(ctx context.Context, in *iot.DescribeRoleAliasInput, _ ...func(*iot.Options)) (*iot.DescribeRoleAliasOutput, error) {
	var a RoleAlias
	name := aws.ToString(in.RoleAlias)
	if _, err := v.get(ctx, spec.KindRoleAlias, name, &a); err != nil {
		return nil, err
	}
	return &iot.DescribeRoleAliasOutput{RoleAliasDescription: &iottypes.RoleAliasDescription{
		RoleAlias: aws.String(name), RoleArn: aws.String(a.RoleARN), CredentialDurationSeconds: aws.Int32(a.CredentialDurationSeconds),
	}}, nil
}

// DescribeProvisioningTemplate answers from the template's item.
func (v *View) DescribeProvisioningTemplate(ctx context.Context, in *iot.DescribeProvisioningTemplateInput, _ ...func(*iot.Options)) (*iot.DescribeProvisioningTemplateOutput, error) {
	var t ProvisioningTemplate
	name := aws.ToString(in.TemplateName)
	if _, err := v.get(ctx, spec.KindProvisioningTemplate, name, &t); err != nil {
		return nil, err
	}
	out := &iot.DescribeProvisioningTemplateOutput{
		TemplateName: aws.String(name), Type: iottypes.TemplateType(t.Type), Description: aws.String(t.Description),
		Enabled: aws.Bool(t.Enabled), TemplateBody: aws.String(t.Body), ProvisioningRoleArn: aws.String(t.RoleARN),
	}
	if t.HookARN != "" {
		out.PreProvisioningHook = &iottypes.ProvisioningHook{TargetArn: aws.String(t.HookARN), PayloadVersion: optional(t.HookPayloadVersion)}
	}
	return out, nil
}

// DescribeCACertificate answers from the CA certificate's item.
func (v *View) DescribeCACertificate(ctx context.Context, in *iot.DescribeCACertificateInput, _ ...func(*iot.Options)) (*iot.DescribeCACertificateOutput, error) {
	var c CACertificate
	id := aws.ToString(in.CertificateId)
	if _, err := v.get(ctx, spec.KindCACertificate, id, &c); err != nil {
		return nil, err
	}
	out := &iot.DescribeCACertificateOutput{CertificateDescription: &iottypes.CACertificateDescription{
		CertificateId: aws.String(id), CertificatePem: aws.String(c.PEM), Status: iottypes.CACertificateStatus(c.Status),
		AutoRegistrationStatus: iottypes.AutoRegistrationStatus(c.AutoRegistration), CertificateMode: iottypes.CertificateMode(c.Mode),
	}}
	if c.TemplateName != "" || c.TemplateBody != "" || c.RoleARN != "" {
		out.RegistrationConfig = &iottypes.RegistrationConfig{TemplateName: optional(c.TemplateName), TemplateBody: optional(c.TemplateBody), RoleArn: optional(c.RoleARN)}
	}
	return out, nil
}
