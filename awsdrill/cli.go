package awsdrill

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Exit codes, as `iotdr drill` uses them.
const (
	ExitOK     = 0 // the drill ran and passed
	ExitFailed = 1 // it ran and failed, or broke the RTO budget
	ExitError  = 2 // it could not run (bad input, preflight, no --yes, API errors)
)

// Usage explains the flags.
const Usage = `usage: iotdr drill --aws --stack-outputs FILE [--stack-outputs FILE] --yes [flags]

Fails the primary Region over for real: turns the primary health probe's force-fail
switch on, waits until Route 53 answers the custom domain with the secondary, turns the
switch off (always, also on error or Ctrl-C) and waits for the failback.

Stack outputs: the JSON of ` + "`pulumi stack output --json`" + ` for the primary and the secondary
stack, as two files (--stack-outputs twice) or one file {"primary": {...}, "secondary": {...}}.
Credentials: the default AWS chain (--profile to pick a profile); SSM calls go to the
primary Region.

flags:
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// ParseFlags parses the drill's flags (a leading or embedded --aws is accepted) and
// loads the stack outputs they name.
func ParseFlags(args []string) (Config, error) { return parseFlags(args, io.Discard) }

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("iotdr drill --aws", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), Usage)
		fs.PrintDefaults()
	}
	var (
		cfg     Config
		outputs stringList
	)
	fs.Bool("aws", true, "drill against a real deployment (this mode)")
	fs.Var(&outputs, "stack-outputs", "`FILE` with `pulumi stack output --json` of a stack, or both merged (repeat for two files)")
	fs.BoolVar(&cfg.Yes, "yes", false, "confirm: fail the production domain over and back")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", 5*time.Second, "how often to read the health check status and the DNS answer")
	fs.DurationVar(&cfg.WaitLimit, "wait", 0, "give up waiting for the switch, and for the failback, after this long (0: 3 x RTO bound + 1m)")
	fs.DurationVar(&cfg.MaxRTO, "max-rto", 0, "exit 1 when the DNS switch takes longer than this (0: no budget)")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Minute, "abort the whole drill (restoring the switch) after this long")
	fs.StringVar(&cfg.HostedZoneID, "hosted-zone-id", "", "Route 53 hosted zone with the failover records (default: looked up from the domain)")
	fs.StringVar(&cfg.Profile, "profile", "", "AWS shared config profile")
	fs.StringVar(&cfg.EndpointURL, "endpoint-url", "", "send the Route 53 and SSM calls to this URL (the aws_endpoint_url of `iotdr sim`)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as one JSON object")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.PollInterval <= 0 {
		return Config{}, fmt.Errorf("--poll-interval must be positive, got %s", cfg.PollInterval)
	}
	if cfg.Timeout <= 0 {
		return Config{}, fmt.Errorf("--timeout must be positive, got %s", cfg.Timeout)
	}
	if u := cfg.EndpointURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return Config{}, fmt.Errorf("--endpoint-url %q: want an http:// or https:// URL", u)
	}
	dep, err := LoadOutputs(outputs...)
	if err != nil {
		return Config{}, err
	}
	cfg.Deployment = dep
	return cfg, nil
}

// NewClients builds real SSM (in the primary Region) and Route 53 clients from the
// default credential chain, failing early when there are no credentials.
func NewClients(ctx context.Context, cfg Config) (Clients, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Deployment.PrimaryRegion)}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Clients{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return Clients{}, fmt.Errorf("no usable AWS credentials (configure the default chain or pass --profile): %w", err)
	}
	// Route 53 is global; the SDK maps any Region of the partition to its endpoint.
	var ssmOpts []func(*ssm.Options)
	var r53Opts []func(*route53.Options)
	if u := cfg.EndpointURL; u != "" {
		ssmOpts = append(ssmOpts, func(o *ssm.Options) { o.BaseEndpoint = aws.String(u) })
		r53Opts = append(r53Opts, func(o *route53.Options) { o.BaseEndpoint = aws.String(u) })
	}
	return Clients{SSM: ssm.NewFromConfig(awsCfg, ssmOpts...), Route53: route53.NewFromConfig(awsCfg, r53Opts...)}, nil
}

// Run is `iotdr drill --aws`: args are the drill command's arguments (--aws among
// them or not). It prints progress on stderr and the report on stdout, and returns the
// exit code. SIGINT and SIGTERM cancel the drill, which restores the switch first.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runCLI(ctx, args, stdout, stderr, NewClients)
}

func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer, newClients func(context.Context, Config) (Clients, error)) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "iotdr drill --aws: %v\n", err)
		return ExitError
	}
	// Refuse before loading credentials.
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "iotdr drill --aws: %v\n", err)
		return ExitError
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	clients, err := newClients(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "iotdr drill --aws: %v\n", err)
		return ExitError
	}
	rep, err := AWSDrill(ctx, cfg, clients, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "iotdr drill --aws: %v\n", err)
		return ExitError
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "iotdr drill --aws: %v\n", err)
			return ExitError
		}
	} else {
		PrintReport(stdout, rep)
	}
	if !rep.Passed {
		return ExitFailed
	}
	if err := CheckBudget(rep, cfg.MaxRTO); err != nil {
		fmt.Fprintf(stderr, "iotdr drill --aws: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}

// PrintReport writes the report as text: verdict, timeline, then the measurements
// against their bounds.
func PrintReport(w io.Writer, r *Report) {
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED: " + r.Failure
	}
	fmt.Fprintf(w, "iot-dr drill %q on %s (%s -> %s): %s\n\n", r.Scenario, r.Domain, r.PrimaryRegion, r.SecondaryRegion, verdict)
	fmt.Fprintln(w, "Timeline")
	for _, p := range r.Timeline {
		fmt.Fprintf(w, "  %8.3fs  %s\n", p.AtS, p.Name)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Failover (from the fault)")
	fmt.Fprintf(tw, "  health check\t%gs interval x %d failures, record TTL %gs\n", r.HealthCheckIntervalS, r.FailureThreshold, r.TTLS)
	fmt.Fprintf(tw, "  first failed check\t%s\t(bound %.1fs: interval x threshold)\n", secs(r.DetectionS), r.DetectionBoundS)
	fmt.Fprintf(tw, "  health check unhealthy\t%s\n", secs(r.UnhealthyS))
	within := "over the bound"
	if r.WithinBound {
		within = "within the bound"
	}
	fmt.Fprintf(tw, "  DNS switch (RTO)\t%s\t(bound %.1fs: interval x threshold + TTL; %s)\n", secs(r.SwitchS), r.RTOBoundS, within)
	fmt.Fprintln(tw, "Failback (from the restore)")
	fmt.Fprintf(tw, "  force-fail switch restored\t%t\n", r.SwitchRestored)
	fmt.Fprintf(tw, "  DNS back to PRIMARY\t%s\n", secs(r.FailbackS))
	tw.Flush()
	fmt.Fprintf(w, "\nTimes from polls are accurate to the poll interval (%gs). No device fleet is driven, so no RPO is measured.\n", r.PollIntervalS)
}

func secs(v *float64) string {
	if v == nil {
		return "not observed"
	}
	return fmt.Sprintf("%.1fs", *v)
}
