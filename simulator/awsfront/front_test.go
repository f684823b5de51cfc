package awsfront_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
)

func start(t testing.TB) (*simulator.World, *simulator.Edge, *awsfront.Front) {
	t.Helper()
	ctx := context.Background()
	w, err := simulator.New(ctx, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	e, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: 250 * time.Millisecond, FailureThreshold: 2, TTL: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return w, e, awsfront.New(w, e)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		<-tick.C
	}
}

func answer(t *testing.T, f *awsfront.Front, name string, typ r53types.RRType) *r53.TestDNSAnswerOutput {
	t.Helper()
	out, err := f.Route53.TestDNSAnswer(context.Background(), &r53.TestDNSAnswerInput{HostedZoneId: aws.String(awsfront.HostedZoneID),
		RecordName: aws.String(name), RecordType: typ})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestForceFailSwitchDrivesFailover: PutParameter on the switch makes the primary's
// probe fail, its checkers report it, and TestDNSAnswer follows the failover.
func TestForceFailSwitchDrivesFailover(t *testing.T) {
	w, e, f := start(t)
	ctx := context.Background()
	domain := w.Options().Domain
	if got := answer(t, f, domain, r53types.RRTypeCname).RecordData; len(got) != 1 || got[0] != simulator.Endpoint(w.Primary.Name) {
		t.Fatalf("initial answer %v, want the primary endpoint", got)
	}
	store := f.SSM[w.Primary.Name]
	put := func(v string) {
		t.Helper()
		if _, err := store.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(f.ForceFailParameter()), Value: aws.String(v), Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	put(" TRUE ")
	status := func() []r53types.HealthCheckObservation {
		out, err := f.Route53.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: aws.String(f.HealthCheckID(w.Primary.Name))})
		if err != nil {
			t.Fatal(err)
		}
		return out.HealthCheckObservations
	}
	waitFor(t, "every checker to report the forced failure", func() bool {
		obs := status()
		for _, o := range obs {
			if !strings.HasPrefix(aws.ToString(o.StatusReport.Status), "Failure: HTTP Status Code 503") {
				return false
			}
		}
		return len(obs) == simulatorCheckers
	})
	regions := map[r53types.HealthCheckRegion]bool{}
	for _, o := range status() {
		regions[o.Region] = true
		if aws.ToTime(o.StatusReport.CheckedTime).IsZero() || aws.ToString(o.IPAddress) == "" {
			t.Errorf("observation without time or IP: %+v", o)
		}
	}
	if len(regions) != simulatorCheckers {
		t.Errorf("checkers labelled with %d distinct Regions, want %d", len(regions), simulatorCheckers)
	}
	waitFor(t, "DNS to answer the secondary", func() bool {
		d := answer(t, f, domain, r53types.RRTypeA).RecordData
		return len(d) == 1 && d[0] == simulator.Endpoint(w.Secondary.Name)
	})
	put("false")
	waitFor(t, "failback", func() bool {
		a, _ := e.Zone.Resolve(domain)
		return a.Which == "PRIMARY" && e.Checks[w.Primary.Name].Healthy()
	})
	got, err := store.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(f.ForceFailParameter())})
	if err != nil || aws.ToString(got.Parameter.Value) != "false" || got.Parameter.Version != 3 {
		t.Errorf("parameter after two writes: %+v, %v", got, err)
	}
}

const simulatorCheckers = 8

// TestDescribesTheDeployment: zone lookup, the failover records and the health checks
// look as the stacks deploy them.
func TestDescribesTheDeployment(t *testing.T) {
	w, _, f := start(t)
	ctx := context.Background()
	zones, err := f.Route53.ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{DNSName: aws.String("iotdr.test")})
	if err != nil || len(zones.HostedZones) != 1 || aws.ToString(zones.HostedZones[0].Name) != "iotdr.test." ||
		aws.ToString(zones.HostedZones[0].Id) != "/hostedzone/"+awsfront.HostedZoneID {
		t.Fatalf("zones %+v, %v", zones, err)
	}
	// A name that sorts after the zone (by labels from the right) lists nothing.
	if zones, _ := f.Route53.ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{DNSName: aws.String("zzz.test")}); len(zones.HostedZones) != 0 {
		t.Errorf("zones after zzz.test: %+v", zones.HostedZones)
	}
	recs, err := f.Route53.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String("/hostedzone/" + awsfront.HostedZoneID),
		StartRecordName: aws.String(w.Options().Domain)})
	if err != nil || len(recs.ResourceRecordSets) != 2 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	for i, want := range []struct{ role, region string }{{"PRIMARY", w.Primary.Name}, {"SECONDARY", w.Secondary.Name}} {
		rs := recs.ResourceRecordSets[i]
		if string(rs.Failover) != want.role || rs.Type != r53types.RRTypeCname || aws.ToInt64(rs.TTL) != 2 ||
			aws.ToString(rs.HealthCheckId) != f.HealthCheckID(want.region) || aws.ToString(rs.ResourceRecords[0].Value) != simulator.Endpoint(want.region) {
			t.Errorf("record %d: %+v", i, rs)
		}
	}
	hc, err := f.Route53.GetHealthCheck(ctx, &r53.GetHealthCheckInput{HealthCheckId: aws.String(f.HealthCheckID(w.Secondary.Name))})
	if err != nil {
		t.Fatal(err)
	}
	c := hc.HealthCheck.HealthCheckConfig
	if aws.ToInt32(c.RequestInterval) != 1 || aws.ToInt32(c.FailureThreshold) != 2 || aws.ToString(c.ResourcePath) != "/probe" {
		t.Errorf("health check config %+v (interval %d, threshold %d)", c, aws.ToInt32(c.RequestInterval), aws.ToInt32(c.FailureThreshold))
	}
	p, s := f.StackOutputs()
	if p["healthCheckId"] != f.HealthCheckID(w.Primary.Name) || s["primaryHealthCheckId"] != p["healthCheckId"] ||
		p["probeForceFailParameter"] != spec.ForceFailParameter(spec.DefaultPrefix) || s["role"] != "secondary" ||
		p["domainConfigurationName"] != spec.DomainConfigurationName(spec.DefaultPrefix) {
		t.Errorf("outputs %v / %v", p, s)
	}
	if out := answer(t, f, "other."+w.Options().Domain, r53types.RRTypeA); aws.ToString(out.ResponseCode) != "NXDOMAIN" {
		t.Errorf("answer for an unknown name: %+v", out)
	}
	if out := answer(t, f, w.Options().Domain, r53types.RRTypeTxt); aws.ToString(out.ResponseCode) != "NOERROR" || len(out.RecordData) != 0 {
		t.Errorf("TXT answer: %+v", out)
	}
}

// TestErrors: the SDK's own error types for unknown ids and names.
func TestErrors(t *testing.T) {
	w, _, f := start(t)
	ctx := context.Background()
	store := f.SSM[w.Primary.Name]
	cases := []struct {
		name string
		call func() error
		want any
	}{
		{"unknown health check", func() error {
			_, err := f.Route53.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: aws.String("nope")})
			return err
		}, new(*r53types.NoSuchHealthCheck)},
		{"unknown health check config", func() error {
			_, err := f.Route53.GetHealthCheck(ctx, &r53.GetHealthCheckInput{HealthCheckId: aws.String("nope")})
			return err
		}, new(*r53types.NoSuchHealthCheck)},
		{"unknown zone", func() error {
			_, err := f.Route53.TestDNSAnswer(ctx, &r53.TestDNSAnswerInput{HostedZoneId: aws.String("ZNOPE"), RecordName: aws.String("a"), RecordType: r53types.RRTypeA})
			return err
		}, new(*r53types.NoSuchHostedZone)},
		{"records of an unknown zone", func() error {
			_, err := f.Route53.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String("ZNOPE")})
			return err
		}, new(*r53types.NoSuchHostedZone)},
		{"name outside the zone", func() error {
			_, err := f.Route53.TestDNSAnswer(ctx, &r53.TestDNSAnswerInput{HostedZoneId: aws.String(awsfront.HostedZoneID), RecordName: aws.String("example.com"), RecordType: r53types.RRTypeA})
			return err
		}, new(*r53types.InvalidInput)},
		{"unknown parameter", func() error {
			_, err := store.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
			return err
		}, new(*ssmtypes.ParameterNotFound)},
		{"overwrite without Overwrite", func() error {
			_, err := store.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(f.ForceFailParameter()), Value: aws.String("true")})
			return err
		}, new(*ssmtypes.ParameterAlreadyExists)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || !errors.As(err, tc.want) {
				t.Fatalf("error %v (%T), want %T", err, err, tc.want)
			}
		})
	}
	// The refused overwrite did not flip the switch.
	got, _ := store.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(f.ForceFailParameter())})
	if aws.ToString(got.Parameter.Value) != "false" {
		t.Errorf("switch %q after a refused write", aws.ToString(got.Parameter.Value))
	}
	// The secondary's store is separate: its switch exists and is off.
	if _, err := f.SSM[w.Secondary.Name].GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(f.ForceFailParameter())}); err != nil {
		t.Errorf("secondary switch: %v", err)
	}
}
