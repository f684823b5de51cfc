package awsdrill

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Scenario is the name the drill reports under.
const Scenario = "aws-probe-failure"

// SSMAPI is the part of *ssm.Client the drill uses, in the primary Region.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// Route53API is the part of *route53.Client the drill uses; it only reads.
type Route53API interface {
	GetHealthCheck(ctx context.Context, in *route53.GetHealthCheckInput, optFns ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error)
	GetHealthCheckStatus(ctx context.Context, in *route53.GetHealthCheckStatusInput, optFns ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error)
	ListHostedZonesByName(ctx context.Context, in *route53.ListHostedZonesByNameInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	TestDNSAnswer(ctx context.Context, in *route53.TestDNSAnswerInput, optFns ...func(*route53.Options)) (*route53.TestDNSAnswerOutput, error)
}

// Clients are the AWS clients the drill runs against.
type Clients struct {
	// SSM must be in the primary Region, where the force-fail parameter lives.
	SSM     SSMAPI
	Route53 Route53API
}

var (
	// ErrNotConfirmed is returned when Config.Yes is not set.
	ErrNotConfirmed = errors.New("not confirmed")
	// ErrPreflight is returned when the deployment is not in a state to drill.
	ErrPreflight = errors.New("preflight failed")
	// ErrNotRestored is returned when the force-fail switch could not be set back.
	ErrNotRestored = errors.New("force-fail switch NOT restored")
	// ErrBudget is returned by CheckBudget when the drill broke its RTO budget.
	ErrBudget = errors.New("budget exceeded")
)

// Config tunes a drill. The zero values of the optional fields pick the defaults.
type Config struct {
	// Deployment is what the stack outputs say (LoadOutputs).
	Deployment Deployment
	// Yes confirms that the drill may fail the production domain over.
	Yes bool
	// PollInterval paces GetHealthCheckStatus and TestDNSAnswer (default 5 s).
	PollInterval time.Duration
	// WaitLimit bounds the wait for the switch and for the failback each (default
	// three times the RTO bound plus a minute).
	WaitLimit time.Duration
	// RestoreTimeout bounds setting the switch back (default 30 s); it runs on a fresh
	// context so a cancelled drill still restores.
	RestoreTimeout time.Duration
	// HostedZoneID is the zone with the failover records; empty looks it up by name.
	HostedZoneID string
	// HealthInterval, FailureThreshold and TTL override what Route 53 reports for the
	// bound (zero: read the primary health check and the PRIMARY record).
	HealthInterval   time.Duration
	FailureThreshold int
	TTL              time.Duration
	// MaxRTO is the budget CheckBudget applies (0: none).
	MaxRTO time.Duration

	// JSON, Profile and Timeout are for Run: print the report as JSON, the shared
	// config profile for credentials, and the limit on the whole drill.
	JSON    bool
	Profile string
	Timeout time.Duration
	// EndpointURL, when set, sends the Route 53 and SSM calls there instead of AWS (the
	// AWS endpoint of a running `iotdr sim`).
	EndpointURL string
}

func (c Config) withDefaults() Config {
	if c.PollInterval == 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.RestoreTimeout == 0 {
		c.RestoreTimeout = 30 * time.Second
	}
	return c
}

// Validate names the first bad setting. Without Yes it returns ErrNotConfirmed, saying
// what the drill would do.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.Deployment.Validate(); err != nil {
		return err
	}
	switch {
	case c.PollInterval < 0:
		return fmt.Errorf("--poll-interval must be positive, got %s", c.PollInterval)
	case c.WaitLimit < 0:
		return fmt.Errorf("--wait must not be negative, got %s", c.WaitLimit)
	case c.RestoreTimeout < 0:
		return fmt.Errorf("restore timeout must be positive, got %s", c.RestoreTimeout)
	case c.MaxRTO < 0:
		return fmt.Errorf("--max-rto must not be negative, got %s", c.MaxRTO)
	case c.HealthInterval < 0 || c.TTL < 0 || c.FailureThreshold < 0 || c.FailureThreshold > 10:
		return errors.New("health-check interval and TTL must not be negative, failure threshold 0-10")
	}
	if !c.Yes {
		d := c.Deployment
		return fmt.Errorf("%w: this drill makes the health probe in %s fail (SSM parameter %s = true), so Route 53 fails %s over "+
			"to %s and every device reconnects there, then restores it and waits for the failback; pass --yes to run it",
			ErrNotConfirmed, d.PrimaryRegion, d.ForceFailParameter, d.Domain, d.SecondaryRegion)
	}
	return nil
}

// Phase is one timeline entry, in the simulator drill's format.
type Phase struct {
	Name string `json:"name"`
	// AtS is seconds since the drill started.
	AtS float64 `json:"at_s"`
}

// Report is what the drill measured. Times in seconds are from the fault (detection,
// unhealthy, switch) or from the restore (failback); nil means not observed.
type Report struct {
	Scenario        string  `json:"scenario"`
	Devices         int     `json:"devices"` // always 0: no fleet is driven
	Domain          string  `json:"domain"`
	PrimaryRegion   string  `json:"primary_region"`
	SecondaryRegion string  `json:"secondary_region"`
	Timeline        []Phase `json:"timeline"`

	HealthCheckIntervalS float64 `json:"health_check_interval_s"`
	FailureThreshold     int     `json:"failure_threshold"`
	TTLS                 float64 `json:"ttl_s"`
	PollIntervalS        float64 `json:"poll_interval_s"`

	DetectionS      *float64 `json:"detection_s"`
	DetectionBoundS float64  `json:"detection_bound_s"`
	UnhealthyS      *float64 `json:"unhealthy_s"`
	SwitchS         *float64 `json:"switch_s"`
	// RTOP50S and RTOP99S are the DNS switch time (one measurement, so both equal).
	RTOP50S     *float64 `json:"rto_p50_s"`
	RTOP99S     *float64 `json:"rto_p99_s"`
	RTOBoundS   float64  `json:"rto_bound_s"`
	WithinBound bool     `json:"within_bound"`
	FailbackS   *float64 `json:"failback_s"`

	SwitchRestored bool   `json:"switch_restored"`
	FailedBack     bool   `json:"failed_back"`
	Passed         bool   `json:"passed"`
	Failure        string `json:"failure,omitempty"`
}

// CheckBudget reports ErrBudget when the switch took longer than maxRTO or never
// happened; maxRTO 0 disables the check.
func CheckBudget(r *Report, maxRTO time.Duration) error {
	if maxRTO <= 0 {
		return nil
	}
	if r.SwitchS == nil {
		return fmt.Errorf("%w: DNS never switched, RTO budget %s", ErrBudget, maxRTO)
	}
	if *r.SwitchS > maxRTO.Seconds() {
		return fmt.Errorf("%w: RTO %.1fs, budget %s", ErrBudget, *r.SwitchS, maxRTO)
	}
	return nil
}

type run struct {
	cfg   Config
	c     Clients
	out   io.Writer
	start time.Time
	rep   *Report

	zoneID     string
	recordType r53types.RRType
	roleOf     map[string]string // normalised record value -> PRIMARY/SECONDARY
	interval   time.Duration
	threshold  int
	ttl        time.Duration

	switchOn bool // the switch may be on: restore before returning
}

// AWSDrill runs the drill: preflight, fault (force-fail on), wait for the DNS switch,
// restore, wait for the failback. An error means the drill could not run or was
// interrupted (the switch is restored all the same, or the error says it was not); a
// drill that ran and saw something wrong returns a Report with Passed false. progress
// receives one line per phase and state change; nil discards.
func AWSDrill(ctx context.Context, cfg Config, clients Clients, progress io.Writer) (rep *Report, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clients.SSM == nil || clients.Route53 == nil {
		return nil, errors.New("awsdrill: SSM and Route 53 clients are required")
	}
	if progress == nil {
		progress = io.Discard
	}
	dep := cfg.Deployment
	d := &run{cfg: cfg, c: clients, out: progress, start: time.Now(), rep: &Report{
		Scenario: Scenario, Domain: dep.Domain, PrimaryRegion: dep.PrimaryRegion, SecondaryRegion: dep.SecondaryRegion,
		Timeline: []Phase{}, PollIntervalS: cfg.PollInterval.Seconds(),
	}}
	if err := d.preflight(ctx); err != nil {
		return nil, err
	}
	defer func() {
		// Every way out restores the switch, cancellation included.
		if rerr := d.restore(ctx); rerr != nil {
			rep, err = nil, errors.Join(err, rerr)
		}
	}()
	if err := d.failover(ctx); err != nil {
		return nil, err
	}
	if err := d.restore(ctx); err != nil {
		return nil, err
	}
	if err := d.failback(ctx); err != nil {
		return nil, err
	}
	d.finish()
	return d.rep, nil
}

func (d *run) phaseAt(at time.Time, format string, args ...any) {
	off := at.Sub(d.start)
	name := fmt.Sprintf(format, args...)
	d.rep.Timeline = append(d.rep.Timeline, Phase{Name: name, AtS: off.Seconds()})
	fmt.Fprintf(d.out, "[%8.3fs] %s\n", off.Seconds(), name)
}

func (d *run) phase(format string, args ...any) { d.phaseAt(time.Now(), format, args...) }

func (d *run) bound() (detection, rto time.Duration) {
	detection = time.Duration(d.threshold) * d.interval
	return detection, detection + d.ttl
}

// preflight learns the deployment from Route 53 and refuses to start unless both
// health checks are healthy, the switch is off and the domain answers PRIMARY.
func (d *run) preflight(ctx context.Context) error {
	dep := d.cfg.Deployment
	d.phase("preflight: %s fails over from %s to %s", dep.Domain, dep.PrimaryRegion, dep.SecondaryRegion)
	if err := d.findZone(ctx); err != nil {
		return err
	}
	if err := d.findRecords(ctx); err != nil {
		return err
	}
	if err := d.readSettings(ctx); err != nil {
		return err
	}
	var problems []string
	for _, hc := range []struct{ role, id string }{{spec.RolePrimary, dep.PrimaryHealthCheckID}, {spec.RoleSecondary, dep.SecondaryHealthCheckID}} {
		h, err := d.health(ctx, hc.id, time.Time{})
		if err != nil {
			return fmt.Errorf("%w: %s health check: %w", ErrPreflight, hc.role, err)
		}
		if !h.healthy() {
			problems = append(problems, fmt.Sprintf("the %s health check %s is unhealthy: %s", hc.role, hc.id, h))
		}
	}
	out, err := d.c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(dep.ForceFailParameter)})
	if err != nil {
		return fmt.Errorf("%w: read the force-fail switch %s in %s: %w", ErrPreflight, dep.ForceFailParameter, dep.PrimaryRegion, err)
	}
	if out == nil || out.Parameter == nil {
		return fmt.Errorf("%w: the force-fail switch %s has no value", ErrPreflight, dep.ForceFailParameter)
	}
	if v := strings.TrimSpace(aws.ToString(out.Parameter.Value)); !strings.EqualFold(v, "false") {
		problems = append(problems, fmt.Sprintf("the force-fail switch %s is %q, not \"false\" (an unfinished drill? set it to false first)",
			dep.ForceFailParameter, v))
	}
	role, data, err := d.answer(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPreflight, err)
	}
	if role != spec.FailoverPrimary {
		problems = append(problems, fmt.Sprintf("%s answers %s, not the PRIMARY record", dep.Domain, describe(role, data)))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: the deployment is not healthy, refusing to start:\n  %s", ErrPreflight, strings.Join(problems, "\n  "))
	}
	det, rto := d.bound()
	d.phase("preflight passed: both health checks healthy, %s answers PRIMARY; interval %s x threshold %d, TTL %s (detection bound %s, RTO bound %s)",
		dep.Domain, d.interval, d.threshold, d.ttl, det, rto)
	return nil
}

// findZone resolves the public hosted zone holding the domain: the nearest enclosing
// zone by name (the stacks put the records in a parent zone).
func (d *run) findZone(ctx context.Context) error {
	if d.cfg.HostedZoneID != "" {
		d.zoneID = strings.TrimPrefix(d.cfg.HostedZoneID, "/hostedzone/")
		return nil
	}
	labels := strings.Split(d.cfg.Deployment.Domain, ".")
	for i := 1; i < len(labels)-1; i++ {
		name := strings.Join(labels[i:], ".")
		out, err := d.c.Route53.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(name), MaxItems: aws.Int32(100)})
		if err != nil {
			return fmt.Errorf("%w: look up the hosted zone %s: %w", ErrPreflight, name, err)
		}
		var ids []string
		for _, z := range out.HostedZones {
			if normalise(aws.ToString(z.Name)) != name {
				break // sorted by name: past it
			}
			if z.Config == nil || !z.Config.PrivateZone {
				ids = append(ids, strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/"))
			}
		}
		switch len(ids) {
		case 0:
			continue
		case 1:
			d.zoneID = ids[0]
			return nil
		default:
			return fmt.Errorf("%w: %d public hosted zones are named %s (%s): pass --hosted-zone-id", ErrPreflight, len(ids), name, strings.Join(ids, ", "))
		}
	}
	return fmt.Errorf("%w: no public hosted zone encloses %s: pass --hosted-zone-id", ErrPreflight, d.cfg.Deployment.Domain)
}

// findRecords reads the domain's failover pair and checks it uses the stacks' health
// checks; the record values tell which record TestDNSAnswer returns.
func (d *run) findRecords(ctx context.Context) error {
	dep := d.cfg.Deployment
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(d.zoneID), StartRecordName: aws.String(dep.Domain)}
	byRole := map[string]r53types.ResourceRecordSet{}
	for page := 0; ; page++ {
		out, err := d.c.Route53.ListResourceRecordSets(ctx, in)
		if err != nil {
			return fmt.Errorf("%w: list the records of %s in hosted zone %s: %w", ErrPreflight, dep.Domain, d.zoneID, err)
		}
		past := false
		for _, rs := range out.ResourceRecordSets {
			if normalise(aws.ToString(rs.Name)) != dep.Domain {
				past = len(byRole) > 0 || past
				continue
			}
			if rs.Failover == "" {
				continue
			}
			if _, dup := byRole[string(rs.Failover)]; dup {
				return fmt.Errorf("%w: %s has more than one %s failover record (type %s); the drill handles one pair", ErrPreflight, dep.Domain, rs.Failover, rs.Type)
			}
			byRole[string(rs.Failover)] = rs
		}
		if past || !out.IsTruncated || page > 10 {
			break
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
	p, okP := byRole[spec.FailoverPrimary]
	s, okS := byRole[spec.FailoverSecondary]
	if !okP || !okS {
		return fmt.Errorf("%w: hosted zone %s has no PRIMARY/SECONDARY failover records for %s: is the secondary stack deployed?", ErrPreflight, d.zoneID, dep.Domain)
	}
	switch {
	case p.AliasTarget != nil || s.AliasTarget != nil:
		return fmt.Errorf("%w: the failover records for %s are aliases; the drill expects the stacks' CNAME records", ErrPreflight, dep.Domain)
	case p.Type != s.Type:
		return fmt.Errorf("%w: the failover records for %s differ in type (%s, %s)", ErrPreflight, dep.Domain, p.Type, s.Type)
	case aws.ToString(p.HealthCheckId) != dep.PrimaryHealthCheckID:
		return fmt.Errorf("%w: the PRIMARY record for %s uses health check %q, the stack outputs say %s: outputs from another deployment?",
			ErrPreflight, dep.Domain, aws.ToString(p.HealthCheckId), dep.PrimaryHealthCheckID)
	case s.HealthCheckId != nil && *s.HealthCheckId != dep.SecondaryHealthCheckID:
		return fmt.Errorf("%w: the SECONDARY record for %s uses health check %q, the stack outputs say %s: outputs from another deployment?",
			ErrPreflight, dep.Domain, *s.HealthCheckId, dep.SecondaryHealthCheckID)
	}
	d.recordType = p.Type
	d.roleOf = map[string]string{}
	for role, rs := range map[string]r53types.ResourceRecordSet{spec.FailoverPrimary: p, spec.FailoverSecondary: s} {
		for _, rr := range rs.ResourceRecords {
			d.roleOf[normalise(aws.ToString(rr.Value))] = role
		}
	}
	if d.ttl = d.cfg.TTL; d.ttl == 0 {
		d.ttl = time.Duration(aws.ToInt64(p.TTL)) * time.Second
	}
	return nil
}

// readSettings reads the primary health check's interval and threshold for the bound.
func (d *run) readSettings(ctx context.Context) error {
	d.interval, d.threshold = d.cfg.HealthInterval, d.cfg.FailureThreshold
	if d.interval != 0 && d.threshold != 0 {
		return nil
	}
	id := d.cfg.Deployment.PrimaryHealthCheckID
	out, err := d.c.Route53.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return fmt.Errorf("%w: read the primary health check %s: %w", ErrPreflight, id, err)
	}
	cfg := &r53types.HealthCheckConfig{}
	if out.HealthCheck != nil && out.HealthCheck.HealthCheckConfig != nil {
		cfg = out.HealthCheck.HealthCheckConfig
	}
	if d.interval == 0 {
		d.interval = time.Duration(aws.ToInt32(cfg.RequestInterval)) * time.Second
		if d.interval == 0 {
			d.interval = 30 * time.Second // Route 53's default
		}
	}
	if d.threshold == 0 {
		if d.threshold = int(aws.ToInt32(cfg.FailureThreshold)); d.threshold == 0 {
			d.threshold = 3 // Route 53's default
		}
	}
	return nil
}

// health is one health check's per-checker observations.
type health struct {
	total, ok    int
	firstFailure time.Time // earliest failure observed at or after the cut-off
	failureWhere string
	firstSuccess time.Time // earliest success observed at or after the cut-off
	example      string
}

// healthy applies Route 53's rule: healthy while more than 18% of the checkers report
// success; a check without observations counts as healthy, as a new one does.
func (h health) healthy() bool { return h.total == 0 || h.ok*100 > 18*h.total }

func (h health) String() string {
	s := fmt.Sprintf("%d of %d checkers report failure", h.total-h.ok, h.total)
	if h.example != "" {
		s += " (e.g. " + h.example + ")"
	}
	return s
}

// health reads a check's observations; failures and successes checked before since are
// not counted as first ones (they predate what the caller is waiting for).
func (d *run) health(ctx context.Context, id string, since time.Time) (health, error) {
	out, err := d.c.Route53.GetHealthCheckStatus(ctx, &route53.GetHealthCheckStatusInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return health{}, fmt.Errorf("health check status %s: %w", id, err)
	}
	var h health
	for _, o := range out.HealthCheckObservations {
		if o.StatusReport == nil {
			continue
		}
		h.total++
		status := aws.ToString(o.StatusReport.Status)
		at := aws.ToTime(o.StatusReport.CheckedTime)
		if strings.HasPrefix(status, "Success") {
			h.ok++
			if !at.Before(since) && (h.firstSuccess.IsZero() || at.Before(h.firstSuccess)) {
				h.firstSuccess = at
			}
			continue
		}
		if h.example == "" {
			h.example = string(o.Region) + ": " + status
		}
		if !at.IsZero() && !at.Before(since) && (h.firstFailure.IsZero() || at.Before(h.firstFailure)) {
			h.firstFailure, h.failureWhere = at, string(o.Region)+": "+status
		}
	}
	return h, nil
}

// answer asks Route 53 what the domain answers and which failover record that is ("" if
// neither).
func (d *run) answer(ctx context.Context) (role string, data []string, err error) {
	out, err := d.c.Route53.TestDNSAnswer(ctx, &route53.TestDNSAnswerInput{HostedZoneId: aws.String(d.zoneID),
		RecordName: aws.String(d.cfg.Deployment.Domain), RecordType: d.recordType})
	if err != nil {
		return "", nil, fmt.Errorf("test the DNS answer for %s: %w", d.cfg.Deployment.Domain, err)
	}
	if code := aws.ToString(out.ResponseCode); code != "NOERROR" {
		return "", []string{code}, nil
	}
	for _, v := range out.RecordData {
		r := d.roleOf[normalise(v)]
		if r == "" || (role != "" && r != role) {
			return "", out.RecordData, nil
		}
		role = r
	}
	return role, out.RecordData, nil
}

func describe(role string, data []string) string {
	if len(data) == 0 {
		return "nothing"
	}
	v := strings.Join(data, ",")
	if role == "" {
		return v + " (neither failover record)"
	}
	return role + " (" + v + ")"
}

// watch polls until poll reports done or the limit passes (false, nil).
func (d *run) watch(ctx context.Context, limit time.Duration, poll func(ctx context.Context) (bool, error)) (bool, error) {
	deadline := time.Now().Add(limit)
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		done, err := poll(ctx)
		if err != nil {
			return false, err
		}
		if done {
			return true, nil
		}
		if !time.Now().Before(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("drill interrupted: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}

func (d *run) waitLimit() time.Duration {
	if d.cfg.WaitLimit > 0 {
		return d.cfg.WaitLimit
	}
	_, rto := d.bound()
	return 3*rto + time.Minute
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// failover turns the switch on and waits for the domain to answer SECONDARY.
func (d *run) failover(ctx context.Context) error {
	dep := d.cfg.Deployment
	// Set before the call: a write that succeeded but whose response was lost must be
	// undone too.
	d.switchOn = true
	if _, err := d.c.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(dep.ForceFailParameter),
		Value: aws.String("true"), Overwrite: aws.Bool(true)}); err != nil {
		return fmt.Errorf("turn the force-fail switch %s on: %w", dep.ForceFailParameter, err)
	}
	fault := time.Now()
	d.phaseAt(fault, "fault injected: force-fail switch %s on in %s", dep.ForceFailParameter, dep.PrimaryRegion)
	var unhealthy bool
	var detected time.Time
	last := ""
	switched, err := d.watch(ctx, d.waitLimit(), func(ctx context.Context) (bool, error) {
		h, err := d.health(ctx, dep.PrimaryHealthCheckID, fault)
		if err != nil {
			return false, err
		}
		if detected.IsZero() && !h.firstFailure.IsZero() {
			detected = h.firstFailure
			d.rep.DetectionS = seconds(detected.Sub(fault))
			d.phaseAt(detected, "first failed check (%s)", h.failureWhere)
		}
		if !unhealthy && !h.healthy() {
			unhealthy = true
			d.rep.UnhealthyS = seconds(time.Since(fault))
			d.phase("primary health check unhealthy: %s", h)
		}
		role, data, err := d.answer(ctx)
		if err != nil {
			return false, err
		}
		if role == spec.FailoverSecondary {
			d.rep.SwitchS = seconds(time.Since(fault))
			d.phase("DNS switch: %s answers %s", dep.Domain, describe(role, data))
			return true, nil
		}
		if s := fmt.Sprintf("primary: %s; %s answers %s", h, dep.Domain, describe(role, data)); s != last {
			last = s
			fmt.Fprintf(d.out, "[%8.3fs]   %s\n", time.Since(d.start).Seconds(), s)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if !switched {
		d.rep.Failure = fmt.Sprintf("%s did not switch to SECONDARY within %s of the fault", dep.Domain, d.waitLimit())
		d.phase("gave up waiting for the DNS switch")
	}
	return nil
}

// restore turns the switch off on a fresh context, retrying a few times; it is a no-op
// once done or when the switch was never touched.
func (d *run) restore(ctx context.Context) error {
	if !d.switchOn {
		return nil
	}
	dep := d.cfg.Deployment
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.RestoreTimeout)
	defer cancel()
	var err error
retry:
	for attempt := 1; attempt <= 5; attempt++ {
		_, err = d.c.SSM.PutParameter(rctx, &ssm.PutParameterInput{Name: aws.String(dep.ForceFailParameter),
			Value: aws.String("false"), Overwrite: aws.Bool(true)})
		if err == nil {
			d.switchOn, d.rep.SwitchRestored = false, true
			d.phase("restored: force-fail switch %s off", dep.ForceFailParameter)
			return nil
		}
		select {
		case <-rctx.Done():
			break retry
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
	// Give up here; the caller reports it and must not retry for as long again.
	d.switchOn = false
	fmt.Fprintf(d.out, "!! the force-fail switch is still on: aws ssm put-parameter --region %s --name %s --value false --overwrite\n",
		dep.PrimaryRegion, dep.ForceFailParameter)
	return fmt.Errorf("%w: restore it by hand with `aws ssm put-parameter --region %s --name %s --value false --overwrite`: %w",
		ErrNotRestored, dep.PrimaryRegion, dep.ForceFailParameter, err)
}

// failback waits for the primary to be healthy and the domain to answer PRIMARY again.
func (d *run) failback(ctx context.Context) error {
	dep := d.cfg.Deployment
	restored := time.Now()
	var recovered, healthy bool
	back, err := d.watch(ctx, d.waitLimit(), func(ctx context.Context) (bool, error) {
		h, err := d.health(ctx, dep.PrimaryHealthCheckID, restored)
		if err != nil {
			return false, err
		}
		if !recovered && !h.firstSuccess.IsZero() {
			recovered = true
			d.phaseAt(h.firstSuccess, "first successful check after the restore")
		}
		if !healthy && h.healthy() {
			healthy = true
			d.phase("primary health check healthy again")
		}
		role, data, err := d.answer(ctx)
		if err != nil {
			return false, err
		}
		if role == spec.FailoverPrimary {
			d.rep.FailbackS = seconds(time.Since(restored))
			d.phase("failback: %s answers %s", dep.Domain, describe(role, data))
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	d.rep.FailedBack = back
	if !back {
		msg := fmt.Sprintf("%s did not fail back to PRIMARY within %s of the restore", dep.Domain, d.waitLimit())
		d.rep.Failure = strings.TrimPrefix(d.rep.Failure+"; "+msg, "; ")
		d.phase("gave up waiting for the failback")
	}
	return nil
}

func (d *run) finish() {
	r := d.rep
	det, rto := d.bound()
	r.HealthCheckIntervalS, r.FailureThreshold, r.TTLS = d.interval.Seconds(), d.threshold, d.ttl.Seconds()
	r.DetectionBoundS, r.RTOBoundS = det.Seconds(), rto.Seconds()
	r.RTOP50S, r.RTOP99S = r.SwitchS, r.SwitchS
	r.WithinBound = r.SwitchS != nil && *r.SwitchS <= r.RTOBoundS
	// Observations carry AWS's clock, so the first failure can sort before a poll.
	slices.SortStableFunc(r.Timeline, func(a, b Phase) int { return cmp.Compare(a.AtS, b.AtS) })
	r.Passed = r.Failure == "" && r.SwitchS != nil && r.SwitchRestored && r.FailedBack
}
