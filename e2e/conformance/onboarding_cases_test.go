package conformance

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator/pki"
)

const onboardingRole = "arn:aws:iam::123456789012:role/provisioning"

// onboardingBehaviours are the onboarding kinds the capture sweep picks up: role
// aliases, provisioning templates and CA certificates.
var onboardingBehaviours = []behaviour{
	{name: "rolealias/lifecycle", run: roleAliasLifecycle},
	{
		name: "provisioningtemplate/versions",
		motoDiffers: "moto 5.2.1 does not implement provisioning templates (NotImplementedError) " +
			"(AWS: CreateProvisioningTemplate, DescribeProvisioningTemplate, CreateProvisioningTemplateVersion with at most 5 versions, " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_CreateProvisioningTemplate.html)",
		run: templateVersions,
	},
	{
		name: "cacertificate/modes",
		motoDiffers: "moto 5.2.1 registers a CA in DEFAULT mode without a verification certificate and does not implement ListCACertificates " +
			"(AWS: \"If certificateMode is DEFAULT or not provided, the verificationCertificate field must not be empty\", " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCACertificate.html)",
		run: caCertificateModes,
	},
}

func roleAliasLifecycle(ctx context.Context, t *testing.T, tg Target) {
	out := must[*iot.CreateRoleAliasOutput](t, "CreateRoleAlias")(tg.IoT.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{
		RoleAlias: aws.String("camera"), RoleArn: aws.String(onboardingRole), CredentialDurationSeconds: aws.Int32(1800)}))
	if got, want := aws.ToString(out.RoleAliasArn), tg.arn("rolealias", "camera"); got != want {
		t.Errorf("RoleAliasArn = %q, want %q", got, want)
	}
	_, err := tg.IoT.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("camera"), RoleArn: aws.String(onboardingRole)})
	wantErr[*types.ResourceAlreadyExistsException](t, "CreateRoleAlias of a taken name", err)
	must[*iot.UpdateRoleAliasOutput](t, "UpdateRoleAlias")(tg.IoT.UpdateRoleAlias(ctx, &iot.UpdateRoleAliasInput{
		RoleAlias: aws.String("camera"), CredentialDurationSeconds: aws.Int32(3600)}))
	d := must[*iot.DescribeRoleAliasOutput](t, "DescribeRoleAlias")(tg.IoT.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("camera")}))
	if a := d.RoleAliasDescription; aws.ToString(a.RoleArn) != onboardingRole || aws.ToInt32(a.CredentialDurationSeconds) != 3600 {
		t.Errorf("described %+v", a)
	}
	l := must[*iot.ListRoleAliasesOutput](t, "ListRoleAliases")(tg.IoT.ListRoleAliases(ctx, &iot.ListRoleAliasesInput{}))
	if len(l.RoleAliases) != 1 || l.RoleAliases[0] != "camera" {
		t.Errorf("listed %v", l.RoleAliases)
	}
	must[*iot.DeleteRoleAliasOutput](t, "DeleteRoleAlias")(tg.IoT.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String("camera")}))
	_, err = tg.IoT.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("camera")})
	wantErr[*types.ResourceNotFoundException](t, "DescribeRoleAlias of a deleted one", err)
}

func templateVersions(ctx context.Context, t *testing.T, tg Target) {
	const body = `{"Resources":{}}`
	hook := "arn:aws:lambda:" + tg.Region + ":" + tg.Account + ":function:vet"
	must[*iot.CreateProvisioningTemplateOutput](t, "CreateProvisioningTemplate")(tg.IoT.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("claim"), TemplateBody: aws.String(body), ProvisioningRoleArn: aws.String(onboardingRole), Enabled: aws.Bool(true),
		PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String(hook)}}))
	d := must[*iot.DescribeProvisioningTemplateOutput](t, "DescribeProvisioningTemplate")(tg.IoT.DescribeProvisioningTemplate(ctx,
		&iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("claim")}))
	if d.Type != types.TemplateTypeFleetProvisioning || aws.ToInt32(d.DefaultVersionId) != 1 || aws.ToString(d.PreProvisioningHook.TargetArn) != hook ||
		aws.ToString(d.PreProvisioningHook.PayloadVersion) != "2020-04-01" || aws.ToString(d.TemplateArn) != tg.arn("provisioningtemplate", "claim") {
		t.Errorf("described %+v", d)
	}
	for range 4 {
		must[*iot.CreateProvisioningTemplateVersionOutput](t, "CreateProvisioningTemplateVersion")(tg.IoT.CreateProvisioningTemplateVersion(ctx,
			&iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("claim"), TemplateBody: aws.String(body)}))
	}
	_, err := tg.IoT.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("claim"), TemplateBody: aws.String(body)})
	wantErr[*types.VersionsLimitExceededException](t, "a sixth version", err)
	_, err = tg.IoT.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("claim"), VersionId: aws.Int32(1)})
	wantErr[*types.DeleteConflictException](t, "deleting the default version", err)
	_, err = tg.IoT.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("jitp"), TemplateBody: aws.String(body),
		ProvisioningRoleArn: aws.String(onboardingRole), Type: types.TemplateTypeJitp, PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String(hook)}})
	wantErr[*types.InvalidRequestException](t, "a JITP template with a hook", err)
}

func caCertificateModes(ctx context.Context, t *testing.T, tg Target) {
	ca := must[*pki.CA](t, "NewCA")(pki.NewCA("conformance CA"))
	id := pki.Fingerprint(ca.Cert().Raw)
	_, err := tg.IoT.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(string(ca.CertPEM()))})
	wantErr[*types.InvalidRequestException](t, "DEFAULT mode without a verification certificate", err)
	code := must[*iot.GetRegistrationCodeOutput](t, "GetRegistrationCode")(tg.IoT.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{}))
	vc := must[*pki.Device](t, "IssueDevice")(ca.IssueDevice(aws.ToString(code.RegistrationCode)))
	out := must[*iot.RegisterCACertificateOutput](t, "RegisterCACertificate")(tg.IoT.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(string(ca.CertPEM())), VerificationCertificate: aws.String(string(vc.CertPEM)), SetAsActive: true, AllowAutoRegistration: true}))
	if aws.ToString(out.CertificateId) != id || aws.ToString(out.CertificateArn) != tg.arn("cacert", id) {
		t.Errorf("registered %s %s, want id %s", aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), id)
	}
	d := must[*iot.DescribeCACertificateOutput](t, "DescribeCACertificate")(tg.IoT.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)}))
	if c := d.CertificateDescription; c.Status != types.CACertificateStatusActive || c.AutoRegistrationStatus != types.AutoRegistrationStatusEnable || c.CertificateMode != types.CertificateModeDefault {
		t.Errorf("described %+v", c)
	}
	l := must[*iot.ListCACertificatesOutput](t, "ListCACertificates")(tg.IoT.ListCACertificates(ctx, &iot.ListCACertificatesInput{}))
	if len(l.Certificates) != 1 || aws.ToString(l.Certificates[0].CertificateId) != id {
		t.Errorf("listed %+v", l.Certificates)
	}
	_, err = tg.IoT.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)})
	wantErr[*types.CertificateStateException](t, "deleting an ACTIVE CA", err)
	must[*iot.UpdateCACertificateOutput](t, "UpdateCACertificate")(tg.IoT.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{
		CertificateId: aws.String(id), NewStatus: types.CACertificateStatusInactive}))
	must[*iot.DeleteCACertificateOutput](t, "DeleteCACertificate")(tg.IoT.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)}))
	// SNI_ONLY: no verification certificate, and none accepted.
	must[*iot.RegisterCACertificateOutput](t, "RegisterCACertificate SNI_ONLY")(tg.IoT.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(string(ca.CertPEM())), CertificateMode: types.CertificateModeSniOnly}))
	d = must[*iot.DescribeCACertificateOutput](t, "DescribeCACertificate")(tg.IoT.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)}))
	if c := d.CertificateDescription; c.CertificateMode != types.CertificateModeSniOnly || c.Status != types.CACertificateStatusInactive {
		t.Errorf("SNI_ONLY registration described %+v", c)
	}
}
