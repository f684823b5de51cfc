// Package awsclients builds the production AWS SDK clients the Lambda mains hand to the
// handlers, from the Lambda environment (the spec.Env* variables the stacks set). Only
// mains use it: handlers receive clients and never read the environment.
package awsclients

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/iot-dr/iot-dr/functions/apply"
	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/metrics"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// Logger is the JSON logger every Lambda uses.
func Logger() *slog.Logger { return slog.New(slog.NewJSONHandler(os.Stderr, nil)) }

// Config loads the default AWS configuration for the Lambda's own Region.
func Config(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// Env returns a required environment variable or an error naming it.
func Env(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return v, nil
}

// EnvInt returns an integer environment variable, def when unset.
func EnvInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("environment variable %s=%q is not an integer", name, v)
	}
	return n, nil
}

// DataPlane returns the IoT data-plane client of cfg's Region, its endpoint (the
// account's ATS data endpoint) looked up with one DescribeEndpoint call on c, the
// control-plane client of the same Region.
func DataPlane(ctx context.Context, cfg aws.Config, c *iot.Client) (*iotdataplane.Client, error) {
	out, err := c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
	if err != nil {
		return nil, fmt.Errorf("describe IoT data endpoint (iot:Data-ATS) in %s: %w", cfg.Region, err)
	}
	if aws.ToString(out.EndpointAddress) == "" {
		// Else every shadow call would go to "https://" and fail far from the cause.
		return nil, fmt.Errorf("describe IoT data endpoint (iot:Data-ATS) in %s: empty endpoint address", cfg.Region)
	}
	endpoint := "https://" + aws.ToString(out.EndpointAddress)
	return iotdataplane.NewFromConfig(cfg, func(o *iotdataplane.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

// Pipeline is every replication handler of one Region, built on that Region's own
// clients only: the applier reads the state table's local replica and never holds a
// client of another Region.
type Pipeline struct {
	Capture  *capture.Handler
	Recheck  *capture.Rechecker
	Sweep    *capture.Sweeper
	Apply    *apply.Handler
	Failures *failures.Recorder
	Capturer *capture.Capturer
	Applier  *apply.Applier
	Region   string
}

// StartPipeline is the whole main of a pipeline Lambda: build the pipeline from the
// environment, exit with the reason if that fails, and start the handler handler picks.
func StartPipeline(name string, handler func(*Pipeline) any) {
	log := Logger()
	slog.SetDefault(log)
	p, err := NewPipeline(context.Background(), log)
	if err != nil {
		log.Error(name+" cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler(p))
}

// NewPipeline builds the pipeline from the environment.
func NewPipeline(ctx context.Context, log *slog.Logger) (*Pipeline, error) {
	cfg, err := Config(ctx)
	if err != nil {
		return nil, err
	}
	peer, err1 := Env(spec.EnvPeerRegion)
	stateTable, err2 := Env(spec.EnvStateTable)
	errorTable, err3 := Env(spec.EnvErrorTable)
	markTable, err4 := Env(spec.EnvMarkTable)
	secs, err5 := EnvInt(spec.EnvRecheckSeconds, spec.DefaultRecheckSeconds)
	count, err6 := EnvInt(spec.EnvRecheckCount, spec.DefaultRecheckCount)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, err
	}
	ctl := iot.NewFromConfig(cfg)
	data, err := DataPlane(ctx, cfg, ctl)
	if err != nil {
		return nil, err
	}
	ddb := dynamodb.NewFromConfig(cfg)
	store := &state.Store{Table: ddb, Name: stateTable}
	fails := &failures.Recorder{Table: ddb, Name: errorTable, Logger: log}
	// Both Regions capture and apply (failback): the apply marks what it writes, the
	// capture skips the registry events those writes raise.
	marks := &applymark.Marks{Table: ddb, Name: markTable}
	// The capture defers a write over the other Region's item until this Region's
	// apply has converged it (the marks; for shadows, its progress leases).
	progress := &applymark.Progress{Table: ddb, Name: markTable, Region: cfg.Region, Logger: log}
	// The data-plane client serves the retained messages too: the sweep lists and reads
	// them, the apply reads and publishes them retained.
	// The held copies tell the sweep which of these, and of the billing groups and
	// onboarding kinds, the apply created here (a delete made here, or an apply to come).
	held := &applymark.Held{Table: ddb, Name: markTable}
	// The control plane serves role aliases, provisioning templates and CA
	// certificates too: the sweep lists and reads them, the apply converges them.
	capt := &capture.Capturer{IoT: ctl, Shadows: data, Billing: ctl, Tags: ctl, Indexing: ctl, Retained: data, Held: held, Provisioning: ctl, Store: store, Region: cfg.Region, Logger: log,
		Applying: &applymark.Guard{Marks: marks, Progress: progress}}
	view := &state.View{Store: store}
	rep := &replication.Replicator{
		Source: view, SourceShadows: view, Target: ctl, TargetShadows: data,
		SourceBilling: view, TargetBilling: ctl,
		SourceTags: view, TargetTags: ctl,
		SourceIndexing: view, TargetDynamic: ctl,
		SourceRetained: view, TargetRetained: data,
		SourceProvisioning: view, TargetProvisioning: ctl,
		SourceRegion: peer, TargetRegion: cfg.Region, ClientToken: spec.ApplyClientToken, Logger: log,
	}
	applier := &apply.Applier{
		Region: cfg.Region, Store: store, Converger: rep, Logger: log, Marks: marks, Held: held,
		Lag: metrics.CloudWatch{Client: cloudwatch.NewFromConfig(cfg), Namespace: os.Getenv(spec.EnvMetricNamespace)},
	}
	return &Pipeline{
		Capture: &capture.Handler{
			Capturer: capt, SFN: sfn.NewFromConfig(cfg), RecheckMachineARN: os.Getenv(spec.EnvRecheckMachineARN),
			RecheckSeconds: secs, ApplyClientToken: spec.ApplyClientToken, Failures: fails, Logger: log, Marks: marks,
		},
		Recheck:  &capture.Rechecker{Capturer: capt, Count: count},
		Sweep:    &capture.Sweeper{Capturer: capt, Shadows: true, Failures: fails},
		Apply:    &apply.Handler{Applier: applier, Failures: fails},
		Failures: fails, Capturer: capt, Applier: applier,
		Region: cfg.Region,
	}, nil
}
