package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/iot-dr/iot-dr/awsdrill"
	"github.com/iot-dr/iot-dr/drill"
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// Exit codes: a drill that ran and passed, one that broke a budget or found a
// problem, and one that could not run.
const (
	exitOK     = 0
	exitFailed = 1
	exitError  = 2
)

const usage = `usage: iotdr <command> [flags]

commands:
  drill    run a failover drill on the embedded simulator (iotdr drill -h),
           or against a real deployment with --aws (iotdr drill --aws -h)
  sim      run the two-Region simulator as a standalone server (iotdr sim -h)
  sync     copy an existing fleet from one Region to the other (iotdr sync -h)
  verify   compare two Regions and list the differences (iotdr verify -h)
  readiness
           check that a real deployment is ready to fail over (iotdr readiness -h)
  status   which Region serves the fleet, the backlog each way, conflicts (iotdr status -h)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	switch args[0] {
	case "drill":
		if slices.Contains(args[1:], "--aws") || slices.Contains(args[1:], "-aws") {
			return awsdrill.Run(ctx, args[1:], stdout, stderr)
		}
		return drillCmd(ctx, args[1:], stdout, stderr)
	case "fleet": // hidden: a drill's fleet worker
		return fleetCmd(os.Stdin, stdout, stderr)
	case "sim":
		return simCmd(ctx, args[1:], stdout, stderr)
	case "sync":
		return syncCmd(ctx, args[1:], stdout, stderr)
	case "verify":
		return verifyCmd(ctx, args[1:], stdout, stderr)
	case "readiness":
		return readinessCmd(ctx, args[1:], stdout, stderr)
	case "status":
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "iotdr: unknown command %q\n%s", args[0], usage)
	return exitError
}

func drillCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := drill.DefaultConfig()
	var (
		list    = fs.Bool("list", false, "describe the scenarios and exit")
		asJSON  = fs.Bool("json", false, "print the report as one JSON object")
		report  = fs.String("report", "", "also write the report as a self-contained HTML page to `FILE`")
		timeout = fs.Duration("timeout", 10*time.Minute, "abort the drill after this long")
		maxRTO  = fs.Duration("max-rto", 0, "exit 1 when the p99 RTO is longer (0: no budget)")
		maxLost = fs.Int("max-lost", -1, "exit 1 when more devices + registry changes + shadow updates are lost (-1: no budget)")
	)
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "the drill to run (see --list)")
	fs.IntVar(&cfg.Devices, "devices", cfg.Devices, "devices to provision in the primary")
	fs.IntVar(&cfg.FleetSize, "fleet-size", cfg.FleetSize, "the fleet the live --devices stand for (a multiple of them; default: --devices): CONNECT quotas scaled so the RTO is its prediction")
	fs.IntVar(&cfg.DevicesWithoutSNI, "devices-without-sni", cfg.DevicesWithoutSNI, "how many of the devices send no TLS SNI")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "health-check request interval, as in Route 53: 10s or 30s")
	fs.IntVar(&cfg.Threshold, "threshold", cfg.Threshold, "health-check failure threshold (1-10)")
	fs.DurationVar(&cfg.TTL, "ttl", cfg.TTL, "failover records' TTL")
	fs.DurationVar(&cfg.BackoffBase, "backoff-base", cfg.BackoffBase, "devices' first reconnect backoff (exponential, full jitter)")
	fs.DurationVar(&cfg.BackoffCap, "backoff-cap", cfg.BackoffCap, "devices' longest reconnect backoff")
	fs.DurationVar(&cfg.ReplicationDelay, "replication-delay", cfg.ReplicationDelay, "global-table replication delay")
	fs.Float64Var(&cfg.ConnectRate, "connect-rate", cfg.ConnectRate, "the account's CONNECT requests per second in each Region (AWS IoT Core: 500, adjustable)")
	fs.Float64Var(&cfg.TimeScale, "time-scale", cfg.TimeScale, "AWS seconds per wall second: every setting above runs this much faster, the report is in AWS time")
	fs.IntVar(&cfg.Changes, "changes", cfg.Changes, "registry changes and shadow updates made while replication is behind (replication-lag, throttling)")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed for the fleet's attributes and jitter")
	perProcess := fs.Int("devices-per-process", fleet.DefaultPerProcess, "the fleet runs in worker processes of this many devices each (0: in the drill's own process)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "iotdr drill: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	if *list {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, s := range drill.Scenarios {
			fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Description)
		}
		tw.Flush()
		return exitOK
	}
	drill.RaiseFileLimit()
	drill.TuneGC()
	if *perProcess < 0 {
		fmt.Fprintf(stderr, "iotdr drill: --devices-per-process must not be negative, got %d\n", *perProcess)
		return exitError
	}
	if *perProcess > 0 {
		w, err := fleetWorker()
		if err != nil {
			fmt.Fprintf(stderr, "iotdr drill: %v\n", err)
			return exitError
		}
		cfg.FleetWorker, cfg.FleetPerProcess = w, *perProcess
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "iotdr drill: %v\n", err)
		return exitError
	}
	if *maxRTO < 0 || *timeout <= 0 {
		fmt.Fprintf(stderr, "iotdr drill: --max-rto must not be negative and --timeout must be positive\n")
		return exitError
	}
	var html *os.File
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			fmt.Fprintf(stderr, "iotdr drill: --report: %v\n", err)
			return exitError
		}
		defer f.Close()
		html = f
	}
	cfg.Progress = stderr
	if stop, err := cpuProfile(os.Getenv("IOTDR_CPUPROFILE")); err != nil {
		fmt.Fprintf(stderr, "iotdr drill: IOTDR_CPUPROFILE: %v\n", err)
		return exitError
	} else {
		defer stop()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := drill.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "iotdr drill: %v\n", err)
		return exitError
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "iotdr drill: %v\n", err)
			return exitError
		}
	} else {
		drill.WriteText(stdout, rep)
	}
	if html != nil {
		if err := drill.WriteHTML(html, rep); err != nil {
			fmt.Fprintf(stderr, "iotdr drill: --report: %v\n", err)
			return exitError
		}
	}
	code := exitOK
	if !rep.Passed {
		code = exitFailed
	}
	if err := drill.CheckBudgets(rep, *maxRTO, *maxLost); err != nil {
		fmt.Fprintf(stderr, "iotdr drill: %v\n", err)
		code = exitFailed
	}
	return code
}

// cpuProfile writes the drill process's CPU profile to path until stop (nothing when
// path is empty): IOTDR_CPUPROFILE, for finding where a large drill's time goes (the
// fleet workers are not in it).
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
