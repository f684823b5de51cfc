package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/fleet"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

const (
	onboardRole   = "arn:aws:iam::123456789012:role/iot-provisioning"
	onboardBody   = `{"Parameters":{"SerialNumber":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"}}}}}`
	onboardBodyV2 = `{"Parameters":{"SerialNumber":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"},"AttributePayload":{"v":"2"}}}}}`
)

// registerDefaultCA registers ca in DEFAULT mode in r, ACTIVE, auto-registration on,
// its registration config naming the JITP template "jitp"; it returns the CA's id.
func registerDefaultCA(t testing.TB, r *simulator.Region, ca *pki.CA) string {
	t.Helper()
	return registerCA(t, r, ca, &types.RegistrationConfig{TemplateName: aws.String("jitp")})
}

// registerCA registers ca in DEFAULT mode in r, ACTIVE, auto-registration on, with
// the registration config cfg (nil: none, which is JITR); it returns the CA's id.
func registerCA(t testing.TB, r *simulator.Region, ca *pki.CA, cfg *types.RegistrationConfig) string {
	t.Helper()
	id, err := simulator.RegisterCA(context.Background(), r, ca, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOnboardingKindsReplicateBothWays: a role alias, a fleet provisioning template
// with a pre-provisioning hook, a JITP template and a CA certificate (DEFAULT mode,
// auto-registration on, registration config naming the JITP template), none of which
// raises a registry event, reach the secondary through the primary's sweep: the
// hook's Lambda ARN names the secondary's Region, the CA is registered there in
// SNI_ONLY mode (DEFAULT needs a verification certificate signed by the CA's key) and
// the change says so. The applies do not come back (sweeps of both Regions write
// nothing), changes made in the secondary flow back, and deletes replicate.
func TestOnboardingKindsReplicateBothWays(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	p, s := w.Primary.Registry, w.Secondary.Registry
	hook := func(region string) string { return "arn:aws:lambda:" + region + ":123456789012:function:vet-device" }
	must(t)(p.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("camera"), RoleArn: aws.String(onboardRole), CredentialDurationSeconds: aws.Int32(1800)}))
	must(t)(p.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("claim"), TemplateBody: aws.String(onboardBody), ProvisioningRoleArn: aws.String(onboardRole), Enabled: aws.Bool(true),
		PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String(hook(w.Primary.Name))},
	}))
	must(t)(p.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("jitp"), TemplateBody: aws.String(onboardBody), ProvisioningRoleArn: aws.String(onboardRole), Type: types.TemplateTypeJitp,
	}))
	caID := registerDefaultCA(t, w.Primary, must(t)(pki.NewCA("fleet CA")).(*pki.CA))

	st := sweep(t, w, w.Primary)
	if st.Visited < 4 {
		t.Errorf("the primary's sweep visited %d resources, want at least the 4 onboarding ones", st.Visited)
	}
	a := must(t)(s.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("camera")})).(*iot.DescribeRoleAliasOutput).RoleAliasDescription
	if aws.ToString(a.RoleArn) != onboardRole || aws.ToInt32(a.CredentialDurationSeconds) != 1800 {
		t.Errorf("role alias in the secondary: %+v", a)
	}
	tp := must(t)(s.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("claim")})).(*iot.DescribeProvisioningTemplateOutput)
	if aws.ToString(tp.TemplateBody) != onboardBody || !aws.ToBool(tp.Enabled) || aws.ToString(tp.PreProvisioningHook.TargetArn) != hook(w.Secondary.Name) {
		t.Errorf("fleet provisioning template in the secondary: body %q enabled %v hook %v", aws.ToString(tp.TemplateBody), aws.ToBool(tp.Enabled), aws.ToString(tp.PreProvisioningHook.TargetArn))
	}
	cd := must(t)(s.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)})).(*iot.DescribeCACertificateOutput)
	if c := cd.CertificateDescription; c.Status != types.CACertificateStatusActive || c.AutoRegistrationStatus != types.AutoRegistrationStatusEnable ||
		c.CertificateMode != types.CertificateModeSniOnly || aws.ToString(cd.RegistrationConfig.TemplateName) != "jitp" {
		t.Errorf("CA certificate in the secondary: %+v, config %+v", c, cd.RegistrationConfig)
	}

	writes := tableWrites(w)
	sweep(t, w, w.Secondary)
	sweep(t, w, w.Primary)
	if n := tableWrites(w) - writes; n != 0 {
		t.Errorf("sweeps after the onboarding kinds were applied wrote %d items, want 0 (an apply came back)", n)
	}

	// Changes made in the secondary while it serves flow back.
	must(t)(s.UpdateRoleAlias(ctx, &iot.UpdateRoleAliasInput{RoleAlias: aws.String("camera"), CredentialDurationSeconds: aws.Int32(3600)}))
	must(t)(s.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("claim"), TemplateBody: aws.String(onboardBodyV2), SetAsDefault: true}))
	must(t)(s.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(caID), NewAutoRegistrationStatus: types.AutoRegistrationStatusDisable}))
	sweep(t, w, w.Secondary)
	a = must(t)(p.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("camera")})).(*iot.DescribeRoleAliasOutput).RoleAliasDescription
	if aws.ToInt32(a.CredentialDurationSeconds) != 3600 {
		t.Errorf("role alias in the primary after the secondary's change: %+v", a)
	}
	tp = must(t)(p.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("claim")})).(*iot.DescribeProvisioningTemplateOutput)
	if aws.ToString(tp.TemplateBody) != onboardBodyV2 || aws.ToString(tp.PreProvisioningHook.TargetArn) != hook(w.Primary.Name) {
		t.Errorf("template in the primary after the secondary's change: body %q hook %q", aws.ToString(tp.TemplateBody), aws.ToString(tp.PreProvisioningHook.TargetArn))
	}
	cd = must(t)(p.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)})).(*iot.DescribeCACertificateOutput)
	if c := cd.CertificateDescription; c.AutoRegistrationStatus != types.AutoRegistrationStatusDisable || c.CertificateMode != types.CertificateModeDefault {
		t.Errorf("CA certificate in the primary after the secondary's change: %+v (its DEFAULT mode must stay)", c)
	}

	// Deletes made in the Region that last changed the resource replicate (its
	// sweep's table stage finds what its lists no longer show; see
	// docs/architecture.md for a delete made in the other Region).
	must(t)(s.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String("camera")}))
	must(t)(s.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("claim")}))
	must(t)(s.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(caID), NewStatus: types.CACertificateStatusInactive}))
	must(t)(s.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(caID)}))
	sweep(t, w, w.Secondary)
	s = p
	if _, err := s.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("camera")}); err == nil {
		t.Error("the role alias deleted in the secondary is still in the primary")
	}
	if _, err := s.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("claim")}); err == nil {
		t.Error("the template deleted in the secondary is still in the primary")
	}
	if _, err := s.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(caID)}); err == nil {
		t.Error("the CA certificate deleted in the secondary is still in the primary")
	}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if n := r.Errors.Len(); n != 0 {
			recs, _ := (&failures.Recorder{Table: r.Errors, Name: simulator.ErrorTableName}).List(ctx)
			t.Errorf("%d error-table records in %s: %+v", n, r.Name, recs)
		}
	}
}

// claimTemplate is a fleet provisioning template: the thing named by the device's
// serial number, its new certificate activated, the device policy attached.
const claimTemplate = `{"Parameters":{"SerialNumber":{"Type":"String"},"AWS::IoT::Certificate::Id":{"Type":"String"}},"Resources":{` +
	`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"SerialNumber"},"AttributePayload":{"onboarded":"by-claim"}}},` +
	`"certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"},"Status":"ACTIVE"}},` +
	`"policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"` + spec.DevicePolicyName + `"}}}}`

// provisionByClaim onboards a device in r the way fleet provisioning by claim does,
// through the registry calls the flow makes: CreateKeysAndCertificate, then
// RegisterThing with the template r holds (which must be there and enabled: it is
// the replicated copy when r is the secondary). The MQTT half of the flow
// ($aws/certificates/create, $aws/provisioning-templates/<name>/provision) is not
// simulated.
func provisionByClaim(ctx context.Context, t testing.TB, r *simulator.Region, template, serial string) *pki.Device {
	t.Helper()
	tp, err := r.Registry.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(template)})
	if err != nil {
		t.Fatalf("the device cannot onboard in %s: %v", r.Name, err)
	}
	if !aws.ToBool(tp.Enabled) {
		t.Fatalf("template %s is disabled in %s", template, r.Name)
	}
	keys := must(t)(r.Registry.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{})).(*iot.CreateKeysAndCertificateOutput)
	must(t)(r.Registry.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: tp.TemplateBody,
		Parameters: map[string]string{"SerialNumber": serial, "AWS::IoT::Certificate::Id": aws.ToString(keys.CertificateId)}}))
	pair, err := tls.X509KeyPair([]byte(aws.ToString(keys.CertificatePem)), []byte(aws.ToString(keys.KeyPair.PrivateKey)))
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Device{CertPEM: []byte(aws.ToString(keys.CertificatePem)), KeyPEM: []byte(aws.ToString(keys.KeyPair.PrivateKey)),
		TLS: pair, Leaf: pair.Leaf, ID: aws.ToString(keys.CertificateId)}
}

// connectIn starts one device pinned to the Region at ip and waits until it is
// connected there.
func connectIn(ctx context.Context, t testing.TB, w *simulator.World, r *simulator.Region, ip, thing string, dev *pki.Device) {
	t.Helper()
	f := startDevice(ctx, t, w, ip, fleet.Device{Thing: thing, Cert: dev})
	defer f.Stop()
	if err := f.WaitConnected(ctx, r.Name, 1); err != nil {
		t.Fatalf("%s did not connect to %s: %v (refusals %v)", thing, r.Name, err, r.Broker.Refusals())
	}
}

// TestDevicesOnboardInSecondaryDuringOutage: the fleet provisioning template the
// primary holds reaches the secondary through the sweep (no event announces it).
// While the primary is down, new devices onboard by claim in the secondary with the
// replicated template and connect there; failback carries them home: the primary
// then holds the things, their certificates (registered there without a CA) and
// policies, and the devices connect to the primary.
func TestDevicesOnboardInSecondaryDuringOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "existing"}) // the device policy reaches the secondary with it
	must(t)(w.Primary.Registry.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("claim"), TemplateBody: aws.String(claimTemplate), ProvisioningRoleArn: aws.String(onboardRole), Enabled: aws.Bool(true),
	}))
	settle(t, w)
	if _, err := w.Secondary.Registry.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("claim")}); err == nil {
		t.Fatal("the template is in the secondary before any sweep; the test proves nothing")
	}
	sweep(t, w, w.Primary)

	w.SetRegionDown(w.Primary, true)
	born := map[string]*pki.Device{}
	for i := range 3 {
		serial := fmt.Sprintf("claimed-%d", i)
		born[serial] = provisionByClaim(ctx, t, w.Secondary, "claim", serial)
		connectIn(ctx, t, w, w.Secondary, simulator.SecondaryIP, serial, born[serial])
	}
	settle(t, w)

	w.SetRegionDown(w.Primary, false)
	settle(t, w)
	assertConverged(t, w)
	for serial, dev := range born {
		d, err := w.Primary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(serial)})
		if err != nil || d.Attributes["onboarded"] != "by-claim" {
			t.Fatalf("%s in the primary after failback: %+v, %v", serial, d, err)
		}
		connectIn(ctx, t, w, w.Primary, simulator.PrimaryIP, serial, dev)
	}
	assertNoConflicts(t, w)
}
