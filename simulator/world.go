package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/iot-dr/iot-dr/functions/apply"
	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/redrive"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
	"github.com/iot-dr/iot-dr/simulator/lambdart"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// Options configure a World. The zero value is a usable, fast simulation.
type Options struct {
	// PrimaryRegion and SecondaryRegion default to us-east-1 and eu-west-1.
	PrimaryRegion, SecondaryRegion string
	// AccountID defaults to 123456789012.
	AccountID string
	// ReplicationDelay is the global table's replication delay (default 0).
	ReplicationDelay time.Duration
	// TimeScale multiplies every Step Functions Wait and Retry delay: 1 is real time,
	// the default 0.01 makes one ASL second last 10 ms.
	TimeScale float64
	// Retry is the state machines' retry policy (default spec.DefaultRetry).
	Retry spec.Retry
	// RecheckSeconds and RecheckCount bound a new thing's attachment re-checks
	// (defaults 1 and 6; the wait doubles after each pass; seconds are ASL seconds,
	// scaled by TimeScale).
	RecheckSeconds, RecheckCount int
	// StreamBatchSize is the apply function's batch size (default 100).
	StreamBatchSize int
	// StreamShards is how many shards the state table's stream has (default 4: a new
	// on-demand table's initial partitions); each shard is applied one batch at a
	// time, shards in parallel.
	StreamShards int
	// APIRates limits the registries' per-API rates (operation name -> TPS).
	APIRates map[string]float64
	// Domain is the custom domain devices connect to (default iot.iotdr.test). Both
	// Regions have it as a domain configuration: an SNI naming it is accepted.
	Domain string
	// Fidelity is how strictly the Regions follow AWS: the delivery model of registry
	// events and rule actions, AWS's quotas, the billing meter. The zero value is the
	// kind simulator; tests and drills run StrictFidelity.
	Fidelity Fidelity
	// SNIOptional admits certificates in SNI_ONLY mode without SNI, which AWS refuses:
	// only for `iotdr sim`, whose clients connect by IP address, for which TLS sends no
	// SNI. Drills and tests leave it off.
	SNIOptional bool
	// BrokerQuotas are the brokers' CONNECT and PUBLISH rates per wall second (zero
	// fields: AWS's defaults; see broker.Quotas).
	BrokerQuotas broker.Quotas
	// Logger receives the simulator's and the functions' logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.PrimaryRegion == "" {
		o.PrimaryRegion = "us-east-1"
	}
	if o.SecondaryRegion == "" {
		o.SecondaryRegion = "eu-west-1"
	}
	if o.AccountID == "" {
		o.AccountID = "123456789012"
	}
	if o.TimeScale == 0 {
		o.TimeScale = 0.01
	}
	if o.Retry == (spec.Retry{}) {
		o.Retry = spec.DefaultRetry
	}
	if o.RecheckSeconds == 0 {
		o.RecheckSeconds = 1
	}
	if o.RecheckCount == 0 {
		o.RecheckCount = 6
	}
	if o.StreamBatchSize == 0 {
		o.StreamBatchSize = 100
	}
	if o.StreamShards == 0 {
		o.StreamShards = 4
	}
	if o.Domain == "" {
		o.Domain = "iot.iotdr.test"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// World is the two-Region simulation. Both Regions run the whole pipeline: each
// captures its own registry and shadow changes into its replica of the state table,
// the global table carries the items both ways, and each Region's apply function
// converges it from its own replica to the items the other Region captured.
//
// The per-Region pipeline is on the Region: Region.Capturer, Region.Applier and
// Region.Replicator, and the chaos verbs Region.PauseApply / Region.ResumeApply and
// Region.StreamBacklog (what that Region still has to apply from the other). The World
// verbs that run one Region's function take the Region: Sweep(ctx, r) and
// Reapply(ctx, r); Peer(r) is the other Region.
type World struct {
	Primary, Secondary *Region
	// Replication is the state table's global-table link.
	Replication *dynamo.Replication
	// CA issues the run's device and server certificates.
	CA *pki.CA
	// Port is the MQTT port of both Regions' brokers.
	Port string

	opts Options
	// deadLetters are the stream batches the apply mappings gave up on.
	mu          sync.Mutex
	deadLetters []events.DynamoDBEventRecord
}

// New starts a World: both Regions, the state table's replication, and the capture and
// apply pipelines in each Region. Close stops it.
func New(ctx context.Context, opts Options) (w *World, err error) {
	opts.defaults()
	if opts.PrimaryRegion == opts.SecondaryRegion {
		return nil, fmt.Errorf("simulator: primary and secondary Region are both %s", opts.PrimaryRegion)
	}
	world := &World{opts: opts}
	w = world
	defer func() {
		if err != nil {
			world.Close() // w is nil on the error returns
		}
	}()
	if w.CA, err = pki.NewCA("iot-dr simulator CA"); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	if err = w.newRegions(); err != nil {
		return nil, err
	}
	w.Replication = dynamo.Replicate(w.Primary.State, w.Secondary.State, dynamo.ReplicationOptions{Delay: opts.ReplicationDelay})
	for _, r := range w.regions() {
		// Both Regions capture and apply: a change made in either reaches the other
		// through the state table (failback).
		if err = w.capturePipeline(ctx, r); err != nil {
			return nil, err
		}
		if err = w.applyPipeline(ctx, r); err != nil {
			return nil, err
		}
		if err = w.redrivePipeline(r); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Loopback IPs of the two Regions' brokers. DNS answers carry IPs only, so each Region
// has its own, and both brokers listen on the same port, as AWS endpoints all use 8883.
const (
	PrimaryIP   = "127.0.0.11"
	SecondaryIP = "127.0.0.12"
)

// newRegions starts both Regions with their brokers on PrimaryIP and SecondaryIP and one
// OS-chosen port, retrying when the port is taken on the second IP.
func (w *World) newRegions() error {
	var lastErr error
	for range 10 {
		p, err := newRegion(w.opts.PrimaryRegion, w.opts, w.CA, PrimaryIP+":0")
		if err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(p.Broker.Addr())
		s, err := newRegion(w.opts.SecondaryRegion, w.opts, w.CA, net.JoinHostPort(SecondaryIP, port))
		if err == nil {
			w.Primary, w.Secondary, w.Port = p, s, port
			return nil
		}
		lastErr = err
		p.close()
	}
	return fmt.Errorf("simulator: no port free on both %s and %s: %w", PrimaryIP, SecondaryIP, lastErr)
}

func (r *Region) failures(o Options) *failures.Recorder {
	return &failures.Recorder{Table: r.Errors, Name: ErrorTableName, Logger: o.Logger}
}

func (r *Region) store() *state.Store { return &state.Store{Table: r.State, Name: StateTableName} }

// ApplyMarks is r's apply-mark table, as the apply function and `iotdr sync` write it.
func (r *Region) ApplyMarks() *applymark.Marks {
	return &applymark.Marks{Table: r.Marks, Name: MarkTableName}
}

// held is r's record of the retained messages its apply converged (in its mark table).
func (r *Region) held() *applymark.Held { return &applymark.Held{Table: r.Marks, Name: MarkTableName} }

// ApplyProgress is r's apply progress item (in its mark table), as the apply function
// writes it and the probe's catch-up gate reads it.
func (r *Region) ApplyProgress() *applymark.Progress {
	return &applymark.Progress{Table: r.Marks, Name: MarkTableName, Region: r.Name}
}

// regions are the World's Regions, primary first.
func (w *World) regions() []*Region { return []*Region{w.Primary, w.Secondary} }

// Peer is the other Region of r.
func (w *World) Peer(r *Region) *Region {
	if r == w.Primary {
		return w.Secondary
	}
	return w.Primary
}

// capturePipeline registers the capture, re-check and sweep functions in p, creates
// the spec's re-check and sweep state machines there and deploys the capture rules.
func (w *World) capturePipeline(ctx context.Context, p *Region) error {
	o := w.opts
	p.Capturer = &capture.Capturer{IoT: p.Registry, Shadows: p.Shadows, Retained: p.Broker.DataPlane(), Held: p.held(), Billing: p.Registry, Provisioning: p.Registry, Tags: p.Registry,
		Indexing: p.Registry, Store: p.store(), Region: p.Name, Logger: o.Logger,
		Applying: &applymark.Guard{Marks: p.ApplyMarks(), Progress: p.ApplyProgress()}}
	fails := p.failures(o)
	recheck := &capture.Rechecker{Capturer: p.Capturer, Count: o.RecheckCount}
	sweep := &capture.Sweeper{Capturer: p.Capturer, Shadows: true, Failures: fails}
	arns := map[string]string{}
	for name, h := range map[string]any{spec.FunctionRecheck: recheck.Handle, spec.FunctionSweep: sweep.Handle} {
		arn, err := p.Lambda.Register(name, h, functionOptions(name))
		if err != nil {
			return fmt.Errorf("simulator: register %s: %w", name, err)
		}
		arns[name] = arn
	}
	def, err := spec.RecheckMachine{Recheck: arns[spec.FunctionRecheck], ErrorTable: ErrorTableName, Retry: o.Retry}.Definition()
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if p.RecheckMachineARN, err = p.createStateMachine(ctx, "iotdr-recheck", def); err != nil {
		return err
	}
	if def, err = (spec.SweepMachine{Sweep: arns[spec.FunctionSweep], ErrorTable: ErrorTableName, Retry: o.Retry}).Definition(); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if p.SweepMachineARN, err = p.createStateMachine(ctx, "iotdr-sweep", def); err != nil {
		return err
	}
	h := &capture.Handler{
		Capturer: p.Capturer, SFN: p.StepFunctions, RecheckMachineARN: p.RecheckMachineARN,
		RecheckSeconds: o.RecheckSeconds, ApplyClientToken: spec.ApplyClientToken, Failures: fails, Logger: o.Logger, Marks: p.ApplyMarks(),
	}
	if _, err := p.Lambda.Register(spec.FunctionCapture, h.Handle, functionOptions(spec.FunctionCapture)); err != nil {
		return fmt.Errorf("simulator: register capture: %w", err)
	}
	return p.capture()
}

// redrivePipeline registers r's redrive function, which re-runs both stages' failures.
func (w *World) redrivePipeline(r *Region) error {
	o := w.opts
	rd := &redrive.Handler{Failures: r.failures(o), Capture: r.Capturer, Apply: r.Applier, Items: r.store(), Region: r.Name, Logger: o.Logger}
	if _, err := r.Lambda.Register(spec.FunctionRedrive, rd.Handle, functionOptions(spec.FunctionRedrive)); err != nil {
		return fmt.Errorf("simulator: %s register redrive: %w", r.Name, err)
	}
	return nil
}

// applyPipeline registers the apply function in s and maps its replica's stream to it.
func (w *World) applyPipeline(ctx context.Context, s *Region) error {
	o := w.opts
	view := &state.View{Store: s.store()}
	s.Replicator = &replication.Replicator{
		Source: view, SourceShadows: view, Target: s.Registry, TargetShadows: s.Shadows,
		SourceRetained: view, TargetRetained: s.Broker.DataPlane(),
		SourceProvisioning: view, TargetProvisioning: s.Registry,
		SourceBilling: view, TargetBilling: s.Registry,
		SourceTags: view, TargetTags: s.Registry,
		SourceIndexing: view, TargetDynamic: s.Registry,
		SourceRegion: w.Peer(s).Name, TargetRegion: s.Name, ClientToken: spec.ApplyClientToken, Logger: o.Logger,
	}
	s.Applier = &apply.Applier{Region: s.Name, Store: s.store(), Converger: s.Replicator, Lag: s.Lag, Logger: o.Logger, Marks: s.ApplyMarks(), Held: s.held()}
	fails := s.failures(o)
	h := &apply.Handler{Applier: s.Applier, Failures: fails}
	gated := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if err := s.applyGate.wait(ctx); err != nil {
			return events.DynamoDBEventResponse{}, err
		}
		return h.Handle(ctx, ev)
	}
	// The progress leases are taken before the chaos gate, as a stalled apply in AWS
	// holds its batch (the catch-up gate reads them: probe.Gate).
	progress := s.ApplyProgress()
	// Closed leases with changes are kept whatever their age: the gate's MaxAge is
	// scaled to the run (EdgeOptions.CatchUpMaxAge) and may be below a wall second.
	progress.Logger, progress.MinBehind = o.Logger, -1
	tracked := progress.Track(gated)
	if _, err := s.Lambda.Register(spec.FunctionApply, tracked, functionOptions(spec.FunctionApply)); err != nil {
		return fmt.Errorf("simulator: register apply: %w", err)
	}
	stop, err := s.Lambda.MapStream(context.WithoutCancel(ctx), s.State.Stream(), spec.FunctionApply, lambdart.StreamMapping{
		BatchSize:               o.StreamBatchSize,
		MaxRetryAttempts:        StreamMaxRetries,
		BisectOnError:           true,
		ReportBatchItemFailures: true,
		RetryDelay:              10 * time.Millisecond,
		OnFailure: func(recs []events.DynamoDBEventRecord, err error) {
			// What the retries gave up on is already in the error table (the apply
			// function records a failure before it reports it).
			o.Logger.Error("stream records sent to the on-failure destination", "records", len(recs), "error", err)
			w.mu.Lock()
			w.deadLetters = append(w.deadLetters, recs...)
			w.mu.Unlock()
		},
	})
	if err != nil {
		return fmt.Errorf("simulator: map stream to apply: %w", err)
	}
	s.stopMap = stop
	return nil
}

// PauseApply is a chaos verb: r's apply function stalls (its invocations wait) until
// ResumeApply, as a throttled or failing apply would, while capture and replication go
// on. Settle does not wait for a paused apply.
func (r *Region) PauseApply() { r.applyGate.set(true) }

// ResumeApply undoes PauseApply.
func (r *Region) ResumeApply() { r.applyGate.set(false) }

// gate blocks callers while closed.
type gate struct {
	mu     sync.Mutex
	closed bool
	open   chan struct{} // closed when the gate opens
}

func (g *gate) set(closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if closed == g.closed {
		return
	}
	g.closed = closed
	if closed {
		g.open = make(chan struct{})
	} else {
		close(g.open)
	}
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	closed, open := g.closed, g.open
	g.mu.Unlock()
	if !closed {
		return nil
	}
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// DirectReplicator returns a replicator from the primary's own API into the secondary,
// as `iotdr sync` runs one: it reads the primary, unlike the apply pipeline.
func (w *World) DirectReplicator() *replication.Replicator {
	return &replication.Replicator{
		Source: w.Primary.Registry, SourceShadows: w.Primary.Shadows,
		Target: w.Secondary.Registry, TargetShadows: w.Secondary.Shadows,
		SourceProvisioning: w.Primary.Registry, TargetProvisioning: w.Secondary.Registry,
		SourceBilling: w.Primary.Registry, TargetBilling: w.Secondary.Registry,
		SourceTags: w.Primary.Registry, TargetTags: w.Secondary.Registry,
		SourceIndexing: &replication.SourceIndexing{IoT: w.Primary.Registry}, TargetDynamic: w.Secondary.Registry,
		SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name, Logger: w.opts.Logger,
	}
}

// functionOptions registers a function with the memory the stacks give it, so that
// the meter bills the same GB-seconds.
func functionOptions(name string) lambdart.FunctionOptions {
	return lambdart.FunctionOptions{MemoryMB: spec.FunctionMemoryMB[name]}
}

// StreamMaxRetries is the trigger mapping's retry bound, as the stacks deploy it.
const StreamMaxRetries = 10

// Redrive invokes both Regions' redrive functions, as their schedules do, and sums
// their responses.
func (w *World) Redrive(ctx context.Context) (redrive.Response, error) {
	return w.redrive(ctx, redrive.Request{}, w.regions()...)
}

// Reapply invokes r's redrive with {"reapply": true}: every item of its replica that
// the other Region captured is applied again (the operator's replay after given-up
// stream batches).
func (w *World) Reapply(ctx context.Context, r *Region) (redrive.Response, error) {
	return w.redrive(ctx, redrive.Request{Reapply: true}, r)
}

func (w *World) redrive(ctx context.Context, req redrive.Request, regions ...*Region) (redrive.Response, error) {
	var sum redrive.Response
	in, err := json.Marshal(req)
	if err != nil {
		return sum, fmt.Errorf("simulator: encode redrive request: %w", err)
	}
	for _, r := range regions {
		out, err := r.Lambda.Invoke(ctx, spec.FunctionRedrive, in)
		if err != nil {
			return sum, fmt.Errorf("simulator: %s redrive: %w", r.Name, err)
		}
		var resp redrive.Response
		if err := json.Unmarshal(out, &resp); err != nil {
			return sum, fmt.Errorf("simulator: %s redrive response: %w", r.Name, err)
		}
		sum.Redriven += resp.Redriven
		sum.StillFailing += resp.StillFailing
		sum.Unreadable += resp.Unreadable
		sum.Conflicts += resp.Conflicts
		sum.Reapplied += resp.Reapplied
		sum.ReapplyFailed += resp.ReapplyFailed
	}
	return sum, nil
}

// Sweep runs r's capture sweep (its state machine, page by page) to the end, as the
// schedule does, and returns its final state.
func (w *World) Sweep(ctx context.Context, r *Region) (capture.SweepState, error) {
	var st capture.SweepState
	sf := r.StepFunctions
	out, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(r.SweepMachineARN), Input: aws.String(`{}`)})
	if err != nil {
		return st, fmt.Errorf("simulator: start sweep: %w", err)
	}
	for {
		d, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil {
			return st, fmt.Errorf("simulator: sweep: %w", err)
		}
		switch d.Status {
		case sfntypes.ExecutionStatusSucceeded:
			if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &st); err != nil {
				return st, fmt.Errorf("simulator: sweep output: %w", err)
			}
			return st, nil
		case sfntypes.ExecutionStatusRunning:
		default:
			return st, fmt.Errorf("simulator: sweep ended %s: %s", d.Status, aws.ToString(d.Cause))
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("simulator: sweep: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// DeadLetters returns the stream records the apply mapping gave up on so far.
func (w *World) DeadLetters() []events.DynamoDBEventRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.deadLetters)
}

// Settle waits until the pipeline is idle: nothing waiting for replication (unless it is
// held by Pause or a Region outage, which only a verb undoes), every
// stream record handed to the trigger, and no execution running. It checks twice in a
// row so that work one stage hands to the next is not missed.
func (w *World) Settle(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	quiet := 0
	for {
		if w.idle() {
			quiet++
			if quiet >= 3 {
				return nil
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("simulator: pipeline not idle (%s): %w", w.backlog(), ctx.Err())
		case <-tick.C:
		}
	}
}

func (w *World) idle() bool {
	for _, r := range w.regions() {
		if r.Registry.Pending() != 0 || r.Rules.Pending() != 0 || r.Lambda.AsyncPending() != 0 ||
			r.StepFunctions.Running() != 0 || (!r.applyGate.isClosed() && r.StreamBacklog() != 0) {
			return false
		}
	}
	return w.Replication.Held() || w.Replication.Pending() == 0
}

// StreamBacklog is how many records of r's replica stream its apply function has not
// processed yet: the backlog a catching-up Region still has to apply.
func (r *Region) StreamBacklog() int64 {
	st := r.Lambda.MappingStats(spec.FunctionApply)
	return r.State.Stream().Appended() - st.Records - st.FailedRecords - st.DiscardedRecords
}

func (w *World) backlog() string {
	var b []string
	for _, r := range w.regions() {
		b = append(b, fmt.Sprintf("%s: registry events pending %d, rule actions pending %d, async invocations pending %d, stream backlog %d, executions running %d",
			r.Name, r.Registry.Pending(), r.Rules.Pending(), r.Lambda.AsyncPending(), r.StreamBacklog(), r.StepFunctions.Running()))
	}
	return fmt.Sprintf("%s; replication pending %d", strings.Join(b, "; "), w.Replication.Pending())
}

// Close stops everything the World started; it is safe to call more than once.
func (w *World) Close() error {
	var errs []error
	for _, r := range []*Region{w.Primary, w.Secondary} {
		if r != nil {
			r.applyGate.set(false) // a stalled apply invocation must not block the shutdown
			if r.stopMap != nil {
				r.stopMap()
				r.stopMap = nil
			}
		}
	}
	if w.Replication != nil {
		w.Replication.Close()
		w.Replication = nil
	}
	for _, r := range []*Region{w.Primary, w.Secondary} {
		if r != nil {
			errs = append(errs, r.close())
		}
	}
	w.Primary, w.Secondary = nil, nil
	return errors.Join(errs...)
}

// Options returns the World's settings, defaults filled in.
func (w *World) Options() Options { return w.opts }
