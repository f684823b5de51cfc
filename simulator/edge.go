package simulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/dns"
	"github.com/iot-dr/iot-dr/simulator/healthapi"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/route53"
)

// EdgeOptions configure failover: the probes, Route 53 and DNS.
type EdgeOptions struct {
	// Interval and FailureThreshold are the health checks' settings (AWS: 10 or 30 s,
	// 1-10); scaled drills use milliseconds.
	Interval         time.Duration
	FailureThreshold int
	// TTL is the failover records' TTL.
	TTL time.Duration
	// ProbeMessages and ProbeTimeout size one probe round trip. ProbeTimeout is wall
	// time and is not scaled with the interval: a probe's TLS handshake and round trip
	// cost the simulator's CPU, not AWS's, and take from tens of milliseconds to over a
	// second on a loaded two-core machine under the race detector. Every fault fails a probe fast (a refused or cut
	// connection, a 503 from the force-fail switch), so a generous timeout delays no
	// detection; a tight one turns a busy machine into failed health checks.
	ProbeMessages int
	ProbeTimeout  time.Duration
	// CatchUpMaxAge and CatchUpLinger are the probes' catch-up gate settings in wall
	// time (probe.Gate; the stacks deploy probe.DefaultCatchUpMaxAge and
	// DefaultCatchUpLinger in AWS time). Zero: one Interval and a tenth of it. The
	// gate's Hold is FailureThreshold x Interval, as in the stacks.
	CatchUpMaxAge, CatchUpLinger time.Duration
}

// DefaultProbeTimeout is EdgeOptions.ProbeTimeout's default.
const DefaultProbeTimeout = 3 * time.Second

func (o *EdgeOptions) defaults() {
	if o.Interval == 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.FailureThreshold == 0 {
		o.FailureThreshold = 3
	}
	if o.TTL == 0 {
		o.TTL = 100 * time.Millisecond
	}
	if o.ProbeMessages == 0 {
		o.ProbeMessages = 2
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.CatchUpMaxAge == 0 {
		o.CatchUpMaxAge = o.Interval
	}
	if o.CatchUpLinger == 0 {
		o.CatchUpLinger = o.Interval / 10
	}
}

// Edge is what sits in front of the Regions: each Region's probe behind its HTTP API,
// Route 53 health checks and failover records for the custom domain, and a DNS server.
type Edge struct {
	Checks map[string]*route53.HealthCheck
	APIs   map[string]*healthapi.Server
	Zone   *route53.Zone
	DNS    *dns.Server
	opts   EdgeOptions
	w      *World
	// forceFail is each Region's probe force-fail switch (the stacks' SSM parameter).
	forceFail map[string]*atomic.Bool
	secret    string
	// urls are the probes' URLs, secret included, as the health checks call them.
	urls map[string]string
}

// StartEdge deploys a probe in each Region (its own certificate with the spec's probe
// policy, registered in that Region only), starts the health checks and the failover
// zone with a DNS server. Close stops it.
func (w *World) StartEdge(ctx context.Context, o EdgeOptions) (e *Edge, err error) {
	o.defaults()
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	e = &Edge{Checks: map[string]*route53.HealthCheck{}, APIs: map[string]*healthapi.Server{}, opts: o, w: w,
		forceFail: map[string]*atomic.Bool{}, secret: hex.EncodeToString(secret), urls: map[string]string{}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	records := map[string]route53.Record{}
	for _, r := range []*Region{w.Primary, w.Secondary} {
		u, err := e.deployProbe(ctx, r)
		if err != nil {
			return nil, err
		}
		e.urls[r.Name] = u
		hc, err := route53.NewHealthCheck(route53.CheckConfig{Name: r.Name, URL: u, Interval: o.Interval,
			FailureThreshold: o.FailureThreshold, Timeout: checkTimeout(o.ProbeTimeout)}, checkerClient, route53.WithLogger(w.opts.Logger))
		if err != nil {
			return nil, fmt.Errorf("simulator: %s health check: %w", r.Name, err)
		}
		hc.Start(context.WithoutCancel(ctx))
		e.Checks[r.Name] = hc
		ip := PrimaryIP
		failover := "PRIMARY"
		if r == w.Secondary {
			ip, failover = SecondaryIP, "SECONDARY"
		}
		records[failover] = route53.Record{Name: w.opts.Domain, Type: "A", TTL: o.TTL, Failover: failover, Value: net.ParseIP(ip), Check: hc}
	}
	e.Zone = route53.NewZone(w.opts.Domain)
	if err := e.Zone.AddFailover(records["PRIMARY"], records["SECONDARY"]); err != nil {
		return nil, fmt.Errorf("simulator: failover records: %w", err)
	}
	if e.DNS, err = dns.NewServer(e.Zone.DNSSource(), w.opts.Logger, dns.WithTTLUnit(TTLUnit)); err != nil {
		return nil, fmt.Errorf("simulator: DNS server: %w", err)
	}
	return e, nil
}

// checkTimeout gives a health check time for the probe's own timeout plus the HTTP API
// and Lambda in front of it, as the stacks keep the probe inside Route 53's budget.
func checkTimeout(probe time.Duration) time.Duration { return probe + probe/4 + 100*time.Millisecond }

// checkerClient opens a new connection per probe, as Route 53's checkers do, and so
// leaves no idle connection behind when the edge closes.
var checkerClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// TTLUnit is what one wire TTL unit means in the simulator's DNS, so that scaled drills
// can use sub-second TTLs; device resolvers must use the same unit.
const TTLUnit = 10 * time.Millisecond

// deployProbe registers the probe's certificate and policy in r, the probe Lambda in r's
// runtime and its HTTP API; it returns the URL a health check calls (secret included,
// as Route 53 health checks cannot send headers).
func (e *Edge) deployProbe(ctx context.Context, r *Region) (string, error) {
	doc, err := spec.ProbePolicy(r.Name, e.w.opts.AccountID)
	if err != nil {
		return "", err
	}
	if _, err := r.Registry.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(spec.ProbePolicyName), PolicyDocument: aws.String(doc)}); err != nil {
		return "", fmt.Errorf("simulator: %s probe policy: %w", r.Name, err)
	}
	dev, err := e.w.CA.IssueDevice("iotdr-probe-" + r.Name)
	if err != nil {
		return "", err
	}
	cert, err := r.Registry.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(string(dev.CertPEM)), Status: iottypes.CertificateStatusActive})
	if err != nil {
		return "", fmt.Errorf("simulator: %s probe certificate: %w", r.Name, err)
	}
	if _, err := r.Registry.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(spec.ProbePolicyName), Target: cert.CertificateArn}); err != nil {
		return "", fmt.Errorf("simulator: %s probe policy attach: %w", r.Name, err)
	}
	ff := &atomic.Bool{}
	e.forceFail[r.Name] = ff
	h := &probe.Handler{
		Secret:    probe.FixedSecret(e.secret),
		ForceFail: func(context.Context) (bool, error) { return ff.Load(), nil },
		Probe: &probe.Prober{Broker: "tls://" + r.Broker.Addr(), TLS: pki.ClientTLS(dev, e.w.CA.Pool(), e.w.opts.Domain),
			Messages: e.opts.ProbeMessages, Timeout: e.opts.ProbeTimeout},
		CatchUp: e.Gate(r),
		Logger:  e.w.opts.Logger,
	}
	if _, err := r.Lambda.Register(spec.FunctionHealthProbe, h.Handle, functionOptions(spec.FunctionHealthProbe)); err != nil {
		return "", fmt.Errorf("simulator: %s probe: %w", r.Name, err)
	}
	api := healthapi.New(func(ctx context.Context, p []byte) ([]byte, error) {
		return r.Lambda.Invoke(ctx, spec.FunctionHealthProbe, p)
	}, e.w.opts.Logger)
	base, err := api.Start()
	if err != nil {
		return "", fmt.Errorf("simulator: %s probe API: %w", r.Name, err)
	}
	e.APIs[r.Name] = api
	return base + spec.ProbePath + "?" + url.Values{spec.ProbeSecretQuery: {e.secret}}.Encode(), nil
}

// Gate is r's probe's catch-up gate, on r's mark table, as the stacks deploy it.
func (e *Edge) Gate(r *Region) *probe.Gate {
	return &probe.Gate{Table: r.Marks, Name: MarkTableName, Region: r.Name, MaxAge: e.opts.CatchUpMaxAge,
		Linger: e.opts.CatchUpLinger, Hold: time.Duration(e.opts.FailureThreshold) * e.opts.Interval}
}

// Probe calls region's probe as a health checker does and returns its answer: the
// HTTP status and the JSON body (status, reason, timings, the catch-up backlog).
func (e *Edge) Probe(ctx context.Context, region string) (int, []byte, error) {
	u, ok := e.urls[region]
	if !ok {
		return 0, nil, fmt.Errorf("simulator: no probe in Region %q", region)
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout(e.opts.ProbeTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := checkerClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // the URL carries the secret
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("simulator: %s probe: %w", region, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, body, err
}

// SetProbeFailing flips a Region's probe force-fail switch: the probe answers 503 while
// the broker is fine (the drill against real deployments uses the same switch).
func (e *Edge) SetProbeFailing(region string, failing bool) { e.forceFail[region].Store(failing) }

// ProbeFailing reports whether a Region's probe force-fail switch is on.
func (e *Edge) ProbeFailing(region string) bool { return e.forceFail[region].Load() }

// DetectionBound is how long the health checks need at most to notice an outage.
func (e *Edge) DetectionBound() time.Duration {
	for _, c := range e.Checks {
		return c.DetectionBound()
	}
	return 0
}

// Close stops the health checks, the APIs and the DNS server.
func (e *Edge) Close() error {
	var errs []error
	for _, c := range e.Checks {
		c.Stop()
	}
	for _, a := range e.APIs {
		errs = append(errs, a.Close())
	}
	if e.DNS != nil {
		errs = append(errs, e.DNS.Close())
	}
	return errors.Join(errs...)
}

// SetRegionDown is the Region-outage chaos verb: the broker drops every device and
// refuses new ones, the IoT APIs answer ServiceUnavailable, and replication to and from
// the Region stops (queued, not lost). down=false undoes it.
func (w *World) SetRegionDown(r *Region, down bool) {
	r.Broker.SetDown(down)
	r.Registry.SetAvailable(!down)
	r.Shadows.SetAvailable(!down)
	w.Replication.SetRegionDown(r.Name, down)
}
