package deploy

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
	route53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// configNamespace is the namespace of every iot-dr setting (`pulumi config set iotdr:<key>`).
const configNamespace = "iotdr"

// Config is what both stacks are built from: NewPrimary and NewSecondary take it in
// their args, LoadConfig reads it from the stack's Pulumi config. Each field names
// the config key it is read from; start from DefaultConfig and set the required ones
// (PrimaryRegion, SecondaryRegion, Domain, HostedZoneID, ProbeSecret).
type Config struct {
	Prefix          string // iotdr:prefix, physical-name prefix of named resources
	PrimaryRegion   string // iotdr:primaryRegion
	SecondaryRegion string // iotdr:secondaryRegion
	Domain          string // iotdr:domain, device-facing custom domain, e.g. iot.example.com
	HostedZoneID    string // iotdr:hostedZoneId, Route 53 public zone that holds Domain
	CertificateARN  string // iotdr:certificateArn, optional ACM certificate for Domain in the stack's Region

	// ProbeSecret (iotdr:probeSecret) is the health probe's shared secret. It is only
	// ever handed to resources as a secret output, so it stays encrypted in state.
	ProbeSecret string

	ProbeMessages    int           // iotdr:probeMessages
	ProbeTimeout     time.Duration // iotdr:probeTimeoutMs
	HealthInterval   int           // iotdr:healthCheckInterval, Route 53 request interval: 10 or 30 seconds
	HealthThreshold  int           // iotdr:healthCheckFailureThreshold, 1-10
	HealthRegions    []string      // iotdr:healthCheckRegions, Route 53 checker Regions; empty means Route 53's default set
	RecordTTL        int           // iotdr:recordTtl
	Retry            spec.Retry    // iotdr:retry*, the re-check and sweep machines' Task retry policy
	RecheckSeconds   int           // iotdr:recheckSeconds
	RecheckCount     int           // iotdr:recheckCount
	StreamBatchSize  int           // iotdr:streamBatchSize
	StreamMaxRetries int           // iotdr:streamMaxRetries
	SweepSchedule    string        // iotdr:sweepSchedule, EventBridge expression starting the sweep state machine
	RedriveSchedule  string        // iotdr:redriveSchedule, EventBridge expression invoking the redrive function
	LogRetentionDays int           // iotdr:logRetentionDays
	StateMachineLog  string        // iotdr:stateMachineLogLevel, ALL, ERROR, FATAL or OFF
	MetricNamespace  string        // iotdr:metricNamespace
	LagAlarmMS       int           // iotdr:lagAlarmThresholdMs, replication lag and stream iterator age that raise an alarm
	AlarmTopicARN    string        // iotdr:alarmTopicArn

	// OnboardingRoles (iotdr:onboardingRoles, comma-separated) are the IAM roles the
	// apply may pass (iam:PassRole) when it creates or updates a role alias or a
	// provisioning template naming them: role names, with their path, each exact or a
	// prefix ending in "*" (iot-provisioning, iot-credentials-*). Empty: no role may
	// be passed, and such applies fail with AccessDenied in the error table.
	OnboardingRoles []string

	// ReplaceHealthCheck (iotdr:replaceHealthCheck) allows a change of HealthInterval
	// on the primary, which replaces its health check (see NewPrimary).
	ReplaceHealthCheck bool
}

// StackConfig is a stack's whole Pulumi configuration: which component it deploys
// and the Config for it.
type StackConfig struct {
	Role         string // iotdr:role, primary or secondary (by default the stack name)
	PrimaryStack string // iotdr:primaryStack, fully qualified name of the primary stack (secondary only)
	Config
}

// settings is one stack's validated configuration. Everything the components deploy
// is derived from it.
type settings StackConfig

// Region returns the Region this stack deploys to.
func (s *settings) Region() string {
	if s.Role == spec.RolePrimary {
		return s.PrimaryRegion
	}
	return s.SecondaryRegion
}

// secret returns the probe secret as a secret output: Pulumi encrypts it in state and
// masks it in the CLI's display.
func (s *settings) secret() pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(s.ProbeSecret)).(pulumi.StringOutput)
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$`)
	labelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	zoneRE   = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	secretRE = regexp.MustCompile(`^[A-Za-z0-9_~.-]{32,128}$`)
	rateRE   = regexp.MustCompile(`^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$`)
	cronRE   = regexp.MustCompile(`^cron\(([^()]+)\)$`)
)

// retiredKeys are settings of the replaced pipeline, with what to do instead.
var retiredKeys = map[string]string{
	"eventTtl": fmt.Sprintf("the state table keeps one item per resource and only delete tombstones expire, after %d days (remove the key)",
		int(spec.TombstoneRetention.Hours()/24)),
	"reconcileSchedule": "the reconciler is gone: set iotdr:sweepSchedule (full capture sweep) and iotdr:redriveSchedule (error-table re-drive)",
}

// validSchedule accepts the EventBridge schedule expressions EventBridge itself accepts:
// rate(N unit) with a singular unit for 1 and a plural one otherwise (EventBridge
// refuses "rate(1 minutes)" and "rate(5 minute)"), or cron(...) with six fields.
func validSchedule(expr string) error {
	if m := rateRE.FindStringSubmatch(expr); m != nil {
		if plural := strings.HasSuffix(m[2], "s"); (m[1] == "1") == plural {
			return fmt.Errorf("%q: EventBridge wants a singular unit for 1 and a plural one otherwise (rate(1 hour), rate(5 minutes))", expr)
		}
		return nil
	}
	if m := cronRE.FindStringSubmatch(expr); m != nil {
		if n := len(strings.Fields(m[1])); n != 6 {
			return fmt.Errorf("%q: an EventBridge cron expression has 6 fields (minutes hours day-of-month month day-of-week year), got %d", expr, n)
		}
		return nil
	}
	return fmt.Errorf("must be an EventBridge rate(...) or cron(...) expression such as rate(1 hour), got %q", expr)
}

// logRetentionDays are the retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// configSource is where settings come from: Pulumi config in a deployment and in tests
// (the mock runtime reads PULUMI_CONFIG too).
type configSource interface {
	Get(key string) string
	// IsSecret reports whether key was stored encrypted (`pulumi config set --secret`).
	IsSecret(key string) bool
}

// pulumiConfig reads the iotdr namespace of the stack's Pulumi config.
type pulumiConfig struct {
	cfg *config.Config
	ctx *pulumi.Context
}

func (c pulumiConfig) Get(key string) string { return c.cfg.Get(key) }

func (c pulumiConfig) IsSecret(key string) bool {
	return c.ctx.IsConfigSecret(configNamespace + ":" + key)
}

// LoadConfig reads and validates the stack's iotdr configuration. It reports every
// problem at once, each naming the key and what a valid value looks like.
func LoadConfig(ctx *pulumi.Context) (*StackConfig, error) {
	src := pulumiConfig{cfg: config.New(ctx, configNamespace), ctx: ctx}
	s, err := parseSettings(src, ctx.Stack(), ctx.Organization(), ctx.Project())
	return (*StackConfig)(s), err
}

// DefaultConfig is the Config with every optional setting at its default and the
// required ones empty.
func DefaultConfig() Config {
	p := parser{cfg: mapSource{}}
	return p.config()
}

func parseSettings(cfg configSource, stack, org, project string) (*settings, error) {
	p := parser{cfg: cfg}
	s := &settings{
		Role:         p.str("role", stack),
		PrimaryStack: p.str("primaryStack", org+"/"+project+"/"+spec.RolePrimary),
		Config:       p.config(),
	}
	// A plain-text value would sit readable in Pulumi.<stack>.yaml and in the state.
	if s.ProbeSecret != "" && !cfg.IsSecret("probeSecret") {
		p.fail("probeSecret", "is stored in plain text: set it with `pulumi config set --secret %s:probeSecret ...`", configNamespace)
	}
	// Settings of the replaced event-table pipeline: refused rather than ignored, so an
	// old stack file does not silently lose what its owner meant.
	for key, instead := range retiredKeys {
		if cfg.Get(key) != "" {
			p.fail(key, "is no longer used: %s", instead)
		}
	}
	s.validate(&p)
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("invalid stack configuration:\n  %w", errors.Join(p.errs...))
	}
	return s, nil
}

// check validates a stack built from args rather than from Pulumi config.
func (s *settings) check() error {
	p := parser{cfg: mapSource{}}
	s.validate(&p)
	if len(p.errs) > 0 {
		return fmt.Errorf("invalid %s configuration:\n  %w", s.Role, errors.Join(p.errs...))
	}
	return nil
}

// config reads every Config key, defaulting the optional ones; required ones that are
// missing are recorded as errors.
func (p *parser) config() Config {
	s := Config{
		Prefix:           p.str("prefix", spec.DefaultPrefix),
		PrimaryRegion:    p.str("primaryRegion", ""),
		SecondaryRegion:  p.str("secondaryRegion", ""),
		Domain:           strings.TrimSuffix(strings.ToLower(p.str("domain", "")), "."),
		HostedZoneID:     p.str("hostedZoneId", ""),
		CertificateARN:   p.str("certificateArn", ""),
		ProbeSecret:      p.str("probeSecret", ""),
		ProbeMessages:    p.integer("probeMessages", 3),
		HealthInterval:   p.integer("healthCheckInterval", 30),
		HealthThreshold:  p.integer("healthCheckFailureThreshold", 3),
		RecordTTL:        p.integer("recordTtl", 60),
		RecheckSeconds:   p.integer("recheckSeconds", spec.DefaultRecheckSeconds),
		RecheckCount:     p.integer("recheckCount", spec.DefaultRecheckCount),
		StreamBatchSize:  p.integer("streamBatchSize", 10),
		StreamMaxRetries: p.integer("streamMaxRetries", 5),
		SweepSchedule:    p.str("sweepSchedule", "rate(1 hour)"),
		RedriveSchedule:  p.str("redriveSchedule", "rate(5 minutes)"),
		LogRetentionDays: p.integer("logRetentionDays", 14),
		StateMachineLog:  p.str("stateMachineLogLevel", "ERROR"),
		MetricNamespace:  p.str("metricNamespace", spec.DefaultMetricNamespace),
		LagAlarmMS:       p.integer("lagAlarmThresholdMs", 60000),
		AlarmTopicARN:    p.str("alarmTopicArn", ""),
		ProbeTimeout:     time.Duration(p.integer("probeTimeoutMs", 1500)) * time.Millisecond,
		Retry: spec.Retry{
			IntervalSeconds: p.integer("retryIntervalSeconds", spec.DefaultRetry.IntervalSeconds),
			BackoffRate:     p.number("retryBackoffRate", spec.DefaultRetry.BackoffRate),
			MaxAttempts:     p.integer("retryMaxAttempts", spec.DefaultRetry.MaxAttempts),
		},
	}
	switch v := p.str("replaceHealthCheck", "false"); v {
	case "true":
		s.ReplaceHealthCheck = true
	case "false":
	default:
		p.fail("replaceHealthCheck", "must be true or false, got %q", v)
	}
	if v := p.str("onboardingRoles", ""); v != "" {
		for r := range strings.SplitSeq(v, ",") {
			s.OnboardingRoles = append(s.OnboardingRoles, strings.TrimSpace(r))
		}
	}
	if v := p.str("healthCheckRegions", ""); v != "" {
		for r := range strings.SplitSeq(v, ",") {
			s.HealthRegions = append(s.HealthRegions, strings.TrimSpace(r))
		}
	}
	return s
}

// validate checks the relations and formats that per-key parsing cannot.
func (s *settings) validate(p *parser) {
	for _, r := range []struct{ key, value, example string }{
		{"primaryRegion", s.PrimaryRegion, "us-east-1"},
		{"secondaryRegion", s.SecondaryRegion, "us-west-2"},
		{"domain", s.Domain, "iot.example.com"},
		{"hostedZoneId", s.HostedZoneID, "Z0123456789ABCDEFGHIJ"},
		{"probeSecret", s.ProbeSecret, "$(openssl rand -hex 32) --secret"},
	} {
		if r.value == "" {
			p.fail(r.key, "is required: pulumi config set %s:%s %s", configNamespace, r.key, r.example)
		}
	}
	for _, r := range []struct {
		key       string
		n, lo, hi int
	}{
		{"probeMessages", s.ProbeMessages, 1, 100},
		{"probeTimeoutMs", int(s.ProbeTimeout / time.Millisecond), 100, 1800},
		{"healthCheckInterval", s.HealthInterval, 1, 3600},
		{"healthCheckFailureThreshold", s.HealthThreshold, 1, 10},
		{"recordTtl", s.RecordTTL, 1, 60},
		{"recheckSeconds", s.RecheckSeconds, 1, 3600},
		{"recheckCount", s.RecheckCount, 0, 100},
		{"streamBatchSize", s.StreamBatchSize, 1, 1000},
		{"streamMaxRetries", s.StreamMaxRetries, 0, 10000},
		{"logRetentionDays", s.LogRetentionDays, 1, 3653},
		{"lagAlarmThresholdMs", s.LagAlarmMS, 1, 86400000},
		{"retryIntervalSeconds", s.Retry.IntervalSeconds, 1, 3600},
		{"retryMaxAttempts", s.Retry.MaxAttempts, 0, 100},
	} {
		within(p, r.key, r.n, r.lo, r.hi)
	}
	within(p, "retryBackoffRate", s.Retry.BackoffRate, 1, 10)
	if s.Role != spec.RolePrimary && s.Role != spec.RoleSecondary {
		p.fail("role", "must be %q or %q (it defaults to the stack name), got %q", spec.RolePrimary, spec.RoleSecondary, s.Role)
	}
	if !prefixRE.MatchString(s.Prefix) {
		p.fail("prefix", "must be 1-20 lowercase letters, digits or hyphens starting with a letter, got %q", s.Prefix)
	}
	for key, r := range map[string]string{"primaryRegion": s.PrimaryRegion, "secondaryRegion": s.SecondaryRegion} {
		switch {
		case r == "":
		case !regionRE.MatchString(r):
			p.fail(key, "%q is not an AWS Region name (like us-east-1)", r)
		case partitionOf(r) != partition:
			// Route 53 health checks publish their metrics in us-east-1 and fail over
			// records of the public DNS, both of the aws partition, and every ARN the
			// stacks write is of that partition: refused rather than half-working.
			p.fail(key, "%q is in the %s partition: iot-dr deploys to Regions of the %s partition only (Route 53 health checks and their us-east-1 metrics are there)", r, partitionOf(r), partition)
		}
	}
	if s.PrimaryRegion != "" && s.PrimaryRegion == s.SecondaryRegion {
		p.fail("secondaryRegion", "must differ from iotdr:primaryRegion (both are %q): a disaster-recovery pair needs two Regions", s.PrimaryRegion)
	}
	if s.Domain != "" {
		if err := validDomain(s.Domain); err != nil {
			p.fail("domain", "%v", err)
		}
	}
	if s.HostedZoneID != "" && !zoneRE.MatchString(s.HostedZoneID) {
		p.fail("hostedZoneId", "%q is not a Route 53 hosted zone id (like Z0123456789ABCDEFGHIJ)", s.HostedZoneID)
	}
	if s.CertificateARN != "" {
		if err := validCertificate(s.CertificateARN, s.Region()); err != nil {
			p.fail("certificateArn", "%v", err)
		}
	}
	if s.Role == spec.RoleSecondary && strings.Count(s.PrimaryStack, "/") != 2 {
		p.fail("primaryStack", "must be a fully qualified stack name <org>/<project>/<stack>, got %q", s.PrimaryStack)
	}
	// The secret travels in the health check's query string, so it must be URL-safe;
	// the length bound keeps it unguessable and inside Route 53's 255-character path.
	if s.ProbeSecret != "" && !secretRE.MatchString(s.ProbeSecret) {
		p.fail("probeSecret", "must be 32-128 characters from A-Z a-z 0-9 _ ~ . - (for example `openssl rand -hex 32`)")
	}
	if len(s.HealthRegions) > 0 && len(s.HealthRegions) < 3 {
		p.fail("healthCheckRegions", "Route 53 needs at least 3 checker Regions, got %d", len(s.HealthRegions))
	}
	checkers := route53types.HealthCheckRegion("").Values()
	for i, r := range s.HealthRegions {
		switch {
		case !slices.Contains(checkers, route53types.HealthCheckRegion(r)):
			p.fail("healthCheckRegions", "%q is not a Route 53 health-checker Region (they are %v)", r, checkers)
		case slices.Index(s.HealthRegions, r) < i:
			p.fail("healthCheckRegions", "lists %q twice", r)
		}
	}
	for key, expr := range map[string]string{"sweepSchedule": s.SweepSchedule, "redriveSchedule": s.RedriveSchedule} {
		if err := validSchedule(expr); err != nil {
			p.fail(key, "%v", err)
		}
	}
	if !slices.Contains(logRetentionDays, s.LogRetentionDays) {
		p.fail("logRetentionDays", "must be one of %v, got %d", logRetentionDays, s.LogRetentionDays)
	}
	if !slices.Contains([]string{"ALL", "ERROR", "FATAL", "OFF"}, s.StateMachineLog) {
		p.fail("stateMachineLogLevel", "must be ALL, ERROR, FATAL or OFF, got %q", s.StateMachineLog)
	}
	if s.AlarmTopicARN != "" {
		if a, err := awsarn.Parse(s.AlarmTopicARN); err != nil || a.Service != "sns" || a.Partition != partition {
			p.fail("alarmTopicArn", "%q is not an SNS topic ARN (arn:%s:sns:<region>:<account>:<topic>)", s.AlarmTopicARN, partition)
		}
	}
	for _, r := range s.OnboardingRoles {
		if err := validRoleName(r); err != nil {
			p.fail("onboardingRoles", "%v", err)
		}
	}
	if p.ok("healthCheckInterval") && s.HealthInterval != 10 && s.HealthInterval != 30 {
		p.fail("healthCheckInterval", "Route 53 supports a request interval of 10 or 30 seconds only, got %d", s.HealthInterval)
	}
}

// roleNameRE is an IAM role name with its path (IAM's characters), optionally a
// prefix ending in "*".
var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_/-]{1,512}\*?$`)

// validRoleName accepts one iotdr:onboardingRoles entry: a role name (with its path)
// or a name prefix, never a bare "*", which would let the apply hand IoT any role of
// the account.
func validRoleName(r string) error {
	switch {
	case r == "" || r == "*" || strings.Trim(r, "/*") == "":
		return fmt.Errorf("%q: name an IAM role (iot-provisioning) or a name prefix (iot-credentials-*), not every role", r)
	case strings.HasPrefix(r, "arn:"):
		return fmt.Errorf("%q: give the role's name (with its path), not its ARN: the stack names roles of its own account", r)
	case !roleNameRE.MatchString(r):
		return fmt.Errorf("%q is not an IAM role name (letters, digits and +=,.@_-/), optionally ending in *", r)
	}
	return nil
}

// partition is the one AWS partition iot-dr deploys to.
const partition = "aws"

// partitionOf names the AWS partition of a Region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.Contains(region, "-iso"):
		return "aws-iso"
	}
	return partition
}

// validCertificate accepts an ACM certificate ARN in the stack's own Region: an IoT
// domain configuration serves only a certificate from its Region's ACM.
func validCertificate(s, region string) error {
	a, err := awsarn.Parse(s)
	if err != nil || a.Service != "acm" || !strings.HasPrefix(a.Resource, "certificate/") || a.AccountID == "" {
		return fmt.Errorf("%q is not an ACM certificate ARN (arn:%s:acm:%s:<account>:certificate/<id>)", s, partition, region)
	}
	if a.Partition != partition {
		return fmt.Errorf("%q is in the %s partition, the stack's Region %s in %s", s, a.Partition, region, partition)
	}
	if region != "" && a.Region != region {
		return fmt.Errorf("%q is a certificate in %s, but this stack deploys to %s: an IoT domain configuration needs a certificate from its own Region's ACM (request or import one there)", s, a.Region, region)
	}
	return nil
}

// validDomain accepts a lowercase DNS name with at least three labels: the custom
// domain gets a CNAME, which cannot live at a zone apex.
func validDomain(d string) error {
	if len(d) > 253 {
		return fmt.Errorf("%q is longer than 253 characters", d)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 3 {
		return fmt.Errorf("%q must be a subdomain such as iot.example.com (a CNAME cannot sit at a zone apex)", d)
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return fmt.Errorf("%q is not a valid domain name: label %q must be 1-63 letters, digits or inner hyphens", d, l)
		}
	}
	if _, err := url.Parse("https://" + d); err != nil {
		return fmt.Errorf("%q is not a valid domain name: %w", d, err)
	}
	return nil
}

// mapSource is a config source of plain values.
type mapSource map[string]string

func (m mapSource) Get(key string) string { return m[key] }

func (m mapSource) IsSecret(string) bool { return false }

// parser reads keys and collects one error per bad key.
type parser struct {
	cfg  configSource
	errs []error
	bad  map[string]bool
}

func (p *parser) fail(key, format string, args ...any) {
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[key] = true
	p.errs = append(p.errs, fmt.Errorf("%s:%s %s", configNamespace, key, fmt.Sprintf(format, args...)))
}

func (p *parser) ok(key string) bool { return !p.bad[key] }

func (p *parser) str(key, def string) string {
	if v := strings.TrimSpace(p.cfg.Get(key)); v != "" {
		return v
	}
	return def
}

func (p *parser) integer(key string, def int) int {
	v := strings.TrimSpace(p.cfg.Get(key))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(key, "must be an integer, got %q", v)
	}
	return n
}

func (p *parser) number(key string, def float64) float64 {
	v := strings.TrimSpace(p.cfg.Get(key))
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		p.fail(key, "must be a number, got %q", v)
	}
	return f
}

// within fails key when it parsed but lies outside [lo, hi].
func within[N int | float64](p *parser, key string, n, lo, hi N) {
	if p.ok(key) && (n < lo || n > hi) {
		p.fail(key, "must be between %v and %v, got %v", lo, hi, n)
	}
}
