// Package readiness checks that a deployed primary and secondary stack are ready to
// fail over, the way Route 53 ARC's readiness checks did, for iot-dr: in both Regions
// the domain configuration is enabled and serves a certificate for the domain valid for
// at least MinDays; the health checks exist and are healthy; registry events and fleet
// indexing are on where the stack captures; the state table and its replicas are
// ACTIVE, and so is each Region's apply-mark table; the device policy exists; the
// alarms (replication lag among them) are OK; and a sample of things compares equal
// across the Regions (package verify).
//
// It is the engine of `iotdr readiness`. It only reads: every call is a Describe, Get or
// List, and the served certificate is fetched with a TLS handshake that sends nothing
// after it. Each check yields one Result: ok, fail (the deployment is not ready) or
// error (the check could not be made); a failing call fails only its own check.
//
// The failover records are checked too: in the stacks' hosted zone the domain has a
// PRIMARY record on the primary's health check and a SECONDARY record on the
// secondary's.
//
// What it does NOT check: where the failover records point (the record values are the
// Regions' endpoint names, which the stack outputs do not carry in that form), IAM, the Lambdas and state machines themselves (their errors surface
// in the alarms), and it does not take anything down: `iotdr drill --aws` does that.
package readiness

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
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

	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/verify"
)

// IoT is the read-only AWS IoT control-plane subset the checks use (*iot.Client).
type IoT interface {
	DescribeDomainConfiguration(ctx context.Context, in *iot.DescribeDomainConfigurationInput, optFns ...func(*iot.Options)) (*iot.DescribeDomainConfigurationOutput, error)
	DescribeEventConfigurations(ctx context.Context, in *iot.DescribeEventConfigurationsInput, optFns ...func(*iot.Options)) (*iot.DescribeEventConfigurationsOutput, error)
	GetIndexingConfiguration(ctx context.Context, in *iot.GetIndexingConfigurationInput, optFns ...func(*iot.Options)) (*iot.GetIndexingConfigurationOutput, error)
	GetPolicy(ctx context.Context, in *iot.GetPolicyInput, optFns ...func(*iot.Options)) (*iot.GetPolicyOutput, error)
}

// Route53 is the health-check subset (*route53.Client).
type Route53 interface {
	GetHealthCheck(ctx context.Context, in *r53.GetHealthCheckInput, optFns ...func(*r53.Options)) (*r53.GetHealthCheckOutput, error)
	GetHealthCheckStatus(ctx context.Context, in *r53.GetHealthCheckStatusInput, optFns ...func(*r53.Options)) (*r53.GetHealthCheckStatusOutput, error)
	ListResourceRecordSets(ctx context.Context, in *r53.ListResourceRecordSetsInput, optFns ...func(*r53.Options)) (*r53.ListResourceRecordSetsOutput, error)
}

// DynamoDB is the table subset (*dynamodb.Client).
type DynamoDB interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// CloudWatch is the alarm subset (*cloudwatch.Client).
type CloudWatch interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// Things lists a Region's things, for the sample (*iot.Client).
type Things interface {
	ListThings(ctx context.Context, in *iot.ListThingsInput, optFns ...func(*iot.Options)) (*iot.ListThingsOutput, error)
}

// The production clients must satisfy the interfaces.
var (
	_ IoT        = (*iot.Client)(nil)
	_ Route53    = (*r53.Client)(nil)
	_ DynamoDB   = (*dynamodb.Client)(nil)
	_ CloudWatch = (*cloudwatch.Client)(nil)
	_ Things     = (*iot.Client)(nil)
)

// FetchCertificate returns the certificate chain served at endpoint (host or
// host:port) to a client that names serverName in SNI, without verifying it.
type FetchCertificate func(ctx context.Context, endpoint, serverName string) ([]*x509.Certificate, error)

// Region is one stack as its outputs describe it, with the clients of its Region.
type Region struct {
	// Role is spec.RolePrimary or spec.RoleSecondary; Name the AWS Region.
	Role, Name string
	// Endpoint is the Region's IoT data endpoint, where the domain's certificate is
	// fetched (the failover name may point at the other Region).
	Endpoint string
	// DomainConfiguration, HealthCheckID, StateTable, MarkTable and DevicePolicy name
	// what the stack deployed; Alarms are its alarm names.
	DomainConfiguration, HealthCheckID, StateTable, MarkTable, DevicePolicy string
	Alarms                                                                  []string
	// AlarmRegions names the Region of each alarm that does not live in this one
	// (the health alarm, in us-east-1).
	AlarmRegions map[string]string
	// Captures is true when the stack runs the capture half (registry events and
	// fleet indexing must be on).
	Captures bool

	IoT        IoT
	DynamoDB   DynamoDB
	CloudWatch CloudWatch
	// Verify is the Region's client for the sample comparison.
	Verify verify.IoT
}

// Checker runs the checks. Set every field but Now before Run.
type Checker struct {
	// Domain is the device-facing custom domain.
	Domain string
	// Primary and Secondary are the two stacks.
	Primary, Secondary Region
	// Route53 is the (global) Route 53 client.
	Route53 Route53
	// HostedZoneID is the zone holding the domain's failover records.
	HostedZoneID string
	// Fetch gets a served certificate; Roots verifies it (nil: the system pool).
	Fetch FetchCertificate
	Roots *x509.CertPool
	// MinDays is the least validity the served certificate must have left.
	MinDays int
	// Sample is how many of the primary's things to compare (0: none).
	Sample int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Things lists the primary's things for the sample.
	Things Things
	// CloudWatchIn are clients of the Regions alarms live in other than the stacks'
	// own (OtherAlarmRegions).
	CloudWatchIn map[string]CloudWatch
}

// OtherAlarmRegions lists the Regions the stacks' alarms live in besides their own,
// sorted: the caller gives Checker.CloudWatchIn a client for each.
func (c *Checker) OtherAlarmRegions() []string {
	var out []string
	for _, r := range []*Region{&c.Primary, &c.Secondary} {
		for _, reg := range r.AlarmRegions {
			if reg != c.Primary.Name && reg != c.Secondary.Name && !slices.Contains(out, reg) {
				out = append(out, reg)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Status is a check's outcome.
type Status string

// The outcomes.
const (
	OK    Status = "ok"
	Fail  Status = "fail"
	Error Status = "error"
)

// Result is one check in one Region ("both" for the cross-Region sample).
type Result struct {
	Region string `json:"region"`
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Report holds every result, in a stable order.
type Report struct {
	Results []Result `json:"results"`
}

// Exit codes, as `iotdr readiness` returns them.
const (
	ExitReady         = 0
	ExitNotReady      = 1
	ExitCouldNotCheck = 2
)

// Exit is 1 if any check failed (not ready, whatever could not be checked), else 2 if
// any could not be made, else 0.
func (r Report) Exit() int {
	code := ExitReady
	for _, res := range r.Results {
		switch res.Status {
		case Fail:
			return ExitNotReady
		case Error:
			code = ExitCouldNotCheck
		}
	}
	return code
}

// Ready reports whether every check passed.
func (r Report) Ready() bool { return r.Exit() == ExitReady }

// Check names, in report order.
const (
	CheckDomainConfiguration = "domain configuration"
	CheckServedCertificate   = "served certificate"
	CheckHealthCheck         = "health check"
	CheckRegistryEvents      = "registry events"
	CheckIndexing            = "fleet indexing"
	CheckStateTable          = "state table"
	CheckMarkTable           = "mark table"
	CheckDevicePolicy        = "device policy"
	CheckAlarms              = "alarms"
	CheckFailoverRecords     = "failover records"
	CheckSample              = "sample verifies"
)

// Run makes every check, the Regions' concurrently, and never stops at a failure.
func (c *Checker) Run(ctx context.Context) Report {
	var (
		mu  sync.Mutex
		all []Result
		wg  sync.WaitGroup
	)
	add := func(rs ...Result) {
		mu.Lock()
		defer mu.Unlock()
		all = append(all, rs...)
	}
	for _, r := range []*Region{&c.Primary, &c.Secondary} {
		wg.Go(func() { add(c.region(ctx, r)...) })
	}
	wg.Go(func() { add(c.sample(ctx)) })
	wg.Go(func() { add(c.failoverRecords(ctx)) })
	wg.Wait()
	order := []string{CheckDomainConfiguration, CheckServedCertificate, CheckHealthCheck, CheckRegistryEvents,
		CheckIndexing, CheckStateTable, CheckMarkTable, CheckDevicePolicy, CheckAlarms, CheckFailoverRecords, CheckSample}
	rank := func(r Result) (int, int) {
		reg := 0
		switch r.Region {
		case c.Secondary.Name:
			reg = 1
		case "both":
			reg = 2
		}
		return reg, slices.Index(order, r.Check)
	}
	slices.SortStableFunc(all, func(a, b Result) int {
		ar, ac := rank(a)
		br, bc := rank(b)
		if ar != br {
			return ar - br
		}
		return ac - bc
	})
	return Report{Results: all}
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checker) region(ctx context.Context, r *Region) []Result {
	res := func(check string, st Status, format string, a ...any) Result {
		return Result{Region: r.Name, Check: check, Status: st, Detail: fmt.Sprintf(format, a...)}
	}
	out := []Result{
		c.domainConfiguration(ctx, r, res),
		c.servedCertificate(ctx, r, res),
		c.healthCheck(ctx, r, res),
	}
	if r.Captures {
		out = append(out, c.registryEvents(ctx, r, res), c.indexing(ctx, r, res))
	}
	return append(out, c.stateTable(ctx, r, res), c.markTable(ctx, r, res), c.devicePolicy(ctx, r, res), c.alarms(ctx, r, res))
}

type resultFunc func(check string, st Status, format string, a ...any) Result

func (c *Checker) domainConfiguration(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckDomainConfiguration
	out, err := r.IoT.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: aws.String(r.DomainConfiguration)})
	var nf *iottypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return res(ck, Fail, "%s does not exist", r.DomainConfiguration)
	case err != nil:
		return res(ck, Error, "describe %s: %v", r.DomainConfiguration, err)
	case out.DomainConfigurationStatus != iottypes.DomainConfigurationStatusEnabled:
		return res(ck, Fail, "%s is %s, not ENABLED", r.DomainConfiguration, out.DomainConfigurationStatus)
	case !strings.EqualFold(aws.ToString(out.DomainName), c.Domain):
		return res(ck, Fail, "%s serves %s, not %s", r.DomainConfiguration, aws.ToString(out.DomainName), c.Domain)
	case out.ServiceType != "" && out.ServiceType != iottypes.ServiceTypeData:
		return res(ck, Fail, "%s is for %s, not DATA", r.DomainConfiguration, out.ServiceType)
	}
	for _, sc := range out.ServerCertificates {
		if sc.ServerCertificateStatus == iottypes.ServerCertificateStatusInvalid {
			return res(ck, Fail, "%s's server certificate %s is INVALID: %s", r.DomainConfiguration,
				aws.ToString(sc.ServerCertificateArn), aws.ToString(sc.ServerCertificateStatusDetail))
		}
	}
	return res(ck, OK, "%s ENABLED for %s", r.DomainConfiguration, c.Domain)
}

func (c *Checker) servedCertificate(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckServedCertificate
	if r.Endpoint == "" {
		return res(ck, Error, "the %s stack has no %s output", r.Role, spec.OutputIoTEndpoint)
	}
	chain, err := c.Fetch(ctx, r.Endpoint, c.Domain)
	if err != nil {
		return res(ck, Error, "TLS to %s naming %s: %v", r.Endpoint, c.Domain, err)
	}
	now := c.now()
	cert, err := probe.VerifyServer(chain, c.Roots, c.Domain, now)
	if err != nil {
		return res(ck, Fail, "%v", err)
	}
	days := cert.DaysLeft(now)
	if days < c.MinDays {
		return res(ck, Fail, "valid for %s, expires %s: %d days left, under --min-days %d", c.Domain,
			cert.NotAfter.UTC().Format(time.DateOnly), days, c.MinDays)
	}
	return res(ck, OK, "valid for %s until %s (%d days)", c.Domain, cert.NotAfter.UTC().Format(time.DateOnly), days)
}

// healthyShare is Route 53's rule: a health check is healthy when more than 18% of its
// checkers report it healthy.
const healthyShare = 0.18

func (c *Checker) healthCheck(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckHealthCheck
	id := aws.String(r.HealthCheckID)
	if _, err := c.Route53.GetHealthCheck(ctx, &r53.GetHealthCheckInput{HealthCheckId: id}); err != nil {
		if isNoSuchHealthCheck(err) {
			return res(ck, Fail, "%s does not exist", r.HealthCheckID)
		}
		return res(ck, Error, "get %s: %v", r.HealthCheckID, err)
	}
	st, err := c.Route53.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: id})
	if err != nil {
		return res(ck, Error, "status of %s: %v", r.HealthCheckID, err)
	}
	healthy, n, failing := CheckersHealthy(st.HealthCheckObservations)
	switch {
	case n == 0:
		return res(ck, Fail, "%s: no checker has reported yet", r.HealthCheckID)
	case float64(healthy) <= healthyShare*float64(n):
		return res(ck, Fail, "%s unhealthy: %d of %d checkers healthy (%s)", r.HealthCheckID, healthy, n, failing)
	case healthy < n:
		return res(ck, OK, "%s healthy: %d of %d checkers (%s)", r.HealthCheckID, healthy, n, failing)
	}
	return res(ck, OK, "%s healthy: %d of %d checkers", r.HealthCheckID, healthy, n)
}

// CheckersHealthy counts the checkers that report a health check healthy, of n, and
// returns the first failing checker's report.
func CheckersHealthy(obs []r53types.HealthCheckObservation) (healthy, n int, failing string) {
	for _, o := range obs {
		s := ""
		if o.StatusReport != nil {
			s = aws.ToString(o.StatusReport.Status)
		}
		if strings.HasPrefix(s, "Success") {
			healthy++
		} else if failing == "" {
			failing = s
		}
	}
	return healthy, len(obs), failing
}

// Healthy applies Route 53's rule: more than 18% of the checkers report healthy.
func Healthy(healthy, n int) bool { return n > 0 && float64(healthy) > healthyShare*float64(n) }

func isNoSuchHealthCheck(err error) bool {
	var code interface{ ErrorCode() string }
	return errors.As(err, &code) && code.ErrorCode() == "NoSuchHealthCheck"
}

func (c *Checker) registryEvents(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckRegistryEvents
	out, err := r.IoT.DescribeEventConfigurations(ctx, &iot.DescribeEventConfigurationsInput{})
	if err != nil {
		return res(ck, Error, "describe event configurations: %v", err)
	}
	var off []string
	for _, t := range spec.RegistryEventConfigurations() {
		if !out.EventConfigurations[t].Enabled {
			off = append(off, t)
		}
	}
	if len(off) > 0 {
		return res(ck, Fail, "off: %s (the capture rule would miss these changes)", strings.Join(off, ", "))
	}
	return res(ck, OK, "%d event types on", len(spec.RegistryEventConfigurations()))
}

func (c *Checker) indexing(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckIndexing
	out, err := r.IoT.GetIndexingConfiguration(ctx, &iot.GetIndexingConfigurationInput{})
	if err != nil {
		return res(ck, Error, "get indexing configuration: %v", err)
	}
	mode := iottypes.ThingIndexingModeOff
	if out.ThingIndexingConfiguration != nil {
		mode = out.ThingIndexingConfiguration.ThingIndexingMode
	}
	if mode == iottypes.ThingIndexingModeOff || mode == "" {
		// The stacks no longer set it (the resource replaced the account's whole
		// setting); `iotdr sync --query` and dynamic groups need it on, and the apply
		// raises it, merged, for the dynamic groups it replicates.
		return res(ck, Fail, "thing indexing is OFF (`iotdr sync --query` and dynamic thing groups need it; turn it on with `aws iot update-indexing-configuration`)")
	}
	return res(ck, OK, "thing indexing %s", mode)
}

func (c *Checker) stateTable(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckStateTable
	out, err := r.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.StateTable)})
	var nf *ddbtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return res(ck, Fail, "%s does not exist", r.StateTable)
	case err != nil:
		return res(ck, Error, "describe %s: %v", r.StateTable, err)
	case out.Table == nil:
		return res(ck, Error, "describe %s: no table in the answer", r.StateTable)
	case out.Table.TableStatus != ddbtypes.TableStatusActive:
		return res(ck, Fail, "%s is %s", r.StateTable, out.Table.TableStatus)
	case out.Table.StreamSpecification == nil || !aws.ToBool(out.Table.StreamSpecification.StreamEnabled):
		return res(ck, Fail, "%s has no stream (apply reads it)", r.StateTable)
	}
	replicas := map[string]ddbtypes.ReplicaStatus{}
	for _, rep := range out.Table.Replicas {
		replicas[aws.ToString(rep.RegionName)] = rep.ReplicaStatus
	}
	var bad []string
	for _, reg := range []string{c.Primary.Name, c.Secondary.Name} {
		if reg == r.Name {
			continue // a global table lists its other Regions' replicas
		}
		switch st, ok := replicas[reg]; {
		case !ok:
			bad = append(bad, "no replica in "+reg)
		case st != ddbtypes.ReplicaStatusActive:
			bad = append(bad, fmt.Sprintf("replica in %s is %s", reg, st))
		}
	}
	if len(bad) > 0 {
		return res(ck, Fail, "%s: %s", r.StateTable, strings.Join(bad, "; "))
	}
	return res(ck, OK, "%s ACTIVE, replicas ACTIVE", r.StateTable)
}

// markTable checks the Region's apply-mark table: without it every registry apply
// fails (the apply marks before it writes) and the capture cannot tell applies from
// changes.
func (c *Checker) markTable(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckMarkTable
	if r.MarkTable == "" {
		return res(ck, Error, "the %s stack has no %s output (deploy it with this version of iot-dr)", r.Role, spec.OutputMarkTableName)
	}
	out, err := r.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.MarkTable)})
	var nf *ddbtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return res(ck, Fail, "%s does not exist: the apply cannot mark its writes", r.MarkTable)
	case err != nil:
		return res(ck, Error, "describe %s: %v", r.MarkTable, err)
	case out.Table == nil:
		return res(ck, Error, "describe %s: no table in the answer", r.MarkTable)
	case out.Table.TableStatus != ddbtypes.TableStatusActive:
		return res(ck, Fail, "%s is %s", r.MarkTable, out.Table.TableStatus)
	}
	return res(ck, OK, "%s ACTIVE", r.MarkTable)
}

func (c *Checker) devicePolicy(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckDevicePolicy
	_, err := r.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(r.DevicePolicy)})
	var nf *iottypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return res(ck, Fail, "%s does not exist: devices would be refused here", r.DevicePolicy)
	case err != nil:
		return res(ck, Error, "get %s: %v", r.DevicePolicy, err)
	}
	return res(ck, OK, "%s exists", r.DevicePolicy)
}

func (c *Checker) alarms(ctx context.Context, r *Region, res resultFunc) Result {
	const ck = CheckAlarms
	if len(r.Alarms) == 0 {
		return res(ck, Error, "the %s stack lists no alarms (%s output)", r.Role, spec.OutputAlarmNames)
	}
	state := map[string]cwtypes.StateValue{}
	byRegion := map[string][]string{}
	for _, n := range r.Alarms {
		reg := r.Name
		if other, ok := r.AlarmRegions[n]; ok && other != "" {
			reg = other
		}
		byRegion[reg] = append(byRegion[reg], n)
	}
	for _, reg := range slices.Sorted(maps.Keys(byRegion)) {
		cw := r.CloudWatch
		if reg != r.Name {
			cw = c.CloudWatchIn[reg]
			if reg == c.Primary.Name {
				cw = c.Primary.CloudWatch
			} else if reg == c.Secondary.Name {
				cw = c.Secondary.CloudWatch
			}
		}
		if cw == nil {
			return res(ck, Error, "no CloudWatch client for %s, where %s live", reg, strings.Join(byRegion[reg], ", "))
		}
		// DescribeAlarms takes at most 100 names per call.
		for names := range slices.Chunk(byRegion[reg], 100) {
			in := &cloudwatch.DescribeAlarmsInput{AlarmNames: names, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm}}
			for {
				out, err := cw.DescribeAlarms(ctx, in)
				if err != nil {
					return res(ck, Error, "describe alarms in %s: %v", reg, err)
				}
				for _, a := range out.MetricAlarms {
					state[aws.ToString(a.AlarmName)] = a.StateValue
				}
				for _, a := range out.CompositeAlarms {
					state[aws.ToString(a.AlarmName)] = a.StateValue
				}
				if aws.ToString(out.NextToken) == "" {
					break
				}
				in.NextToken = out.NextToken
			}
		}
	}
	var bad []string
	for _, n := range r.Alarms {
		switch st, ok := state[n]; {
		case !ok:
			bad = append(bad, n+" missing")
		case st != cwtypes.StateValueOk:
			bad = append(bad, fmt.Sprintf("%s %s", n, st))
		}
	}
	if len(bad) > 0 {
		return res(ck, Fail, "%s", strings.Join(bad, "; "))
	}
	return res(ck, OK, "%d alarms OK", len(r.Alarms))
}

// failoverRecords finds the domain's PRIMARY and SECONDARY failover records in the
// hosted zone, each on its Region's health check: without them, or on another check,
// Route 53 would not move the fleet when the primary fails.
func (c *Checker) failoverRecords(ctx context.Context) Result {
	res := Result{Region: "both", Check: CheckFailoverRecords}
	if c.HostedZoneID == "" {
		res.Status, res.Detail = Error, "the stacks have no "+spec.OutputHostedZoneID+" output (deploy them with this version of iot-dr)"
		return res
	}
	name := strings.TrimSuffix(strings.ToLower(c.Domain), ".") + "."
	found := map[string]string{} // failover kind -> health check
	in := &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(c.HostedZoneID), StartRecordName: aws.String(name)}
	for {
		out, err := c.Route53.ListResourceRecordSets(ctx, in)
		if err != nil {
			res.Status, res.Detail = Error, fmt.Sprintf("list records of %s: %v", c.HostedZoneID, err)
			return res
		}
		past := false
		for _, rs := range out.ResourceRecordSets {
			if !strings.EqualFold(strings.TrimSuffix(aws.ToString(rs.Name), ".")+".", name) {
				past = true
				break
			}
			if rs.Failover != "" {
				found[string(rs.Failover)] = aws.ToString(rs.HealthCheckId)
			}
		}
		if past || !out.IsTruncated {
			break
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
	var bad []string
	for _, want := range []struct{ kind, check string }{
		{spec.FailoverPrimary, c.Primary.HealthCheckID}, {spec.FailoverSecondary, c.Secondary.HealthCheckID},
	} {
		switch hc, ok := found[want.kind]; {
		case !ok:
			bad = append(bad, "no "+want.kind+" record")
		case hc != want.check:
			bad = append(bad, fmt.Sprintf("the %s record is on health check %q, not %s", want.kind, hc, want.check))
		}
	}
	if len(bad) > 0 {
		res.Status, res.Detail = Fail, fmt.Sprintf("%s in %s: %s", c.Domain, c.HostedZoneID, strings.Join(bad, "; "))
		return res
	}
	res.Status, res.Detail = OK, fmt.Sprintf("%s: PRIMARY and SECONDARY on their health checks", c.Domain)
	return res
}

// sample compares the first Sample things the primary lists (package verify, per
// thing: attributes, type, groups, certificates, policies, attachments).
func (c *Checker) sample(ctx context.Context) Result {
	res := Result{Region: "both", Check: CheckSample}
	if c.Sample <= 0 {
		res.Status, res.Detail = OK, "skipped (--sample 0)"
		return res
	}
	var names []string
	in := &iot.ListThingsInput{MaxResults: aws.Int32(int32(min(c.Sample, 250)))}
	for len(names) < c.Sample {
		out, err := c.Things.ListThings(ctx, in)
		if err != nil {
			res.Status, res.Detail = Error, fmt.Sprintf("list things in %s: %v", c.Primary.Name, err)
			return res
		}
		for _, t := range out.Things {
			names = append(names, aws.ToString(t.ThingName))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	names = names[:min(len(names), c.Sample)]
	cmp := &verify.Comparer{Source: c.Primary.Verify, Target: c.Secondary.Verify, SourceRegion: c.Primary.Name, TargetRegion: c.Secondary.Name}
	var diffs []string
	for _, n := range names {
		ds, err := cmp.Thing(ctx, n)
		if err != nil {
			res.Status, res.Detail = Error, err.Error()
			return res
		}
		for _, d := range ds {
			diffs = append(diffs, d.String())
		}
	}
	if len(diffs) > 0 {
		shown := diffs[:min(len(diffs), 3)]
		res.Status, res.Detail = Fail, fmt.Sprintf("%d differences in %d things: %s", len(diffs), len(names), strings.Join(shown, "; "))
		return res
	}
	res.Status, res.Detail = OK, fmt.Sprintf("%d things equal", len(names))
	return res
}
