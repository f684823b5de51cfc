package drill

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report for a terminal: verdict, timeline, RTO against its bound,
// RPO, refusals, and the verification after restore.
func WriteText(w io.Writer, r *Report) {
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "iot-dr drill %q with %d devices: %s\n", r.Scenario, r.Devices, verdict)
	if r.FleetSize > r.Devices {
		fmt.Fprintf(w, "  the %d live devices stood for a fleet of %d: RTO figures are its prediction\n", r.Devices, r.FleetSize)
	}
	if r.Headline != "" {
		fmt.Fprintf(w, "  %s\n", r.Headline)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  - %s\n", f)
	}
	fmt.Fprintf(w, "settings: %s\n", settingsLine(r))
	fmt.Fprintf(w, "times are AWS-equivalent seconds (time scale %g: one wall second stands for %g)\n\n", r.TimeScale, r.TimeScale)
	fmt.Fprintln(w, "Timeline")
	for _, p := range r.Timeline {
		fmt.Fprintf(w, "  %8.3fs  %s\n", p.AtS, p.Name)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Failover (from the fault)")
	fmt.Fprintf(tw, "  detection (health check unhealthy)\t%.3fs\n", r.DetectionS)
	fmt.Fprintf(tw, "  DNS switch\t%.3fs\n", r.DNSSwitchS)
	fmt.Fprintf(tw, "  health checks failed before the fault (from the baseline)\t%s\n", perRegion(r, r.HealthChecksFailedBeforeFault))
	fmt.Fprintf(tw, "  health checks failed during set-up (before the baseline)\t%s\n", perRegion(r, r.HealthChecksFailedDuringSetup))
	fmt.Fprintf(tw, "  RTO p50 / p99 / max\t%.3fs / %.3fs / %.3fs\n", r.RTOP50S, r.RTOP99S, r.RTOMaxS)
	ratio := 0.0
	if r.RTOBound > 0 {
		ratio = r.RTOP99S / r.RTOBound
	}
	fmt.Fprintf(tw, "  bound (interval x threshold + probe timeout + TTL + backoff cap + devices / CONNECT rate)\t%.3fs, %.3fs of it the quota (p99 is %.2f of it)\n", r.RTOBound, r.QuotaS, ratio)
	if r.RTOBoundWithSimulator > r.RTOBound {
		fmt.Fprintf(tw, "  bound with the simulator's own reconnect time\t%.3fs: this machine took %.3fs to connect the %d live devices, longer than the quota's %.3fs\n",
			r.RTOBoundWithSimulator, r.SimulatorConnectS, r.Devices, r.QuotaS)
		switch {
		case r.RTOP99S <= r.RTOBound: // within the settings' bound: the simulator kept up
		case r.TimeScaleForQuota >= 1:
			fmt.Fprintf(tw, "  \tthe RTO above is the simulator's CPU, not the settings': for a prediction use --time-scale %.0f or less, or fewer live devices with --fleet-size\n", math.Floor(r.TimeScaleForQuota))
		default:
			fmt.Fprintf(tw, "  \tthe RTO above is the simulator's CPU, not the settings': for a prediction use fewer live devices standing for the fleet (--fleet-size)\n")
		}
	}
	fmt.Fprintf(tw, "  CONNECTs throttled (devices retried)\t%d\n", r.ConnectsThrottled)
	fmt.Fprintf(tw, "  devices lost\t%d\n", r.DevicesLost)
	fmt.Fprintf(tw, "  messages not delivered / delivered during the outage\t%d / %d\n", r.MessagesUndelivered, r.MessagesDelivered)
	fmt.Fprintf(tw, "  registry changes during the outage: applied / refused\t%d / %d\n", r.ChangesDuringOutage, r.ChangesRefusedDuringOutage)
	fmt.Fprintf(tw, "  failback (bound: catch-up, then the gate and the health checks)\t%.3fs (%.3fs)\n", r.FailbackS, r.FailbackBoundS)
	fmt.Fprintln(tw, "Failback (from the restore)")
	fmt.Fprintf(tw, "  changes made in the secondary while failed over\t%d\n", r.ChangesMadeInSecondary)
	fmt.Fprintf(tw, "  of them lost on failback (not in the primary after catch-up)\t%d\n", r.ChangesLostOnFailback)
	fmt.Fprintf(tw, "  conflicts (same resource changed in both Regions)\t%d\n", r.Conflicts)
	fmt.Fprintf(tw, "  catch-up (primary applied its backlog)\t%.3fs\n", r.FailbackCatchUpS)
	fmt.Fprintf(tw, "  devices onboarded by JITP in the secondary\t%d\n", r.DevicesOnboardedByJITP)
	fmt.Fprintf(tw, "  devices provisioned in the secondary refused by the primary\t%d\n", r.DevicesRefusedAfterFailback)
	fmt.Fprintf(tw, "  state-table writes: echoes of an apply / duplicate captures\t%d / %d\n", r.EchoWrites, r.DuplicateCaptureWrites)
	fmt.Fprintln(tw, "RPO (at the fault)")
	fmt.Fprintf(tw, "  changes not yet replicated\t%d (oldest %.1f ms old)\n", r.ReplicationPendingAtFault, r.ReplicationLagAtFaultMS)
	fmt.Fprintf(tw, "  registry changes lost\t%d\n", r.RegistryChangesLost)
	fmt.Fprintf(tw, "  shadow updates lost\t%d\n", r.ShadowUpdatesLost)
	tw.Flush()
	for _, ex := range r.LostOnFailback {
		fmt.Fprintf(w, "    lost on failback: %s\n", ex)
	}
	for _, rf := range r.RefusedAfterFailback[:min(5, len(r.RefusedAfterFailback))] {
		fmt.Fprintf(w, "    refused after failback: %s: %s\n", rf.Device, rf.Reason)
	}
	for _, ex := range r.LostExamples {
		fmt.Fprintf(w, "    e.g. %s\n", ex)
	}
	fmt.Fprintf(w, "\nRefused by the secondary: %d devices\n", len(r.RefusedDevices))
	for _, rf := range r.RefusedDevices[:min(10, len(r.RefusedDevices))] {
		fmt.Fprintf(w, "  %s: %s\n", rf.Device, rf.Reason)
	}
	fmt.Fprintf(w, "\nAfter restore: %d differences between the Regions (error-table records: %d)\n",
		len(r.DifferencesAfterRestore), r.ErrorTableRecords)
	for _, k := range slices.Sorted(maps.Keys(r.ErrorTableKinds)) {
		fmt.Fprintf(w, "  %4d  %s\n", r.ErrorTableKinds[k], k)
		if ex := r.ErrorTableExamples[k]; ex != "" {
			fmt.Fprintf(w, "          e.g. %s\n", ex)
		}
	}
	for _, d := range r.DifferencesAfterRestore[:min(10, len(r.DifferencesAfterRestore))] {
		fmt.Fprintf(w, "  %s\n", d)
	}
	fmt.Fprintf(w, "\nwall time %.1fs\n", r.WallS)
}

// settingsLine states the drill's settings in AWS units.
func settingsLine(r *Report) string {
	s := r.Settings
	return fmt.Sprintf("health check every %s, threshold %d, TTL %s, backoff %s..%s, replication delay %s, %g CONNECT/s per account, %d devices without SNI",
		s.Interval, s.Threshold, s.TTL, s.BackoffBase, s.BackoffCap, s.ReplicationDelay, s.ConnectRate, s.DevicesWithoutSNI)
}

// perRegion lists per-Region counts (failed probes), primary first.
func perRegion(r *Report, counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	regions := slices.Sorted(maps.Keys(counts))
	if i := slices.Index(regions, r.PrimaryRegion); i > 0 {
		regions[0], regions[i] = regions[i], regions[0]
	}
	var parts []string
	for _, region := range regions {
		parts = append(parts, fmt.Sprintf("%s %d", region, counts[region]))
	}
	return strings.Join(parts, ", ")
}
