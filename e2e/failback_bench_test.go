package e2e

import (
	"flag"
	"testing"
)

var (
	failbackDevices   = flag.Int("failback.devices", 1000, "live devices in BenchmarkFailback")
	failbackChanges   = flag.Int("failback.changes", 5000, "shadow reports and attribute changes made in the secondary while failed over")
	failbackTimeScale = flag.Float64("failback.time-scale", 0, "AWS seconds per wall second (0: 20,000 / devices, 2-50)")
)

// BenchmarkFailback runs the region-outage drill with 1,000 devices and makes 5,000
// changes in the secondary while failed over (shadow reports and attribute changes,
// alternately, round robin over half the fleet; plus the devices provisioned there and
// a deleted thing), then restores the primary and reports:
//   - failback-lost: changes made in the secondary that the primary lacks once caught up;
//   - catch-up-s: from the restore until the primary holds every change made in the
//     secondary (AWS s);
//   - echo-writes: state-table writes that captured an apply back (a Region's capture
//     writing an item that came from the other Region with its hash unchanged);
//     duplicate-writes, a Region's captures rewriting their own item unchanged, beside it;
//   - failback-ratio: the measured failback (restore to every device back on the
//     primary) over the bound the catch-up gate implies (failback_bound_s): the
//     catch-up, which the primary's probe waits for before it answers healthy, then
//     the gate's linger and the failover bound's terms (interval x threshold, probe
//     timeout, TTL, backoff cap, devices / CONNECT rate): drill.Config.FailbackGateBound;
//   - failback-refused: devices provisioned in the secondary that the primary refused.
//
// The time scale is BenchmarkFailover's (20,000 / devices, 2-50).
func BenchmarkFailback(b *testing.B) {
	cfg := benchConfig(*failbackDevices, *failbackTimeScale)
	cfg.FailbackChanges = *failbackChanges
	rep := runDrill(b, cfg)
	b.Logf("failures %v; lost e.g. %v; error-table records by kind %v", rep.Failures, rep.LostOnFailback, rep.ErrorTableKinds)
	b.ReportMetric(float64(rep.ChangesLostOnFailback), "failback-lost")
	b.ReportMetric(rep.FailbackCatchUpS, "catch-up-s")
	b.ReportMetric(float64(rep.EchoWrites), "echo-writes")
	b.ReportMetric(float64(rep.DuplicateCaptureWrites), "duplicate-writes")
	b.ReportMetric(rep.FailbackS/rep.FailbackBoundS, "failback-ratio")
	b.ReportMetric(float64(rep.DevicesRefusedAfterFailback), "failback-refused")
	b.ReportMetric(float64(rep.ChangesMadeInSecondary), "changes-in-secondary")
	b.ReportMetric(rep.FailbackS, "failback-s")
	b.ReportMetric(rep.WallS, "wall-s")
}
