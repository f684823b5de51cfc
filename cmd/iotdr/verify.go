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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/status"
	"github.com/iot-dr/iot-dr/verify"
)

const verifyUsage = `usage: iotdr verify --from REGION --to REGION [flags]

Compares the two Regions: things (type, attributes), thing types, thing groups and
memberships, certificates (by id, status), policies (document modulo the Region),
attachments, with --shadows classic and named shadows, and with --retained the retained
messages (payload and QoS). Streams through both registries
page by page, then lists the conflicts the pipeline recorded in each Region's error
table (resources changed in both Regions, decided by the later write). Exit status:
0 when they are equal, 1 on drift, 2 on error.

flags:
`

func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, ff := newFleetFlagSet("verify", verifyUsage, stderr)
	var (
		asJSON    = fs.Bool("json", false, "print the result as one JSON object")
		maxListed = fs.Int("max-listed", 1000, "list at most this many differences per kind (all are counted)")
		errTable  = fs.String("error-table", DefaultErrorTable, "the Regions' error table (stack output "+spec.OutputErrorTableName+"), whose conflict records are listed; '' for Regions without the iot-dr stacks")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "iotdr verify: "+format+"\n", a...)
		return exitError
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if err := ff.validate(); err != nil {
		return fail("%v", err)
	}
	if *maxListed < 0 {
		return fail("--max-listed %d: must not be negative", *maxListed)
	}
	src, tgt, err := ff.regions(ctx)
	if err != nil {
		return fail("%v", err)
	}
	c := &verify.Comparer{
		Source: src.ctl, Target: tgt.ctl, SourceRegion: ff.from, TargetRegion: ff.to, Shadows: ff.shadows,
	}
	if ff.shadows {
		c.SourceShadows, c.TargetShadows = src.data, tgt.data
	}
	if ff.retained {
		c.Retained, c.SourceRetained, c.TargetRetained = true, src.retained, tgt.retained
	}
	if ff.onboarding {
		c.SourceProvisioning, c.TargetProvisioning = src.ctl, tgt.ctl
	}
	// Differences are kept up to maxListed per kind, so memory stays bounded even
	// against an empty secondary; all are counted.
	listed := map[verify.Kind][]verify.Difference{}
	rep, err := c.Run(ctx, verify.RunOptions{Concurrency: ff.concurrency, OnDifference: func(d verify.Difference) {
		if len(listed[d.Kind]) < *maxListed {
			listed[d.Kind] = append(listed[d.Kind], d)
		}
	}})
	if err != nil {
		return fail("%v", err)
	}
	var conflicts []regionConflicts
	if *errTable != "" {
		for _, region := range []string{ff.from, ff.to} {
			conflicts = append(conflicts, ff.conflicts(ctx, region, *errTable))
		}
	}
	if *asJSON {
		if err := writeVerifyJSON(stdout, ff.from, ff.to, rep, listed, conflicts); err != nil {
			return fail("%v", err)
		}
	} else {
		printVerify(stdout, ff.from, ff.to, rep, listed)
		printConflicts(stdout, conflicts)
	}
	if rep.Total() > 0 {
		return exitFailed
	}
	return exitOK
}

// verifyJSON is the --json output.
type verifyJSON struct {
	Source  string `json:"source"`
	Target  string `json:"target"`
	Equal   bool   `json:"equal"`
	Checked struct {
		ThingTypes    int `json:"thingTypes"`
		ThingGroups   int `json:"thingGroups"`
		BillingGroups int `json:"billingGroups"`
		Things        int `json:"things"`
		// RetainedMessages is 0 without --retained.
		RetainedMessages int `json:"retainedMessages"`
		// Onboarding counts role aliases, provisioning templates and CA certificates.
		RoleAliases           int `json:"roleAliases"`
		ProvisioningTemplates int `json:"provisioningTemplates"`
		CACertificates        int `json:"caCertificates"`
	} `json:"checked"`
	// Counts has every kind, zero included.
	Counts      map[verify.Kind]int `json:"counts"`
	Differences []verify.Difference `json:"differences"`
	// Truncated says some differences were counted but not listed (--max-listed).
	Truncated bool `json:"truncated"`
	// Conflicts are each Region's conflict records (none with --error-table '').
	Conflicts []regionConflicts `json:"conflicts"`
}

func writeVerifyJSON(w io.Writer, from, to string, rep verify.Report, listed map[verify.Kind][]verify.Difference, conflicts []regionConflicts) error {
	out := verifyJSON{Source: from, Target: to, Equal: rep.Total() == 0, Counts: map[verify.Kind]int{},
		Differences: []verify.Difference{}, Conflicts: conflicts}
	if out.Conflicts == nil {
		out.Conflicts = []regionConflicts{}
	}
	out.Checked.ThingTypes, out.Checked.ThingGroups, out.Checked.Things = rep.ThingTypes, rep.ThingGroups, rep.Things
	out.Checked.RoleAliases, out.Checked.ProvisioningTemplates, out.Checked.CACertificates = rep.RoleAliases, rep.ProvisioningTemplates, rep.CACertificates
	out.Checked.BillingGroups = rep.BillingGroups
	out.Checked.RetainedMessages = rep.RetainedMessages
	for _, k := range verify.Kinds {
		out.Counts[k] = rep.Differences[k]
		out.Differences = append(out.Differences, listed[k]...)
		if len(listed[k]) < rep.Differences[k] {
			out.Truncated = true
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

var kindTitles = map[verify.Kind]string{
	verify.Missing:   "Missing in secondary",
	verify.Extra:     "Extra in secondary",
	verify.Different: "Different",
}

func printVerify(w io.Writer, from, to string, rep verify.Report, listed map[verify.Kind][]verify.Difference) {
	retained := ""
	if rep.RetainedMessages > 0 {
		retained = fmt.Sprintf(", %d retained messages", rep.RetainedMessages)
	}
	fmt.Fprintf(w, "Verify %s (primary) -> %s (secondary): checked %d thing types, %d thing groups, %d billing groups, %d role aliases, %d provisioning templates, %d CA certificates, %d things%s\n",
		from, to, rep.ThingTypes, rep.ThingGroups, rep.BillingGroups, rep.RoleAliases, rep.ProvisioningTemplates, rep.CACertificates, rep.Things, retained)
	if rep.Total() == 0 {
		fmt.Fprintln(w, "The Regions are equal.")
		return
	}
	fmt.Fprintf(w, "%d differences\n", rep.Total())
	for _, k := range verify.Kinds {
		n := rep.Differences[k]
		if n == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%d)\n", kindTitles[k], n)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if k == verify.Different {
			fmt.Fprintln(tw, "  RESOURCE\tNAME\tFIELD\tPRIMARY\tSECONDARY")
			for _, d := range listed[k] {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", d.Resource, d.Name, d.Field, oneLine(d.Source), oneLine(d.Target))
			}
		} else {
			fmt.Fprintln(tw, "  RESOURCE\tNAME\tDETAIL")
			for _, d := range listed[k] {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.Resource, d.Name, oneLine(d.Source+d.Target))
			}
		}
		tw.Flush()
		if more := n - len(listed[k]); more > 0 {
			fmt.Fprintf(w, "  ... and %d more (raise --max-listed to see them)\n", more)
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// DefaultErrorTable is the error table of a deployment with the default prefix.
const DefaultErrorTable = "iotdr-errors"

// regionConflicts are one Region's conflict records, or why they could not be read.
type regionConflicts struct {
	Region string `json:"region"`
	status.Conflicts
	Error string `json:"error,omitempty"`
}

// conflicts reads region's error table for conflict records. What cannot be read is
// said in the answer, not failed: verify compares the registries whatever the tables.
func (f *fleetFlags) conflicts(ctx context.Context, region, table string) regionConflicts {
	rc := regionConflicts{Region: region}
	cfg, err := f.awsConfig(ctx, region)
	if err != nil {
		rc.Error = err.Error()
		return rc
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if f.endpoint != "" {
			o.BaseEndpoint = aws.String(f.endpoint)
		}
	})
	recs, err := (&failures.Recorder{Table: db, Name: table}).List(ctx)
	var nf *dynamodbtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		rc.Error = fmt.Sprintf("no error table %s (the iot-dr stacks are not deployed here, or --error-table names another prefix's)", table)
	case err != nil:
		rc.Error = fmt.Sprintf("error table %s: %v", table, err)
	default:
		rc.Conflicts = status.ConflictsOf(recs)
	}
	return rc
}

func printConflicts(w io.Writer, cs []regionConflicts) {
	for _, c := range cs {
		switch {
		case c.Error != "":
			fmt.Fprintf(w, "\nConflicts in %s: not checked: %s\n", c.Region, c.Error)
		case c.Count == 0:
			fmt.Fprintf(w, "\nConflicts in %s: none recorded\n", c.Region)
		default:
			fmt.Fprintf(w, "\nConflicts in %s: %d recorded (changed in both Regions; the later write was kept)\n", c.Region, c.Count)
			for _, r := range c.Recent {
				fmt.Fprintf(w, "  %s  %s  %s\n", r.RecordedAt, r.Key, oneLine(r.Cause))
			}
		}
	}
}
