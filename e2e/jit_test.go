package e2e

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/fleet"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

// jitpTemplate is the simulator's example JITP template.
const jitpTemplate = simulator.JITPTemplate

// startDevice starts one device pinned to the Region at ip; the caller waits on it.
func startDevice(ctx context.Context, t testing.TB, w *simulator.World, ip string, d fleet.Device) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Start(ctx, []fleet.Device{d}, fleet.Options{
		Domain: w.Options().Domain, Port: w.Port, Roots: w.CA.Pool(), Resolver: fixedIP(ip),
		TelemetryEvery: 50 * time.Millisecond, Backoff: fleet.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond},
		Regions: map[string]string{simulator.PrimaryIP: w.Primary.Name, simulator.SecondaryIP: w.Secondary.Name},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

func anyContains(reasons []string, want string) bool {
	for _, r := range reasons {
		if strings.Contains(r, want) {
			return true
		}
	}
	return false
}

// TestDevicesOnboardByJITPInSecondaryDuringOutage: the primary holds a JITP template
// and a CA certificate (DEFAULT mode, auto-registration on, registration config naming
// the template); the sweep carries both to the secondary, where the CA is SNI_ONLY.
// While the primary is down, devices holding certificates that CA signed and that no
// Region has seen connect to the secondary with SNI: their first connection runs the
// template there and is closed, as AWS does, and their retry connects. A device
// without SNI is refused with the reason (an SNI_ONLY CA registers nothing without
// it). Failback carries the new devices home: the primary then holds their things and
// certificates, and they connect to it without being provisioned again.
func TestDevicesOnboardByJITPInSecondaryDuringOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "existing"}) // the device policy reaches the secondary with it
	must(t)(w.Primary.Registry.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("jitp"), TemplateBody: aws.String(jitpTemplate), ProvisioningRoleArn: aws.String(onboardRole), Type: types.TemplateTypeJitp,
	}))
	factory := must(t)(pki.NewCA("factory CA")).(*pki.CA)
	caID := registerDefaultCA(t, w.Primary, factory)
	settle(t, w)
	sweep(t, w, w.Primary)
	ca, ok := w.Secondary.Registry.RegisteredCA(caID)
	if !ok || ca.Mode != string(types.CertificateModeSniOnly) || !ca.AutoRegistration || ca.TemplateBody != jitpTemplate {
		t.Fatalf("the CA in the secondary: %+v (found %v), want SNI_ONLY with auto-registration and the JITP template", ca, ok)
	}

	w.SetRegionDown(w.Primary, true)
	born := map[string]*pki.Device{}
	for i := range 3 {
		serial := fmt.Sprintf("jitp-%d", i)
		born[serial] = must(t)(factory.IssueDeviceFor(pkix.Name{CommonName: serial, Country: []string{"NL"}})).(*pki.Device)
		f := startDevice(ctx, t, w, simulator.SecondaryIP, fleet.Device{Thing: serial, Cert: born[serial]})
		if err := f.WaitConnected(ctx, w.Secondary.Name, 1); err != nil {
			t.Fatalf("%s did not connect to the secondary: %v (refusals %v)", serial, err, w.Secondary.Broker.ConnectRefusals(serial))
		}
		f.Stop()
		if reasons := w.Secondary.Broker.ConnectRefusals(serial); !anyContains(reasons, "JITP: certificate "+born[serial].ID+" provisioned") {
			t.Errorf("%s connected without a JITP first connection: %v", serial, reasons)
		}
		info, _ := w.Secondary.Registry.CertificateByFingerprint(born[serial].ID)
		if info.Status != "ACTIVE" || info.Mode != string(types.CertificateModeSniOnly) || strings.Join(info.Things, ",") != serial {
			t.Errorf("%s's certificate in the secondary: %+v, want ACTIVE, SNI_ONLY (its CA's mode), attached to %s", serial, info, serial)
		}
	}
	// Without SNI an SNI_ONLY CA registers nothing, and the device is told why.
	quiet := must(t)(factory.IssueDeviceFor(pkix.Name{CommonName: "no-sni", Country: []string{"NL"}})).(*pki.Device)
	f := startDevice(ctx, t, w, simulator.SecondaryIP, fleet.Device{Thing: "no-sni", Cert: quiet.WithCA(factory), WithoutSNI: true})
	waitUntil(t, ctx, "the device without SNI refused", func() bool {
		return anyContains(w.Secondary.Broker.ConnectRefusals("no-sni"), "is in SNI_ONLY mode: it registers just in time only with SNI")
	})
	f.Stop()
	if _, ok := w.Secondary.Registry.CertificateByFingerprint(quiet.ID); ok {
		t.Error("the certificate of the device without SNI was registered")
	}
	settle(t, w)

	w.SetRegionDown(w.Primary, false)
	settle(t, w)
	assertConverged(t, w)
	for serial, dev := range born {
		d, err := w.Primary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(serial)})
		if err != nil || d.Attributes["onboarded"] != "by-jitp" || d.Attributes["country"] != "NL" {
			t.Fatalf("%s in the primary after failback: %+v, %v", serial, d, err)
		}
		connectIn(ctx, t, w, w.Primary, simulator.PrimaryIP, serial, dev)
		if reasons := w.Primary.Broker.ConnectRefusals(serial); anyContains(reasons, "JIT") {
			t.Errorf("%s was registered just in time again in the primary: %v", serial, reasons)
		}
	}
	assertNoConflicts(t, w)
}

// TestJITRDeviceConnectsOnceActivated: a CA with auto-registration and no template
// (JITR): the device's first connection registers its certificate PENDING_ACTIVATION,
// announces it on $aws/events/certificates/registered/<caId> and is closed; the
// device keeps retrying (each attempt announces it again) until a JITR handler, here
// the test acting on the announcement, activates it, makes its thing and attaches
// the device policy; then it connects.
func TestJITRDeviceConnectsOnceActivated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	p := w.Primary.Registry
	provision(t, w, simulator.Device{Thing: "existing"}) // creates the device policy
	factory := must(t)(pki.NewCA("factory CA")).(*pki.CA)
	caID := registerCA(t, w.Primary, factory, nil)
	announced := make(chan string, 64)
	stop, err := w.Primary.Broker.Handle(registry.CertificateRegisteredTopicPrefix+caID, func(_ string, payload []byte) {
		var ev struct{ CertificateID, CertificateStatus string }
		if json.Unmarshal(payload, &ev) == nil && ev.CertificateStatus == "PENDING_ACTIVATION" {
			select {
			case announced <- ev.CertificateID:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	dev := must(t)(factory.IssueDevice("jitr-1")).(*pki.Device)
	startDevice(ctx, t, w, simulator.PrimaryIP, fleet.Device{Thing: "jitr-1", Cert: dev})
	var id string
	select {
	case id = <-announced:
	case <-ctx.Done():
		t.Fatalf("no registration announced (refusals %v)", w.Primary.Broker.ConnectRefusals("jitr-1"))
	}
	if id != dev.ID {
		t.Fatalf("announced certificate %s, want %s", id, dev.ID)
	}
	if info, _ := p.CertificateByFingerprint(id); info.Status != "PENDING_ACTIVATION" {
		t.Fatalf("the announced certificate is %s, want PENDING_ACTIVATION", info.Status)
	}
	// The device keeps trying while pending, and every attempt is closed and announced.
	select {
	case <-announced:
	case <-ctx.Done():
		t.Fatalf("the pending certificate's next attempt was not announced (refusals %v)", w.Primary.Broker.ConnectRefusals("jitr-1"))
	}

	// A JITR handler's work.
	must(t)(p.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusActive}))
	must(t)(p.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("jitr-1")}))
	info, _ := p.CertificateByFingerprint(id)
	must(t)(p.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("jitr-1"), Principal: aws.String(info.ARN)}))
	must(t)(p.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(spec.DevicePolicyName), Target: aws.String(info.ARN)}))
	connectIn(ctx, t, w, w.Primary, simulator.PrimaryIP, "jitr-1", dev)
	if reasons := w.Primary.Broker.ConnectRefusals("jitr-1"); !anyContains(reasons, "JITR: certificate "+id+" is registered PENDING_ACTIVATION") {
		t.Errorf("refusals of the JITR device %v, want its closed first connections", reasons)
	}
}
