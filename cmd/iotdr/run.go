package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iot-dr/iot-dr/drill"
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
  drill   run a disaster-recovery drill on the embedded simulator (iotdr drill -h)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	switch args[0] {
	case "drill":
		return drillCmd(ctx, args[1:], stdout, stderr)
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
	var (
		cfg     drill.Config
		list    = fs.Bool("list", false, "describe the scenarios and exit")
		asJSON  = fs.Bool("json", false, "print the report as one JSON object")
		timeout = fs.Duration("timeout", 10*time.Minute, "abort the drill after this long")
		maxLost = fs.Int("max-lost", -1, "exit 1 when more registry changes and shadow updates than this are lost (-1: no budget)")
	)
	fs.StringVar(&cfg.Scenario, "scenario", drill.Scenarios[0].Name, "the drill to run (see --list)")
	fs.IntVar(&cfg.Devices, "devices", 100, "devices to provision in the primary")
	fs.DurationVar(&cfg.ReplicationDelay, "replication-delay", 0, "global-table replication delay")
	fs.IntVar(&cfg.Changes, "changes", 50, "registry changes and shadow updates made after the fleet is replicated")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed for the fleet's attributes")
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
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "iotdr drill: %v\n", err)
		return exitError
	}
	cfg.Progress = stderr
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
		printReport(stdout, rep)
	}
	if !rep.Passed {
		return exitFailed
	}
	if err := drill.CheckBudgets(rep, *maxLost); err != nil {
		fmt.Fprintf(stderr, "iotdr drill: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func printReport(w io.Writer, r *drill.Report) {
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED: " + r.Failure
	}
	fmt.Fprintf(w, "iot-dr drill %q with %d devices: %s\n\n", r.Scenario, r.Devices, verdict)
	fmt.Fprintln(w, "Timeline")
	for _, p := range r.Timeline {
		fmt.Fprintf(w, "  %8.3fs  %s\n", p.AtS, p.Name)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Replication")
	fmt.Fprintf(tw, "  provisioning took\t%.3fs\n", r.ProvisionS)
	fmt.Fprintf(tw, "  secondary converged after\t%.3fs\n", r.ConvergeS)
	fmt.Fprintf(tw, "  replication lag p50 / p99\t%.1f ms / %.1f ms\n", r.LagP50MS, r.LagP99MS)
	fmt.Fprintf(tw, "  error-table records\t%d\n", r.ErrorTableRecords)
	fmt.Fprintln(tw, "RPO (at the fault)")
	fmt.Fprintf(tw, "  changes not yet replicated\t%d (oldest %.1f ms old)\n", r.ReplicationPendingAtFault, r.ReplicationLagAtFaultMS)
	fmt.Fprintf(tw, "  registry changes lost\t%d\n", r.RegistryChangesLost)
	fmt.Fprintf(tw, "  shadow updates lost\t%d\n", r.ShadowUpdatesLost)
	tw.Flush()
	for _, ex := range r.LostExamples {
		fmt.Fprintf(w, "    e.g. %s\n", ex)
	}
	fmt.Fprintf(w, "\nAfter restore: %d differences between the Regions\n", len(r.DifferencesAfterRestore))
	for _, d := range r.DifferencesAfterRestore[:min(10, len(r.DifferencesAfterRestore))] {
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(d))
	}
}
