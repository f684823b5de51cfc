package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/dns"
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// failoverDrill is every scenario's script; the scenario supplies the fault.
func (d *run) failoverDrill(ctx context.Context) error {
	c := d.cfg
	if err := d.setUpJITP(ctx); err != nil {
		return err
	}
	devices, err := d.provision(ctx)
	if err != nil {
		return err
	}
	if err := d.settle(ctx); err != nil {
		return err
	}
	// The probes, health checks and DNS start once the fleet exists, as a deployment's
	// would be up before its fleet fails over: probing a World busy provisioning costs
	// a TLS round trip per checker and interval (eight checkers a Region, every 200 ms
	// at the default time scale) and measures nothing the drill reports.
	edge, err := d.w.StartEdge(ctx, simulator.EdgeOptions{Interval: c.Wall(c.Interval), FailureThreshold: c.Threshold,
		TTL: c.Wall(c.TTL), CatchUpMaxAge: c.Wall(probe.DefaultCatchUpMaxAge), CatchUpLinger: c.Wall(probe.DefaultCatchUpLinger)})
	if err != nil {
		return err
	}
	defer edge.Close()
	d.edge = edge
	if err := d.settle(ctx); err != nil { // the probes' own certificates and policies
		return err
	}
	if err := d.sweepIfBehind(ctx); err != nil {
		return err
	}
	for i := range devices {
		d.replicated[devices[i].Thing] = true
		if i < c.DevicesWithoutSNI {
			devices[i].WithoutSNI = true
			d.noSNI[devices[i].Thing] = true
		}
	}
	d.replicatedThings = slices.Clone(d.things)
	d.phase("secondary converged: %d devices replicated", len(devices))
	if d.sc.before != nil {
		extra, err := d.sc.before(ctx, d)
		if err != nil {
			return err
		}
		devices = append(devices, extra...)
	}

	// The fleet is connected before the drill begins: its set-up is not throttled (a
	// represented fleet would take M / rate to get there). The quotas apply from then on.
	unlimited := broker.Quotas{ConnectPerSecond: -1, ClientConnectPerSecond: -1, PublishPerSecond: -1}
	d.w.Primary.Broker.SetQuotas(unlimited)
	d.w.Secondary.Broker.SetQuotas(unlimited)
	fleetOpts := d.fleetOptions(len(devices))
	f, err := d.startFleet(ctx, devices, fleetOpts)
	if err != nil {
		return fmt.Errorf("start fleet: %w", err)
	}
	defer f.Stop()
	connectStart := time.Now()
	waitCtx, cancel := context.WithTimeout(ctx, d.waitLimit())
	err = d.waitFleet(waitCtx, f, d.w.Primary.Name, len(devices))
	cancel()
	if err != nil {
		return fmt.Errorf("fleet did not connect to the primary: %w", err)
	}
	d.simulatorConnect(time.Since(connectStart), fleetOpts.StartSpread)
	d.phase("%d devices connected to %s", len(devices), d.w.Primary.Name)
	d.w.Primary.Broker.SetQuotas(c.quotas())
	d.w.Secondary.Broker.SetQuotas(c.quotas())

	stopSampling := d.sample(f)
	defer stopSampling()
	// The connect storm can starve the probes (TLS handshakes on few cores): the drill
	// judges the health checks from a baseline once every checker of both Regions has
	// passed since the fleet connected, and watches that baseline for threshold
	// intervals before the fault, so that what fails after it is the fault's doing and
	// what fails in it is a probe failing without a fault.
	if d.waitSteady(ctx, time.Now()) {
		d.baseline = time.Now()
		_ = sleepCtx(ctx, c.Wall(time.Duration(c.Threshold)*c.Interval))
	}

	// Fault.
	t0 := time.Now()
	d.rep.ReplicationPendingAtFault = d.w.Replication.Pending()
	d.rep.ReplicationLagAtFaultMS = d.wallToAWS(d.w.Replication.Lag()) * 1000
	before := f.Stats()
	undo := d.sc.fault(d)
	d.phase("fault injected: %s", d.sc.Name)
	// The pipeline drains what reached the secondary before devices can reconnect
	// (detection takes interval x threshold): what is missing now is the RPO.
	if err := d.settle(ctx); err != nil {
		return err
	}
	if err := d.measureRPO(ctx); err != nil {
		return err
	}

	if d.sc.expectFailover {
		d.awaitFailover(ctx, f, t0)
	} else {
		d.observeNoFailover(ctx, f, t0)
	}
	d.changesDuringOutage(ctx)
	if d.rep.DNSSwitchS > 0 { // operators follow DNS: the secondary is where they work now
		d.changesInSecondary(ctx)
	} else {
		d.phase("DNS stayed on %s: no changes made in %s", d.w.Primary.Name, d.w.Secondary.Name)
	}
	after := f.Stats()
	d.rep.MessagesUndelivered = after.PublishFailures - before.PublishFailures
	d.rep.MessagesDelivered = after.Published - before.Published
	d.refusals(t0)

	// Restore and fail back.
	undo()
	for _, f := range d.afterRestore {
		f()
	}
	restored := time.Now()
	d.phase("primary restored")
	caughtUp := make(chan error, 1)
	go func() {
		at, err := d.catchUp(ctx)
		if err == nil {
			d.rep.FailbackCatchUpS = d.wallToAWS(at.Sub(restored))
			d.caughtUpAt = at
		}
		caughtUp <- err
	}()
	d.failback(ctx, f, restored, len(devices))
	if err := <-caughtUp; err != nil {
		return fmt.Errorf("catch up after the restore: %w", err)
	}
	d.rep.FailbackBoundS = d.rep.FailbackCatchUpS + d.cfg.FailbackGateBound().Seconds()
	d.mark(d.caughtUpAt, "%s caught up", d.w.Primary.Name)
	d.connectNewDevices(ctx, fleetOpts, restored)

	stopSampling()
	f.Stop()
	d.phase("fleet stopped")
	return d.verify(ctx)
}

// liveFleet is the running fleet as the drill observes it: in this process
// (*fleet.Fleet) or in worker processes (*fleet.Processes).
type liveFleet interface {
	Connected() map[string]int
	Timeline(thing string) []fleet.Event
	Things() []string
	Stats() fleet.Stats
	WaitConnected(ctx context.Context, region string, n int) error
	Wait(ctx context.Context, cond func() bool) error
	Stop()
}

// fleetOptions are the drill's fleet settings for n devices, resolving through the
// edge's DNS from this process.
func (d *run) fleetOptions(n int) fleet.Options {
	c := d.cfg
	return fleet.Options{
		Domain: d.w.Options().Domain, Port: d.w.Port, Roots: d.w.CA.Pool(),
		Resolver:       dns.NewResolver(d.edge.DNS.Addr(), dns.WithTTLUnit(simulator.TTLUnit)),
		TelemetryEvery: telemetryEvery(c.Wall(c.Interval), n), Backoff: fleet.Backoff{Base: c.Wall(c.BackoffBase), Cap: c.Wall(c.BackoffCap)},
		Seed: c.Seed, StartSpread: min(time.Duration(n)*time.Millisecond, 2*time.Second),
		KeepAlive: 10 * time.Second,
		Regions:   map[string]string{simulator.PrimaryIP: d.w.Primary.Name, simulator.SecondaryIP: d.w.Secondary.Name},
	}
}

// fleetTelemetryPerSecond bounds the fleet's scheduled telemetry in wall time: every
// message is a TLS record both ways, a policy check and a rule evaluation, and 10,000
// devices at the interval below (a message a wall second at the default time scale)
// kept two cores so busy that 2,169 of them had not connected when the drill gave up;
// at 1,000 a second the broker's publish path was a tenth of a 10,000-device drill's
// CPU. The RTO is measured on the message each device publishes as it connects.
const fleetTelemetryPerSecond = 250

// telemetryEvery is each device's telemetry interval in wall time: five health-check
// intervals, at least a second, and long enough that n devices publish at most
// fleetTelemetryPerSecond. The RTO is measured on the message a device publishes as it
// connects, never on the schedule.
func telemetryEvery(interval time.Duration, n int) time.Duration {
	return max(interval*5, time.Second, time.Duration(n)*time.Second/fleetTelemetryPerSecond)
}

// startFleet starts the devices, in worker processes when Config.FleetWorker names
// one (each holds one socket per device, the brokers' ends stay here) and in this
// process otherwise.
func (d *run) startFleet(ctx context.Context, devices []fleet.Device, opts fleet.Options) (liveFleet, error) {
	c := d.cfg
	if c.FleetWorker == nil {
		return fleet.Start(ctx, devices, opts)
	}
	ps, err := fleet.StartProcesses(ctx, devices, opts, fleet.ProcessOptions{Command: *c.FleetWorker,
		PerProcess: c.FleetPerProcess, DNSAddr: d.edge.DNS.Addr(), TTLUnit: simulator.TTLUnit, RootsPEM: d.w.CA.CertPEM()})
	if err != nil {
		return nil, err
	}
	d.phase("fleet running in %d worker processes", len(ps.PIDs()))
	d.rep.FleetWorkers = len(ps.PIDs())
	return workerFleet{ps, d}, nil
}

// workerFleet records the workers' peak memory in the report when they stop.
type workerFleet struct {
	*fleet.Processes
	d *run
}

func (w workerFleet) Stop() {
	w.Processes.Stop()
	w.d.rep.FleetWorkersPeakMiB = float64(w.PeakRSS()) / (1 << 20)
}

// waitLimit bounds each wait for the fleet: generous against the bound, so a slow
// machine is reported as slow rather than as lost devices.
func (d *run) waitLimit() time.Duration {
	return max(20*d.cfg.Wall(d.cfg.Bound()), 30*time.Second) + time.Duration(d.cfg.Devices)*5*time.Millisecond
}

// waitFleet waits until n devices are connected in region, printing progress.
func (d *run) waitFleet(ctx context.Context, f liveFleet, region string, n int) error {
	done := make(chan error, 1)
	go func() { done <- f.WaitConnected(ctx, region, n) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			conn := f.Connected()
			d.progress("devices connected: %s=%d %s=%d (waiting for %d in %s)",
				d.w.Primary.Name, conn[d.w.Primary.Name], d.w.Secondary.Name, conn[d.w.Secondary.Name], n, region)
		}
	}
}

// provision creates the fleet in the primary: two thing types, a group tree, and N
// devices spread over them, each with a certificate, the device policy and a reported
// shadow.
func (d *run) provision(ctx context.Context) ([]fleet.Device, error) {
	d.phase("provisioning %d devices in %s", d.cfg.Devices, d.w.Primary.Name)
	reg := d.w.Primary.Registry
	for _, tt := range []string{"sensor", "gateway"} {
		if _, err := reg.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(tt)}); err != nil {
			return nil, fmt.Errorf("create thing type %s: %w", tt, err)
		}
	}
	for _, g := range [][2]string{{"fleet", ""}, {"fleet-eu", "fleet"}, {"fleet-us", "fleet"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g[0])}
		if g[1] != "" {
			in.ParentGroupName = aws.String(g[1])
		}
		if _, err := reg.CreateThingGroup(ctx, in); err != nil {
			return nil, fmt.Errorf("create thing group %s: %w", g[0], err)
		}
	}
	// A thing with no device, for the failback half to delete in the secondary.
	if _, err := reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(retiredThing)}); err != nil {
		return nil, fmt.Errorf("create thing %s: %w", retiredThing, err)
	}
	var devices []fleet.Device
	for i := range d.cfg.Devices {
		dev, err := d.provisionOne(ctx, fmt.Sprintf("device-%06d", i), i)
		if err != nil {
			return nil, err
		}
		devices = append(devices, dev)
	}
	return devices, nil
}

func (d *run) provisionOne(ctx context.Context, name string, i int) (fleet.Device, error) {
	cert, err := d.w.ProvisionDevice(ctx, d.deviceSpec(name, i))
	if err != nil {
		return fleet.Device{}, err
	}
	if err := d.shadow(ctx, name, 0); err != nil {
		return fleet.Device{}, err
	}
	d.things = append(d.things, name)
	return fleet.Device{Thing: name, Cert: cert}, nil
}

// deviceSpec is device i of the fleet: its type, attributes and group.
func (d *run) deviceSpec(name string, i int) simulator.Device {
	return simulator.Device{Thing: name, ThingType: []string{"sensor", "gateway"}[i%2],
		Attributes: map[string]string{"site": fmt.Sprint((int64(i) + d.cfg.Seed) % 17)},
		Groups:     []string{[]string{"fleet-eu", "fleet-us"}[i%2]}}
}

func (d *run) shadow(ctx context.Context, thing string, seq int) error {
	_, err := d.w.Primary.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing),
		Payload: fmt.Appendf(nil, `{"state":{"reported":{"config":%d}}}`, seq)})
	if err != nil {
		return fmt.Errorf("shadow of %s: %w", thing, err)
	}
	return nil
}

// sweepIfBehind compares the Regions once the pipeline is idle after provisioning. An
// attachment made after its thing's re-checks ended raises no event and stays behind
// until a capture sweep (the stacks run it hourly): on a loaded machine provisioning one
// device can outlast the re-checks (Step Functions' waits are scaled, the simulator's
// CPU is not). The drill then runs the primary's sweep, as the schedule would have in
// the hour and more that provisioning thousands of devices stands for, settles again,
// and says how many differences there were.
func (d *run) sweepIfBehind(ctx context.Context) error {
	reg, err := replication.Diff(ctx, d.w.Primary.Registry, d.w.Secondary.Registry, d.w.Primary.Name, d.w.Secondary.Name)
	if err != nil {
		return fmt.Errorf("compare registries: %w", err)
	}
	d.rep.DifferencesAfterProvisioning = len(reg)
	if len(reg) == 0 {
		return nil
	}
	d.phase("%d registry differences once the pipeline settled (e.g. %s): %s's capture sweep, as its schedule would", len(reg), reg[0], d.w.Primary.Name)
	if _, err := d.w.Sweep(ctx, d.w.Primary); err != nil {
		return err
	}
	return d.settle(ctx)
}

func (d *run) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return d.w.Settle(ctx)
}

// sample records the World's state every quarter interval for the chart, until stopped.
func (d *run) sample(f liveFleet) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(max(d.cfg.Wall(d.cfg.Interval)/4, 20*time.Millisecond))
		defer tick.Stop()
		record := func() {
			conn := f.Connected()
			a, _ := d.edge.Zone.Resolve(d.w.Options().Domain)
			d.rep.Samples = append(d.rep.Samples, Sample{AtS: d.wallToAWS(time.Since(d.start)),
				PrimaryDevices: conn[d.w.Primary.Name], SecondaryDevices: conn[d.w.Secondary.Name],
				PrimaryHealthy: d.edge.Checks[d.w.Primary.Name].Healthy(), SecondaryHealthy: d.edge.Checks[d.w.Secondary.Name].Healthy(),
				DNS: a.Which})
		}
		for {
			record()
			select {
			case <-done:
				record() // the state at the end, so the chart ends where the drill did
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// awaitFailover waits until every replicated device published in the secondary after
// t0, then derives the RTO percentiles and the detection and DNS-switch times.
func (d *run) awaitFailover(ctx context.Context, f liveFleet, t0 time.Time) {
	want := len(d.replicated) - len(d.noSNI) // the secondary refuses the devices without SNI
	ctx, cancel := context.WithTimeout(ctx, d.waitLimit())
	defer cancel()
	if err := d.waitFleet(ctx, f, d.w.Secondary.Name, want); err != nil {
		d.progress("not every device failed over: %v", err)
	}
	// Devices connected is not yet devices publishing: wait for the acknowledgements, and
	// for every device the secondary cannot know to have tried (and been refused).
	// The condition reads every device's timeline: poll it, rather than re-run it on each
	// of the thousands of events a failing-over fleet records.
	// Devices lost with their worker process never come: the wait ends without them.
	pollUntil(ctx, 50*time.Millisecond, func() bool {
		return len(d.recovered(f, t0))+int(f.Stats().DevicesLost) >= want && d.unreplicatedRefused(f, t0)
	})
	rec := d.recovered(f, t0)
	var rtos []time.Duration
	for thing := range d.replicated {
		if at, ok := rec[thing]; ok {
			rtos = append(rtos, at.Sub(t0))
		} else {
			d.rep.LostDevices = append(d.rep.LostDevices, thing)
		}
	}
	sort.Strings(d.rep.LostDevices)
	d.rep.DevicesLost = len(d.rep.LostDevices)
	if d.rep.DevicesLost > 0 {
		d.fail("%d devices never published in %s", d.rep.DevicesLost, d.w.Secondary.Name)
	}
	slices.Sort(rtos)
	pct := func(p float64) time.Duration {
		if len(rtos) == 0 {
			return 0
		}
		return rtos[min(len(rtos)-1, int(p/100*float64(len(rtos)-1)+0.5))]
	}
	d.rep.RTOP50S, d.rep.RTOP99S, d.rep.RTOMaxS = d.wallToAWS(pct(50)), d.wallToAWS(pct(99)), d.wallToAWS(pct(100))
	for _, p := range []float64{50, 99, 100} {
		if len(rtos) > 0 {
			d.mark(t0.Add(pct(p)), "%g%% of devices publishing in %s", p, d.w.Secondary.Name)
		}
	}
	d.detection(t0)
	if d.rep.DNSSwitchS == 0 {
		d.fail("DNS never answered the secondary")
	}
}

// unreplicatedRefused reports whether every device the secondary cannot admit (missing
// from it, or sending no SNI for its SNI_ONLY certificate) has been refused there since
// t0. Throttling is not a refusal: the device tries again.
func (d *run) unreplicatedRefused(f liveFleet, t0 time.Time) bool {
	refused := map[string]bool{}
	for _, r := range d.w.Secondary.Broker.Refusals() {
		if r.Time.After(t0) && !r.Throttled {
			refused[r.ClientID] = true
		}
	}
	for _, thing := range f.Things() {
		if (!d.replicated[thing] || d.noSNI[thing]) && !refused[thing] {
			return false
		}
	}
	return true
}

// recovered returns, per device, when it first published in the secondary after t0.
func (d *run) recovered(f liveFleet, t0 time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, thing := range f.Things() {
		for _, e := range f.Timeline(thing) {
			if e.Kind == fleet.KindPublished && e.Region == d.w.Secondary.Name && e.At.After(t0) {
				out[thing] = e.At
				break
			}
		}
	}
	return out
}

// detection reads the health checks' and the zone's histories: every health event
// names its Region, failures before the fault are reported (and counted) as such, and
// detection is measured from the fault. A failover that a failure before the fault
// caused fails the drill: it says nothing about the fault.
func (d *run) detection(t0 time.Time) {
	d.rep.HealthChecksFailedBeforeFault = map[string]int{}
	d.rep.HealthChecksFailedDuringSetup = map[string]int{}
	baseline := d.baseline
	if baseline.IsZero() {
		baseline = d.start
	}
	for _, r := range []*simulator.Region{d.w.Primary, d.w.Secondary} {
		hc := d.edge.Checks[r.Name]
		n, setup, first, firstSetup, last, lastSetup := 0, 0, time.Time{}, time.Time{}, "", ""
		for _, f := range hc.Failures() {
			switch {
			case !f.At.After(d.start) || !f.At.Before(t0):
			case f.At.Before(baseline):
				if setup == 0 {
					firstSetup = f.At
				}
				setup++
				lastSetup = f.Error
			default:
				if n == 0 {
					first = f.At
				}
				n++
				last = f.Error
			}
		}
		d.rep.HealthChecksFailedBeforeFault[r.Name] = n
		d.rep.HealthChecksFailedDuringSetup[r.Name] = setup
		if setup > 0 {
			d.mark(firstSetup, "first failed health check of %s during set-up, before the baseline (%d failed then; last: %s)", r.Name, setup, lastSetup)
		}
		if n > 0 {
			d.mark(first, "first failed health check of %s, before the fault (%d failed before it; last: %s)", r.Name, n, last)
		}
		// A failover before the fault says nothing about the fault, set-up or not.
		for _, tr := range hc.History() {
			if tr.At.Before(t0) {
				d.mark(tr.At, "%s health check %s, before the fault", r.Name, healthWord(tr.Healthy))
				if r == d.w.Primary && !tr.Healthy {
					d.fail("%s's health check turned unhealthy at %.3fs, before the fault: its probe failed without a fault", r.Name, d.wallToAWS(tr.At.Sub(d.start)))
				}
			}
		}
	}
	primary := d.edge.Checks[d.w.Primary.Name]
	for _, f := range primary.Failures() {
		if !f.At.Before(t0) {
			d.mark(f.At, "first failed health check of %s after the fault", d.w.Primary.Name)
			break
		}
	}
	for _, tr := range primary.History() {
		if !tr.Healthy && !tr.At.Before(t0) {
			d.rep.DetectionS = d.wallToAWS(tr.At.Sub(t0))
			d.mark(tr.At, "%s health check unhealthy", d.w.Primary.Name)
			if !tr.FirstFailure.IsZero() && tr.FirstFailure.Before(t0) {
				d.fail("%s's health check turned unhealthy on a failure streak that began at %.3fs, before the fault", d.w.Primary.Name, d.wallToAWS(tr.FirstFailure.Sub(d.start)))
			}
			break
		}
	}
	for _, a := range d.edge.Zone.Answers() {
		if a.Which == "SECONDARY" && a.At.Before(t0) && a.At.After(d.start) {
			d.fail("DNS answered %s at %.3fs, before the fault", d.w.Secondary.Name, d.wallToAWS(a.At.Sub(d.start)))
			d.mark(a.At, "DNS answers %s, before the fault", d.w.Secondary.Name)
		}
	}
	for _, a := range d.edge.Zone.Answers() {
		if a.Which == "SECONDARY" && !a.At.Before(t0) {
			d.rep.DNSSwitchS = d.wallToAWS(a.At.Sub(t0))
			d.mark(a.At, "DNS answers %s", d.w.Secondary.Name)
			break
		}
	}
}

func healthWord(healthy bool) string {
	if healthy {
		return "healthy"
	}
	return "unhealthy"
}

// waitSteady waits until both Regions' health checks are steady (every checker passed
// after since) and DNS answers the primary. A primary that never gets there fails the
// drill: its probe fails without a fault.
func (d *run) waitSteady(ctx context.Context, since time.Time) bool {
	ctx, cancel := context.WithTimeout(ctx, d.waitLimit())
	defer cancel()
	steady := func() bool {
		a, ok := d.edge.Zone.Resolve(d.w.Options().Domain)
		return ok && a.Which == "PRIMARY" && d.edge.Checks[d.w.Primary.Name].Steady(since) && d.edge.Checks[d.w.Secondary.Name].Steady(since)
	}
	pollUntil(ctx, 10*time.Millisecond, steady)
	if !steady() {
		d.fail("health checks not steady before the fault (primary healthy %v, secondary healthy %v)",
			d.edge.Checks[d.w.Primary.Name].Healthy(), d.edge.Checks[d.w.Secondary.Name].Healthy())
		return false
	}
	d.phase("health checks passing in %s and %s: the baseline they are judged from", d.w.Primary.Name, d.w.Secondary.Name)
	return true
}

// sleepCtx waits for d or until ctx ends (false then).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// simulatorConnect records how long this machine took to connect the live fleet
// before the quotas apply (wall, less the fleet's deliberate start spread), in AWS
// time: a failover's reconnect storm cannot be faster, whatever the quota, so it
// replaces the bound's quota term where it is longer (Report.RTOBoundWithSimulator).
func (d *run) simulatorConnect(wall, spread time.Duration) {
	sim := max(wall-spread, 0)
	d.rep.SimulatorConnectS = d.wallToAWS(sim)
	d.rep.RTOBoundWithSimulator = d.rep.RTOBound - d.rep.QuotaS + max(d.rep.QuotaS, d.rep.SimulatorConnectS)
	if sim > 0 && d.rep.SimulatorConnectS > d.rep.QuotaS {
		// The time scale at which this machine keeps up with the quota: the quota's
		// term in AWS seconds per wall second the simulator needs.
		d.rep.TimeScaleForQuota = d.cfg.QuotaTime().Seconds() / sim.Seconds()
	}
}

// mark adds a timeline entry at a past moment.
func (d *run) mark(at time.Time, format string, args ...any) {
	d.rep.Timeline = append(d.rep.Timeline, Phase{Name: fmt.Sprintf(format, args...), AtS: d.wallToAWS(at.Sub(d.start))})
}

// observeNoFailover watches several detection windows: connected devices must stay on
// the primary; for probe-failure DNS must switch (new connections would go to the
// secondary), for flapping it must not.
func (d *run) observeNoFailover(ctx context.Context, f liveFleet, t0 time.Time) {
	window := d.cfg.Wall(time.Duration(d.cfg.Threshold)*d.cfg.Interval*4 + d.cfg.TTL)
	timer := time.NewTimer(window)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C: // the observation window is the point of these scenarios
	}
	d.detection(t0)
	switched := d.rep.DNSSwitchS > 0
	switch d.sc.Name {
	case "flapping":
		if switched {
			d.fail("DNS switched to the secondary although no failure lasted the threshold")
		}
	case "probe-failure":
		if !switched {
			d.fail("DNS did not switch although the primary's probe failed")
		}
	}
	if conn := f.Connected(); conn[d.w.Secondary.Name] > 0 {
		d.fail("%d devices left the healthy primary broker", conn[d.w.Secondary.Name])
	}
}

// changesDuringOutage keeps the registry busy while the fleet is failed over: attribute
// updates in the primary, on the lower half of the replicated fleet, which replicate
// where its control plane is up (broker-only outage, probe failure) and are refused, to
// the caller, where the Region is down. The upper half is changesInSecondary's.
func (d *run) changesDuringOutage(ctx context.Context) {
	for i := range min(d.cfg.Changes, (len(d.replicatedThings)+1)/2) {
		_, err := d.w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(d.replicatedThings[i]),
			AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"outage": fmt.Sprint(i + 1)}}})
		if err != nil {
			d.rep.ChangesRefusedDuringOutage++
		} else {
			d.rep.ChangesDuringOutage++
		}
	}
	d.phase("registry changes during the outage: %d applied in %s, %d refused by it",
		d.rep.ChangesDuringOutage, d.w.Primary.Name, d.rep.ChangesRefusedDuringOutage)
}

// refusals lists the devices the secondary refused after t0, with the broker's reason,
// and counts the CONNECTs either Region throttled (those devices retried). Devices
// without SNI refused by the secondary are the headline, not one failure each.
func (d *run) refusals(t0 time.Time) {
	for _, b := range []*broker.Broker{d.w.Primary.Broker, d.w.Secondary.Broker} {
		for _, r := range b.Refusals() {
			if r.Throttled {
				d.rep.ConnectsThrottled++
			}
		}
	}
	seen := map[string]bool{}
	noSNI, example := 0, ""
	for _, r := range d.w.Secondary.Broker.Refusals() {
		if r.Time.Before(t0) || r.Throttled || seen[r.ClientID] || d.justInTime[r.ClientID] {
			continue
		}
		seen[r.ClientID] = true
		d.rep.RefusedDevices = append(d.rep.RefusedDevices, Refusal{Device: r.ClientID, Reason: r.Reason})
		switch {
		case d.noSNI[r.ClientID]:
			noSNI++
			example = r.Reason
		case d.replicated[r.ClientID]:
			d.fail("replicated device %s refused by %s: %s", r.ClientID, d.w.Secondary.Name, r.Reason)
		}
	}
	if n := len(d.noSNI); n > 0 {
		if noSNI > 0 {
			d.rep.Headline = fmt.Sprintf("%d of %d devices send no SNI: %s admits them (their certificates are DEFAULT there), "+
				"%s refused %d of them after the failover (%s): they are lost the day the primary is",
				n, d.cfg.Devices, d.w.Primary.Name, d.w.Secondary.Name, noSNI, example)
		} else {
			d.rep.Headline = fmt.Sprintf("%d of %d devices send no SNI and %s refused none of them", n, d.cfg.Devices, d.w.Secondary.Name)
		}
	}
	sort.Slice(d.rep.RefusedDevices, func(i, j int) bool { return d.rep.RefusedDevices[i].Device < d.rep.RefusedDevices[j].Device })
	if d.rep.RefusedDevices == nil {
		d.rep.RefusedDevices = []Refusal{}
	}
}

// failback waits for DNS to answer the primary, drains the secondary (connected devices
// have no reason to leave it) and waits for the fleet to be back on the primary.
func (d *run) failback(ctx context.Context, f liveFleet, restored time.Time, n int) {
	ctx, cancel := context.WithTimeout(ctx, d.waitLimit())
	defer cancel()
	_ = f.Wait(ctx, func() bool {
		a, ok := d.edge.Zone.Resolve(d.w.Options().Domain)
		return ok && a.Which == "PRIMARY"
	})
	for _, a := range d.edge.Zone.Answers() {
		if a.Which == "PRIMARY" && a.At.After(restored) {
			d.mark(a.At, "DNS answers %s again", d.w.Primary.Name)
			break
		}
	}
	if f.Connected()[d.w.Secondary.Name] > 0 {
		d.w.Secondary.Broker.SetDown(true)
		d.phase("secondary drained")
		defer d.w.Secondary.Broker.SetDown(false)
	}
	if err := d.waitFleet(ctx, f, d.w.Primary.Name, n); err != nil {
		d.fail("fleet did not fail back: %v", err)
		return
	}
	d.rep.FailbackS = d.wallToAWS(time.Since(restored))
	d.phase("failback complete: %d devices on %s", n, d.w.Primary.Name)
}

// measureRPO compares the Regions right after the fault, before devices reconnect: the
// registry changes and shadow updates the primary had and the secondary lacks. The
// primary's APIs are read even when the fault took them down (the observer's privilege).
func (d *run) measureRPO(ctx context.Context) error {
	p := d.w.Primary
	p.Registry.SetAvailable(true)
	p.Shadows.SetAvailable(true)
	reg, sh, err := d.differences(ctx)
	if d.primaryDown {
		p.Registry.SetAvailable(false)
		p.Shadows.SetAvailable(false)
	}
	if err != nil {
		return err
	}
	d.rep.RegistryChangesLost, d.rep.ShadowUpdatesLost = len(reg), len(sh)
	all := append(reg, sh...)
	d.rep.LostExamples = slices.Clone(all[:min(5, len(all))])
	d.phase("RPO: %d registry differences and %d shadow updates missing in %s", len(reg), len(sh), d.w.Secondary.Name)
	return nil
}

// differences compares the Regions: registry lines and the things whose reported
// shadow state differs.
func (d *run) differences(ctx context.Context) (registry, shadows []string, err error) {
	// The drill observes without its own limits: lift any throttling while it looks.
	if d.throttling {
		setRates(d.w.Secondary, 0)
		defer setRates(d.w.Secondary, throttleTPS)
	}
	registry, err = replication.Diff(ctx, d.w.Primary.Registry, d.w.Secondary.Registry, d.w.Primary.Name, d.w.Secondary.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("compare registries: %w", err)
	}
	for _, thing := range d.things {
		p, s := reportedState(ctx, d.w.Primary, thing), reportedState(ctx, d.w.Secondary, thing)
		if p != s {
			shadows = append(shadows, fmt.Sprintf("shadow %s: reported %s in %s, %s in %s", thing, p, d.w.Primary.Name, s, d.w.Secondary.Name))
		}
	}
	return registry, shadows, nil
}

// reportedState is a thing's reported shadow state as canonical JSON ("none" without).
func reportedState(ctx context.Context, r *simulator.Region, thing string) string {
	reported, problem := readReported(ctx, r, thing)
	if problem != "" {
		return problem
	}
	b, _ := json.Marshal(reported) // map keys are sorted: canonical
	return string(b)
}

// verify lets the pipeline catch up, re-drives the error table, and compares the Regions.
func (d *run) verify(ctx context.Context) error {
	if err := d.settle(ctx); err != nil {
		return err
	}
	if err := d.errorRecords(ctx); err != nil {
		return err
	}
	if d.rep.ErrorTableRecords > 0 {
		resp, err := d.w.Redrive(ctx)
		if err != nil {
			return err
		}
		d.phase("redrive re-ran %d of %d error-table records", resp.Redriven, d.rep.ErrorTableRecords)
		if err := d.settle(ctx); err != nil {
			return err
		}
	}
	reg, sh, err := d.differences(ctx)
	if err != nil {
		return err
	}
	d.rep.DifferencesAfterRestore = append(append([]string{}, reg...), sh...)
	if n := len(d.rep.DifferencesAfterRestore); n > 0 {
		d.fail("%d differences between the Regions after restore", n)
	}
	if err := d.failbackLosses(ctx); err != nil {
		return err
	}
	if d.rep.EchoWrites, d.rep.DuplicateCaptureWrites = d.echoWrites(); d.rep.EchoWrites > 0 {
		d.fail("%d state-table writes captured no change (an apply echoed back)", d.rep.EchoWrites)
	}
	d.phase("verified: %d differences", len(d.rep.DifferencesAfterRestore))
	sort.SliceStable(d.rep.Timeline, func(i, j int) bool { return d.rep.Timeline[i].AtS < d.rep.Timeline[j].AtS })
	return nil
}

// Faults.

func regionOutage(d *run) func() {
	d.w.SetRegionDown(d.w.Primary, true)
	d.primaryDown = true
	return func() {
		d.w.SetRegionDown(d.w.Primary, false)
		d.primaryDown = false
	}
}

func brokerOutage(d *run) func() {
	d.w.Primary.Broker.SetDown(true)
	return func() { d.w.Primary.Broker.SetDown(false) }
}

func probeFailure(d *run) func() {
	d.edge.SetProbeFailing(d.w.Primary.Name, true)
	return func() { d.edge.SetProbeFailing(d.w.Primary.Name, false) }
}

// flapping fails the primary's probe for (threshold-1)/2 intervals (at least half of
// one), then lets it pass for three, over and over: no checker sees `threshold`
// failures in a row, with a probe to spare for a machine so loaded that one is late.
func flapping(d *run) func() {
	interval := d.cfg.Wall(d.cfg.Interval)
	down := max(time.Duration(d.cfg.Threshold-1)*interval/2, interval/2) // threshold 1 cannot be flapped under
	up := 3 * interval
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			d.edge.SetProbeFailing(d.w.Primary.Name, true)
			if !sleep(done, down) {
				return
			}
			d.edge.SetProbeFailing(d.w.Primary.Name, false)
			if !sleep(done, up) {
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		d.edge.SetProbeFailing(d.w.Primary.Name, false)
	}
}

// pollUntil checks cond every period until it holds or ctx ends.
func pollUntil(ctx context.Context, period time.Duration, cond func() bool) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		return true
	}
}

// replicationBehind pauses replication, changes the registry and shadows, and
// provisions a few devices that therefore never reach the secondary.
func replicationBehind(ctx context.Context, d *run) ([]fleet.Device, error) {
	d.w.Replication.Pause()
	d.afterRestore = append(d.afterRestore, d.w.Replication.Resume)
	d.phase("replication falls behind (paused)")
	for i := range d.cfg.Changes {
		thing := d.things[i%len(d.things)]
		if _, err := d.w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(thing),
			AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"rev": fmt.Sprint(i + 1)}}}); err != nil {
			return nil, fmt.Errorf("update %s: %w", thing, err)
		}
		if err := d.shadow(ctx, thing, i+1); err != nil {
			return nil, err
		}
	}
	var extra []fleet.Device
	for i := range max(1, d.cfg.Devices/50) {
		dev, err := d.provisionOne(ctx, fmt.Sprintf("late-device-%04d", i), i)
		if err != nil {
			return nil, err
		}
		extra = append(extra, dev)
	}
	d.phase("%d changes and %d new devices not yet replicated", d.cfg.Changes, len(extra))
	return extra, nil
}

// throttled are the secondary APIs the throttling scenario limits.
var throttled = []string{"CreateThing", "UpdateThing", "DescribeThing", "RegisterCertificateWithoutCA",
	"DescribeCertificate", "AttachPolicy", "AttachThingPrincipal", "ListThingPrincipals"}

// throttleTPS is the throttling scenario's per-API limit.
const throttleTPS = 50

func setRates(r *simulator.Region, tps float64) {
	for _, api := range throttled {
		r.Registry.SetRate(api, tps)
	}
}

// throttleSecondary limits the secondary's IoT APIs and makes registry changes that
// must replicate through them; the limits are lifted at restore.
func throttleSecondary(ctx context.Context, d *run) ([]fleet.Device, error) {
	setRates(d.w.Secondary, throttleTPS)
	d.throttling = true
	d.afterRestore = append(d.afterRestore, func() {
		d.throttling = false
		setRates(d.w.Secondary, 0)
	})
	d.phase("secondary IoT APIs throttled to 50 calls/s each")
	for i := range d.cfg.Changes {
		thing := d.things[i%len(d.things)]
		if _, err := d.w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(thing),
			AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"rev": fmt.Sprint(i + 1)}}}); err != nil {
			return nil, fmt.Errorf("update %s: %w", thing, err)
		}
	}
	return nil, nil
}

// errorRecords counts both Regions' error-table records by stage and error, and the
// conflicts among them (a resource changed in both Regions: the rule decided, the
// losing Region recorded it), before the redrive re-runs them.
func (d *run) errorRecords(ctx context.Context) error {
	d.rep.ErrorTableRecords, d.rep.Conflicts, d.rep.ErrorTableKinds, d.rep.ErrorTableExamples = 0, 0, nil, nil
	for _, r := range []*simulator.Region{d.w.Primary, d.w.Secondary} {
		recs, err := (&failures.Recorder{Table: r.Errors, Name: simulator.ErrorTableName}).List(ctx)
		if err != nil {
			return fmt.Errorf("drill: %s error table: %w", r.Name, err)
		}
		for _, f := range recs {
			d.rep.ErrorTableRecords++
			if f.Stage == spec.StageConflict {
				d.rep.Conflicts++
			}
			if d.rep.ErrorTableKinds == nil {
				d.rep.ErrorTableKinds = map[string]int{}
			}
			kind := r.Name + " " + f.Stage + " " + f.Error
			if d.rep.ErrorTableKinds[kind] == 0 {
				if d.rep.ErrorTableExamples == nil {
					d.rep.ErrorTableExamples = map[string]string{}
				}
				d.rep.ErrorTableExamples[kind] = f.Key + ": " + f.Cause
			}
			d.rep.ErrorTableKinds[kind]++
		}
	}
	return nil
}
