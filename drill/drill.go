// Package drill runs iot-dr's failover drills on the simulated World and reports what
// they measured: provision a fleet in the primary, let the pipeline replicate it, run
// device traffic, inject a fault, wait for the fleet to fail over, keep traffic going,
// restore the primary, wait for failback, and verify the two Regions agree.
//
// It is the logic behind `iotdr drill`; the command only parses flags and prints.
// Drills against a real deployment live in the awsdrill package.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/fleet"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// Scenario is one drill.
type Scenario struct {
	Name        string
	Description string
	// fault injects the scenario's fault and returns its undo.
	fault func(d *run) (undo func())
	// expectFailover is false where the fleet must stay on the primary.
	expectFailover bool
	// before runs after the fleet is replicated, before the devices connect; it may
	// add devices.
	before func(ctx context.Context, d *run) ([]fleet.Device, error)
}

// Scenarios lists the drills, default first.
var Scenarios = []Scenario{
	{Name: "region-outage", Description: "the primary Region is lost: broker, IoT APIs and replication down; " +
		"the fleet must fail over to the secondary and back", fault: regionOutage, expectFailover: true},
	{Name: "broker-outage", Description: "only the primary's MQTT broker goes down (APIs and replication keep working)",
		fault: brokerOutage, expectFailover: true},
	{Name: "probe-failure", Description: "the primary's health probe fails while its broker is fine (the force-fail switch): " +
		"DNS moves to the secondary, connected devices stay where they are", fault: probeFailure, expectFailover: false},
	{Name: "flapping", Description: "the primary's probe fails for less than the failure threshold, again and again: " +
		"Route 53's damping must keep DNS on the primary", fault: flapping, expectFailover: false},
	{Name: "replication-lag", Description: "the primary is lost while replication is behind (paused with changes queued): " +
		"reports the registry changes and shadow updates missing in the secondary (RPO) and the devices it refuses",
		fault: regionOutage, expectFailover: true, before: replicationBehind},
	{Name: "throttling", Description: "the secondary's IoT APIs are throttled (50 calls/s per API) while registry changes replicate " +
		"and the primary is lost: what outlasts the retries lands in the error table and is re-driven after the drill",
		fault: regionOutage, expectFailover: true, before: throttleSecondary},
}

// Find returns the scenario called name.
func Find(name string) (Scenario, error) {
	var names []string
	for _, s := range Scenarios {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(names, ", "))
}

// Config sizes and tunes a drill. Durations and rates are AWS's: what the deployment
// would be configured with (`--interval 30s --ttl 60s`). TimeScale compresses the run:
// every duration lasts 1/TimeScale of it in wall time and every rate is TimeScale times
// faster, and the report converts back, so it reads in AWS-equivalent seconds.
type Config struct {
	Scenario string
	// Devices is the number of live devices.
	Devices int
	// FleetSize is the fleet they stand for (0: Devices), a multiple of Devices: each
	// live device's CONNECT costs FleetSize/Devices of the account's CONNECT quota, so
	// the live fleet reconnects as slowly as the whole fleet would and the measured RTO
	// is the prediction for FleetSize devices.
	FleetSize int
	// DevicesWithoutSNI of the devices send no TLS Server Name Indication.
	DevicesWithoutSNI int
	// Interval and Threshold are the Route 53 health checks' request interval (10 s or
	// 30 s) and failure threshold; TTL is the failover records' TTL.
	Interval  time.Duration
	Threshold int
	TTL       time.Duration
	// BackoffBase and BackoffCap shape the devices' reconnect backoff (full jitter).
	BackoffBase, BackoffCap time.Duration
	// ReplicationDelay is the global table's delay.
	ReplicationDelay time.Duration
	// ConnectRate is the account's CONNECT requests per second in each Region (AWS IoT
	// Core's default 500, adjustable).
	ConnectRate float64
	// TimeScale is how many AWS seconds one wall second stands for.
	TimeScale float64
	// Changes is how many registry changes and shadow updates the replication-lag and
	// throttling scenarios make before the fault, how many registry changes every
	// scenario attempts in the primary while failed over, and how many things get a
	// shadow report and an attribute change in the secondary then (the failback half).
	Changes int
	// FailbackChanges is how many shadow reports and attribute changes the failback half
	// makes in the secondary while failed over, round robin over the upper half of the
	// fleet (0: one of each on up to Changes things).
	FailbackChanges int
	// Seed makes the fleet's attributes and jitter reproducible.
	Seed int64
	// FleetWorker, when set, runs the fleet in child processes started by this
	// command (`iotdr fleet`), FleetPerProcess devices each (default
	// fleet.DefaultPerProcess); nil runs it in this process. In child processes the
	// drill holds one socket per device instead of two, and a worker that dies takes
	// its devices with it: they are reported lost.
	FleetWorker     *fleet.Command
	FleetPerProcess int
	// Progress receives one line per phase and periodic fleet counts; nil discards.
	Progress io.Writer
}

// DefaultTimeScale runs Route 53's 10 s interval in 200 ms of wall time.
const DefaultTimeScale = 50

// probeTimeoutAWS is the stacks' default probe timeout (probeTimeoutMs 1500), the
// bound's term for the probe that notices the fault. The simulated probe's own timeout
// is wall time and generous (simulator.DefaultProbeTimeout): every fault fails it fast.
const probeTimeoutAWS = 1500 * time.Millisecond

// minWallInterval is the shortest health-check interval in wall time the simulator
// keeps up with: every checker's probe is a real TLS round trip through the broker.
const minWallInterval = 100 * time.Millisecond

// DefaultConfig is a drill with Route 53's 10 s interval and a 10 s TTL at the default
// time scale: it runs in seconds.
func DefaultConfig() Config {
	return Config{Scenario: Scenarios[0].Name, Devices: 100, Interval: 10 * time.Second, Threshold: 3,
		TTL: 10 * time.Second, BackoffBase: 2500 * time.Millisecond, BackoffCap: 25 * time.Second,
		ConnectRate: broker.DefaultConnectPerSecond, TimeScale: DefaultTimeScale, Changes: 50, Seed: 1}
}

// Wall is how long d of AWS time lasts in the run.
func (c Config) Wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.TimeScale)
}

// maxDevices bounds a drill by the process's open-file limit: every simulated device
// holds two sockets (its own and the broker's end), one when the fleet runs in worker
// processes (each worker then holds its own devices' ends within its own limit); a
// tenth stays free for DNS queries, health checks and the rest.
func (c Config) maxDevices() int {
	perDevice := 2
	if c.FleetWorker != nil {
		perDevice = 1
	}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 100000
	}
	n := int(min(l.Cur, 1<<31))
	return max(0, (n-n/10)/perDevice)
}

// RaiseFileLimit lifts the soft open-file limit to the hard limit, so that a drill can
// hold as many devices as the machine allows.
func RaiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// Garbage collection of a drill's process (TuneGC).
const (
	drillGCPercent   = 200
	drillMemoryLimit = 1400 << 20
)

// TuneGC sets the process's garbage collector for a drill, unless GOGC or GOMEMLIMIT
// say otherwise: collect at 3x the live heap (GOGC 200) but by 1,400 MiB at the latest
// (a soft limit). A drill's heap is mostly the simulated World, which grows for the
// whole provisioning (about 45 KB per device, 10,000 devices: 450 MiB, the brokers'
// connections as much again); at the default GOGC 100 a quarter of the provisioning's
// CPU was collection of a heap still growing, while the limit keeps a 10,000-device
// drill within its memory budget (2,000 MiB, fleet workers included).
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(drillGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(drillMemoryLimit)
	}
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	if _, err := Find(c.Scenario); err != nil {
		return err
	}
	if m := c.maxDevices(); c.Devices < 1 || c.Devices > m {
		return fmt.Errorf("--devices must be between 1 and %d (the drill's sockets per device within the open-file limit; raise `ulimit -n` for more), got %d", m, c.Devices)
	}
	if c.FleetSize != 0 && (c.FleetSize < c.Devices || c.FleetSize%c.Devices != 0) {
		return fmt.Errorf("--fleet-size must be a multiple of --devices (%d) and at least it, got %d", c.Devices, c.FleetSize)
	}
	if c.DevicesWithoutSNI < 0 || c.DevicesWithoutSNI > c.Devices {
		return fmt.Errorf("--devices-without-sni must be between 0 and --devices (%d), got %d", c.Devices, c.DevicesWithoutSNI)
	}
	if c.Interval != 10*time.Second && c.Interval != 30*time.Second {
		return fmt.Errorf("--interval must be 10s or 30s (Route 53's request intervals), got %s", c.Interval)
	}
	if c.TimeScale < 1 {
		return fmt.Errorf("--time-scale must be at least 1 (AWS seconds per wall second), got %g", c.TimeScale)
	}
	if w := c.Wall(c.Interval); w < minWallInterval {
		return fmt.Errorf("--time-scale %g runs the %s interval in %s of wall time; the simulator needs at least %s (its probes are real TLS round trips): use --time-scale %g or less",
			c.TimeScale, c.Interval, w, minWallInterval, float64(c.Interval)/float64(minWallInterval))
	}
	if c.Threshold < 1 || c.Threshold > 10 {
		return fmt.Errorf("--threshold must be between 1 and 10 (as Route 53 allows), got %d", c.Threshold)
	}
	if c.TTL < time.Second || c.TTL > 24*time.Hour {
		return fmt.Errorf("--ttl must be between 1s and 24h, got %s", c.TTL)
	}
	if w := c.Wall(c.TTL); w < simulator.TTLUnit {
		return fmt.Errorf("--ttl %s lasts %s at --time-scale %g, below the simulated DNS's resolution (%s)", c.TTL, w, c.TimeScale, simulator.TTLUnit)
	}
	if c.BackoffBase <= 0 || c.BackoffCap < c.BackoffBase {
		return fmt.Errorf("--backoff-base (%s) must be positive and at most --backoff-cap (%s)", c.BackoffBase, c.BackoffCap)
	}
	if c.ReplicationDelay < 0 || c.ReplicationDelay > time.Hour {
		return fmt.Errorf("--replication-delay must be between 0 and 1h, got %s", c.ReplicationDelay)
	}
	if c.ConnectRate <= 0 {
		return fmt.Errorf("--connect-rate must be positive (CONNECT requests per second per account), got %g", c.ConnectRate)
	}
	if c.FailbackChanges < 0 {
		return fmt.Errorf("failback changes must not be negative, got %d", c.FailbackChanges)
	}
	if c.Changes < 0 {
		return fmt.Errorf("--changes must not be negative, got %d", c.Changes)
	}
	return nil
}

// Bound is the RTO the settings imply for one device, in AWS time: detection (interval
// x threshold, plus one probe timeout), the record's TTL in the device's cache, the
// longest reconnect backoff, and the fleet's reconnect time under the account's CONNECT
// quota (devices / rate).
func (c Config) Bound() time.Duration {
	return time.Duration(c.Threshold)*c.Interval + probeTimeoutAWS + c.TTL + c.BackoffCap + c.QuotaTime()
}

// FailbackGateBound is what the failback takes at most once the primary has caught
// up, in AWS time: the catch-up gate's linger after the apply's last batch that was
// behind (probe.DefaultCatchUpLinger), then the failover bound's terms (the health
// checks passing threshold times, TTL, backoff, reconnects under the CONNECT quota).
func (c Config) FailbackGateBound() time.Duration {
	return probe.DefaultCatchUpLinger + c.Bound()
}

// QuotaTime is how long the fleet needs to reconnect at the account's CONNECT rate.
func (c Config) QuotaTime() time.Duration {
	return time.Duration(float64(c.Fleet()) / c.ConnectRate * float64(time.Second))
}

// Fleet is the number of devices the drill stands for: FleetSize, or Devices.
func (c Config) Fleet() int { return max(c.FleetSize, c.Devices) }

// quotas are the brokers' limits in wall time: AWS's rates, TimeScale times faster. A
// live device of a represented fleet costs Fleet()/Devices CONNECTs of the account's;
// the probes, which stand for themselves, cost one. Per-client and per-connection
// limits are per device and stay as they are.
func (c Config) quotas() broker.Quotas {
	q := broker.Quotas{ConnectPerSecond: c.ConnectRate * c.TimeScale,
		ClientConnectPerSecond: broker.DefaultClientConnectPerSecond * c.TimeScale,
		PublishPerSecond:       broker.DefaultPublishPerSecond * c.TimeScale, TimeScale: c.TimeScale}
	if k := c.Fleet() / c.Devices; k > 1 {
		q.ConnectCost = func(clientID string) int {
			if strings.HasPrefix(clientID, spec.ProbeClientIDPrefix) {
				return 1
			}
			return k
		}
	}
	return q
}

// Phase is one timeline entry.
type Phase struct {
	Name string  `json:"name"`
	AtS  float64 `json:"at_s"`
}

// Sample is the World's state at one moment, for the report's chart.
type Sample struct {
	AtS              float64 `json:"at_s"`
	PrimaryDevices   int     `json:"primary_devices"`
	SecondaryDevices int     `json:"secondary_devices"`
	PrimaryHealthy   bool    `json:"primary_healthy"`
	SecondaryHealthy bool    `json:"secondary_healthy"`
	DNS              string  `json:"dns"`
}

// Report is what a drill measured.
type Report struct {
	Scenario string `json:"scenario"`
	Devices  int    `json:"devices"`
	// TimeScale is how many AWS seconds one wall second stood for: every *_s field but
	// wall_s, and every timeline and sample time, is in AWS-equivalent seconds.
	TimeScale float64 `json:"time_scale"`
	// FleetSize is the fleet the live devices stood for: the RTO figures are its
	// prediction.
	FleetSize int `json:"fleet_size"`
	// Headline is the drill's main finding, when there is one beyond pass or fail.
	Headline string `json:"headline,omitempty"`
	// PrimaryRegion and SecondaryRegion name the Regions of the drill.
	PrimaryRegion   string   `json:"primary_region"`
	SecondaryRegion string   `json:"secondary_region"`
	Settings        Config   `json:"-"`
	Timeline        []Phase  `json:"timeline"`
	Samples         []Sample `json:"samples"`

	// RTO: from the fault to each device publishing again in the secondary.
	RTOP50S  float64 `json:"rto_p50_s"`
	RTOP99S  float64 `json:"rto_p99_s"`
	RTOMaxS  float64 `json:"rto_max_s"`
	RTOBound float64 `json:"rto_bound_s"`
	// QuotaS is the bound's term for the fleet reconnecting at the account's CONNECT
	// rate (devices / rate).
	QuotaS float64 `json:"rto_bound_quota_s"`
	// ConnectsThrottled counts CONNECTs the Regions' quotas throttled (the devices
	// retried).
	ConnectsThrottled int `json:"connects_throttled"`
	// DetectionS is from the fault to the primary's health check turning unhealthy,
	// DNSSwitchS to the failover record answering the secondary.
	DetectionS float64 `json:"detection_s"`
	DNSSwitchS float64 `json:"dns_switch_s"`
	// HealthChecksFailedBeforeFault counts, per Region, the probes that failed between
	// the baseline (the fleet connected, the pipeline quiet, every checker passing since)
	// and the fault: a healthy drill has none. HealthChecksFailedDuringSetup counts those
	// that failed before the baseline, while the fleet was provisioned, replicated and
	// connected (load of the drill's own making); either fails the drill when it turned
	// the primary's health check unhealthy.
	HealthChecksFailedBeforeFault map[string]int `json:"health_checks_failed_before_fault"`
	HealthChecksFailedDuringSetup map[string]int `json:"health_checks_failed_during_setup"`
	// SimulatorConnectS is how long this machine took to connect the live fleet before
	// the quotas applied (wall time less the start spread, in AWS seconds): the
	// simulator's own reconnect time, which no failover here can beat.
	// RTOBoundWithSimulator is the bound with it in place of the quota term where it is
	// longer: a p99 near it and far above rto_bound_s is the simulator's CPU, not the
	// settings. TimeScaleForQuota, when the simulator is the slower, is the time scale
	// at which it keeps up with the quota (below 1: fewer live devices, --fleet-size).
	SimulatorConnectS     float64 `json:"simulator_connect_s"`
	RTOBoundWithSimulator float64 `json:"rto_bound_with_simulator_s"`
	TimeScaleForQuota     float64 `json:"time_scale_for_quota,omitempty"`
	// FailbackS is from the restore to every device being back on the primary.
	FailbackS float64 `json:"failback_s"`
	// FailbackBoundS is what the catch-up gate lets the failback take: the catch-up
	// (failback_catch_up_s), then Config.FailbackGateBound.
	FailbackBoundS float64 `json:"failback_bound_s"`
	// DevicesLost are replicated devices that never published in the secondary.
	DevicesLost    int       `json:"devices_lost"`
	LostDevices    []string  `json:"lost_devices,omitempty"`
	RefusedDevices []Refusal `json:"refused_devices"`
	// MessagesUndelivered are telemetry and shadow publishes not acknowledged during the
	// drill (devices publishing while disconnected).
	MessagesUndelivered int64 `json:"messages_undelivered"`
	MessagesDelivered   int64 `json:"messages_delivered"`
	// ChangesDuringOutage are registry changes made while failed over that the primary
	// accepted; ChangesRefusedDuringOutage those it refused (its APIs were down).
	ChangesDuringOutage        int `json:"registry_changes_during_outage"`
	ChangesRefusedDuringOutage int `json:"registry_changes_refused_during_outage"`

	// DifferencesAfterProvisioning are the registry differences once the pipeline was
	// idle after provisioning: attachments made after their thing's re-checks ended,
	// which the drill's run of the capture sweep (hourly in the stacks) then replicated.
	DifferencesAfterProvisioning int `json:"differences_after_provisioning"`

	// RPO: what the secondary lacked while the primary was down.
	ReplicationPendingAtFault int      `json:"replication_pending_at_fault"`
	ReplicationLagAtFaultMS   float64  `json:"replication_lag_at_fault_ms"`
	RegistryChangesLost       int      `json:"registry_changes_lost"`
	ShadowUpdatesLost         int      `json:"shadow_updates_lost"`
	LostExamples              []string `json:"lost_examples,omitempty"`

	// Failback: what was changed in the secondary while failed over (shadow reports,
	// attributes, devices provisioned, a thing deleted), how much of it the primary
	// lacks after catching up, the conflicts the pipeline recorded, how long the
	// catch-up took from the restore, and the devices provisioned in the secondary
	// that the primary refused after failback.
	ChangesMadeInSecondary      int      `json:"changes_made_in_secondary"`
	ChangesLostOnFailback       int      `json:"changes_lost_on_failback"`
	LostOnFailback              []string `json:"lost_on_failback_examples,omitempty"`
	Conflicts                   int      `json:"conflicts"`
	FailbackCatchUpS            float64  `json:"failback_catch_up_s"`
	DevicesRefusedAfterFailback int      `json:"devices_refused_after_failback"`
	// DevicesOnboardedByJITP are the new devices that onboarded in the secondary by
	// just-in-time provisioning while failed over (their certificates signed by a
	// factory CA the primary's sweep carried there); each is also a change made there.
	DevicesOnboardedByJITP int       `json:"devices_onboarded_by_jitp"`
	RefusedAfterFailback   []Refusal `json:"refused_after_failback,omitempty"`
	// EchoWrites are the state-table writes of the whole drill in which a Region's
	// capture wrote back, unchanged, an item that came from the other Region (the echo
	// of an apply): they fail the drill. DuplicateCaptureWrites are a Region's captures
	// rewriting its own item unchanged (two captures of one change racing): a cost, not
	// a loop.
	EchoWrites             int `json:"echo_writes"`
	DuplicateCaptureWrites int `json:"duplicate_capture_writes"`

	ErrorTableRecords int `json:"error_table_records"`
	// ErrorTableKinds counts the records by "<Region> <stage> <error>".
	ErrorTableKinds map[string]int `json:"error_table_kinds,omitempty"`
	// ErrorTableExamples gives one record of each kind: "<key>: <cause>".
	ErrorTableExamples      map[string]string `json:"error_table_examples,omitempty"`
	DifferencesAfterRestore []string          `json:"differences_after_restore"`
	WallS                   float64           `json:"wall_s"`
	// FleetWorkers is how many processes ran the fleet (0: the drill's own), and
	// FleetWorkersPeakMiB the sum of their peak resident sizes.
	FleetWorkers        int      `json:"fleet_workers"`
	FleetWorkersPeakMiB float64  `json:"fleet_workers_peak_mib"`
	Passed              bool     `json:"passed"`
	Failures            []string `json:"failures,omitempty"`
}

// Refusal is one device refused by the secondary, with the broker's reason.
type Refusal struct {
	Device string `json:"device"`
	Reason string `json:"reason"`
}

type run struct {
	cfg    Config
	sc     Scenario
	w      *simulator.World
	edge   *simulator.Edge
	rep    *Report
	start  time.Time
	things []string
	// replicated are the devices replicated to the secondary; noSNI those of them that
	// send no SNI (the secondary refuses them).
	replicated, noSNI map[string]bool
	// primaryDown is set while the fault has the primary's APIs down.
	primaryDown bool
	// throttling is set while the throttling scenario limits the secondary.
	throttling bool
	// afterRestore undoes what a scenario's before step set up.
	afterRestore []func()
	// replicatedThings are the fleet's things replicated before the fault, in order.
	replicatedThings []string
	// newInSecondary are the devices provisioned in the secondary while failed over;
	// secondaryChanges every change made there, to look for in the primary.
	newInSecondary   []fleet.Device
	secondaryChanges []secondaryChange
	// factory is the CA of the devices that onboard by just-in-time provisioning
	// (setUpJITP); nil until it is registered.
	factory *pki.CA
	// justInTime are the devices that onboarded by JITP: their first connection is
	// closed by design, which is no refusal.
	justInTime map[string]bool
	// caughtUpAt is when the pipeline had applied its backlog after the restore.
	caughtUpAt time.Time
	// baseline is when the health checks are judged from (zero: the start).
	baseline time.Time
}

// Run executes the configured drill. An error means the drill could not run; a drill
// that ran and found a problem returns a Report with Passed false and its Failures.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc, _ := Find(cfg.Scenario)
	// As strict as AWS: registry events and rule actions at least once and unordered
	// (from the drill's seed), AWS's quotas.
	w, err := simulator.New(ctx, simulator.Options{ReplicationDelay: cfg.Wall(cfg.ReplicationDelay), BrokerQuotas: cfg.quotas(),
		Fidelity: simulator.StrictFidelity(uint64(cfg.Seed))})
	if err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	defer w.Close()
	d := &run{cfg: cfg, sc: sc, w: w, start: time.Now(), replicated: map[string]bool{}, noSNI: map[string]bool{},
		rep: &Report{Scenario: sc.Name, Devices: cfg.Devices, Settings: cfg, TimeScale: cfg.TimeScale, FleetSize: cfg.Fleet(),
			PrimaryRegion: w.Primary.Name, SecondaryRegion: w.Secondary.Name, RTOBound: cfg.Bound().Seconds(),
			QuotaS: cfg.QuotaTime().Seconds()}}
	if err := d.failoverDrill(ctx); err != nil {
		return nil, err
	}
	d.rep.WallS = time.Since(d.start).Seconds()
	d.rep.Passed = len(d.rep.Failures) == 0
	return d.rep, nil
}

func (d *run) phase(format string, args ...any) {
	name := fmt.Sprintf(format, args...)
	d.rep.Timeline = append(d.rep.Timeline, Phase{Name: name, AtS: d.wallToAWS(time.Since(d.start))})
	d.progress("%s", name)
}

func (d *run) progress(format string, args ...any) {
	if d.cfg.Progress != nil {
		fmt.Fprintf(d.cfg.Progress, "[%8.1fs] %s\n", d.wallToAWS(time.Since(d.start)), fmt.Sprintf(format, args...))
	}
}

func (d *run) fail(format string, args ...any) {
	d.rep.Failures = append(d.rep.Failures, fmt.Sprintf(format, args...))
}

// ErrBudget is returned by CheckBudgets when a drill broke a budget.
var ErrBudget = errors.New("budget exceeded")

// CheckBudgets compares the report with the budgets: maxRTO on the p99 RTO (0: none),
// maxLost on devices plus changes lost (negative: none).
func CheckBudgets(r *Report, maxRTO time.Duration, maxLost int) error {
	var errs []error
	if maxRTO > 0 && r.RTOP99S > maxRTO.Seconds() {
		errs = append(errs, fmt.Errorf("%w: RTO p99 %.3fs over --max-rto %s", ErrBudget, r.RTOP99S, maxRTO))
	}
	if lost := r.DevicesLost + r.RegistryChangesLost + r.ShadowUpdatesLost; maxLost >= 0 && lost > maxLost {
		errs = append(errs, fmt.Errorf("%w: %d lost (devices %d, registry changes %d, shadow updates %d), --max-lost %d",
			ErrBudget, lost, r.DevicesLost, r.RegistryChangesLost, r.ShadowUpdatesLost, maxLost))
	}
	return errors.Join(errs...)
}

// wallToAWS converts a wall-clock duration of the run to AWS-equivalent seconds.
func (d *run) wallToAWS(x time.Duration) float64 { return x.Seconds() * d.cfg.TimeScale }
