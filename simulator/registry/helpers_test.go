package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
)

const (
	testRegion  = "eu-west-1"
	testAccount = "123456789012"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type message struct {
	Topic   string
	Payload []byte
}

// capture is a Publisher that records every event.
type capture struct {
	mu   sync.Mutex
	msgs []message
}

func (c *capture) Publish(topic string, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, message{topic, append([]byte(nil), payload...)})
	return nil
}

func (c *capture) take() []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.msgs
	c.msgs = nil
	return out
}

func (c *capture) topics() []string {
	var out []string
	for _, m := range c.take() {
		out = append(out, m.Topic)
	}
	return out
}

type fixture struct {
	*Registry
	clock *fakeClock
	pub   *capture
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: newFakeClock(), pub: &capture{}}
	f.Registry = New(Options{Region: testRegion, AccountID: testAccount, Publisher: f.pub, Now: f.clock.Now})
	return f
}

// certPEM returns a fresh self-signed ECDSA certificate and its AWS id.
func certPEM(t *testing.T) (pemText, id string) {
	t.Helper()
	pemText, der, _, _ := makeCert(t, nil, nil)
	sum := sha256.Sum256(der)
	return pemText, hex.EncodeToString(sum[:])
}

// makeCert creates a certificate signed by parent/parentKey, or self-signed
// (and usable as a CA) when parent is nil.
func makeCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (string, []byte, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatalf("serial: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "device"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: parent == nil,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), der, c, key
}

// mustAs asserts that err wraps a *T and returns it.
func mustAs[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want %T", err, err, target)
	}
	return target
}

// wantErr checks err against a want description: "" means no error, else the
// name of the SDK exception or "params" for client-side validation.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("error = nil, want %s", want)
	}
	if want == "params" {
		mustAs[*smithy.InvalidParamsError](t, err)
		return
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("error = %v (%T), want API error %s", err, err, want)
	}
	if api.ErrorCode() != want {
		t.Fatalf("error code = %s (%v), want %s", api.ErrorCode(), err, want)
	}
	var op *smithy.OperationError
	if !errors.As(err, &op) || op.Service() != "IoT" {
		t.Fatalf("error %v is not wrapped in an IoT OperationError", err)
	}
}

func (f *fixture) mustCreateThing(t *testing.T, name string, attrs map[string]string, typeName string) *iot.CreateThingOutput {
	t.Helper()
	in := &iot.CreateThingInput{ThingName: aws.String(name)}
	if attrs != nil {
		in.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	if typeName != "" {
		in.ThingTypeName = aws.String(typeName)
	}
	out, err := f.CreateThing(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateThing(%s): %v", name, err)
	}
	return out
}

func (f *fixture) mustDescribeThing(t *testing.T, name string) *iot.DescribeThingOutput {
	t.Helper()
	out, err := f.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeThing(%s): %v", name, err)
	}
	return out
}

func (f *fixture) mustRegisterCert(t *testing.T, status types.CertificateStatus) (arn, id string) {
	t.Helper()
	p, _ := certPEM(t)
	out, err := f.RegisterCertificateWithoutCA(context.Background(), &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(p), Status: status})
	if err != nil {
		t.Fatalf("RegisterCertificateWithoutCA: %v", err)
	}
	return *out.CertificateArn, *out.CertificateId
}

func (f *fixture) mustCreateThingType(t *testing.T, name string) {
	t.Helper()
	if _, err := f.CreateThingType(context.Background(), &iot.CreateThingTypeInput{ThingTypeName: aws.String(name)}); err != nil {
		t.Fatalf("CreateThingType(%s): %v", name, err)
	}
}

func (f *fixture) mustCreateGroup(t *testing.T, name, parent string) {
	t.Helper()
	in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(name)}
	if parent != "" {
		in.ParentGroupName = aws.String(parent)
	}
	if _, err := f.CreateThingGroup(context.Background(), in); err != nil {
		t.Fatalf("CreateThingGroup(%s): %v", name, err)
	}
}

const testPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`

func (f *fixture) mustCreatePolicy(t *testing.T, name string) {
	t.Helper()
	if _, err := f.CreatePolicy(context.Background(), &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(testPolicy)}); err != nil {
		t.Fatalf("CreatePolicy(%s): %v", name, err)
	}
}

// decode unmarshals an event payload into a generic map.
func decode(t *testing.T, m message) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(m.Payload, &out); err != nil {
		t.Fatalf("event %s: payload %q is not JSON: %v", m.Topic, m.Payload, err)
	}
	return out
}

func isUUID(s string) bool {
	if len(s) != 36 || strings.Count(s, "-") != 4 {
		return false
	}
	_, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	return err == nil
}
