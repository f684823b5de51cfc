package readiness

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

// iotConfig is one Region's IoT account settings the simulator's registry does not
// hold (domain configuration, event configurations, indexing), in front of that
// registry (GetPolicy, the sample). Its answers follow AWS's: an unknown domain
// configuration is ResourceNotFoundException, and an event type never configured is
// absent from the map (Enabled false), as a fresh account reports it.
type iotConfig struct {
	*registry.Registry

	mu       sync.Mutex
	domain   *iot.DescribeDomainConfigurationOutput // nil: none
	events   map[string]iottypes.Configuration
	indexing iottypes.ThingIndexingMode
}

func (c *iotConfig) DescribeDomainConfiguration(_ context.Context, in *iot.DescribeDomainConfigurationInput, _ ...func(*iot.Options)) (*iot.DescribeDomainConfigurationOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.domain == nil || aws.ToString(in.DomainConfigurationName) != aws.ToString(c.domain.DomainConfigurationName) {
		return nil, &iottypes.ResourceNotFoundException{Message: aws.String("Domain configuration not found")}
	}
	out := *c.domain
	return &out, nil
}

func (c *iotConfig) DescribeEventConfigurations(context.Context, *iot.DescribeEventConfigurationsInput, ...func(*iot.Options)) (*iot.DescribeEventConfigurationsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]iottypes.Configuration{}
	for k, v := range c.events {
		m[k] = v
	}
	return &iot.DescribeEventConfigurationsOutput{EventConfigurations: m}, nil
}

func (c *iotConfig) GetIndexingConfiguration(context.Context, *iot.GetIndexingConfigurationInput, ...func(*iot.Options)) (*iot.GetIndexingConfigurationOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &iot.GetIndexingConfigurationOutput{ThingIndexingConfiguration: &iottypes.ThingIndexingConfiguration{ThingIndexingMode: c.indexing}}, nil
}

// stateTable answers DescribeTable for the global table's one name, listing the other
// Regions' replicas, as DynamoDB does; any other name is ResourceNotFoundException.
type stateTable struct {
	name    string
	marks   string // the Region's mark table, ACTIVE and unreplicated
	region  string
	mu      sync.Mutex
	status  ddbtypes.TableStatus
	replica map[string]ddbtypes.ReplicaStatus
	err     error
}

func (t *stateTable) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.marks != "" && aws.ToString(in.TableName) == t.marks {
		return &dynamodb.DescribeTableOutput{Table: &ddbtypes.TableDescription{TableName: in.TableName, TableStatus: ddbtypes.TableStatusActive}}, nil
	}
	if t.err != nil { // the state table's
		return nil, t.err
	}
	if aws.ToString(in.TableName) != t.name {
		return nil, &ddbtypes.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	td := &ddbtypes.TableDescription{TableName: aws.String(t.name), TableStatus: t.status,
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages}}
	for r, st := range t.replica {
		if r != t.region {
			td.Replicas = append(td.Replicas, ddbtypes.ReplicaDescription{RegionName: aws.String(r), ReplicaStatus: st})
		}
	}
	return &dynamodb.DescribeTableOutput{Table: td}, nil
}

// alarms answers DescribeAlarms by name: names it does not hold are left out of the
// answer, as CloudWatch does.
type alarms struct {
	mu    sync.Mutex
	state map[string]cwtypes.StateValue
}

func (a *alarms) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(in.AlarmNames) > 100 {
		return nil, fmt.Errorf("ValidationError: at most 100 alarm names")
	}
	out := &cloudwatch.DescribeAlarmsOutput{}
	for _, n := range in.AlarmNames {
		if st, ok := a.state[n]; ok {
			out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: aws.String(n), StateValue: st})
		}
	}
	return out, nil
}

// zone is the front's Route 53 with records dropped from its listings, as a
// deleted or never-created failover record would be.
type zone struct {
	Route53
	mu   sync.Mutex
	drop string // failover kind left out ("" none)
}

func (z *zone) ListResourceRecordSets(ctx context.Context, in *r53.ListResourceRecordSetsInput, opts ...func(*r53.Options)) (*r53.ListResourceRecordSetsOutput, error) {
	out, err := z.Route53.ListResourceRecordSets(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	out.ResourceRecordSets = slices.DeleteFunc(out.ResourceRecordSets, func(rs r53types.ResourceRecordSet) bool {
		return z.drop != "" && string(rs.Failover) == z.drop
	})
	return out, nil
}

type deployment struct {
	zone    *zone
	w       *simulator.World
	edge    *simulator.Edge
	front   *awsfront.Front
	certs   map[string]tls.Certificate // the domain certificates the brokers start with
	checker *Checker
	iot     map[string]*iotConfig
	tables  map[string]*stateTable
	alarms  map[string]*alarms
}

// newDeployment runs the simulated deployment with what the stacks would have set
// up, all of it ready.
func newDeployment(t *testing.T) *deployment {
	t.Helper()
	ctx := t.Context()
	w, err := simulator.New(context.Background(), simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	edge, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: 50 * time.Millisecond, FailureThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = edge.Close() })
	for i := range 5 {
		if _, err := w.ProvisionDevice(ctx, simulator.Device{Thing: fmt.Sprintf("dev-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	d := &deployment{w: w, edge: edge, front: awsfront.New(w, edge), certs: map[string]tls.Certificate{}}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		d.certs[r.Name] = r.DomainCertificate()
	}
	d.reset(t)
	return d
}

// reset makes the deployment ready again: fresh account settings, table and alarms,
// the original domain certificates, both probes passing, and waits until every
// checker of both health checks has probed successfully since.
func (d *deployment) reset(t *testing.T) {
	t.Helper()
	w := d.w
	d.iot, d.tables, d.alarms = map[string]*iotConfig{}, map[string]*stateTable{}, map[string]*alarms{}
	domain := w.Options().Domain
	region := func(role string, r *simulator.Region) Region {
		r.SetDomainCertificate(d.certs[r.Name])
		d.edge.SetProbeFailing(r.Name, false)
		events := map[string]iottypes.Configuration{}
		for _, e := range spec.RegistryEventConfigurations() {
			events[e] = iottypes.Configuration{Enabled: true}
		}
		cfg := &iotConfig{Registry: r.Registry, events: events, indexing: iottypes.ThingIndexingModeRegistry,
			domain: &iot.DescribeDomainConfigurationOutput{
				DomainConfigurationName: aws.String(spec.DomainConfigurationName(spec.DefaultPrefix)), DomainName: aws.String(domain),
				DomainConfigurationStatus: iottypes.DomainConfigurationStatusEnabled, ServiceType: iottypes.ServiceTypeData,
				ServerCertificates: []iottypes.ServerCertificateSummary{{ServerCertificateArn: aws.String("arn:aws:acm:" + r.Name + ":123456789012:certificate/1"), ServerCertificateStatus: iottypes.ServerCertificateStatusValid}},
			}}
		d.iot[r.Name] = cfg
		d.tables[r.Name] = &stateTable{name: "iotdr-state", marks: spec.MarkTableName, region: r.Name, status: ddbtypes.TableStatusActive,
			replica: map[string]ddbtypes.ReplicaStatus{w.Primary.Name: ddbtypes.ReplicaStatusActive, w.Secondary.Name: ddbtypes.ReplicaStatusActive}}
		names := []string{"iotdr-" + role + "-errors", "iotdr-" + role + "-replication-lag"}
		d.alarms[r.Name] = &alarms{state: map[string]cwtypes.StateValue{names[0]: cwtypes.StateValueOk, names[1]: cwtypes.StateValueOk}}
		return Region{Role: role, Name: r.Name, Endpoint: r.Broker.Addr(), DomainConfiguration: spec.DomainConfigurationName(spec.DefaultPrefix),
			HealthCheckID: d.front.HealthCheckID(r.Name), StateTable: "iotdr-state", MarkTable: spec.MarkTableName, DevicePolicy: spec.DevicePolicyName, Alarms: names,
			Captures: true, IoT: cfg, DynamoDB: d.tables[r.Name], CloudWatch: d.alarms[r.Name], Verify: r.Registry}
	}
	d.zone = &zone{Route53: d.front.Route53}
	d.checker = &Checker{Domain: domain, Primary: region(spec.RolePrimary, w.Primary), Secondary: region(spec.RoleSecondary, w.Secondary),
		Route53: d.zone, HostedZoneID: awsfront.HostedZoneID, Fetch: DialCertificate("8883"), Roots: w.CA.Pool(), MinDays: 30, Sample: 10, Things: w.Primary.Registry}
	// Ready once every checker of both health checks has probed and its latest probe
	// succeeded.
	for _, c := range d.edge.Checks {
		waitFor(t, func() bool {
			st := c.Status()
			for _, s := range st {
				if s.Checks == 0 || !s.LastOK {
					return false
				}
			}
			return len(st) > 0 && c.Healthy()
		})
	}
}

func (d *deployment) result(t *testing.T, rep Report, region, check string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Region == region && r.Check == check {
			return r
		}
	}
	t.Fatalf("no %s result for %s in %+v", check, region, rep.Results)
	return Result{}
}

// TestReadiness runs the checks against the simulated deployment, ready and then with
// each failure injected; each failure fails its own check only, with the reason, and
// makes the exit status 1; a check that cannot be made makes it 2.
func TestReadiness(t *testing.T) {
	d := newDeployment(t)
	p, s := d.w.Primary, d.w.Secondary
	rep := d.checker.Run(t.Context())
	for _, r := range rep.Results {
		t.Logf("%-10s %-22s %-5s %s", r.Region, r.Check, r.Status, r.Detail)
		if r.Status != OK {
			t.Errorf("ready deployment: %s in %s is %s: %s", r.Check, r.Region, r.Status, r.Detail)
		}
	}
	if rep.Exit() != ExitReady || len(rep.Results) != 2*9+2 {
		t.Fatalf("exit %d with %d results", rep.Exit(), len(rep.Results))
	}
	now := time.Now()
	domain := d.w.Options().Domain
	tests := []struct {
		name          string
		inject        func(t *testing.T, d *deployment)
		region, check string
		status        Status
		detail        string
		// mayFail are checks of the same Region allowed to fail too: a bad served
		// certificate also fails that Region's probe, and so its health check, as
		// soon as Route 53's checkers notice.
		mayFail []string
		// alsoFails are results of other Regions ("<region>/<check>") that fail
		// with it: a health check the outputs name but Route 53 lacks is not the
		// one the failover record uses.
		alsoFails []string
	}{
		{name: "domain configuration disabled", region: s.Name, check: CheckDomainConfiguration, status: Fail, detail: "is DISABLED, not ENABLED",
			inject: func(_ *testing.T, d *deployment) {
				d.iot[s.Name].domain.DomainConfigurationStatus = iottypes.DomainConfigurationStatusDisabled
			}},
		{name: "domain configuration missing", region: p.Name, check: CheckDomainConfiguration, status: Fail, detail: "does not exist",
			inject: func(_ *testing.T, d *deployment) { d.checker.Primary.DomainConfiguration = "gone" }},
		{name: "served certificate expired", region: s.Name, check: CheckServedCertificate, status: Fail, mayFail: []string{CheckHealthCheck}, detail: "expired",
			inject: func(t *testing.T, d *deployment) {
				c, err := d.w.CA.IssueServerValid([]string{domain}, nil, now.Add(-90*24*time.Hour), now.Add(-24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				d.w.Secondary.SetDomainCertificate(c)
			}},
		{name: "served certificate expires soon", region: p.Name, check: CheckServedCertificate, status: Fail, detail: "days left, under --min-days 30",
			inject: func(t *testing.T, d *deployment) {
				c, err := d.w.CA.IssueServerValid([]string{domain}, nil, now.Add(-time.Hour), now.Add(10*24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				d.w.Primary.SetDomainCertificate(c)
			}},
		{name: "served certificate for another name", region: p.Name, check: CheckServedCertificate, status: Fail, mayFail: []string{CheckHealthCheck}, detail: "not valid for " + domain,
			inject: func(t *testing.T, d *deployment) {
				c, err := d.w.CA.IssueServer([]string{"other.example"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				d.w.Primary.SetDomainCertificate(c)
			}},
		{name: "health check unhealthy", region: p.Name, check: CheckHealthCheck, status: Fail, detail: "unhealthy",
			inject: func(t *testing.T, d *deployment) {
				d.edge.SetProbeFailing(p.Name, true)
				waitFor(t, func() bool {
					for _, st := range d.edge.Checks[p.Name].Status() {
						if st.LastOK {
							return false
						}
					}
					return true
				})
			}},
		{name: "health check missing", region: s.Name, check: CheckHealthCheck, status: Fail, detail: "does not exist", alsoFails: []string{"both/" + CheckFailoverRecords},
			inject: func(_ *testing.T, d *deployment) {
				d.checker.Secondary.HealthCheckID = "00000000-0000-0000-0000-000000000000"
			}},
		{name: "registry events off", region: p.Name, check: CheckRegistryEvents, status: Fail, detail: "THING_GROUP_MEMBERSHIP",
			inject: func(_ *testing.T, d *deployment) { delete(d.iot[p.Name].events, "THING_GROUP_MEMBERSHIP") }},
		{name: "indexing off", region: p.Name, check: CheckIndexing, status: Fail, detail: "OFF",
			inject: func(_ *testing.T, d *deployment) { d.iot[p.Name].indexing = iottypes.ThingIndexingModeOff }},
		{name: "replica not active", region: p.Name, check: CheckStateTable, status: Fail, detail: "replica in " + s.Name + " is UPDATING",
			inject: func(_ *testing.T, d *deployment) { d.tables[p.Name].replica[s.Name] = ddbtypes.ReplicaStatusUpdating }},
		{name: "state table unreadable", region: s.Name, check: CheckStateTable, status: Error, detail: "AccessDenied",
			inject: func(_ *testing.T, d *deployment) { d.tables[s.Name].err = fmt.Errorf("AccessDeniedException") }},
		{name: "mark table missing", region: s.Name, check: CheckMarkTable, status: Fail, detail: "does not exist",
			inject: func(_ *testing.T, d *deployment) { d.checker.Secondary.MarkTable = "iotdr-marks-v0" }},
		{name: "mark table not exported", region: p.Name, check: CheckMarkTable, status: Error, detail: "no markTableName output",
			inject: func(_ *testing.T, d *deployment) { d.checker.Primary.MarkTable = "" }},
		{name: "device policy missing", region: s.Name, check: CheckDevicePolicy, status: Fail, detail: "does not exist",
			inject: func(_ *testing.T, d *deployment) { d.checker.Secondary.DevicePolicy = "iotdr-device-v2" }},
		{name: "replication lag in alarm", region: s.Name, check: CheckAlarms, status: Fail, detail: "iotdr-secondary-replication-lag ALARM",
			inject: func(_ *testing.T, d *deployment) {
				d.alarms[s.Name].state["iotdr-secondary-replication-lag"] = cwtypes.StateValueAlarm
			}},
		{name: "alarm in another Region in alarm", region: s.Name, check: CheckAlarms, status: Fail, detail: "iotdr-secondary-replication-lag ALARM",
			inject: func(_ *testing.T, d *deployment) {
				// Healthy in the stack's Region, where it does not live.
				d.checker.Secondary.AlarmRegions = map[string]string{"iotdr-secondary-replication-lag": "us-west-2"}
				d.checker.CloudWatchIn = map[string]CloudWatch{"us-west-2": &alarms{state: map[string]cwtypes.StateValue{
					"iotdr-secondary-replication-lag": cwtypes.StateValueAlarm}}}
			}},
		{name: "alarm Region without a client", region: s.Name, check: CheckAlarms, status: Error, detail: "no CloudWatch client for us-west-2",
			inject: func(_ *testing.T, d *deployment) {
				d.checker.Secondary.AlarmRegions = map[string]string{"iotdr-secondary-replication-lag": "us-west-2"}
			}},
		{name: "alarm missing", region: p.Name, check: CheckAlarms, status: Fail, detail: "iotdr-primary-errors missing",
			inject: func(_ *testing.T, d *deployment) { delete(d.alarms[p.Name].state, "iotdr-primary-errors") }},
		{name: "failover record missing", region: "both", check: CheckFailoverRecords, status: Fail, detail: "no SECONDARY record",
			inject: func(_ *testing.T, d *deployment) { d.zone.drop = spec.FailoverSecondary }},
		{name: "failover records on other health checks", region: "both", check: CheckFailoverRecords, status: Fail, mayFail: []string{CheckHealthCheck},
			detail: `the PRIMARY record is on health check "` + d.front.HealthCheckID(p.Name) + `", not ` + d.front.HealthCheckID(s.Name),
			inject: func(_ *testing.T, d *deployment) {
				// The stacks' outputs swapped: each Region's check is the other's.
				d.checker.Primary.HealthCheckID, d.checker.Secondary.HealthCheckID = d.checker.Secondary.HealthCheckID, d.checker.Primary.HealthCheckID
			}},
		{name: "sample differs", region: "both", check: CheckSample, status: Fail, detail: "dev-3",
			inject: func(t *testing.T, d *deployment) {
				d.w.Replication.Pause() // the drift must not be captured and replicated back (last case: never resumed)
				if _, err := d.w.Secondary.Registry.UpdateThing(t.Context(), &iot.UpdateThingInput{ThingName: aws.String("dev-3"),
					AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"drift": "yes"}, Merge: true}}); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d.reset(t) // each case on a ready deployment
			tc.inject(t, d)
			rep := d.checker.Run(t.Context())
			got := d.result(t, rep, tc.region, tc.check)
			if got.Status != tc.status || !strings.Contains(got.Detail, tc.detail) {
				t.Errorf("%s: %s %q, want %s containing %q", tc.check, got.Status, got.Detail, tc.status, tc.detail)
			}
			want := ExitNotReady
			if tc.status == Error {
				want = ExitCouldNotCheck
			}
			if rep.Exit() != want {
				t.Errorf("exit %d, want %d", rep.Exit(), want)
			}
			for _, r := range rep.Results {
				if r.Status != OK && (r.Check != tc.check || r.Region != got.Region) && !(r.Region == got.Region && slices.Contains(tc.mayFail, r.Check)) &&
					!slices.Contains(tc.alsoFails, r.Region+"/"+r.Check) {
					t.Errorf("another check failed too: %+v", r)
				}
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFromOutputsReadsEverythingTheChecksNeed: the stacks' outputs (as the front
// writes them, through JSON) give the hosted zone, both Regions' capture flags and the
// Regions the alarms live in, and the checker asks for a client of each other Region.
func TestFromOutputsReadsEverythingTheChecksNeed(t *testing.T) {
	d := newDeployment(t)
	p, s := d.front.StackOutputs()
	p[spec.OutputAlarmRegions] = map[string]string{"iotdr-primary-health": "us-west-2", "iotdr-primary-error-table-growth": d.w.Primary.Name}
	roundTrip := func(m map[string]any) map[string]any {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	c, err := FromOutputs(roundTrip(p), roundTrip(s))
	if err != nil {
		t.Fatal(err)
	}
	if c.HostedZoneID != awsfront.HostedZoneID || !c.Primary.Captures || !c.Secondary.Captures {
		t.Errorf("zone %q, captures %v %v", c.HostedZoneID, c.Primary.Captures, c.Secondary.Captures)
	}
	if got := c.OtherAlarmRegions(); !slices.Equal(got, []string{"us-west-2"}) {
		t.Errorf("other alarm Regions %v", got)
	}
}
