package awsfront

import (
	"fmt"
	"strings"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
)

// HostedZoneID is the simulated public hosted zone's id (without /hostedzone/).
const HostedZoneID = "Z0IOTDRSIMULATOR"

// Front is the AWS-shaped view of one World and its Edge.
type Front struct {
	// Route53 serves the Route 53 calls (a global service: one for both Regions).
	Route53 *Route53
	// SSM is each Region's parameter store, by Region name.
	SSM map[string]*SSM
	// Alarms are each Region's CloudWatch alarms, by Region name.
	Alarms map[string]*Alarms

	w *simulator.World
}

// New builds the AWS-shaped view of w and e. The force-fail switches start off, as
// StartEdge leaves the probes. Closing w or e is the caller's business.
func New(w *simulator.World, e *simulator.Edge) *Front {
	domain := normalise(w.Options().Domain)
	f := &Front{SSM: map[string]*SSM{}, Alarms: map[string]*Alarms{}, w: w}
	f.Route53 = &Route53{
		zoneName: zoneFor(domain),
		domain:   domain,
		zone:     e.Zone,
		checks: []*check{
			{id: healthCheckID(1), region: w.Primary.Name, role: spec.FailoverPrimary, hc: e.Checks[w.Primary.Name]},
			{id: healthCheckID(2), region: w.Secondary.Name, role: spec.FailoverSecondary, hc: e.Checks[w.Secondary.Name]},
		},
		prefix: spec.DefaultPrefix,
	}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		store := newSSM(r.Name, w.Options().AccountID)
		store.bind(f.ForceFailParameter(), "false", func(on bool) { e.SetProbeFailing(r.Name, on) })
		f.SSM[r.Name] = store
		f.Alarms[r.Name] = f.newAlarms(r)
	}
	return f
}

// newAlarms are the stack alarms the simulator can evaluate in r. The error-table
// alarm of the stacks fires on writes to the error table; here it fires while the
// table holds a record (the redrive removes what it clears). The health alarms live
// in us-east-1 in AWS, which the simulator does not run; the others watch Lambda and
// queue metrics the simulator does not publish.
func (f *Front) newAlarms(r *simulator.Region) *Alarms {
	role := spec.RolePrimary
	if r == f.w.Secondary {
		role = spec.RoleSecondary
	}
	a := &Alarms{region: r.Name, account: f.w.Options().AccountID}
	a.add(f.Route53.prefix+"-"+role+"-error-table-growth", "AWS/DynamoDB", "SuccessfulRequestLatency", func() (bool, string) {
		n := r.Errors.Len()
		return n > 0, fmt.Sprintf("%d records in %s", n, simulator.ErrorTableName)
	})
	return a
}

// ForceFailParameter is the name of each Region's probe force-fail switch, as the stacks
// name it with the default prefix.
func (f *Front) ForceFailParameter() string { return spec.ForceFailParameter(f.Route53.prefix) }

// HealthCheckID returns the id of region's health check ("" for an unknown Region).
func (f *Front) HealthCheckID(region string) string {
	for _, c := range f.Route53.checks {
		if c.region == region {
			return c.id
		}
	}
	return ""
}

// StackOutputs returns what `pulumi stack output --json` would print for the primary
// and the secondary stack of this deployment (the keys infra/deploy/stack.go exports that the
// AWS drill reads, plus a few neighbours), ready to be written as JSON.
func (f *Front) StackOutputs() (primary, secondary map[string]any) {
	p, s := f.w.Primary.Name, f.w.Secondary.Name
	// Both Regions capture and apply, as both stacks deploy both halves.
	rules := []string{}
	for _, r := range spec.CaptureRules() {
		rules = append(rules, r.Name)
	}
	common := func(role, region string) map[string]any {
		return map[string]any{
			spec.OutputRole:                    role,
			spec.OutputRegion:                  region,
			spec.OutputPrimaryRegion:           p,
			spec.OutputSecondaryRegion:         s,
			spec.OutputIoTEndpoint:             f.brokerAddr(region),
			spec.OutputDomain:                  f.Route53.domain,
			spec.OutputDomainConfiguration:     spec.DomainConfigurationName(f.Route53.prefix),
			spec.OutputHealthCheckID:           f.HealthCheckID(region),
			spec.OutputProbeURL:                "https://probe." + region + ".iotdr.test" + spec.ProbePath,
			spec.OutputProbeForceFailParameter: f.ForceFailParameter(),
			spec.OutputStateTableName:          simulator.StateTableName,
			spec.OutputErrorTableName:          simulator.ErrorTableName,
			spec.OutputMarkTableName:           simulator.MarkTableName,
			spec.OutputHostedZoneID:            HostedZoneID,
			spec.OutputAlarmNames:              f.Alarms[region].Names(),
			spec.OutputDevicePolicy:            spec.DevicePolicyName,
			spec.OutputCaptureRules:            rules,
		}
	}
	primary, secondary = common(spec.RolePrimary, p), common(spec.RoleSecondary, s)
	secondary[spec.OutputPrimaryHealthCheckID] = f.HealthCheckID(p)
	return primary, secondary
}

// brokerAddr is what the stacks export as iotEndpoint (DescribeEndpoint's answer): the
// simulator's answers the broker's IP, and its port is not AWS's 8883, so it is
// included.
func (f *Front) brokerAddr(region string) string {
	if region == f.w.Secondary.Name {
		return f.w.Secondary.Broker.Addr()
	}
	return f.w.Primary.Broker.Addr()
}

// healthCheckID makes a UUID-shaped id, as Route 53 assigns.
func healthCheckID(n int) string {
	return fmt.Sprintf("%08x-5eed-4a11-8c0d-%012x", 0x10d2000+n, n)
}

// zoneFor is the hosted zone that holds domain: its parent, since a CNAME cannot sit at
// a zone apex (a two-label domain is its own zone).
func zoneFor(domain string) string {
	if i := strings.IndexByte(domain, '.'); i >= 0 && strings.Count(domain, ".") >= 2 {
		return domain[i+1:]
	}
	return domain
}

// normalise lower-cases a DNS name and drops the trailing dot.
func normalise(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// dnsKey orders names as Route 53 lists them: by labels from the right.
func dnsKey(name string) string {
	labels := strings.Split(normalise(name), ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}
