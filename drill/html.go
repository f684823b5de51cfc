package drill

import (
	"fmt"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes the report as one self-contained page (no external assets): an SVG
// chart of the devices connected to each Region over time, each Region's health, the
// DNS answer, the fault and restore marks, and the tables of the text report.
func WriteHTML(w io.Writer, r *Report) error {
	if err := page.Execute(w, struct {
		R           *Report
		Chart       template.HTML
		Ratio       float64
		BeforeFault string
		DuringSetup string
		Settings    string
	}{r, chart(r), ratio(r), perRegion(r, r.HealthChecksFailedBeforeFault), perRegion(r, r.HealthChecksFailedDuringSetup), settingsLine(r)}); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

func ratio(r *Report) float64 {
	if r.RTOBound == 0 {
		return 0
	}
	return r.RTOP99S / r.RTOBound
}

// Chart geometry.
const (
	chartW, plotH, left, top = 900.0, 220.0, 60.0, 20.0
	stripH, stripGap         = 14.0, 6.0
)

// chart renders the samples as SVG. Values are numbers and fixed strings only, so the
// markup is built directly.
func chart(r *Report) template.HTML {
	if len(r.Samples) == 0 {
		return template.HTML("<p>No samples recorded.</p>")
	}
	t0, t1 := r.Samples[0].AtS, r.Samples[len(r.Samples)-1].AtS
	if t1 <= t0 {
		t1 = t0 + 1
	}
	maxDev := 1
	for _, s := range r.Samples {
		maxDev = max(maxDev, s.PrimaryDevices, s.SecondaryDevices)
	}
	plotW := chartW - left - 20
	x := func(t float64) float64 { return left + (t-t0)/(t1-t0)*plotW }
	y := func(n int) float64 { return top + plotH - float64(n)/float64(maxDev)*plotH }
	stripY := func(i int) float64 { return top + plotH + 30 + float64(i)*(stripH+stripGap) }
	height := stripY(3) + 30

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`, chartW, height)
	// Axes and grid.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`, left, top+plotH, left+plotW, top+plotH)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`, left, top, left, top+plotH)
	for i := 0; i <= 4; i++ {
		n := maxDev * i / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%d</text>`, left-6, y(n)+4, n)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, left, y(n), left+plotW, y(n))
	}
	for i := 0; i <= 6; i++ {
		t := t0 + (t1-t0)*float64(i)/6
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.1fs</text>`, x(t), top+plotH+14, t)
	}
	// Devices per Region.
	line := func(color string, v func(Sample) int) {
		var pts []string
		for _, s := range r.Samples {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.AtS), y(v(s))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
	}
	line("#1f77b4", func(s Sample) int { return s.PrimaryDevices })
	line("#ff7f0e", func(s Sample) int { return s.SecondaryDevices })
	// Strips: health of each Region, DNS answer.
	strip := func(row int, label string, color func(Sample) string) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-6, stripY(row)+11, label)
		for i, s := range r.Samples {
			end := t1
			if i+1 < len(r.Samples) {
				end = r.Samples[i+1].AtS
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.2f" height="%.0f" fill="%s"/>`,
				x(s.AtS), stripY(row), max(x(end)-x(s.AtS), 0.5), stripH, color(s))
		}
	}
	health := func(ok bool) string {
		if ok {
			return "#2ca02c"
		}
		return "#d62728"
	}
	strip(0, "primary", func(s Sample) string { return health(s.PrimaryHealthy) })
	strip(1, "secondary", func(s Sample) string { return health(s.SecondaryHealthy) })
	strip(2, "DNS", func(s Sample) string {
		if s.DNS == "SECONDARY" {
			return "#ff7f0e"
		}
		return "#1f77b4"
	})
	// The catch-up: shaded from the restore to the primary having applied its backlog.
	if from, to, ok := catchUpSpan(r); ok {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.2f" height="%.1f" fill="#9467bd" fill-opacity="0.15"/>`,
			x(from), top, max(x(to)-x(from), 1), stripY(3)-top)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#9467bd" stroke-dasharray="2 2"/>`, x(to), top, x(to), stripY(3))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#9467bd">caught up (%.1fs)</text>`, x(to)+3, top+24, r.FailbackCatchUpS)
	}
	// Fault and restore marks.
	for _, p := range r.Timeline {
		if strings.HasPrefix(p.Name, "fault injected") || p.Name == "primary restored" {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-dasharray="4 3"/>`,
				x(p.AtS), top, x(p.AtS), stripY(3))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, x(p.AtS)+3, top+10, template.HTMLEscapeString(p.Name))
		}
	}
	// Legend.
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#1f77b4">— devices on the primary</text>`, left, height-8)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#ff7f0e">— devices on the secondary</text>`, left+180, height-8)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#9467bd">shaded: catch-up</text>`, left+370, height-22)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">health: green healthy, red unhealthy; DNS: blue primary, orange secondary</text>`, left+370, height-8)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// catchUpSpan is the catch-up on the timeline: from the restore to the primary caught up.
func catchUpSpan(r *Report) (from, to float64, ok bool) {
	for _, p := range r.Timeline {
		if p.Name == "primary restored" {
			return p.AtS, p.AtS + r.FailbackCatchUpS, true
		}
	}
	return 0, 0, false
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>iot-dr drill: {{.R.Scenario}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.pass{color:#2ca02c}.fail{color:#d62728}
</style></head><body>
<h1>iot-dr drill “{{.R.Scenario}}” with {{.R.Devices}} devices:
{{if .R.Passed}}<span class="pass">PASSED</span>{{else}}<span class="fail">FAILED</span>{{end}}</h1>
{{if gt .R.FleetSize .R.Devices}}<p>The {{.R.Devices}} live devices stood for a fleet of {{.R.FleetSize}}: RTO figures are its prediction.</p>{{end}}
{{if .R.Headline}}<p><strong>{{.R.Headline}}</strong></p>{{end}}
{{range .R.Failures}}<p class="fail">{{.}}</p>{{end}}
<p>Settings: {{.Settings}}. Times are AWS-equivalent seconds (time scale {{.R.TimeScale}}); wall time {{printf "%.1f" .R.WallS}}s.</p>
{{.Chart}}
<h2>Timeline</h2>
<table><tr><th>at</th><th>event</th></tr>
{{range .R.Timeline}}<tr><td>{{printf "%.3f" .AtS}}s</td><td>{{.Name}}</td></tr>{{end}}</table>
<h2>Failover</h2>
<table>
<tr><td>detection (health check unhealthy)</td><td>{{printf "%.3f" .R.DetectionS}}s</td></tr>
<tr><td>DNS switch</td><td>{{printf "%.3f" .R.DNSSwitchS}}s</td></tr>
<tr><td>health checks failed before the fault (from the baseline)</td><td>{{.BeforeFault}}</td></tr>
<tr><td>health checks failed during set-up (before the baseline)</td><td>{{.DuringSetup}}</td></tr>
<tr><td>RTO p50 / p99 / max</td><td>{{printf "%.3f" .R.RTOP50S}}s / {{printf "%.3f" .R.RTOP99S}}s / {{printf "%.3f" .R.RTOMaxS}}s</td></tr>
<tr><td>bound the settings imply (with devices / CONNECT rate)</td><td>{{printf "%.3f" .R.RTOBound}}s, {{printf "%.3f" .R.QuotaS}}s of it the quota (p99 is {{printf "%.2f" .Ratio}} of it)</td></tr>
{{if gt .R.RTOBoundWithSimulator .R.RTOBound}}<tr><td>bound with the simulator's own reconnect time (it took {{printf "%.3f" .R.SimulatorConnectS}}s to connect the live devices)</td><td>{{printf "%.3f" .R.RTOBoundWithSimulator}}s</td></tr>{{end}}
<tr><td>CONNECTs throttled (devices retried)</td><td>{{.R.ConnectsThrottled}}</td></tr>
<tr><td>devices lost</td><td>{{.R.DevicesLost}}</td></tr>
<tr><td>messages not delivered / delivered during the outage</td><td>{{.R.MessagesUndelivered}} / {{.R.MessagesDelivered}}</td></tr>
<tr><td>registry changes during the outage: applied / refused</td><td>{{.R.ChangesDuringOutage}} / {{.R.ChangesRefusedDuringOutage}}</td></tr>
<tr><td>failback (bound: catch-up, then the gate and the health checks)</td><td>{{printf "%.3f" .R.FailbackS}}s ({{printf "%.3f" .R.FailbackBoundS}}s)</td></tr>
</table>
<h2>Failback</h2>
<table>
<tr><td>changes made in the secondary while failed over</td><td>{{.R.ChangesMadeInSecondary}}</td></tr>
<tr><td>of them lost on failback (not in the primary after catch-up)</td><td>{{.R.ChangesLostOnFailback}}</td></tr>
<tr><td>conflicts (same resource changed in both Regions)</td><td>{{.R.Conflicts}}</td></tr>
<tr><td>catch-up (primary applied its backlog, from the restore)</td><td>{{printf "%.3f" .R.FailbackCatchUpS}}s</td></tr>
<tr><td>devices onboarded by JITP in the secondary</td><td>{{.R.DevicesOnboardedByJITP}}</td></tr>
<tr><td>devices provisioned in the secondary refused by the primary</td><td>{{.R.DevicesRefusedAfterFailback}}</td></tr>
<tr><td>state-table writes: echoes of an apply / duplicate captures</td><td>{{.R.EchoWrites}} / {{.R.DuplicateCaptureWrites}}</td></tr>
</table>
{{if .R.LostOnFailback}}<ul>{{range .R.LostOnFailback}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .R.RefusedAfterFailback}}<table><tr><th>refused after failback</th><th>reason</th></tr>
{{range .R.RefusedAfterFailback}}<tr><td>{{.Device}}</td><td>{{.Reason}}</td></tr>{{end}}</table>{{end}}
<h2>RPO</h2>
<table>
<tr><td>changes not yet replicated at the fault</td><td>{{.R.ReplicationPendingAtFault}} (oldest {{printf "%.1f" .R.ReplicationLagAtFaultMS}} ms)</td></tr>
<tr><td>registry changes lost</td><td>{{.R.RegistryChangesLost}}</td></tr>
<tr><td>shadow updates lost</td><td>{{.R.ShadowUpdatesLost}}</td></tr>
</table>
{{if .R.LostExamples}}<ul>{{range .R.LostExamples}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h2>Refused by the secondary ({{len .R.RefusedDevices}})</h2>
<table><tr><th>device</th><th>reason</th></tr>
{{range .R.RefusedDevices}}<tr><td>{{.Device}}</td><td>{{.Reason}}</td></tr>{{end}}</table>
<h2>After restore: {{len .R.DifferencesAfterRestore}} differences</h2>
{{if .R.DifferencesAfterRestore}}<ul>{{range .R.DifferencesAfterRestore}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
