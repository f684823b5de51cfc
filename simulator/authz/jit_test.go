package authz_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/authz"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

const (
	jitRole = "arn:aws:iam::123456789012:role/jitp"
	// jitpBody names the thing after the certificate's common name, records its country
	// and a batch attribute from the template's own default, activates the certificate
	// and attaches the device policy, as AWS's JITP example does.
	jitpBody = `{"Parameters":{"AWS::IoT::Certificate::CommonName":{"Type":"String"},"AWS::IoT::Certificate::Country":{"Type":"String"},` +
		`"AWS::IoT::Certificate::Id":{"Type":"String"},"Batch":{"Type":"String","Default":"b7"}},"Resources":{` +
		`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"},` +
		`"AttributePayload":{"country":{"Ref":"AWS::IoT::Certificate::Country"},"batch":{"Ref":"Batch"}}}},` +
		`"certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"},"Status":"ACTIVE"}},` +
		`"policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"` + spec.DevicePolicyName + `"}}}}`
	sni = "devices.example.com"
)

// jitEnv is env with a registry whose events are recorded and an authoriser that
// registers and provisions just in time and requires SNI naming sni.
type jitEnv struct {
	*env
	mu     sync.Mutex
	events map[string][]string // topic -> payloads
}

func (j *jitEnv) Publish(topic string, payload []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events[topic] = append(j.events[topic], string(payload))
	return nil
}

func (j *jitEnv) published(topic string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.events[topic]...)
}

func newJITEnv(t *testing.T) *jitEnv {
	t.Helper()
	j := &jitEnv{events: map[string][]string{}}
	reg := registry.New(registry.Options{Region: region, AccountID: account, Publisher: j})
	t.Cleanup(reg.Close)
	auth := authz.New(reg, region, account, nil)
	auth.RequireSNI(sni)
	auth.JustInTime(reg)
	j.env = &env{t: t, ca: newCA(t), reg: reg, auth: auth}
	doc, err := spec.DevicePolicy(region, account)
	if err != nil {
		t.Fatal(err)
	}
	j.createPolicy(spec.DevicePolicyName, doc)
	return j
}

// registerCA registers ca in mode (SNI_ONLY needs no verification certificate; DEFAULT
// gets one with the registration code), with the given status, auto-registration and
// registration config; it returns the CA's id.
func (j *jitEnv) registerCA(ca *pki.CA, mode types.CertificateMode, active, autoRegistration bool, cfg *types.RegistrationConfig) string {
	j.t.Helper()
	ctx := context.Background()
	in := &iot.RegisterCACertificateInput{CaCertificate: aws.String(string(ca.CertPEM())), CertificateMode: mode,
		SetAsActive: active, AllowAutoRegistration: autoRegistration, RegistrationConfig: cfg}
	if mode == types.CertificateModeDefault {
		code, err := j.reg.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
		if err != nil {
			j.t.Fatal(err)
		}
		v, err := ca.IssueDevice(aws.ToString(code.RegistrationCode))
		if err != nil {
			j.t.Fatal(err)
		}
		in.VerificationCertificate = aws.String(string(v.CertPEM))
	}
	out, err := j.reg.RegisterCACertificate(ctx, in)
	if err != nil {
		j.t.Fatalf("register CA: %v", err)
	}
	return aws.ToString(out.CertificateId)
}

func issue(t *testing.T, ca *pki.CA, subject pkix.Name) *pki.Device {
	t.Helper()
	d, err := ca.IssueDeviceFor(subject)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// disconnected asserts err closes the connection (broker.ErrDisconnect) with a reason
// containing want.
func disconnected(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, broker.ErrDisconnect) {
		t.Fatalf("Connect = %v, want a closed connection (broker.ErrDisconnect)", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("reason %q does not contain %q", err, want)
	}
}

// TestJITRRegistersPendingActivation: a certificate signed by a registered CA with
// auto-registration and no registration config is registered PENDING_ACTIVATION in
// the CA's mode, announced on $aws/events/certificates/registered/<caId>, and its
// connection closed; each further connection while it is pending announces it again
// and is closed; once something activates it (a JITR Lambda) it connects.
func TestJITRRegistersPendingActivation(t *testing.T) {
	j := newJITEnv(t)
	caID := j.registerCA(j.ca, types.CertificateModeDefault, true, true, nil)
	dev := issue(t, j.ca, pkix.Name{CommonName: "sensor-1"})
	topic := registry.CertificateRegisteredTopicPrefix + caID

	disconnected(t, j.auth.Connect(client("sensor-1", dev.Leaf)), "JITR: certificate "+dev.ID+" is registered PENDING_ACTIVATION")
	d, err := j.reg.DescribeCertificate(context.Background(), &iot.DescribeCertificateInput{CertificateId: aws.String(dev.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if c := d.CertificateDescription; c.Status != types.CertificateStatusPendingActivation || c.CertificateMode != types.CertificateModeDefault {
		t.Fatalf("auto-registered certificate: status %s mode %s, want PENDING_ACTIVATION DEFAULT", c.Status, c.CertificateMode)
	}
	events := j.published(topic)
	if len(events) != 1 {
		t.Fatalf("%d events on %s, want 1 (all: %v)", len(events), topic, j.events)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(events[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["certificateId"] != dev.ID || ev["caCertificateId"] != caID || ev["certificateStatus"] != "PENDING_ACTIVATION" ||
		ev["awsAccountId"] != account || ev["timestamp"] == nil || ev["certificateRegistrationTimestamp"] == nil {
		t.Fatalf("registered event %s", events[0])
	}

	disconnected(t, j.auth.Connect(client("sensor-1", dev.Leaf)), "JITR")
	if n := len(j.published(topic)); n != 2 {
		t.Fatalf("%d events after a pending certificate connected again, want 2", n)
	}

	// What a JITR Lambda does on the event: activate, create the thing, attach.
	ctx := context.Background()
	if _, err := j.reg.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(dev.ID), NewStatus: types.CertificateStatusActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("sensor-1")}); err != nil {
		t.Fatal(err)
	}
	arn := j.certARN(dev)
	if _, err := j.reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("sensor-1"), Principal: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	j.attach(spec.DevicePolicyName, arn)
	check(t, j.auth.Connect(client("sensor-1", dev.Leaf)), true, "")
	if n := len(j.published(topic)); n != 2 {
		t.Fatalf("%d events after the active certificate connected, want still 2", n)
	}
}

// TestJITPProvisionsOnFirstConnect: with a JITP template in the CA's registration
// config the first connection runs it (the certificate's subject and the template's
// defaults as parameters): thing, certificate ACTIVE, policy and attachments exist,
// the connection is closed, and the next one is admitted. A CA registered in SNI_ONLY
// mode gives the certificate SNI_ONLY mode.
func TestJITPProvisionsOnFirstConnect(t *testing.T) {
	for _, mode := range []types.CertificateMode{types.CertificateModeDefault, types.CertificateModeSniOnly} {
		t.Run(string(mode), func(t *testing.T) {
			j := newJITEnv(t)
			caID := j.registerCA(j.ca, mode, true, true, &types.RegistrationConfig{TemplateBody: aws.String(jitpBody), RoleArn: aws.String(jitRole)})
			dev := issue(t, j.ca, pkix.Name{CommonName: "meter-9", Country: []string{"DE"}})

			disconnected(t, j.auth.Connect(client("meter-9", dev.Leaf)), "JITP: certificate "+dev.ID+" provisioned by the template of CA "+caID)
			ctx := context.Background()
			th, err := j.reg.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("meter-9")})
			if err != nil {
				t.Fatalf("the template made no thing: %v", err)
			}
			if th.Attributes["country"] != "DE" || th.Attributes["batch"] != "b7" {
				t.Errorf("thing attributes %v, want country DE (from the certificate) and batch b7 (the template's default)", th.Attributes)
			}
			info, _ := j.reg.CertificateByFingerprint(dev.ID)
			if info.Status != "ACTIVE" || info.Mode != string(mode) || strings.Join(info.Things, ",") != "meter-9" || strings.Join(info.Policies, ",") != spec.DevicePolicyName {
				t.Errorf("provisioned certificate %+v, want ACTIVE, mode %s, attached to meter-9 and the device policy", info, mode)
			}
			if n := len(j.published(registry.CertificateRegisteredTopicPrefix + caID)); n != 1 {
				t.Errorf("the certificate was announced %d times, want once (JITP registers it PENDING_ACTIVATION first, as JITR does)", n)
			}
			check(t, j.auth.Connect(client("meter-9", dev.Leaf)), true, "")
		})
	}
}

// TestJITRefusals: each reason a certificate signed by a registered CA is not
// registered just in time refuses the connection (not-authorised, not a close) with
// that reason, and leaves nothing registered unless the registration itself happened.
func TestJITRefusals(t *testing.T) {
	badTemplate := strings.Replace(jitpBody, spec.DevicePolicyName, "no-such-policy", 1)
	tests := []struct {
		name       string
		mode       types.CertificateMode
		active     bool
		autoReg    bool
		body       string
		subject    pkix.Name
		serverName string
		withCA     bool
		want       string
		registered bool // the certificate was registered before the refusal
	}{
		{name: "CA inactive", mode: types.CertificateModeDefault, autoReg: true, serverName: sni, want: "is INACTIVE: no just-in-time registration"},
		{name: "auto-registration disabled", mode: types.CertificateModeDefault, active: true, serverName: sni, want: "has auto-registration disabled"},
		{name: "SNI_ONLY CA without SNI", mode: types.CertificateModeSniOnly, active: true, autoReg: true, withCA: true, want: "is in SNI_ONLY mode: it registers just in time only with SNI"},
		{name: "DEFAULT CA without SNI or CA certificate", mode: types.CertificateModeDefault, active: true, autoReg: true, want: "without SNI it registers just in time only if it presents its CA's certificate"},
		{name: "SNI naming another endpoint", mode: types.CertificateModeDefault, active: true, autoReg: true, serverName: "elsewhere.example.com", want: `SNI "elsewhere.example.com" names neither`},
		{name: "certificate lacks a declared parameter", mode: types.CertificateModeDefault, active: true, autoReg: true, body: jitpBody, serverName: sni,
			want: "declares AWS::IoT::Certificate::Country, which the certificate's subject does not carry", registered: true},
		{name: "template names a missing policy", mode: types.CertificateModeDefault, active: true, autoReg: true, body: badTemplate, subject: pkix.Name{Country: []string{"FR"}}, serverName: sni,
			want: "JITP: the provisioning template of CA", registered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJITEnv(t)
			var cfg *types.RegistrationConfig
			if tt.body != "" {
				cfg = &types.RegistrationConfig{TemplateBody: aws.String(tt.body), RoleArn: aws.String(jitRole)}
			}
			j.registerCA(j.ca, tt.mode, tt.active, tt.autoReg, cfg)
			subject := tt.subject
			subject.CommonName = "dev-1"
			dev := issue(t, j.ca, subject)
			if tt.withCA {
				dev = dev.WithCA(j.ca)
			}
			c := client("dev-1", dev.Leaf)
			c.ServerName = tt.serverName
			if tt.withCA {
				c.Chain = []*x509.Certificate{j.ca.Cert()}
			}
			err := j.auth.Connect(c)
			if errors.Is(err, broker.ErrDisconnect) {
				t.Fatalf("Connect = %v: closed, want refused", err)
			}
			check(t, err, false, tt.want)
			if _, ok := j.reg.CertificateByFingerprint(dev.ID); ok != tt.registered {
				t.Errorf("certificate registered after the refusal: %v, want %v", ok, tt.registered)
			}
		})
	}

	// A DEFAULT CA's device without SNI that presents its CA's certificate registers.
	j := newJITEnv(t)
	caID := j.registerCA(j.ca, types.CertificateModeDefault, true, true, nil)
	dev := issue(t, j.ca, pkix.Name{CommonName: "dev-2"})
	c := client("dev-2", dev.Leaf)
	c.ServerName, c.Chain = "", []*x509.Certificate{j.ca.Cert()}
	disconnected(t, j.auth.Connect(c), "JITR")
	// Pending, it is refused once its CA is deactivated, and told so.
	if _, err := j.reg.UpdateCACertificate(context.Background(), &iot.UpdateCACertificateInput{CertificateId: aws.String(caID), NewStatus: types.CACertificateStatusInactive}); err != nil {
		t.Fatal(err)
	}
	check(t, j.auth.Connect(c), false, "certificate "+dev.ID+" is PENDING_ACTIVATION in "+region+" and its CA "+caID+" is INACTIVE")

	// A certificate no registered CA signed is refused as unregistered, as before.
	stranger := issue(t, newCA(t), pkix.Name{CommonName: "dev-3"})
	check(t, j.auth.Connect(client("dev-3", stranger.Leaf)), false, "certificate "+stranger.ID+" not registered in "+region)
}
