package fleetsync

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/verify"
)

// TestSyncCopiesOnboardingKinds: sync copies role aliases, provisioning templates and
// CA certificates, and verify compares them. The primary's CA is in DEFAULT mode and
// another account holds it in DEFAULT mode in the secondary's Region: sync registers
// it in SNI_ONLY mode and says why, and verify reports the mode difference with the
// same reason, never silently.
func TestSyncCopiesOnboardingKinds(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	p := w.Primary.Registry
	const role = "arn:aws:iam::123456789012:role/provisioning"
	const body = `{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"}}}}}`
	if _, err := p.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("camera"), RoleArn: aws.String(role)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("jitp"), TemplateBody: aws.String(body),
		ProvisioningRoleArn: aws.String(role), Type: types.TemplateTypeJitp}); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("fleet CA")
	if err != nil {
		t.Fatal(err)
	}
	code, err := p.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	if err != nil {
		t.Fatal(err)
	}
	vc, err := ca.IssueDevice(aws.ToString(code.RegistrationCode))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(string(ca.CertPEM())),
		VerificationCertificate: aws.String(string(vc.CertPEM)), SetAsActive: true, AllowAutoRegistration: true,
		RegistrationConfig: &types.RegistrationConfig{TemplateName: aws.String("jitp")}}); err != nil {
		t.Fatal(err)
	}
	caID := pki.Fingerprint(ca.Cert().Raw)
	w.Secondary.Registry.SetCARegisteredElsewhere(caID, true)

	opts := options(w)
	opts.SourceProvisioning, opts.TargetProvisioning = p, w.Secondary.Registry
	dry := opts
	dry.DryRun = true
	sum, err := Run(ctx, dry)
	if err != nil || sum.Onboarding != (Tally{Copied: 3}) {
		t.Fatalf("dry run: %+v, %v; want 3 onboarding resources to copy", sum.Onboarding, err)
	}
	var results []Result
	opts.OnResult = func(r Result) { results = append(results, r) }
	if sum, err = Run(ctx, opts); err != nil || sum.Failed() != 0 {
		t.Fatalf("Run: %v, failures %+v", err, sum.Failures)
	}
	if sum.Onboarding != (Tally{Copied: 3}) {
		t.Errorf("onboarding = %+v, want 3 copied", sum.Onboarding)
	}
	i := slices.IndexFunc(results, func(r Result) bool { return r.Kind == KindCACertificate })
	if i < 0 || !slices.Contains(results[i].Changes, replication.CAModeNote(caID)) {
		t.Errorf("the CA's result does not say it was registered in SNI_ONLY mode, and why: %+v", results)
	}
	d, err := w.Secondary.Registry.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)})
	if err != nil || d.CertificateDescription.CertificateMode != types.CertificateModeSniOnly || aws.ToString(d.RegistrationConfig.TemplateName) != "jitp" {
		t.Fatalf("CA in the secondary: %+v, %v", d, err)
	}

	c := &verify.Comparer{Source: p, Target: w.Secondary.Registry, SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name,
		SourceProvisioning: p, TargetProvisioning: w.Secondary.Registry}
	var diffs []verify.Difference
	rep, err := c.Run(ctx, verify.RunOptions{OnDifference: func(d verify.Difference) {
		if d.Resource != verify.Thing && d.Resource != verify.ThingType && d.Resource != verify.ThingGroup {
			diffs = append(diffs, d)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RoleAliases != 1 || rep.ProvisioningTemplates != 1 || rep.CACertificates != 1 {
		t.Errorf("verify checked %+v, want one of each onboarding kind", rep)
	}
	if len(diffs) != 1 || diffs[0].Field != "mode" || !strings.Contains(diffs[0].String(), replication.ErrCAModeUnavailable.Error()) {
		t.Errorf("onboarding differences after sync = %v, want only the CA's mode, with the reason", diffs)
	}

	// A second run has nothing to do.
	opts.OnResult = nil
	if sum, err = Run(ctx, opts); err != nil || sum.Onboarding != (Tally{InSync: 3}) {
		t.Errorf("second run: %+v, %v; want 3 in sync", sum.Onboarding, err)
	}
}

// TestSyncCopiesOnboardingTags: sync gives a role alias, a provisioning template and a
// CA certificate the primary's tags in the secondary, and verify reports a tag
// difference on them (Resource Tags) until the next sync.
func TestSyncCopiesOnboardingTags(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	p, s := w.Primary.Registry, w.Secondary.Registry
	const role = "arn:aws:iam::123456789012:role/provisioning"
	const body = `{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"}}}}}`
	owner := []types.Tag{{Key: aws.String("owner"), Value: aws.String("fleet")}}
	ra, err := p.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("camera"), RoleArn: aws.String(role), Tags: owner})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("claim"), TemplateBody: aws.String(body),
		ProvisioningRoleArn: aws.String(role), Tags: owner}); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("tagged CA")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := p.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(string(ca.CertPEM())),
		CertificateMode: types.CertificateModeSniOnly, Tags: owner})
	if err != nil {
		t.Fatal(err)
	}
	opts := options(w)
	opts.SourceProvisioning, opts.TargetProvisioning = p, s
	if sum, err := Run(ctx, opts); err != nil || sum.Failed() != 0 || sum.Onboarding != (Tally{Copied: 3}) {
		t.Fatalf("Run: %+v, %v, failures %+v", sum.Onboarding, err, sum.Failures)
	}
	for _, arn := range []string{aws.ToString(ra.RoleAliasArn), "arn:aws:iot:" + w.Primary.Name + ":123456789012:provisioningtemplate/claim", aws.ToString(reg.CertificateArn)} {
		tgt := strings.Replace(arn, ":"+w.Primary.Name+":", ":"+w.Secondary.Name+":", 1)
		if got, err := replication.ListTags(ctx, s, tgt); err != nil || got["owner"] != "fleet" || len(got) != 1 {
			t.Errorf("tags of %s = %v, %v; want the primary's", tgt, got, err)
		}
	}

	if _, err := p.TagResource(ctx, &iot.TagResourceInput{ResourceArn: ra.RoleAliasArn, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	c := &verify.Comparer{Source: p, Target: s, SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name, SourceProvisioning: p, TargetProvisioning: s}
	var diffs []verify.Difference
	if _, err := c.Run(ctx, verify.RunOptions{OnDifference: func(d verify.Difference) { diffs = append(diffs, d) }}); err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || diffs[0].Resource != verify.Tags || diffs[0].Name != "role-alias/camera" {
		t.Errorf("verify after a tag change in the primary = %v, want one tags difference of role-alias/camera", diffs)
	}
	if sum, err := Run(ctx, opts); err != nil || sum.Failed() != 0 {
		t.Fatalf("second Run: %v, failures %+v", err, sum.Failures)
	}
	if got, err := replication.ListTags(ctx, s, strings.Replace(aws.ToString(ra.RoleAliasArn), ":"+w.Primary.Name+":", ":"+w.Secondary.Name+":", 1)); err != nil || got["env"] != "prod" {
		t.Errorf("role alias tags in the secondary after the second sync = %v, %v", got, err)
	}
}
