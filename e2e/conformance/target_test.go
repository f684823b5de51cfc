package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/internal/motoserver"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/shadow"
)

const (
	testRegion  = "eu-west-1"
	testAccount = motoserver.AccountID
)

// controlPlane is what the cases need of the IoT control plane: everything
// the replication uses, plus the few calls the suite checks besides.
type controlPlane interface {
	replication.IoT
	replication.Provisioning
	replication.DynamicGroups
	GetRegistrationCode(ctx context.Context, in *iot.GetRegistrationCodeInput, optFns ...func(*iot.Options)) (*iot.GetRegistrationCodeOutput, error)
	SetDefaultPolicyVersion(ctx context.Context, in *iot.SetDefaultPolicyVersionInput, optFns ...func(*iot.Options)) (*iot.SetDefaultPolicyVersionOutput, error)
	ListCertificates(ctx context.Context, in *iot.ListCertificatesInput, optFns ...func(*iot.Options)) (*iot.ListCertificatesOutput, error)
	CreateBillingGroup(ctx context.Context, in *iot.CreateBillingGroupInput, optFns ...func(*iot.Options)) (*iot.CreateBillingGroupOutput, error)
	DescribeBillingGroup(ctx context.Context, in *iot.DescribeBillingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeBillingGroupOutput, error)
	AddThingToBillingGroup(ctx context.Context, in *iot.AddThingToBillingGroupInput, optFns ...func(*iot.Options)) (*iot.AddThingToBillingGroupOutput, error)
	ListThingsInBillingGroup(ctx context.Context, in *iot.ListThingsInBillingGroupInput, optFns ...func(*iot.Options)) (*iot.ListThingsInBillingGroupOutput, error)
	TagResource(ctx context.Context, in *iot.TagResourceInput, optFns ...func(*iot.Options)) (*iot.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *iot.UntagResourceInput, optFns ...func(*iot.Options)) (*iot.UntagResourceOutput, error)
	ListTagsForResource(ctx context.Context, in *iot.ListTagsForResourceInput, optFns ...func(*iot.Options)) (*iot.ListTagsForResourceOutput, error)
	UpdateBillingGroup(ctx context.Context, in *iot.UpdateBillingGroupInput, optFns ...func(*iot.Options)) (*iot.UpdateBillingGroupOutput, error)
	DeleteBillingGroup(ctx context.Context, in *iot.DeleteBillingGroupInput, optFns ...func(*iot.Options)) (*iot.DeleteBillingGroupOutput, error)
	CreateDomainConfiguration(ctx context.Context, in *iot.CreateDomainConfigurationInput, optFns ...func(*iot.Options)) (*iot.CreateDomainConfigurationOutput, error)
	DescribeDomainConfiguration(ctx context.Context, in *iot.DescribeDomainConfigurationInput, optFns ...func(*iot.Options)) (*iot.DescribeDomainConfigurationOutput, error)
	UpdateDomainConfiguration(ctx context.Context, in *iot.UpdateDomainConfigurationInput, optFns ...func(*iot.Options)) (*iot.UpdateDomainConfigurationOutput, error)
}

// Target is one implementation of the AWS APIs under test.
type Target struct {
	// Name is "fake", "http" or "moto".
	Name string
	IoT  controlPlane
	Data replication.Shadows
	// Region and Account are those the target puts in ARNs.
	Region, Account string
}

// arn builds the ARN the target should return for an IoT resource.
func (tg Target) arn(resource, name string) string {
	return "arn:aws:iot:" + tg.Region + ":" + tg.Account + ":" + resource + "/" + name
}

// ignoreDiffersEnv names the environment variable that, when set, runs the
// cases marked motoDiffers against moto too: to re-check the notes against a
// newer moto. They are expected to fail then.
const ignoreDiffersEnv = "CONFORMANCE_IGNORE_MOTO_DIFFERS"

// behaviours is the whole table.
var behaviours = slices.Concat(registryBehaviours, registryKindBehaviours, dynamicGroupBehaviours, onboardingBehaviours, shadowBehaviours, namedShadowBehaviours)

// behaviour is one row of the conformance table.
type behaviour struct {
	name string
	// motoDiffers, when set, says how moto departs from AWS's documented
	// behaviour (with the AWS documentation reference); the case then runs
	// against the fakes only.
	motoDiffers string
	run         func(ctx context.Context, t *testing.T, tg Target)
}

// discard is a broker stand-in for the shadow fake: the suite checks the
// data-plane API, not MQTT notifications.
type discard struct{}

func (discard) Publish(string, []byte, byte) error { return nil }

func fakeTarget() Target {
	return Target{
		Name:    "fake",
		IoT:     registry.New(registry.Options{Region: testRegion, AccountID: testAccount}),
		Data:    shadow.New(discard{}),
		Region:  testRegion,
		Account: testAccount,
	}
}

// httpTarget is the fakes behind the simulator's AWS endpoint (simulator/awsfront),
// reached through the real SDK clients: the wire format is under test too.
func httpTarget(t *testing.T) Target {
	fake := fakeTarget()
	srv := httptest.NewServer(awsfront.RegionsHandler([]awsfront.Region{{Name: testRegion,
		Registry: fake.IoT.(*registry.Registry), Shadows: fake.Data.(*shadow.Service)}}, awsfront.HandlerOptions{}))
	t.Cleanup(srv.Close)
	cfg := motoserver.AWSConfig(t, srv.URL, testRegion)
	return Target{
		Name:    "http",
		IoT:     iot.NewFromConfig(cfg),
		Data:    iotdataplane.NewFromConfig(cfg),
		Region:  testRegion,
		Account: testAccount,
	}
}

func motoTarget(t *testing.T, endpoint string) Target {
	cfg := motoserver.AWSConfig(t, endpoint, testRegion)
	return Target{
		Name:    "moto",
		IoT:     iot.NewFromConfig(cfg),
		Data:    iotdataplane.NewFromConfig(cfg),
		Region:  testRegion,
		Account: testAccount,
	}
}

// TestConformance runs every behaviour against the fakes, the fakes over the
// simulator's HTTP endpoint, and moto.
func TestConformance(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		for _, b := range behaviours {
			t.Run(b.name, func(t *testing.T) {
				t.Parallel()
				b.run(testContext(t), t, fakeTarget())
			})
		}
	})
	// The same fakes over HTTP: where this half and the first disagree, the endpoint
	// is wrong.
	t.Run("http", func(t *testing.T) {
		for _, b := range behaviours {
			t.Run(b.name, func(t *testing.T) {
				t.Parallel()
				b.run(testContext(t), t, httpTarget(t))
			})
		}
	})
	t.Run("moto", func(t *testing.T) {
		endpoint := motoserver.Start(t)
		for _, b := range behaviours {
			t.Run(b.name, func(t *testing.T) {
				if b.motoDiffers != "" && os.Getenv(ignoreDiffersEnv) == "" {
					t.Skip("moto differs from AWS: " + b.motoDiffers)
				}
				// One server, cases in sequence, state wiped between them.
				motoserver.Reset(t, endpoint)
				b.run(testContext(t), t, motoTarget(t, endpoint))
			})
		}
	})
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// must fails the test on err and returns v.
func must[V any](t *testing.T, what string) func(V, error) V {
	t.Helper()
	return func(v V, err error) V {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// wantErr fails unless err is (or wraps) an E, and returns it.
func wantErr[E error](t *testing.T, what string, err error) E {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("%s: err = %v (%T), want %T", what, err, err, target)
	}
	return target
}

// isErr reports whether err is (or wraps) an E.
func isErr[E error](err error) bool {
	var target E
	return errors.As(err, &target)
}

// newCertPEM returns a fresh self-signed device certificate and AWS's id for
// it: the lower-case hex SHA-256 of its DER encoding.
func newCertPEM(t *testing.T, cn string) (pemText, id string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), hex.EncodeToString(sum[:])
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
