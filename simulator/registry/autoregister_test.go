package registry

import (
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/simulator/pki"
)

// TestJITPParameters: every certificate parameter AWS documents comes from the
// subject (SerialNumber from the subject's serialNumber attribute, Id the certificate's
// id); a declared one the subject lacks fails unless the template gives it a Default.
func TestJITPParameters(t *testing.T) {
	ca, err := pki.NewCA("maker")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.IssueDeviceFor(pkix.Name{CommonName: "cn", Country: []string{"SE"}, Organization: []string{"org"}, OrganizationalUnit: []string{"ou"},
		Province: []string{"state"}, SerialNumber: "sn-7", ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 46}, Value: "dnq"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := JITPParameters(dev.Leaf, dev.ID, `{"Resources":{}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Id": dev.ID, "CommonName": "cn", "Country": "SE", "Organization": "org", "OrganizationalUnit": "ou",
		"StateName": "state", "SerialNumber": "sn-7", "DistinguishedNameQualifier": "dnq"}
	for k, v := range want {
		if got["AWS::IoT::Certificate::"+k] != v {
			t.Errorf("AWS::IoT::Certificate::%s = %q, want %q", k, got["AWS::IoT::Certificate::"+k], v)
		}
	}

	bare, err := ca.IssueDevice("only-cn")
	if err != nil {
		t.Fatal(err)
	}
	_, err = JITPParameters(bare.Leaf, bare.ID, `{"Parameters":{"AWS::IoT::Certificate::Country":{"Type":"String"}},"Resources":{}}`)
	wantReason(t, err, "InvalidRequestException", "declares AWS::IoT::Certificate::Country, which the certificate's subject does not carry")
	if _, err := JITPParameters(bare.Leaf, bare.ID, `{"Parameters":{"AWS::IoT::Certificate::Country":{"Type":"String","Default":"XX"}},"Resources":{}}`); err != nil {
		t.Errorf("a declared parameter with a Default: %v", err)
	}
	_, err = JITPParameters(bare.Leaf, bare.ID, `{`)
	wantReason(t, err, "InvalidRequestException", "does not parse")
}

// TestAutoRegisterCertificate: SigningCA finds the registered CA that signed a
// certificate among several (none for a stranger's); AutoRegisterCertificate
// registers it PENDING_ACTIVATION in the CA's mode and announces it, again while it is
// pending, not once it is active.
func TestAutoRegisterCertificate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var cas []*pki.CA
	for _, name := range []string{"maker-a", "maker-b"} {
		ca, err := pki.NewCA(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(string(ca.CertPEM())),
			CertificateMode: types.CertificateModeSniOnly, SetAsActive: true, AllowAutoRegistration: true}); err != nil {
			t.Fatal(err)
		}
		cas = append(cas, ca)
	}
	dev, err := cas[1].IssueDevice("d1")
	if err != nil {
		t.Fatal(err)
	}
	ca, ok := f.SigningCA(dev.Leaf)
	if !ok || ca.ID != pki.Fingerprint(cas[1].Cert().Raw) {
		t.Fatalf("SigningCA = %+v, %v; want maker-b", ca, ok)
	}
	stranger, _ := pki.NewCA("stranger")
	other, _ := stranger.IssueDevice("d2")
	if ca, ok := f.SigningCA(other.Leaf); ok {
		t.Errorf("SigningCA of a stranger's certificate = %+v", ca)
	}

	f.pub.take()
	info, err := f.AutoRegisterCertificate(dev.Leaf, ca.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != "PENDING_ACTIVATION" || info.Mode != "SNI_ONLY" {
		t.Errorf("auto-registered %+v, want PENDING_ACTIVATION in the CA's SNI_ONLY mode", info)
	}
	msgs := f.pub.take()
	if len(msgs) != 1 || msgs[0].Topic != CertificateRegisteredTopicPrefix+ca.ID {
		t.Fatalf("published %v, want one announcement", msgs)
	}
	ev := decode(t, msgs[0])
	if ev["certificateId"] != dev.ID || ev["certificateStatus"] != "PENDING_ACTIVATION" || ev["awsAccountId"] != testAccount ||
		ev["timestamp"] != float64(f.clock.Now().UnixMilli()) || ev["certificateRegistrationTimestamp"] == "" {
		t.Errorf("announcement %v", ev)
	}
	if _, err := f.AutoRegisterCertificate(dev.Leaf, ca.ID); err != nil || len(f.pub.take()) != 1 {
		t.Errorf("a pending certificate's next connection: err %v, want it announced again", err)
	}
	if _, err := f.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(dev.ID), NewStatus: types.CertificateStatusActive}); err != nil {
		t.Fatal(err)
	}
	if info, err := f.AutoRegisterCertificate(dev.Leaf, ca.ID); err != nil || info.Status != "ACTIVE" || len(f.pub.take()) != 0 {
		t.Errorf("an active certificate: %+v, %v; want it left ACTIVE and not announced", info, err)
	}
	_, err = f.AutoRegisterCertificate(other.Leaf, pki.Fingerprint(stranger.Cert().Raw))
	wantReason(t, err, "ResourceNotFoundException", "does not exist")
}

// TestRegisterThingParameterDefaults: a parameter the template declares with a Default
// takes it when not given; a given value wins.
func TestRegisterThingParameterDefaults(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	body := `{"Parameters":{"Name":{"Type":"String"},"Site":{"Type":"String","Default":"lab"}},"Resources":{` +
		`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"Name"},"AttributePayload":{"site":{"Ref":"Site"}}}}}}`
	for name, want := range map[string]string{"defaulted": "lab", "given": "plant"} {
		params := map[string]string{"Name": name}
		if name == "given" {
			params["Site"] = "plant"
		}
		if _, err := f.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(body), Parameters: params}); err != nil {
			t.Fatal(err)
		}
		if got := f.mustDescribeThing(t, name).Attributes["site"]; got != want {
			t.Errorf("%s: site %q, want %q", name, got, want)
		}
	}
	_, err := f.RegisterThing(ctx, &iot.RegisterThingInput{TemplateBody: aws.String(body)})
	wantErr(t, err, "InvalidRequestException")
	wantReason(t, err, "InvalidRequestException", `refers to parameter "Name", which was not given`)
}

// wantReason checks that err is the API error code whose message contains reason.
func wantReason(t *testing.T, err error, code, reason string) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != code || !strings.Contains(api.ErrorMessage(), reason) {
		t.Fatalf("error %v, want %s saying %q", err, code, reason)
	}
}
