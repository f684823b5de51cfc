package awsfront

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/iot-dr/iot-dr/simulator"
	simr53 "github.com/iot-dr/iot-dr/simulator/route53"
)

// checkerRegions are Route 53's default checker Regions, used to label the simulated
// checkers in turn.
var checkerRegions = r53types.HealthCheckRegion("").Values()

// Route53 answers the Route 53 read calls for the simulated deployment. Safe for
// concurrent use (it only reads the simulator's concurrency-safe objects).
type Route53 struct {
	zoneName string // normalised, e.g. iotdr.test
	domain   string // normalised custom domain
	zone     *simr53.Zone
	checks   []*check
	prefix   string
}

type check struct {
	id, region, role string
	hc               *simr53.HealthCheck
}

func (r *Route53) check(id *string) (*check, error) {
	if aws.ToString(id) == "" {
		return nil, &r53types.InvalidInput{Message: aws.String("HealthCheckId is required")}
	}
	for _, c := range r.checks {
		if c.id == *id {
			return c, nil
		}
	}
	return nil, &r53types.NoSuchHealthCheck{Message: aws.String(fmt.Sprintf("A health check with id %s does not exist.", *id))}
}

func (r *Route53) zoneID(id *string) error {
	v := strings.TrimPrefix(aws.ToString(id), "/hostedzone/")
	if v == "" {
		return &r53types.InvalidInput{Message: aws.String("HostedZoneId is required")}
	}
	if v != HostedZoneID {
		return &r53types.NoSuchHostedZone{Message: aws.String("No hosted zone found with ID: " + v)}
	}
	return nil
}

func (r *Route53) hostedZone() r53types.HostedZone {
	return r53types.HostedZone{
		Id:                     aws.String("/hostedzone/" + HostedZoneID),
		Name:                   aws.String(r.zoneName + "."),
		CallerReference:        aws.String("iotdr-simulator"),
		Config:                 &r53types.HostedZoneConfig{PrivateZone: false},
		ResourceRecordSetCount: aws.Int64(2),
	}
}

// GetHealthCheck describes a health check: type, endpoint, interval and threshold
// rounded up to whole seconds. The probe secret is left out of ResourcePath.
func (r *Route53) GetHealthCheck(_ context.Context, in *r53.GetHealthCheckInput, _ ...func(*r53.Options)) (*r53.GetHealthCheckOutput, error) {
	c, err := r.check(in.HealthCheckId)
	if err != nil {
		return nil, err
	}
	cfg := c.hc.Config()
	hcc := &r53types.HealthCheckConfig{
		Type:             r53types.HealthCheckTypeHttps,
		RequestInterval:  aws.Int32(int32(ceilSeconds(cfg.Interval))),
		FailureThreshold: aws.Int32(int32(cfg.FailureThreshold)),
		Inverted:         aws.Bool(false),
		Disabled:         aws.Bool(false),
		MeasureLatency:   aws.Bool(false),
		EnableSNI:        aws.Bool(true),
	}
	if u, err := url.Parse(cfg.URL); err == nil {
		if u.Scheme == "http" {
			hcc.Type, hcc.EnableSNI = r53types.HealthCheckTypeHttp, aws.Bool(false)
		}
		hcc.FullyQualifiedDomainName = aws.String(u.Hostname())
		if p, err := strconv.Atoi(u.Port()); err == nil {
			hcc.Port = aws.Int32(int32(p))
		}
		hcc.ResourcePath = aws.String(u.Path)
	}
	return &r53.GetHealthCheckOutput{HealthCheck: &r53types.HealthCheck{
		Id:                 aws.String(c.id),
		CallerReference:    aws.String(r.prefix + "-" + strings.ToLower(c.role) + "-" + c.region),
		HealthCheckVersion: aws.Int64(1),
		HealthCheckConfig:  hcc,
	}}, nil
}

// GetHealthCheckStatus returns each simulated checker's latest observation.
func (r *Route53) GetHealthCheckStatus(_ context.Context, in *r53.GetHealthCheckStatusInput, _ ...func(*r53.Options)) (*r53.GetHealthCheckStatusOutput, error) {
	c, err := r.check(in.HealthCheckId)
	if err != nil {
		return nil, err
	}
	out := &r53.GetHealthCheckStatusOutput{HealthCheckObservations: []r53types.HealthCheckObservation{}}
	for _, s := range c.hc.Status() {
		if s.Checks == 0 {
			continue // no data from this checker yet
		}
		out.HealthCheckObservations = append(out.HealthCheckObservations, r53types.HealthCheckObservation{
			Region:    checkerRegions[s.Index%len(checkerRegions)],
			IPAddress: aws.String(fmt.Sprintf("15.177.%d.%d", s.Index/250, 2+s.Index%250)),
			StatusReport: &r53types.StatusReport{
				Status:      aws.String(statusText(s)),
				CheckedTime: aws.Time(s.LastAt.UTC()),
			},
		})
	}
	return out, nil
}

// statusText renders one checker's latest probe the way Route 53 reports it.
func statusText(s simr53.CheckerStatus) string {
	switch {
	case s.LastOK:
		return fmt.Sprintf("Success: HTTP Status Code %d, %s", s.LastStatusCode, http.StatusText(s.LastStatusCode))
	case s.LastStatusCode != 0:
		return fmt.Sprintf("Failure: HTTP Status Code %d, %s", s.LastStatusCode, http.StatusText(s.LastStatusCode))
	default:
		return "Failure: " + s.LastError
	}
}

// ListHostedZonesByName lists the one simulated zone when it sorts at or after DNSName
// in Route 53's order (labels from the right).
func (r *Route53) ListHostedZonesByName(_ context.Context, in *r53.ListHostedZonesByNameInput, _ ...func(*r53.Options)) (*r53.ListHostedZonesByNameOutput, error) {
	if in.HostedZoneId != nil && in.DNSName == nil {
		return nil, &r53types.InvalidInput{Message: aws.String("HostedZoneId requires DNSName")}
	}
	out := &r53.ListHostedZonesByNameOutput{HostedZones: []r53types.HostedZone{}, DNSName: in.DNSName,
		HostedZoneId: in.HostedZoneId, MaxItems: aws.Int32(100)}
	if in.MaxItems != nil {
		out.MaxItems = in.MaxItems
	}
	if in.DNSName == nil || dnsKey(r.zoneName) >= dnsKey(*in.DNSName) {
		out.HostedZones = append(out.HostedZones, r.hostedZone())
	}
	return out, nil
}

// records returns the failover pair as infra/deploy/dns.go declares it.
func (r *Route53) records() []r53types.ResourceRecordSet {
	ttl := int64(0)
	if a, ok := r.zone.Resolve(r.domain); ok {
		ttl = ceilSeconds(a.TTL)
	}
	var out []r53types.ResourceRecordSet
	for _, c := range r.checks {
		out = append(out, r53types.ResourceRecordSet{
			Name:            aws.String(r.domain + "."),
			Type:            r53types.RRTypeCname,
			TTL:             aws.Int64(ttl),
			SetIdentifier:   aws.String(r.prefix + "-" + strings.ToLower(c.role)),
			Failover:        r53types.ResourceRecordSetFailover(c.role),
			HealthCheckId:   aws.String(c.id),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(simulator.Endpoint(c.region))}},
		})
	}
	return out
}

// ListResourceRecordSets lists the failover pair when it sorts at or after
// StartRecordName/StartRecordType.
func (r *Route53) ListResourceRecordSets(_ context.Context, in *r53.ListResourceRecordSetsInput, _ ...func(*r53.Options)) (*r53.ListResourceRecordSetsOutput, error) {
	if err := r.zoneID(in.HostedZoneId); err != nil {
		return nil, err
	}
	if in.StartRecordType != "" && in.StartRecordName == nil {
		return nil, &r53types.InvalidInput{Message: aws.String("StartRecordType requires StartRecordName")}
	}
	out := &r53.ListResourceRecordSetsOutput{ResourceRecordSets: []r53types.ResourceRecordSet{}, MaxItems: aws.Int32(300)}
	if in.MaxItems != nil {
		out.MaxItems = in.MaxItems
	}
	for _, rs := range r.records() {
		if in.StartRecordName != nil {
			name, start := dnsKey(*rs.Name), dnsKey(*in.StartRecordName)
			if name < start || (name == start && in.StartRecordType != "" && string(rs.Type) < string(in.StartRecordType)) {
				continue
			}
		}
		out.ResourceRecordSets = append(out.ResourceRecordSets, rs)
	}
	return out, nil
}

// TestDNSAnswer answers like the zone's authoritative servers would right now.
func (r *Route53) TestDNSAnswer(_ context.Context, in *r53.TestDNSAnswerInput, _ ...func(*r53.Options)) (*r53.TestDNSAnswerOutput, error) {
	if err := r.zoneID(in.HostedZoneId); err != nil {
		return nil, err
	}
	name := normalise(aws.ToString(in.RecordName))
	if name == "" || in.RecordType == "" {
		return nil, &r53types.InvalidInput{Message: aws.String("RecordName and RecordType are required")}
	}
	if name != r.zoneName && !strings.HasSuffix(name, "."+r.zoneName) {
		return nil, &r53types.InvalidInput{Message: aws.String(fmt.Sprintf("%s is not in hosted zone %s", name, r.zoneName))}
	}
	out := &r53.TestDNSAnswerOutput{
		Nameserver: aws.String("ns-0.awsdns-sim.com"), Protocol: aws.String("UDP"),
		RecordName: aws.String(name + "."), RecordType: in.RecordType,
		RecordData: []string{}, ResponseCode: aws.String("NOERROR"),
	}
	a, ok := r.zone.Resolve(name)
	switch {
	case name != r.domain || !ok:
		out.ResponseCode = aws.String("NXDOMAIN")
	case in.RecordType == r53types.RRTypeCname || in.RecordType == r53types.RRTypeA:
		for _, c := range r.checks {
			if c.role == a.Which {
				out.RecordData = append(out.RecordData, simulator.Endpoint(c.region))
			}
		}
	}
	return out, nil
}

// ceilSeconds rounds d up to whole seconds (Route 53's unit).
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
