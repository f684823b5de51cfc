// Package metrics publishes iot-dr's operational metrics (the replication lag) to
// CloudWatch. It is deliberately tiny: one metric, no buffering, so a failed publish is
// visible at once in the worker's log instead of being lost in a background flush.
package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// PutMetricDataAPI is the part of *cloudwatch.Client the publisher uses.
type PutMetricDataAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// CloudWatch publishes the replication-lag metric, dimensioned by event type.
type CloudWatch struct {
	Client    PutMetricDataAPI
	Namespace string
}

// RecordLag publishes one lag sample in milliseconds.
func (c CloudWatch) RecordLag(ctx context.Context, eventType string, lag time.Duration) error {
	ns := c.Namespace
	if ns == "" {
		ns = spec.DefaultMetricNamespace
	}
	_, err := c.Client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(ns),
		MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String(spec.MetricReplicationLag),
			Unit:       cwtypes.StandardUnitMilliseconds,
			Value:      aws.Float64(float64(lag) / float64(time.Millisecond)),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("EventType"), Value: aws.String(eventType)}},
		}},
	})
	if err != nil {
		return fmt.Errorf("put %s metric: %w", spec.MetricReplicationLag, err)
	}
	return nil
}
