package status

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteJSON writes the report as one indented JSON object.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// PrintText writes the report as a table, one row per Region and direction, then the
// recent conflicts and what could not be read.
func PrintText(w io.Writer, rep Report) error {
	how := map[string]string{"dns": "the DNS answer", "health": "the health checks (Route 53's failover rule)"}[rep.From]
	if how == "" {
		how = rep.From
	}
	serving := "unknown"
	if rep.Serving != "" {
		serving = fmt.Sprintf("%s (%s)", rep.Serving, rep.ServingRole)
	}
	fmt.Fprintf(w, "%s is served by %s, from %s\n\n", rep.Domain, serving, how)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tROLE\tHEALTH\tBACKLOG\tBEHIND\tCHANGES\tOLDEST\tAPPLY FAILURES\tCONFLICTS")
	for _, r := range rep.Regions {
		health := "unhealthy"
		if r.Healthy {
			health = "healthy"
		}
		if r.Health != "" {
			health += ": " + r.Health
		}
		b := r.Backlog
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s -> %s\t%s\t%d\t%.1fs\t%d\t%d\n", r.Name, r.Role, health, b.From, r.Name,
			yesNo(b.Behind), b.Changes, b.OldestAgeS, b.ApplyFailures, r.Conflicts.Count)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Regions {
		if len(r.Conflicts.Recent) > 0 {
			fmt.Fprintf(w, "\nrecent conflicts in %s (its change lost):\n", r.Name)
			for _, c := range r.Conflicts.Recent {
				fmt.Fprintf(w, "  %s  %s  %s\n", c.RecordedAt, c.Key, c.Cause)
			}
		}
	}
	for _, r := range rep.Regions {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "\n%s: could not read %s", r.Name, e)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
