package authz_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
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
	region  = "us-east-1"
	other   = "eu-west-1"
	account = "123456789012"
)

// env is one Region's registry with the project's device policy, and its
// authoriser.
type env struct {
	t    testing.TB
	ca   *pki.CA
	reg  *registry.Registry
	auth *authz.Authorizer
}

func newEnv(t testing.TB, ca *pki.CA, region string) *env {
	t.Helper()
	reg := registry.New(registry.Options{Region: region, AccountID: account})
	doc, err := spec.DevicePolicy(region, account)
	if err != nil {
		t.Fatalf("device policy: %v", err)
	}
	e := &env{t: t, ca: ca, reg: reg, auth: authz.New(reg, region, account, nil)}
	e.createPolicy(spec.DevicePolicyName, doc)
	return e
}

func newCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("authz test CA")
	if err != nil {
		t.Fatalf("new CA: %v", err)
	}
	return ca
}

func (e *env) createPolicy(name, doc string) {
	e.t.Helper()
	if _, err := e.reg.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		e.t.Fatalf("create policy %s: %v", name, err)
	}
}

// device issues a certificate for thing; see register.
func (e *env) device(thing string, status types.CertificateStatus, policies ...string) *pki.Device {
	e.t.Helper()
	dev, err := e.ca.IssueDevice(thing)
	if err != nil {
		e.t.Fatalf("issue %s: %v", thing, err)
	}
	e.register(dev, thing, status, policies...)
	return dev
}

// register creates thing, registers dev's certificate with status, and
// attaches it to the thing and to the policies.
func (e *env) register(dev *pki.Device, thing string, status types.CertificateStatus, policies ...string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
		e.t.Fatalf("create thing %s: %v", thing, err)
	}
	out, err := e.reg.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(string(dev.CertPEM)), Status: status,
	})
	if err != nil {
		e.t.Fatalf("register certificate of %s: %v", thing, err)
	}
	if _, err := e.reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: out.CertificateArn}); err != nil {
		e.t.Fatalf("attach %s: %v", thing, err)
	}
	for _, p := range policies {
		e.attach(p, *out.CertificateArn)
	}
}

func (e *env) attach(policy, certARN string) {
	e.t.Helper()
	if _, err := e.reg.AttachPolicy(context.Background(), &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(certARN)}); err != nil {
		e.t.Fatalf("attach policy %s: %v", policy, err)
	}
}

func (e *env) certARN(dev *pki.Device) string {
	e.t.Helper()
	info, ok := e.reg.CertificateByFingerprint(dev.ID)
	if !ok {
		e.t.Fatalf("certificate %s not registered", dev.ID)
	}
	return info.ARN
}

// client builds a ClientInfo as the broker does, the certificate ID included, with the
// SNI a device sends by default.
func client(id string, cert *x509.Certificate) broker.ClientInfo {
	c := broker.ClientInfo{ClientID: id, Certificate: cert, Remote: "127.0.0.1:50000", ServerName: "devices.example.com"}
	if cert != nil {
		c.CertificateID = pki.Fingerprint(cert.Raw)
	}
	return c
}

// check asserts that err is nil when allow, or otherwise a refusal whose
// message contains want.
func check(t *testing.T, err error, allow bool, want string) {
	t.Helper()
	if allow {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("allowed, want refusal containing %q", want)
	}
	var ae *authz.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v is not *authz.Error", err, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("reason %q does not contain %q", err.Error(), want)
	}
}

func TestConnect(t *testing.T) {
	ca := newCA(t)
	e := newEnv(t, ca, region)
	sec := newEnv(t, ca, other)

	alice := e.device("alice", types.CertificateStatusActive, spec.DevicePolicyName)
	e.device("bob", types.CertificateStatusActive, spec.DevicePolicyName)
	inactive := e.device("carol", types.CertificateStatusInactive, spec.DevicePolicyName)
	revoked := e.device("dave", types.CertificateStatusRevoked, spec.DevicePolicyName)
	noPolicy := e.device("erin", types.CertificateStatusActive)
	onlyOther := sec.device("frank", types.CertificateStatusActive, spec.DevicePolicyName)

	tests := []struct {
		name     string
		clientID string
		cert     *x509.Certificate
		allow    bool
		want     string
	}{
		{"own thing name", "alice", alice.Leaf, true, ""},
		{"another thing's name", "bob", alice.Leaf, false, "iot:Connect on arn:aws:iot:us-east-1:123456789012:client/bob: no attached policy allows it"},
		{"name of no thing", "mallory", alice.Leaf, false, "no attached policy allows it"},
		{"certificate registered only in the other Region", "frank", onlyOther.Leaf, false, "certificate " + onlyOther.ID + " not registered in us-east-1"},
		{"inactive certificate", "carol", inactive.Leaf, false, "certificate " + inactive.ID + " is INACTIVE"},
		{"revoked certificate", "dave", revoked.Leaf, false, "is REVOKED"},
		{"no policy attached", "erin", noPolicy.Leaf, false, "no policy attached to certificate " + noPolicy.ID},
		{"no certificate", "alice", nil, false, "no client certificate presented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, e.auth.Connect(client(tt.clientID, tt.cert)), tt.allow, tt.want)
		})
	}

	// The same certificate is admitted in the Region where it is registered.
	check(t, sec.auth.Connect(client("frank", onlyOther.Leaf)), true, "")

	// The broker's certificate ID is the one looked up; without one the
	// authoriser derives it from the certificate.
	claimed := client("alice", alice.Leaf)
	claimed.CertificateID = onlyOther.ID
	check(t, e.auth.Connect(claimed), false, "certificate "+onlyOther.ID+" not registered in us-east-1")
	check(t, e.auth.Connect(broker.ClientInfo{ClientID: "alice", Certificate: alice.Leaf, ServerName: "devices.example.com"}), true, "")
}

func TestTopics(t *testing.T) {
	e := newEnv(t, newCA(t), region)
	alice := e.device("alice", types.CertificateStatusActive, spec.DevicePolicyName)
	e.device("bob", types.CertificateStatusActive, spec.DevicePolicyName)
	me := client("alice", alice.Leaf)

	type call func(broker.ClientInfo, string) error
	tests := []struct {
		name   string
		call   call
		client broker.ClientInfo
		topic  string
		allow  bool
		want   string
	}{
		{"publish own telemetry", e.auth.Publish, me, spec.TelemetryTopic("alice"), true, ""},
		{"publish own shadow update", e.auth.Publish, me, "$aws/things/alice/shadow/update", true, ""},
		{"publish another device's telemetry", e.auth.Publish, me, spec.TelemetryTopic("bob"), false,
			"iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/devices/bob/telemetry: no attached policy allows it"},
		{"publish another device's shadow", e.auth.Publish, me, "$aws/things/bob/shadow/update", false, "no attached policy allows it"},
		{"publish to the probe topic", e.auth.Publish, me, spec.ProbeTopic("x"), false, "no attached policy allows it"},
		{"subscribe own shadow accepted", e.auth.Subscribe, me, "$aws/things/alice/shadow/update/accepted", true, ""},
		{"subscribe own shadow wildcard", e.auth.Subscribe, me, "$aws/things/alice/shadow/#", true, ""},
		{"subscribe another device's shadow", e.auth.Subscribe, me, "$aws/things/bob/shadow/update/accepted", false,
			"iot:Subscribe on arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/bob/shadow/update/accepted"},
		{"publish own named shadow update", e.auth.Publish, me, "$aws/things/alice/shadow/name/config/update", true, ""},
		{"subscribe own named shadow delta", e.auth.Subscribe, me, "$aws/things/alice/shadow/name/config/update/delta", true, ""},
		{"receive own named shadow accepted", e.auth.Receive, me, "$aws/things/alice/shadow/name/config/get/accepted", true, ""},
		{"publish another device's named shadow", e.auth.Publish, me, "$aws/things/bob/shadow/name/config/update", false,
			"iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/$aws/things/bob/shadow/name/config/update: no attached policy allows it"},
		{"retain-publish own telemetry without iot:RetainPublish", e.auth.RetainPublish, me, spec.TelemetryTopic("alice"), false,
			"iot:RetainPublish on arn:aws:iot:us-east-1:123456789012:topic/devices/alice/telemetry: no attached policy allows it"},
		{"subscribe every device's telemetry", e.auth.Subscribe, me, "devices/+/telemetry", false, "no attached policy allows it"},
		{"receive own shadow accepted", e.auth.Receive, me, "$aws/things/alice/shadow/update/accepted", true, ""},
		{"receive another device's telemetry", e.auth.Receive, me, spec.TelemetryTopic("bob"), false, "iot:Receive on"},
		// The thing variables resolve only when the client ID is the thing's
		// name, so a connection under another client ID gets no topic either.
		{"publish under a foreign client id", e.auth.Publish, client("alice-2", alice.Leaf), spec.TelemetryTopic("alice"), false, "no attached policy allows it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, tt.call(tt.client, tt.topic), tt.allow, tt.want)
		})
	}
}

func TestDenyWins(t *testing.T) {
	e := newEnv(t, newCA(t), region)
	e.createPolicy("deny-telemetry", `{
		"Version": "2012-10-17",
		"Statement": [{"Sid": "quiet", "Effect": "Deny", "Action": "iot:Publish",
			"Resource": "arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/telemetry"}]
	}`)
	alice := e.device("alice", types.CertificateStatusActive, spec.DevicePolicyName, "deny-telemetry")
	me := client("alice", alice.Leaf)

	check(t, e.auth.Publish(me, spec.TelemetryTopic("alice")), false, `explicit deny in policy "deny-telemetry"`)
	// The rest of the device policy still applies.
	check(t, e.auth.Publish(me, "devices/alice/status"), true, "")
	check(t, e.auth.Connect(me), true, "")
}

func TestChangesTakeEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, newCA(t), region)
	alice := e.device("alice", types.CertificateStatusActive, spec.DevicePolicyName)
	me := client("alice", alice.Leaf)
	topic := spec.TelemetryTopic("alice")
	arn := e.certARN(alice)

	check(t, e.auth.Publish(me, topic), true, "")

	// A detached policy stops granting on the next call.
	if _, err := e.reg.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(spec.DevicePolicyName), Target: aws.String(arn)}); err != nil {
		t.Fatalf("detach: %v", err)
	}
	check(t, e.auth.Publish(me, topic), false, "no policy attached")
	e.attach(spec.DevicePolicyName, arn)
	check(t, e.auth.Publish(me, topic), true, "")

	// A new default version replaces the cached parse.
	if _, err := e.reg.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
		PolicyName: aws.String(spec.DevicePolicyName), SetAsDefault: true,
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`),
	}); err != nil {
		t.Fatalf("create policy version: %v", err)
	}
	check(t, e.auth.Publish(me, topic), false, "no attached policy allows it")
	check(t, e.auth.Connect(me), true, "")

	// A deactivated certificate is refused on its next action.
	if _, err := e.reg.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(alice.ID), NewStatus: types.CertificateStatusInactive}); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	check(t, e.auth.Connect(me), false, "is INACTIVE")
}

func TestThingAttributeVariable(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, newCA(t), region)
	e.createPolicy("site", `{
		"Version": "2012-10-17",
		"Statement": [{"Effect": "Allow", "Action": "iot:Publish",
			"Resource": "arn:aws:iot:us-east-1:123456789012:topic/sites/${iot:Connection.Thing.Attributes[site]}/*"}]
	}`)
	alice := e.device("alice", types.CertificateStatusActive, "site")
	bob := e.device("bob", types.CertificateStatusActive, spec.DevicePolicyName)
	me := client("alice", alice.Leaf)

	// No attribute yet: the variable is unresolved and nothing matches.
	check(t, e.auth.Publish(me, "sites/lyon/x"), false, "no attached policy allows it")

	if _, err := e.reg.UpdateThing(ctx, &iot.UpdateThingInput{
		ThingName: aws.String("alice"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"site": "lyon"}},
	}); err != nil {
		t.Fatalf("update thing: %v", err)
	}
	check(t, e.auth.Publish(me, "sites/lyon/x"), true, "")
	check(t, e.auth.Publish(me, "sites/paris/x"), false, "no attached policy allows it")

	// Without the registry API the attribute cannot be read: refuse rather
	// than guess.
	e.reg.SetAvailable(false)
	t.Cleanup(func() { e.reg.SetAvailable(true) })
	check(t, e.auth.Publish(me, "sites/lyon/x"), false, "describe thing alice")

	// A policy without thing type or attribute variables needs no lookup, so
	// it still decides while the registry API is down.
	check(t, e.auth.Publish(client("bob", bob.Leaf), spec.TelemetryTopic("bob")), true, "")
}

func TestUnevaluablePolicyRefuses(t *testing.T) {
	e := newEnv(t, newCA(t), region)
	// Conditions are not modelled; ignoring this Deny would allow more than AWS.
	e.createPolicy("conditional", `{
		"Version": "2012-10-17",
		"Statement": [{"Effect": "Deny", "Action": "iot:*", "Resource": "*",
			"Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "false"}}}]
	}`)
	alice := e.device("alice", types.CertificateStatusActive, spec.DevicePolicyName, "conditional")
	check(t, e.auth.Connect(client("alice", alice.Leaf)), false, `policy "conditional" cannot be evaluated`)
}

func BenchmarkPublish(b *testing.B) {
	e := newEnv(b, newCA(b), region)
	alice := e.device("alice", types.CertificateStatusActive, spec.DevicePolicyName)
	me := client("alice", alice.Leaf)
	topic := spec.TelemetryTopic("alice")
	b.ReportAllocs()
	for b.Loop() {
		if err := e.auth.Publish(me, topic); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnect is the CONNECT decision of a registered device with just-in-time
// registration on, as the simulated Regions run it.
func BenchmarkConnect(b *testing.B) {
	e := newEnv(b, newCA(b), region)
	e.auth.JustInTime(e.reg)
	alice := e.device("alice", types.CertificateStatusActive, spec.DevicePolicyName)
	me := client("alice", alice.Leaf)
	b.ReportAllocs()
	for b.Loop() {
		if err := e.auth.Connect(me); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSNI: a certificate registered without a CA is in SNI_ONLY mode and connects only
// with an SNI naming the Region's endpoint or a configured domain; one registered with
// its CA (DEFAULT) needs none. DescribeCertificate reports the mode.
func TestSNI(t *testing.T) {
	ca := newCA(t)
	e := newEnv(t, ca, region)
	e.auth.RequireSNI("iot.us-east-1.example", "devices.example.com")
	sniOnly := e.device("sni-only", types.CertificateStatusActive, spec.DevicePolicyName)
	def, err := ca.IssueDevice("default")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.reg.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(string(def.CertPEM)),
		CaCertificatePem: aws.String(string(ca.CertPEM())), Status: types.CertificateStatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("default"), Principal: out.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	e.attach(spec.DevicePolicyName, *out.CertificateArn)

	for dev, want := range map[*pki.Device]types.CertificateMode{sniOnly: types.CertificateModeSniOnly, def: types.CertificateModeDefault} {
		d, err := e.reg.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(dev.ID)})
		if err != nil || d.CertificateDescription.CertificateMode != want {
			t.Errorf("DescribeCertificate %s: mode %v (%v), want %s", dev.ID, d.CertificateDescription.CertificateMode, err, want)
		}
	}
	tests := []struct {
		name, thing string
		dev         *pki.Device
		sni         string
		allow       bool
		want        string
	}{
		{"SNI_ONLY with the endpoint", "sni-only", sniOnly, "iot.us-east-1.example", true, ""},
		{"SNI_ONLY with the custom domain, any case", "sni-only", sniOnly, "Devices.Example.com", true, ""},
		{"SNI_ONLY without SNI", "sni-only", sniOnly, "", false, "SNI_ONLY mode and the client sent no SNI"},
		{"SNI_ONLY with another name", "sni-only", sniOnly, "elsewhere.example.org", false, `SNI "elsewhere.example.org" names neither us-east-1's endpoint nor a configured domain`},
		{"DEFAULT without SNI", "default", def, "", true, ""},
		{"DEFAULT with another name", "default", def, "elsewhere.example.org", true, ""},
	}
	other := newEnv(t, ca, region) // RequireSNI never called: SNI is not checked
	other.register(sniOnly, "sni-only", types.CertificateStatusActive, spec.DevicePolicyName)
	c := client("sni-only", sniOnly.Leaf)
	c.ServerName = ""
	check(t, other.auth.Connect(c), true, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(tt.thing, tt.dev.Leaf)
			c.ServerName = tt.sni
			check(t, e.auth.Connect(c), tt.allow, tt.want)
		})
	}
}
