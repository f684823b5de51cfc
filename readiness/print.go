package readiness

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintText writes the report as a table, one line per check, and a verdict line.
func PrintText(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tCHECK\tSTATUS\tDETAIL")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Region, res.Check, res.Status, res.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, verdict(r))
	return err
}

func verdict(r Report) string {
	switch r.Exit() {
	case ExitReady:
		return "READY"
	case ExitNotReady:
		return "NOT READY"
	}
	return "COULD NOT CHECK everything (no check failed)"
}

// WriteJSON writes the report as one JSON object: {"ready", "verdict", "results"}.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Ready   bool     `json:"ready"`
		Verdict string   `json:"verdict"`
		Results []Result `json:"results"`
	}{r.Ready(), verdict(r), r.Results})
}
