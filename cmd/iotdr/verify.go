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

	"github.com/iot-dr/iot-dr/verify"
)

const verifyUsage = `usage: iotdr verify --from REGION --to REGION [flags]

Compares the two Regions: things (type, attributes), thing types, thing groups and
memberships, certificates (by id, status), policies (document modulo the Region),
attachments and, with --shadows, classic shadows. Streams through both registries
page by page. Exit status: 0 when they are equal, 1 on drift, 2 on error.

flags:
`

func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, ff := newFleetFlagSet("verify", verifyUsage, stderr)
	var (
		asJSON    = fs.Bool("json", false, "print the result as one JSON object")
		maxListed = fs.Int("max-listed", 1000, "list at most this many differences per kind (all are counted)")
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
	if *asJSON {
		if err := writeVerifyJSON(stdout, ff.from, ff.to, rep, listed); err != nil {
			return fail("%v", err)
		}
	} else {
		printVerify(stdout, ff.from, ff.to, rep, listed)
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
		ThingTypes  int `json:"thingTypes"`
		ThingGroups int `json:"thingGroups"`
		Things      int `json:"things"`
	} `json:"checked"`
	// Counts has every kind, zero included.
	Counts      map[verify.Kind]int `json:"counts"`
	Differences []verify.Difference `json:"differences"`
	// Truncated says some differences were counted but not listed (--max-listed).
	Truncated bool `json:"truncated"`
}

func writeVerifyJSON(w io.Writer, from, to string, rep verify.Report, listed map[verify.Kind][]verify.Difference) error {
	out := verifyJSON{Source: from, Target: to, Equal: rep.Total() == 0, Counts: map[verify.Kind]int{},
		Differences: []verify.Difference{}}
	out.Checked.ThingTypes, out.Checked.ThingGroups, out.Checked.Things = rep.ThingTypes, rep.ThingGroups, rep.Things
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
	fmt.Fprintf(w, "Verify %s (primary) -> %s (secondary): checked %d thing types, %d thing groups, %d things\n",
		from, to, rep.ThingTypes, rep.ThingGroups, rep.Things)
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
