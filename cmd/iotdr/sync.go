package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"golang.org/x/term"

	"github.com/iot-dr/iot-dr/fleetsync"
	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/spec"
)

const syncUsage = `usage: iotdr sync --from REGION --to REGION [flags]

Copies the primary's thing types, thing groups and things (type, attributes, group
memberships, certificates, policies with the Region rewritten, attachments, with
--shadows classic and named shadows, and with --retained the retained messages) to the
secondary, through the replication logic the
Lambdas run, paced by per-API rate limits at AWS's default quotas (--list-rates).
Idempotent: an interrupted sync is simply run again. Exit status: 0 when everything
converged, 1 when some resources failed, 2 when the sync could not run.

flags:
`

// fleetFlags are the flags sync and verify share: Regions, credentials, endpoints,
// pacing.
type fleetFlags struct {
	from, to, profile                   string
	endpoint, iotEndpoint, dataEndpoint string
	shadows, retained                   bool
	onboarding                          bool
	concurrency                         int
	rates                               fleetsync.Rates
}

// newFleetFlagSet returns the flag set of a fleet command (sync, verify), with the
// shared flags registered; -h prints usage and then the flags' defaults on stderr.
func newFleetFlagSet(name, usage string, stderr io.Writer) (*flag.FlagSet, *fleetFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	ff := &fleetFlags{}
	ff.register(fs)
	return fs, ff
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	f.rates = fleetsync.DefaultRatesCopy()
	fs.StringVar(&f.from, "from", "", "the primary (source) Region, e.g. us-east-1 (required)")
	fs.StringVar(&f.to, "to", "", "the secondary (target) Region, e.g. eu-west-1 (required)")
	fs.StringVar(&f.profile, "profile", "", "shared-config profile to use (default: the default credential chain)")
	fs.StringVar(&f.endpoint, "endpoint-url", "", "send every AWS call to this URL (an emulator such as moto_server)")
	fs.StringVar(&f.iotEndpoint, "iot-endpoint-url", "", "AWS IoT control-plane URL (overrides --endpoint-url)")
	fs.StringVar(&f.dataEndpoint, "iotdata-endpoint-url", "", "AWS IoT data-plane (shadow) URL (overrides --endpoint-url; default: DescribeEndpoint iot:Data-ATS)")
	fs.BoolVar(&f.shadows, "shadows", false, "include classic and named shadows")
	fs.BoolVar(&f.retained, "retained", false, "include retained messages (payload and QoS)")
	fs.BoolVar(&f.onboarding, "onboarding", true, "include role aliases, provisioning templates and CA certificates (false for an endpoint without their APIs, such as moto_server)")
	fs.IntVar(&f.concurrency, "concurrency", fleetsync.DefaultConcurrency, "resources handled at once")
	fs.Var(rateFlag{f.rates}, "rate", "override one API's rate limit, API=TPS (repeatable; see --list-rates)")
}

// fleetRegionRE accepts the shape of AWS Region names (us-east-1, eu-central-2,
// us-gov-west-1, cn-north-1, ap-southeast-5); a typo fails before any call.
var fleetRegionRE = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)

func (f *fleetFlags) validate() error {
	switch {
	case f.from == "" || f.to == "":
		return errors.New("--from and --to are required")
	case !fleetRegionRE.MatchString(f.from):
		return fmt.Errorf("--from %q is not an AWS Region (e.g. us-east-1)", f.from)
	case !fleetRegionRE.MatchString(f.to):
		return fmt.Errorf("--to %q is not an AWS Region (e.g. eu-west-1)", f.to)
	case f.from == f.to:
		return fmt.Errorf("--from and --to are both %s: they must be different Regions", f.from)
	case f.concurrency < 1:
		return fmt.Errorf("--concurrency %d: must be at least 1", f.concurrency)
	}
	for _, u := range []string{f.endpoint, f.iotEndpoint, f.dataEndpoint} {
		if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("endpoint %q: want an http:// or https:// URL", u)
		}
	}
	return nil
}

// rateFlag parses repeated --rate API=TPS into the rate table.
type rateFlag struct{ rates fleetsync.Rates }

func (r rateFlag) String() string     { return "" }
func (r rateFlag) Set(v string) error { return r.rates.Set(v) }

// fleetRegion is one Region's rate-limited clients.
type fleetRegion struct {
	ctl      *fleetsync.LimitedIoT
	data     *fleetsync.LimitedShadows  // nil unless shadows are needed
	retained *fleetsync.LimitedRetained // nil unless retained messages are needed
}

// regions returns the rate-limited clients of the source (--from) and target (--to)
// Regions, with data-plane clients when --shadows or --retained is set. The AWS configuration is
// loaded and the credentials retrieved once, for both Regions; it fails when either
// cannot be had, before any API call.
func (f *fleetFlags) regions(ctx context.Context) (src, tgt *fleetRegion, err error) {
	// The limiter retries (through its token bucket); SDK retries would bypass it.
	// The Regions' copies share the cached credentials.
	cfg, err := loadAWS(ctx, f.from, f.profile, true, config.WithRetryMaxAttempts(1))
	if err != nil {
		return nil, nil, err
	}
	if src, err = f.clients(ctx, cfg, f.from); err != nil {
		return nil, nil, err
	}
	if tgt, err = f.clients(ctx, cfg, f.to); err != nil {
		return nil, nil, err
	}
	return src, tgt, nil
}

// clients builds the rate-limited clients of region from a copy of cfg.
func (f *fleetFlags) clients(ctx context.Context, cfg aws.Config, region string) (*fleetRegion, error) {
	cfg = cfg.Copy()
	cfg.Region = region
	lim := fleetsync.NewLimiter(region, f.rates, fleetsync.DefaultRetry)
	ctlURL := firstNonEmpty(f.iotEndpoint, f.endpoint)
	ctl := iot.NewFromConfig(cfg, func(o *iot.Options) {
		if ctlURL != "" {
			o.BaseEndpoint = aws.String(ctlURL)
		}
	})
	r := &fleetRegion{ctl: &fleetsync.LimitedIoT{Next: ctl, Limiter: lim}}
	if !f.shadows && !f.retained {
		return r, nil
	}
	var data *iotdataplane.Client
	if dataURL := firstNonEmpty(f.dataEndpoint, f.endpoint); dataURL != "" {
		data = iotdataplane.NewFromConfig(cfg, func(o *iotdataplane.Options) { o.BaseEndpoint = aws.String(dataURL) })
	} else {
		// One unpaced DescribeEndpoint per Region and run.
		var err error
		if data, err = awsclients.DataPlane(ctx, cfg, ctl); err != nil {
			return nil, err
		}
	}
	if f.shadows {
		r.data = &fleetsync.LimitedShadows{Next: data, Limiter: lim}
	}
	if f.retained {
		r.retained = &fleetsync.LimitedRetained{Next: data, Limiter: lim}
	}
	return r, nil
}

// awsConfig loads the AWS configuration for region's DynamoDB calls (the SDK's own
// retries: these calls are not paced by the limiter).
func (f *fleetFlags) awsConfig(ctx context.Context, region string) (aws.Config, error) {
	return loadAWS(ctx, region, f.profile, false, config.WithRetryMaxAttempts(3))
}

// markTable returns the target's mark table, once it has read it: a sync that
// cannot mark would make the target's capture send its half-done copies back, so a
// missing table is an error before any write, not a failure per resource.
func (f *fleetFlags) markTable(ctx context.Context, name string) (*applymark.Marks, error) {
	cfg, err := f.awsConfig(ctx, f.to)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if f.endpoint != "" {
			o.BaseEndpoint = aws.String(f.endpoint)
		}
	})
	m := &applymark.Marks{Table: db, Name: name}
	if _, _, err := m.Get(ctx, "iotdr-sync-preflight"); err != nil {
		var nf *dynamodbtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("--marks-table %s: no such table in %s: deploy the iot-dr stacks first, name the table of your deployment's prefix (stack output %s), or pass --marks-table '' for a target without the pipeline", name, f.to, spec.OutputMarkTableName)
		}
		return nil, fmt.Errorf("--marks-table %s in %s: %w", name, f.to, err)
	}
	return m, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// isTerminal reports whether w is a terminal (for the in-place progress bar).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readThingNames reads a --things file: one thing name per line; blank lines and
// lines starting with # are ignored.
func readThingNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--things: %w", err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		n := strings.TrimSpace(sc.Text())
		if n == "" || strings.HasPrefix(n, "#") {
			continue
		}
		if strings.ContainsAny(n, " \t,") {
			return nil, fmt.Errorf("--things %s:%d: %q is not a thing name (one name per line)", path, line, n)
		}
		names = append(names, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--things %s: %w", path, err)
	}
	return names, nil
}

func syncCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, ff := newFleetFlagSet("sync", syncUsage, stderr)
	var (
		query     = fs.String("query", "", "sync only the things matching this fleet-indexing query (needs fleet indexing on)")
		thingFile = fs.String("things", "", "sync only the things named in this file, one per line")
		dryRun    = fs.Bool("dry-run", false, "print what would change, write nothing")
		listRates = fs.Bool("list-rates", false, "print the per-API rate limits in effect and exit")
		verbose   = fs.Bool("v", false, "print one line per resource, not only failures")
		interval  = fs.Duration("progress-interval", 2*time.Second, "period of the progress lines when stderr is not a terminal")
		marks     = fs.String("marks-table", spec.MarkTableName, "the target's apply-mark table (stack output "+spec.OutputMarkTableName+"), where sync marks its writes so that the target's capture does not send them back; '' for a target without the iot-dr stacks")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "iotdr sync: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	if *listRates {
		printRates(stdout, ff.rates)
		return exitOK
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "iotdr sync: "+format+"\n", a...)
		return exitError
	}
	if err := ff.validate(); err != nil {
		return fail("%v", err)
	}
	if *query != "" && *thingFile != "" {
		return fail("--query and --things are mutually exclusive")
	}
	var names []string
	if *thingFile != "" {
		var err error
		if names, err = readThingNames(*thingFile); err != nil {
			return fail("%v", err)
		}
	}
	src, tgt, err := ff.regions(ctx)
	if err != nil {
		return fail("%v", err)
	}

	opts := fleetsync.Options{
		Source: src.ctl, Target: tgt.ctl, SourceRegion: ff.from, TargetRegion: ff.to,
		Shadows: ff.shadows, DryRun: *dryRun, Concurrency: ff.concurrency,
		Progress: fleetsync.NewProgress(stderr, isTerminal(stderr), *interval),
	}
	if ff.shadows {
		opts.SourceShadows, opts.TargetShadows = src.data, tgt.data
	}
	if ff.retained {
		opts.Retained, opts.SourceRetained, opts.TargetRetained = true, src.retained, tgt.retained
	}
	if ff.onboarding {
		opts.SourceProvisioning, opts.TargetProvisioning = src.ctl, tgt.ctl
	}
	if *marks != "" && !*dryRun {
		if opts.Marks, err = ff.markTable(ctx, *marks); err != nil {
			return fail("%v", err)
		}
	}
	switch {
	case *thingFile != "":
		opts.Things = fleetsync.Names(names)
		opts.NamesFromUser = true
		opts.Progress.SetTotal(len(names))
	case *query != "":
		opts.Things = fleetsync.Query(src.ctl, *query)
	}
	if *verbose {
		opts.OnResult = func(r fleetsync.Result) {
			fmt.Fprintf(stdout, "%s %s: %s\n", r.Kind, r.Name, resultLine(r))
		}
	}
	if *dryRun {
		fmt.Fprintf(stdout, "Dry run: comparing %s with %s; nothing is written.\n", ff.from, ff.to)
	}
	sum, runErr := fleetsync.Run(ctx, opts)
	printSyncSummary(stdout, ff.from, ff.to, sum)
	switch {
	case runErr != nil && ctx.Err() != nil:
		fmt.Fprintf(stderr, "iotdr sync: interrupted (%v); run the same command again to resume\n", ctx.Err())
		return exitError
	case runErr != nil:
		return fail("%v", runErr)
	case sum.Failed() > 0:
		return exitFailed
	}
	return exitOK
}

func resultLine(r fleetsync.Result) string {
	switch r.Status {
	case fleetsync.Failed:
		return "failed: " + r.Err.Error()
	case fleetsync.Copied:
		return string(r.Status) + ": " + strings.Join(r.Changes, "; ")
	}
	return string(r.Status)
}

func printSyncSummary(w io.Writer, from, to string, s fleetsync.Summary) {
	verb := "copied"
	if s.DryRun {
		verb = "would copy"
	}
	fmt.Fprintf(w, "\nSync %s -> %s\n", from, to)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\tin sync\tfailed\t\n", verb)
	for _, row := range []struct {
		name string
		t    fleetsync.Tally
	}{{"thing types", s.ThingTypes}, {"thing groups", s.ThingGroups}, {"billing groups", s.BillingGroups}, {"onboarding", s.Onboarding}, {"things", s.Things}, {"retained messages", s.RetainedMessages}} {
		if row.name == "retained messages" && row.t.Total() == 0 {
			continue // not asked for (--retained), or none
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", row.name, row.t.Copied, row.t.InSync, row.t.Failed)
	}
	tw.Flush()
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Things.Total()) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "took %v (%.1f things/s)\n", s.Elapsed.Round(time.Millisecond), rate)
	if len(s.Failures) > 0 {
		fmt.Fprintf(w, "\nFailed (%d):\n", len(s.Failures))
		for _, f := range s.Failures {
			fmt.Fprintf(w, "  %s %s: %v\n", f.Kind, f.Name, f.Err)
		}
	}
}

func printRates(w io.Writer, r fleetsync.Rates) {
	fmt.Fprintln(w, "Per-API rate limits (requests per second, per Region); AWS defaults unless overridden with --rate:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, api := range r.APIs() {
		note := ""
		if def := fleetsync.DefaultRates[api]; def != r[api] {
			note = fmt.Sprintf("(default %g)", def)
		}
		fmt.Fprintf(tw, "  %s\t%g\t%s\n", api, r[api], note)
	}
	tw.Flush()
}
