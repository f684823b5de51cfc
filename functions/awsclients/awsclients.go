// Package awsclients builds the production AWS SDK clients the Lambda mains hand to the
// handlers, from the Lambda environment (the spec.Env* variables the stacks set). Only
// mains use it: handlers receive clients and never read the environment.
package awsclients

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/metrics"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/worker"
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

// Replicator builds the replicator from sourceRegion into the Lambda's own Region, with
// each Region's IoT control-plane client and data-plane client (its ATS endpoint looked
// up with DescribeEndpoint).
func Replicator(ctx context.Context, cfg aws.Config, sourceRegion string, log *slog.Logger) (*replication.Replicator, error) {
	src := cfg.Copy()
	src.Region = sourceRegion
	srcIoT, tgtIoT := iot.NewFromConfig(src), iot.NewFromConfig(cfg)
	srcData, err := DataPlane(ctx, src, srcIoT)
	if err != nil {
		return nil, err
	}
	tgtData, err := DataPlane(ctx, cfg, tgtIoT)
	if err != nil {
		return nil, err
	}
	return &replication.Replicator{
		Source: srcIoT, Target: tgtIoT,
		SourceShadows: srcData, TargetShadows: tgtData,
		SourceRegion: sourceRegion, TargetRegion: cfg.Region,
		Logger: log,
	}, nil
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

// Workers builds the worker handlers from the environment: the replicator from
// spec.EnvSourceRegion into this Region, the re-check settings, and the CloudWatch
// replication-lag publisher.
func Workers(ctx context.Context, log *slog.Logger) (*worker.Handlers, *replication.Replicator, error) {
	cfg, err := Config(ctx)
	if err != nil {
		return nil, nil, err
	}
	source, err := Env(spec.EnvSourceRegion)
	if err != nil {
		return nil, nil, err
	}
	secs, err := EnvInt(spec.EnvRecheckSeconds, spec.DefaultRecheckSeconds)
	if err != nil {
		return nil, nil, err
	}
	count, err := EnvInt(spec.EnvRecheckCount, spec.DefaultRecheckCount)
	if err != nil {
		return nil, nil, err
	}
	rep, err := Replicator(ctx, cfg, source, log)
	if err != nil {
		return nil, nil, err
	}
	ns := os.Getenv(spec.EnvMetricNamespace)
	return &worker.Handlers{
		Converger: rep, RecheckSeconds: secs, RecheckCount: count,
		Lag:    metrics.CloudWatch{Client: cloudwatch.NewFromConfig(cfg), Namespace: ns},
		Logger: log,
	}, rep, nil
}
