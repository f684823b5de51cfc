package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

const testRole = "arn:aws:iam::123456789012:role/provisioning"

func TestRoleAliases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		in   *iot.CreateRoleAliasInput
		want string
	}{
		{"default duration", &iot.CreateRoleAliasInput{RoleAlias: aws.String("cam"), RoleArn: aws.String(testRole)}, ""},
		{"again", &iot.CreateRoleAliasInput{RoleAlias: aws.String("cam"), RoleArn: aws.String(testRole)}, "ResourceAlreadyExistsException"},
		{"no role", &iot.CreateRoleAliasInput{RoleAlias: aws.String("x")}, "params"},
		{"bad name", &iot.CreateRoleAliasInput{RoleAlias: aws.String("a/b"), RoleArn: aws.String(testRole)}, "InvalidRequestException"},
		{"not a role", &iot.CreateRoleAliasInput{RoleAlias: aws.String("x"), RoleArn: aws.String("arn:aws:iot:us-east-1:123456789012:thing/x")}, "InvalidRequestException"},
		{"too short", &iot.CreateRoleAliasInput{RoleAlias: aws.String("x"), RoleArn: aws.String(testRole), CredentialDurationSeconds: aws.Int32(899)}, "InvalidRequestException"},
		{"too long", &iot.CreateRoleAliasInput{RoleAlias: aws.String("x"), RoleArn: aws.String(testRole), CredentialDurationSeconds: aws.Int32(43201)}, "InvalidRequestException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.CreateRoleAlias(ctx, tc.in)
			wantErr(t, err, tc.want)
		})
	}
	d, err := f.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("cam")})
	wantErr(t, err, "")
	if got := d.RoleAliasDescription; aws.ToInt32(got.CredentialDurationSeconds) != 3600 || aws.ToString(got.RoleArn) != testRole ||
		aws.ToString(got.RoleAliasArn) != "arn:aws:iot:"+testRegion+":"+testAccount+":rolealias/cam" {
		t.Errorf("described %+v", got)
	}
	_, err = f.UpdateRoleAlias(ctx, &iot.UpdateRoleAliasInput{RoleAlias: aws.String("cam"), CredentialDurationSeconds: aws.Int32(900)})
	wantErr(t, err, "")
	d, _ = f.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("cam")})
	if aws.ToInt32(d.RoleAliasDescription.CredentialDurationSeconds) != 900 || aws.ToString(d.RoleAliasDescription.RoleArn) != testRole {
		t.Errorf("after update: %+v", d.RoleAliasDescription)
	}
	_, err = f.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("door"), RoleArn: aws.String(testRole)})
	wantErr(t, err, "")
	l, err := f.ListRoleAliases(ctx, &iot.ListRoleAliasesInput{AscendingOrder: true, PageSize: aws.Int32(1)})
	wantErr(t, err, "")
	if len(l.RoleAliases) != 1 || l.RoleAliases[0] != "cam" || l.NextMarker == nil {
		t.Fatalf("first page %v %v", l.RoleAliases, l.NextMarker)
	}
	l, err = f.ListRoleAliases(ctx, &iot.ListRoleAliasesInput{AscendingOrder: true, Marker: l.NextMarker})
	wantErr(t, err, "")
	if len(l.RoleAliases) != 1 || l.RoleAliases[0] != "door" || l.NextMarker != nil {
		t.Fatalf("second page %v %v", l.RoleAliases, l.NextMarker)
	}
	_, err = f.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String("cam")})
	wantErr(t, err, "")
	_, err = f.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String("cam")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("cam")})
	wantErr(t, err, "ResourceNotFoundException")
}

const testTemplateBody = `{"Parameters":{"SerialNumber":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"}}}}}`

func TestProvisioningTemplates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	hook := "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:check"
	for _, tc := range []struct {
		name string
		in   *iot.CreateProvisioningTemplateInput
		want string
	}{
		{"fleet with hook", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("fleet"), TemplateBody: aws.String(testTemplateBody),
			ProvisioningRoleArn: aws.String(testRole), Enabled: aws.Bool(true), PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String(hook)}}, ""},
		{"jitp", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("jitp"), TemplateBody: aws.String(testTemplateBody),
			ProvisioningRoleArn: aws.String(testRole), Type: types.TemplateTypeJitp}, ""},
		{"again", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("fleet"), TemplateBody: aws.String(testTemplateBody), ProvisioningRoleArn: aws.String(testRole)}, "ResourceAlreadyExistsException"},
		{"jitp with hook", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("j2"), TemplateBody: aws.String(testTemplateBody),
			ProvisioningRoleArn: aws.String(testRole), Type: types.TemplateTypeJitp, PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String(hook)}}, "InvalidRequestException"},
		{"hook in another Region", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("f2"), TemplateBody: aws.String(testTemplateBody),
			ProvisioningRoleArn: aws.String(testRole), PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String("arn:aws:lambda:eu-west-9:" + testAccount + ":function:check")}}, "InvalidRequestException"},
		{"body without resources", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("f3"), TemplateBody: aws.String(`{}`), ProvisioningRoleArn: aws.String(testRole)}, "InvalidRequestException"},
		{"bad name", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("a.b"), TemplateBody: aws.String(testTemplateBody), ProvisioningRoleArn: aws.String(testRole)}, "InvalidRequestException"},
		{"no role", &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("f4"), TemplateBody: aws.String(testTemplateBody)}, "params"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.CreateProvisioningTemplate(ctx, tc.in)
			wantErr(t, err, tc.want)
		})
	}
	d, err := f.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("fleet")})
	wantErr(t, err, "")
	if d.Type != types.TemplateTypeFleetProvisioning || !aws.ToBool(d.Enabled) || aws.ToInt32(d.DefaultVersionId) != 1 ||
		aws.ToString(d.PreProvisioningHook.PayloadVersion) != defaultPayloadVersion || aws.ToString(d.TemplateBody) != testTemplateBody {
		t.Errorf("described %+v", d)
	}
	other := `{"Resources":{}}`
	for i := range 4 {
		v, err := f.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("fleet"), TemplateBody: aws.String(other), SetAsDefault: i == 0})
		wantErr(t, err, "")
		if aws.ToInt32(v.VersionId) != int32(i+2) || v.IsDefaultVersion != (i == 0) {
			t.Errorf("version %d: %+v", i, v)
		}
	}
	_, err = f.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("fleet"), TemplateBody: aws.String(other)})
	wantErr(t, err, "VersionsLimitExceededException")
	_, err = f.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("fleet"), VersionId: aws.Int32(2)})
	wantErr(t, err, "DeleteConflictException")
	_, err = f.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("fleet"), VersionId: aws.Int32(1)})
	wantErr(t, err, "")
	vs, err := f.ListProvisioningTemplateVersions(ctx, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String("fleet")})
	wantErr(t, err, "")
	if len(vs.Versions) != 4 || aws.ToInt32(vs.Versions[0].VersionId) != 2 || !vs.Versions[0].IsDefaultVersion {
		t.Errorf("versions %+v", vs.Versions)
	}
	_, err = f.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("fleet"), RemovePreProvisioningHook: aws.Bool(true), Enabled: aws.Bool(false)})
	wantErr(t, err, "")
	d, _ = f.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("fleet")})
	if d.PreProvisioningHook != nil || aws.ToBool(d.Enabled) || aws.ToString(d.TemplateBody) != other {
		t.Errorf("after update %+v", d)
	}
	_, err = f.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("jitp"), PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String(hook)}})
	wantErr(t, err, "InvalidRequestException")
	l, err := f.ListProvisioningTemplates(ctx, &iot.ListProvisioningTemplatesInput{})
	wantErr(t, err, "")
	if len(l.Templates) != 2 || aws.ToString(l.Templates[0].TemplateName) != "fleet" || l.Templates[1].Type != types.TemplateTypeJitp {
		t.Errorf("list %+v", l.Templates)
	}
	_, err = f.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("fleet")})
	wantErr(t, err, "")
	_, err = f.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("fleet")})
	wantErr(t, err, "ResourceNotFoundException")
}

// verificationCert signs a certificate whose common name is cn with the CA's key.
func verificationCert(t *testing.T, ca *x509.Certificate, key *ecdsa.PrivateKey, cn string) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestCACertificates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	caPEM, caDER, ca, caKey := makeCert(t, nil, nil)
	devPEM, _, _, _ := makeCert(t, ca, caKey)
	id := fingerprint(caDER)
	code, err := f.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	wantErr(t, err, "")
	good := verificationCert(t, ca, caKey, aws.ToString(code.RegistrationCode))
	_, _, other, otherKey := makeCert(t, nil, nil)
	_, err = f.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("fleet"), TemplateBody: aws.String(testTemplateBody), ProvisioningRoleArn: aws.String(testRole)})
	wantErr(t, err, "")
	for _, tc := range []struct {
		name string
		in   *iot.RegisterCACertificateInput
		want string
	}{
		{"not a CA", &iot.RegisterCACertificateInput{CaCertificate: aws.String(devPEM), CertificateMode: types.CertificateModeSniOnly}, "CertificateValidationException"},
		{"DEFAULT without verification", &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM)}, "InvalidRequestException"},
		{"SNI_ONLY with verification", &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), VerificationCertificate: aws.String(good), CertificateMode: types.CertificateModeSniOnly}, "InvalidRequestException"},
		{"verification by another key", &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), VerificationCertificate: aws.String(verificationCert(t, other, otherKey, aws.ToString(code.RegistrationCode)))}, "CertificateValidationException"},
		{"verification for another account", &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), VerificationCertificate: aws.String(verificationCert(t, ca, caKey, "not-the-code"))}, "CertificateValidationException"},
		{"fleet template for JITP", &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), VerificationCertificate: aws.String(good), RegistrationConfig: &types.RegistrationConfig{TemplateName: aws.String("fleet")}}, "InvalidRequestException"},
		{"DEFAULT", &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), VerificationCertificate: aws.String(good), SetAsActive: true, AllowAutoRegistration: true,
			RegistrationConfig: &types.RegistrationConfig{TemplateBody: aws.String(testTemplateBody), RoleArn: aws.String(testRole)}}, ""},
		{"again", &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), CertificateMode: types.CertificateModeSniOnly}, "ResourceAlreadyExistsException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.RegisterCACertificate(ctx, tc.in)
			wantErr(t, err, tc.want)
		})
	}
	d, err := f.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
	wantErr(t, err, "")
	if c := d.CertificateDescription; c.Status != types.CACertificateStatusActive || c.AutoRegistrationStatus != types.AutoRegistrationStatusEnable ||
		c.CertificateMode != types.CertificateModeDefault || aws.ToString(d.RegistrationConfig.TemplateBody) != testTemplateBody {
		t.Errorf("described %+v %+v", c, d.RegistrationConfig)
	}
	_, err = f.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)})
	wantErr(t, err, "CertificateStateException")
	_, err = f.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id), NewStatus: types.CACertificateStatusInactive, RemoveAutoRegistration: true})
	wantErr(t, err, "")
	l, err := f.ListCACertificates(ctx, &iot.ListCACertificatesInput{})
	wantErr(t, err, "")
	if len(l.Certificates) != 1 || l.Certificates[0].Status != types.CACertificateStatusInactive {
		t.Errorf("list %+v", l.Certificates)
	}
	_, err = f.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)})
	wantErr(t, err, "")

	// Another account holds the CA in DEFAULT mode in this Region: DEFAULT is refused,
	// SNI_ONLY is not.
	f.SetCARegisteredElsewhere(id, true)
	_, err = f.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), VerificationCertificate: aws.String(good)})
	wantErr(t, err, "ResourceAlreadyExistsException")
	_, err = f.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), CertificateMode: types.CertificateModeSniOnly})
	wantErr(t, err, "")
}

func TestRegisterThing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreatePolicy(t, "device")
	_, id := f.mustRegisterCert(t, types.CertificateStatusInactive)
	body := `{"Parameters":{"Serial":{"Type":"String"},"Cert":{"Type":"String"}},"Resources":{` +
		`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"Serial"},"AttributePayload":{"v":"1","serial":{"Ref":"Serial"}}}},` +
		`"certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"Cert"},"Status":"ACTIVE"}},` +
		`"policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"device"}}}}`
	out, err := f.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(body), Parameters: map[string]string{"Serial": "sn-1", "Cert": id}})
	wantErr(t, err, "")
	if len(out.ResourceArns) != 3 || out.CertificatePem == nil {
		t.Errorf("output %+v", out)
	}
	d := f.mustDescribeThing(t, "sn-1")
	if d.Attributes["serial"] != "sn-1" || d.Attributes["v"] != "1" {
		t.Errorf("thing %+v", d.Attributes)
	}
	c, _ := f.CertificateByFingerprint(id)
	if c.Status != "ACTIVE" || len(c.Things) != 1 || len(c.Policies) != 1 {
		t.Errorf("certificate %+v", c)
	}
	_, err = f.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(body), Parameters: map[string]string{"Serial": "sn-2"}})
	wantErr(t, err, "InvalidRequestException") // a parameter the template refers to is missing
	_, err = f.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(`{"Resources":{"x":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::Join":["",["a"]]}}}}}`)})
	wantErr(t, err, "InvalidRequestException")
}

// TestOnboardingKindsTags: role aliases, provisioning templates and CA certificates
// take tags at creation and through TagResource on their ARNs, within AWS's limits
// (51 tags, an aws: key refused and nothing created), and a deleted resource's tags go
// with it (a re-created one has none).
func TestOnboardingKindsTags(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	caPEM, caDER, _, _ := makeCert(t, nil, nil)
	one := []types.Tag{{Key: aws.String("owner"), Value: aws.String("fleet")}}
	var many []types.Tag
	for i := range 51 {
		many = append(many, types.Tag{Key: aws.String("k" + string(rune('a'+i/26)) + string(rune('a'+i%26))), Value: aws.String("v")})
	}
	reserved := []types.Tag{{Key: aws.String("AWS:owner"), Value: aws.String("x")}}
	kinds := []struct {
		name, arn string
		create    func(tags []types.Tag) error
		remove    func() error
	}{
		{"role alias", "arn:aws:iot:" + testRegion + ":" + testAccount + ":rolealias/cam",
			func(tags []types.Tag) error {
				_, err := f.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("cam"), RoleArn: aws.String(testRole), Tags: tags})
				return err
			},
			func() error {
				_, err := f.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String("cam")})
				return err
			}},
		{"provisioning template", "arn:aws:iot:" + testRegion + ":" + testAccount + ":provisioningtemplate/claim",
			func(tags []types.Tag) error {
				_, err := f.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("claim"),
					TemplateBody: aws.String(testTemplateBody), ProvisioningRoleArn: aws.String(testRole), Tags: tags})
				return err
			},
			func() error {
				_, err := f.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("claim")})
				return err
			}},
		{"CA certificate", "arn:aws:iot:" + testRegion + ":" + testAccount + ":cacert/" + fingerprint(caDER),
			func(tags []types.Tag) error {
				_, err := f.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(caPEM), CertificateMode: types.CertificateModeSniOnly, Tags: tags})
				return err
			},
			func() error {
				_, err := f.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(fingerprint(caDER))})
				return err
			}},
	}
	tagsOf := func(t *testing.T, arn string) map[string]string {
		t.Helper()
		out, err := f.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		wantErr(t, err, "")
		m := map[string]string{}
		for _, tg := range out.Tags {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			wantErr(t, k.create(many), "LimitExceededException")
			wantErr(t, k.create(reserved), "InvalidRequestException")
			_, err := f.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(k.arn)})
			wantErr(t, err, "ResourceNotFoundException") // neither refused create made it
			wantErr(t, k.create(one), "")
			_, err = f.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(k.arn), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
			wantErr(t, err, "")
			if got := tagsOf(t, k.arn); len(got) != 2 || got["owner"] != "fleet" || got["env"] != "prod" {
				t.Errorf("tags = %v, want owner and env", got)
			}
			_, err = f.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(k.arn), TagKeys: []string{"owner"}})
			wantErr(t, err, "")
			wantErr(t, k.remove(), "")
			wantErr(t, k.create(nil), "")
			if got := tagsOf(t, k.arn); len(got) != 0 {
				t.Errorf("tags of the re-created resource = %v, want none", got)
			}
		})
	}
}
