package replication

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/shadow"
)

const (
	srcRegion = "us-east-1"
	tgtRegion = "eu-west-1"
	account   = "123456789012"
)

type nopPublisher struct{}

func (nopPublisher) Publish(string, []byte, byte) error { return nil }

// env is two simulated Regions and a Replicator between them.
type env struct {
	ctx          context.Context
	src, tgt     *registry.Registry
	srcSh, tgtSh *shadow.Service
	r            *Replicator
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{
		ctx:   t.Context(),
		src:   registry.New(registry.Options{Region: srcRegion, AccountID: account}),
		tgt:   registry.New(registry.Options{Region: tgtRegion, AccountID: account}),
		srcSh: shadow.New(nopPublisher{}),
		tgtSh: shadow.New(nopPublisher{}),
	}
	e.r = &Replicator{
		Source: e.src, Target: e.tgt, SourceShadows: e.srcSh, TargetShadows: e.tgtSh,
		SourceRegion: srcRegion, TargetRegion: tgtRegion,
	}
	return e
}

// must returns v, failing the test given to the returned function on err:
// must(call(...))(t).
func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// newCertPEM returns a fresh self-signed device certificate.
func newCertPEM(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "device"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// addCert registers a new ACTIVE certificate in the source and returns its id and ARN.
func (e *env) addCert(t testing.TB) (string, string) {
	t.Helper()
	out := must(e.src.RegisterCertificateWithoutCA(e.ctx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(newCertPEM(t)), Status: types.CertificateStatusActive,
	}))(t)
	return aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn)
}

// policyDoc is a device policy naming ARNs in region.
func policyDoc(region, topic string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect"],`+
		`"Resource":["arn:aws:iot:%[1]s:%[2]s:client/${iot:Connection.Thing.ThingName}"]},`+
		`{"Effect":"Allow","Action":["iot:Publish"],"Resource":["arn:aws:iot:%[1]s:%[2]s:topic/%[3]s/*"]}]}`,
		region, account, topic)
}

func (e *env) addPolicy(t testing.TB, name, topic string) {
	t.Helper()
	must(e.src.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(policyDoc(srcRegion, topic))}))(t)
}

func (e *env) attachPolicy(t testing.TB, policy, certARN string) {
	t.Helper()
	must(e.src.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(certARN)}))(t)
}

func (e *env) attachCert(t testing.TB, thing, certARN string) {
	t.Helper()
	must(e.src.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(certARN)}))(t)
}

func (e *env) createThing(t testing.TB, name, typ string, attrs map[string]string) {
	t.Helper()
	in := &iot.CreateThingInput{ThingName: aws.String(name)}
	if typ != "" {
		in.ThingTypeName = aws.String(typ)
	}
	if attrs != nil {
		in.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	must(e.src.CreateThing(e.ctx, in))(t)
}

func (e *env) createType(t testing.TB, name string) {
	t.Helper()
	must(e.src.CreateThingType(e.ctx, &iot.CreateThingTypeInput{
		ThingTypeName: aws.String(name),
		ThingTypeProperties: &types.ThingTypeProperties{
			ThingTypeDescription: aws.String("type " + name), SearchableAttributes: []string{"serial"},
		},
	}))(t)
}

func (e *env) createGroup(t testing.TB, name, parent string, attrs map[string]string) {
	t.Helper()
	in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(name),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("group " + name)}}
	if parent != "" {
		in.ParentGroupName = aws.String(parent)
	}
	if attrs != nil {
		in.ThingGroupProperties.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	must(e.src.CreateThingGroup(e.ctx, in))(t)
}

func (e *env) addToGroup(t testing.TB, reg *registry.Registry, thing, group string) {
	t.Helper()
	must(reg.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(thing), ThingGroupName: aws.String(group)}))(t)
}

// assertInSync fails unless Diff finds no difference and the classic shadows of
// things are equal.
func (e *env) assertInSync(t testing.TB, things ...string) {
	t.Helper()
	diffs, err := Diff(e.ctx, e.src, e.tgt, srcRegion, tgtRegion)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	for _, d := range diffs {
		t.Errorf("difference: %s", d)
	}
	for _, th := range things {
		s, t2 := e.shadowState(t, e.srcSh, th), e.shadowState(t, e.tgtSh, th)
		if !reflect.DeepEqual(s, t2) {
			t.Errorf("shadow of %s: source %v, target %v", th, s, t2)
		}
	}
}

// assertNoChanges fails unless a full Reconcile finds nothing to do.
func (e *env) assertNoChanges(t testing.TB) {
	t.Helper()
	rep, err := e.r.Reconcile(e.ctx, ReconcileOptions{Shadows: true, OnResult: func(kind, name string, o Outcome, err error) {
		if len(o.Changes) > 0 || err != nil {
			t.Errorf("second pass: %s %s: changes %q, error %v", kind, name, o.Changes, err)
		}
	}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if rep.Changed() != 0 {
		t.Errorf("second pass changed %d resources", rep.Changed())
	}
}

// shadowState returns desired and reported of a classic shadow, nil when absent.
func (e *env) shadowState(t testing.TB, s *shadow.Service, thing string) map[string]any {
	t.Helper()
	out, err := s.GetThingShadow(e.ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("GetThingShadow %s: %v", thing, err)
	}
	st, err := shadowState(out.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"desired": st["desired"], "reported": st["reported"]}
}

func (e *env) updateShadow(t testing.TB, thing, state string) {
	t.Helper()
	must(e.srcSh.UpdateThingShadow(e.ctx, &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String(thing), Payload: []byte(`{"state":` + state + `}`),
	}))(t)
}

func (e *env) targetThing(t testing.TB, name string) *iot.DescribeThingOutput {
	t.Helper()
	out, err := e.tgt.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) targetCertExists(t testing.TB, id string) bool {
	t.Helper()
	_, err := e.tgt.DescribeCertificate(e.ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil && !IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func (e *env) targetPolicyExists(t testing.TB, name string) bool {
	t.Helper()
	_, err := e.tgt.GetPolicy(e.ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if err != nil && !IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func jsonEq(t testing.TB, got any, want string) {
	t.Helper()
	var w any
	dec := json.NewDecoder(bytes.NewReader([]byte(want)))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("got %v, want %v", got, w)
	}
}
