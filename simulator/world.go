package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iot-dr/iot-dr/functions/reconcile"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/trigger"
	"github.com/iot-dr/iot-dr/functions/worker"
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
	// Retry is the workers' retry policy in the state machine (default spec.DefaultRetry).
	Retry spec.Retry
	// RecheckSeconds and RecheckCount bound the thing worker's attachment re-checks
	// (defaults 1 and 6; the wait doubles after each pass; seconds are ASL seconds,
	// scaled by TimeScale).
	RecheckSeconds, RecheckCount int
	// EventTTL is the captured events' expiry (default 24h).
	EventTTL time.Duration
	// StreamBatchSize is the trigger's batch size (default 100).
	StreamBatchSize int
	// APIRates limits the registries' per-API rates (operation name -> TPS).
	APIRates map[string]float64
	// Domain is the custom domain devices connect to (default iot.iotdr.test). Both
	// Regions have it as a domain configuration: an SNI naming it is accepted.
	Domain string
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
	if o.EventTTL == 0 {
		o.EventTTL = 24 * time.Hour
	}
	if o.StreamBatchSize == 0 {
		o.StreamBatchSize = 100
	}
	if o.Domain == "" {
		o.Domain = "iot.iotdr.test"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// World is the two-Region simulation: the primary captures registry and shadow events,
// the global table carries them to the secondary, whose pipeline applies them.
type World struct {
	Primary, Secondary *Region
	// Replication is the event table's global-table link.
	Replication *dynamo.Replication
	// Replicator is the convergence logic the workers use (primary -> secondary).
	Replicator *replication.Replicator
	// Workers are the worker handlers registered in the secondary's Lambda runtime.
	Workers *worker.Handlers
	// CA issues the run's device and server certificates.
	CA *pki.CA
	// Port is the MQTT port of both Regions' brokers.
	Port string

	opts    Options
	stopMap func()
	// deadLetters are the stream records the trigger's mapping gave up on.
	mu          sync.Mutex
	deadLetters []events.DynamoDBEventRecord
}

// New starts a World: both Regions, the capture rules in the primary, replication, and
// the apply pipeline in the secondary. Close stops it.
func New(ctx context.Context, opts Options) (w *World, err error) {
	opts.defaults()
	if opts.PrimaryRegion == opts.SecondaryRegion {
		return nil, fmt.Errorf("simulator: primary and secondary Region are both %s", opts.PrimaryRegion)
	}
	w = &World{opts: opts}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if w.CA, err = pki.NewCA("iot-dr simulator CA"); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	if err = w.newRegions(); err != nil {
		return nil, err
	}
	if err = w.Primary.capture(opts.EventTTL); err != nil {
		return nil, err
	}
	w.Replication = dynamo.Replicate(w.Primary.Events, w.Secondary.Events, dynamo.ReplicationOptions{Delay: opts.ReplicationDelay})
	w.Replicator = &replication.Replicator{
		Source: w.Primary.Registry, Target: w.Secondary.Registry,
		SourceShadows: w.Primary.Shadows, TargetShadows: w.Secondary.Shadows,
		SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name,
		Logger: opts.Logger,
	}
	if err = w.applyPipeline(ctx); err != nil {
		return nil, err
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

// applyPipeline registers the trigger, the workers and the reconciler in the secondary,
// creates the spec's state machine there and maps the replica stream to the trigger.
func (w *World) applyPipeline(ctx context.Context) error {
	s, o := w.Secondary, w.opts
	w.Workers = &worker.Handlers{
		Converger: w.Replicator, RecheckSeconds: o.RecheckSeconds, RecheckCount: o.RecheckCount,
		Lag: s.Lag, Logger: o.Logger,
	}
	arns := map[string]string{}
	for name, h := range map[string]any{
		spec.FunctionThing: w.Workers.Thing, spec.FunctionThingType: w.Workers.ThingType,
		spec.FunctionThingGroup: w.Workers.ThingGroup, spec.FunctionShadow: w.Workers.Shadow,
	} {
		arn, err := s.Lambda.Register(name, h, lambdart.FunctionOptions{})
		if err != nil {
			return fmt.Errorf("simulator: register %s: %w", name, err)
		}
		arns[name] = arn
	}
	def, err := spec.StateMachine{
		Workers: spec.Workers{
			Thing: arns[spec.FunctionThing], ThingType: arns[spec.FunctionThingType],
			ThingGroup: arns[spec.FunctionThingGroup], Shadow: arns[spec.FunctionShadow],
		},
		ErrorTable: s.Errors.Schema().Name,
		Retry:      o.Retry,
	}.Definition()
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if s.StateMachineARN, err = s.createStateMachine(ctx, def); err != nil {
		return err
	}
	trig := &trigger.Handler{
		Region: s.Name, StateMachineARN: s.StateMachineARN, SFN: s.StepFunctions,
		Errors: s.Errors, ErrorTableName: s.Errors.Schema().Name, Logger: o.Logger,
	}
	if _, err := s.Lambda.Register(spec.FunctionTrigger, trig.Handle, lambdart.FunctionOptions{}); err != nil {
		return fmt.Errorf("simulator: register trigger: %w", err)
	}
	rec := &reconcile.Handler{Errors: s.Errors, TableName: s.Errors.Schema().Name, Apply: w.Workers, Full: w.Replicator, Logger: o.Logger}
	if _, err := s.Lambda.Register(spec.FunctionReconciler, rec.Handle, lambdart.FunctionOptions{}); err != nil {
		return fmt.Errorf("simulator: register reconciler: %w", err)
	}
	stop, err := s.Lambda.MapStream(context.WithoutCancel(ctx), s.Events.Stream(), spec.FunctionTrigger, lambdart.StreamMapping{
		BatchSize:               o.StreamBatchSize,
		MaxRetryAttempts:        StreamMaxRetries,
		BisectOnError:           true,
		ReportBatchItemFailures: true,
		RetryDelay:              10 * time.Millisecond,
		OnFailure: func(recs []events.DynamoDBEventRecord, err error) {
			o.Logger.Error("stream records sent to the on-failure destination", "records", len(recs), "error", err)
			w.mu.Lock()
			w.deadLetters = append(w.deadLetters, recs...)
			w.mu.Unlock()
		},
	})
	if err != nil {
		return fmt.Errorf("simulator: map stream to trigger: %w", err)
	}
	w.stopMap = stop
	return nil
}

// StreamMaxRetries is the trigger mapping's retry bound, as the stacks deploy it.
const StreamMaxRetries = 10

// Reconcile invokes the secondary's reconciler through its Lambda runtime, as the
// schedule does.
func (w *World) Reconcile(ctx context.Context, full bool) (reconcile.Response, error) {
	var resp reconcile.Response
	in := fmt.Sprintf(`{"full":%t,"shadows":%t}`, full, full)
	out, err := w.Secondary.Lambda.Invoke(ctx, spec.FunctionReconciler, []byte(in))
	if err != nil {
		return resp, fmt.Errorf("simulator: reconciler: %w", err)
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, fmt.Errorf("simulator: reconciler response: %w", err)
	}
	return resp, nil
}

// DeadLetters returns the stream records the trigger's mapping gave up on so far.
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
	return (w.Replication.Held() || w.Replication.Pending() == 0) && w.streamBacklog() == 0 && w.Secondary.StepFunctions.Running() == 0
}

func (w *World) streamBacklog() int64 {
	st := w.Secondary.Lambda.MappingStats(spec.FunctionTrigger)
	return int64(w.Secondary.Events.Stream().Len()) - st.Records - st.FailedRecords - st.DiscardedRecords
}

func (w *World) backlog() string {
	return fmt.Sprintf("replication pending %d, stream backlog %d, executions running %d",
		w.Replication.Pending(), w.streamBacklog(), w.Secondary.StepFunctions.Running())
}

// Close stops everything the World started; it is safe to call more than once.
func (w *World) Close() error {
	var errs []error
	if w.stopMap != nil {
		w.stopMap()
		w.stopMap = nil
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
