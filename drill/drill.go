// Package drill runs iot-dr's drills on the simulated World and reports what they
// measured: provision a fleet in the primary, let the pipeline replicate it, inject a
// fault, keep changing the primary, and count what the secondary lost (RPO) and how
// long it took to converge.
//
// It is the logic behind `iotdr drill`; the command only parses flags and prints.
// Drills against a real deployment are not implemented here.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/simulator"
)

// Scenario is one drill.
type Scenario struct {
	Name        string
	Description string
	run         func(ctx context.Context, d *run) error
}

// Scenarios lists the drills, default first.
var Scenarios = []Scenario{
	{Name: "replication", Description: "provision the fleet, change things, types, groups and shadows in the primary, " +
		"and check the secondary converges to an exact copy; reports replication lag", run: replicationDrill},
	{Name: "replication-lag", Description: "the primary is lost while replication is behind (paused): reports the registry " +
		"changes and shadow updates missing in the secondary at the fault (RPO), then restores the primary and checks nothing stays lost", run: lagDrill},
	{Name: "throttling", Description: "the secondary's IoT APIs are throttled to 50 calls/s while the fleet is provisioned: " +
		"what outlasts the state machine's retries must land in the error table and be re-driven by the reconciler once the throttling ends", run: throttlingDrill},
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

// Config sizes and tunes a drill.
type Config struct {
	Scenario string
	// Devices is the fleet size (1-100000).
	Devices int
	// ReplicationDelay is the global table's delay.
	ReplicationDelay time.Duration
	// Changes is how many registry changes and shadow updates are made after the fault.
	Changes int
	// Seed makes the fleet's attributes reproducible.
	Seed int64
	// Progress receives one line per phase; nil discards.
	Progress io.Writer
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	if _, err := Find(c.Scenario); err != nil {
		return err
	}
	if c.Devices < 1 || c.Devices > 100000 {
		return fmt.Errorf("--devices must be between 1 and 100000, got %d", c.Devices)
	}
	if c.ReplicationDelay < 0 || c.ReplicationDelay > time.Minute {
		return fmt.Errorf("--replication-delay must be between 0 and 1m, got %s", c.ReplicationDelay)
	}
	if c.Changes < 0 {
		return fmt.Errorf("--changes must not be negative, got %d", c.Changes)
	}
	return nil
}

// Phase is one timeline entry.
type Phase struct {
	Name string        `json:"name"`
	At   time.Duration `json:"at_ns"`
	AtS  float64       `json:"at_s"`
}

// Report is what a drill measured.
type Report struct {
	Scenario                  string   `json:"scenario"`
	Devices                   int      `json:"devices"`
	Timeline                  []Phase  `json:"timeline"`
	ProvisionS                float64  `json:"provision_s"`
	ConvergeS                 float64  `json:"converge_s"`
	LagP50MS                  float64  `json:"lag_p50_ms"`
	LagP99MS                  float64  `json:"lag_p99_ms"`
	ReplicationPendingAtFault int      `json:"replication_pending_at_fault"`
	ReplicationLagAtFaultMS   float64  `json:"replication_lag_at_fault_ms"`
	RegistryChangesLost       int      `json:"registry_changes_lost"`
	ShadowUpdatesLost         int      `json:"shadow_updates_lost"`
	LostExamples              []string `json:"lost_examples,omitempty"`
	DifferencesAfterRestore   []string `json:"differences_after_restore"`
	ErrorTableRecords         int      `json:"error_table_records"`
	ErrorTableAfterFault      int      `json:"error_table_after_fault"`
	Passed                    bool     `json:"passed"`
	Failure                   string   `json:"failure,omitempty"`
}

type run struct {
	cfg    Config
	w      *simulator.World
	rep    *Report
	start  time.Time
	things []string
}

// Run executes the configured drill. An error means the drill could not run; a drill
// that ran and found a problem returns a Report with Passed false.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc, _ := Find(cfg.Scenario)
	w, err := simulator.New(ctx, simulator.Options{ReplicationDelay: cfg.ReplicationDelay})
	if err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	defer w.Close()
	d := &run{cfg: cfg, w: w, rep: &Report{Scenario: sc.Name, Devices: cfg.Devices}, start: time.Now()}
	if err := sc.run(ctx, d); err != nil {
		return nil, err
	}
	d.rep.ErrorTableRecords = w.Secondary.Errors.Len()
	d.rep.Passed = d.rep.Failure == "" && len(d.rep.DifferencesAfterRestore) == 0
	if !d.rep.Passed && d.rep.Failure == "" {
		d.rep.Failure = fmt.Sprintf("%d differences remain after restore", len(d.rep.DifferencesAfterRestore))
	}
	return d.rep, nil
}

func (d *run) phase(name string) {
	at := time.Since(d.start)
	d.rep.Timeline = append(d.rep.Timeline, Phase{Name: name, At: at, AtS: at.Seconds()})
	if d.cfg.Progress != nil {
		fmt.Fprintf(d.cfg.Progress, "[%7.3fs] %s\n", at.Seconds(), name)
	}
}

// provision creates the fleet in the primary: two thing types, a group tree, N devices
// spread over them with a certificate and the device policy each, and a reported shadow.
func (d *run) provision(ctx context.Context) error {
	d.phase(fmt.Sprintf("provisioning %d devices in %s", d.cfg.Devices, d.w.Primary.Name))
	reg := d.w.Primary.Registry
	for _, tt := range []string{"sensor", "gateway"} {
		if _, err := reg.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(tt)}); err != nil {
			return fmt.Errorf("create thing type %s: %w", tt, err)
		}
	}
	for _, g := range [][2]string{{"fleet", ""}, {"fleet-eu", "fleet"}, {"fleet-us", "fleet"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g[0])}
		if g[1] != "" {
			in.ParentGroupName = aws.String(g[1])
		}
		if _, err := reg.CreateThingGroup(ctx, in); err != nil {
			return fmt.Errorf("create thing group %s: %w", g[0], err)
		}
	}
	t0 := time.Now()
	for i := range d.cfg.Devices {
		name := fmt.Sprintf("device-%06d", i)
		dev := simulator.Device{Thing: name, ThingType: []string{"sensor", "gateway"}[i%2],
			Attributes: map[string]string{"site": fmt.Sprint((int64(i) + d.cfg.Seed) % 17)},
			Groups:     []string{[]string{"fleet-eu", "fleet-us"}[i%2]}}
		if _, err := d.w.ProvisionDevice(ctx, dev); err != nil {
			return err
		}
		if err := d.shadow(ctx, name, 0); err != nil {
			return err
		}
		d.things = append(d.things, name)
	}
	d.rep.ProvisionS = time.Since(t0).Seconds()
	return nil
}

func (d *run) shadow(ctx context.Context, thing string, seq int) error {
	_, err := d.w.Primary.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing),
		Payload: fmt.Appendf(nil, `{"state":{"reported":{"seq":%d}}}`, seq)})
	if err != nil {
		return fmt.Errorf("shadow of %s: %w", thing, err)
	}
	return nil
}

// changes makes n registry changes and n shadow updates in the primary.
func (d *run) changes(ctx context.Context, n int) error {
	for i := range n {
		thing := d.things[i%len(d.things)]
		if _, err := d.w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(thing),
			AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"rev": fmt.Sprint(i + 1)}}}); err != nil {
			return fmt.Errorf("update %s: %w", thing, err)
		}
		if err := d.shadow(ctx, thing, i+1); err != nil {
			return err
		}
	}
	return nil
}

func (d *run) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return d.w.Settle(ctx)
}

// differences compares the Regions: registry lines and shadows that differ.
func (d *run) differences(ctx context.Context) (registry, shadows []string, err error) {
	registry, err = replication.Diff(ctx, d.w.Primary.Registry, d.w.Secondary.Registry, d.w.Primary.Name, d.w.Secondary.Name)
	if err != nil {
		return nil, nil, err
	}
	for _, thing := range d.things {
		p, perr := d.w.Primary.Shadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
		s, serr := d.w.Secondary.Shadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing)})
		if perr != nil || serr != nil {
			if (perr == nil) != (serr == nil) {
				shadows = append(shadows, "shadow "+thing+": present in only one Region")
			}
			continue
		}
		if reported(p.Payload) != reported(s.Payload) {
			shadows = append(shadows, "shadow "+thing+": reported state differs")
		}
	}
	return registry, shadows, nil
}

func reported(doc []byte) string {
	s := string(doc)
	i := strings.Index(s, `"reported":`)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], "}")
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}

func (d *run) converge(ctx context.Context) error {
	t0 := time.Now()
	if err := d.settle(ctx); err != nil {
		return err
	}
	d.rep.ConvergeS = time.Since(t0).Seconds()
	d.rep.LagP50MS = float64(d.w.Secondary.Lag.Percentile(50).Microseconds()) / 1000
	d.rep.LagP99MS = float64(d.w.Secondary.Lag.Percentile(99).Microseconds()) / 1000
	d.phase("secondary converged")
	return nil
}

func (d *run) verify(ctx context.Context) error {
	reg, sh, err := d.differences(ctx)
	if err != nil {
		return err
	}
	d.rep.DifferencesAfterRestore = append(reg, sh...)
	if d.rep.DifferencesAfterRestore == nil {
		d.rep.DifferencesAfterRestore = []string{}
	}
	d.phase(fmt.Sprintf("verified: %d differences", len(d.rep.DifferencesAfterRestore)))
	return nil
}

func replicationDrill(ctx context.Context, d *run) error {
	if err := d.provision(ctx); err != nil {
		return err
	}
	if err := d.converge(ctx); err != nil {
		return err
	}
	d.phase(fmt.Sprintf("making %d registry changes and shadow updates", d.cfg.Changes))
	if err := d.changes(ctx, d.cfg.Changes); err != nil {
		return err
	}
	if err := d.settle(ctx); err != nil {
		return err
	}
	return d.verify(ctx)
}

func lagDrill(ctx context.Context, d *run) error {
	if err := d.provision(ctx); err != nil {
		return err
	}
	if err := d.converge(ctx); err != nil {
		return err
	}
	d.w.Replication.Pause()
	d.phase("replication falls behind (paused)")
	if err := d.changes(ctx, d.cfg.Changes); err != nil {
		return err
	}
	// The primary is lost: its APIs go down and what it had not replicated is stuck there.
	d.rep.ReplicationPendingAtFault = d.w.Replication.Pending()
	d.rep.ReplicationLagAtFaultMS = float64(d.w.Replication.Lag().Microseconds()) / 1000
	d.w.Replication.SetRegionDown(d.w.Primary.Name, true)
	d.w.Replication.Resume()
	d.w.Primary.Registry.SetAvailable(false)
	d.phase(fmt.Sprintf("fault: primary lost with %d changes not replicated", d.rep.ReplicationPendingAtFault))
	if err := d.settle(ctx); err != nil {
		return err
	}
	d.w.Primary.Registry.SetAvailable(true) // read the primary's state to count what is missing
	reg, sh, err := d.differences(ctx)
	if err != nil {
		return err
	}
	d.w.Primary.Registry.SetAvailable(false)
	d.rep.RegistryChangesLost, d.rep.ShadowUpdatesLost = len(reg), len(sh)
	d.rep.LostExamples = slices.Clone(append(reg, sh...)[:min(5, len(reg)+len(sh))])
	d.phase(fmt.Sprintf("RPO: %d registry changes and %d shadow updates missing in the secondary", len(reg), len(sh)))
	d.w.Primary.Registry.SetAvailable(true)
	d.w.Replication.SetRegionDown(d.w.Primary.Name, false)
	d.phase("primary restored")
	if err := d.settle(ctx); err != nil {
		return err
	}
	return d.verify(ctx)
}

// throttled are the secondary APIs the throttling drill limits.
var throttled = []string{"CreateThing", "RegisterCertificateWithoutCA", "AttachPolicy", "AttachThingPrincipal", "DescribeThing"}

func throttlingDrill(ctx context.Context, d *run) error {
	for _, api := range throttled {
		d.w.Secondary.Registry.SetRate(api, 50)
	}
	d.phase("secondary IoT APIs throttled to 50 calls/s each")
	if err := d.provision(ctx); err != nil {
		return err
	}
	if err := d.converge(ctx); err != nil {
		return err
	}
	d.rep.ErrorTableAfterFault = d.w.Secondary.Errors.Len()
	for _, api := range throttled {
		d.w.Secondary.Registry.SetRate(api, 0)
	}
	d.phase(fmt.Sprintf("throttling lifted; %d events in the error table", d.rep.ErrorTableAfterFault))
	resp, err := d.w.Reconcile(ctx, false)
	if err != nil {
		return err
	}
	d.phase(fmt.Sprintf("reconciler re-drove %d events (%d still failing)", resp.Redriven, resp.StillFailing))
	if err := d.settle(ctx); err != nil {
		return err
	}
	return d.verify(ctx)
}

// ErrBudget is returned by CheckBudgets when a drill broke a budget.
var ErrBudget = errors.New("budget exceeded")

// CheckBudgets compares the report with the budgets; maxLost < 0 disables that check.
func CheckBudgets(r *Report, maxLost int) error {
	if maxLost >= 0 && r.RegistryChangesLost+r.ShadowUpdatesLost > maxLost {
		return fmt.Errorf("%w: %d changes lost, budget %d", ErrBudget, r.RegistryChangesLost+r.ShadowUpdatesLost, maxLost)
	}
	return nil
}
