package deploy

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// newApply deploys the apply half in the Region changes land in: the apply function on
// this Region's replica stream and the queue that receives the metadata of batches given
// up on. The apply function reads the state table's local replica and writes this
// Region's IoT only: its role holds nothing on any other Region.
func (p *Pipeline) newApply(ctx *pulumi.Context, s *settings, args pipelineArgs, child pulumi.ResourceOption) error {
	region := s.Region()
	var err error
	p.DeadLetters, err = sqs.NewQueue(ctx, "stream-failures", &sqs.QueueArgs{
		Name:                    pulumi.String(s.Prefix + "-stream-failures"),
		MessageRetentionSeconds: pulumi.Int(14 * 24 * 3600),
		SqsManagedSseEnabled:    pulumi.Bool(true),
	}, child)
	if err != nil {
		return fmt.Errorf("stream failure queue: %w", err)
	}
	apply, err := p.addFunction(ctx, s, functionArgs{
		Name: spec.FunctionApply, Description: "iot-dr: converge this Region to the state table's replica",
		Code: args.Code[spec.FunctionApply], Timeout: int(spec.ApplyTimeout.Seconds()), MemoryMB: spec.FunctionMemoryMB[spec.FunctionApply],
		Env: p.env(s, pulumi.StringMap{spec.EnvMetricNamespace: pulumi.String(s.MetricNamespace)}),
		Statements: append(applyStatements(region, args.Account, s.OnboardingRoles),
			// Lambda's stream poller reads the stream with the function's own role.
			statement{
				Sid:       "ReadReplicaStream",
				Actions:   []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
				Resources: []pulumi.StringInput{args.StreamArn},
			},
			statement{
				Sid:       "ListReplicaStreams",
				Actions:   []string{"dynamodb:ListStreams"},
				Resources: []pulumi.StringInput{pulumi.Sprintf("%s/stream/*", p.StateTableArn)},
			},
			p.stateRead(), p.recordErrors(), p.writeMarks(), metricStatement(s.MetricNamespace),
			// Lambda sends the on-failure record with the function's own role.
			statement{Sid: "GiveUpToQueue", Actions: []string{"sqs:SendMessage"}, Resources: []pulumi.StringInput{p.DeadLetters.Arn}},
		),
	}, child)
	if err != nil {
		return err
	}
	return p.newMapping(ctx, s, apply, args.StreamArn, child)
}

// streamFilter passes the records the applier acts on: items written or replaced by
// another Region's capture. TTL expiries (REMOVE) and this Region's own captures would
// only be skipped by the handler; filtering them here saves the invocations.
func streamFilter(region string) (string, error) {
	b, err := json.Marshal(map[string]any{
		"eventName": []string{"INSERT", "MODIFY"},
		"dynamodb": map[string]any{"NewImage": map[string]any{
			spec.StateAttrOrigin: map[string]any{"S": []any{map[string]any{"anything-but": []string{region}}}},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("stream filter: %w", err)
	}
	return string(b), nil
}

// newMapping connects this Region's replica stream to the apply function. Failed
// records are reported per item (partial batch response) so only they are retried;
// bisecting isolates a poison record; retries are bounded and the metadata of what is
// given up lands in the queue, while the applier has already recorded the resource in
// the error table, from which the redrive function re-applies it. One batch per shard
// at a time (the default parallelisation) keeps one resource's applies in order.
func (p *Pipeline) newMapping(ctx *pulumi.Context, s *settings, apply *Function, stream pulumi.StringInput, child pulumi.ResourceOption) error {
	pattern, err := streamFilter(s.Region())
	if err != nil {
		return err
	}
	p.Mapping, err = lambda.NewEventSourceMapping(ctx, "state-stream", &lambda.EventSourceMappingArgs{
		EventSourceArn:                 stream,
		FunctionName:                   apply.Function.Arn,
		StartingPosition:               pulumi.String("TRIM_HORIZON"),
		BatchSize:                      pulumi.Int(s.StreamBatchSize),
		MaximumBatchingWindowInSeconds: pulumi.Int(1),
		FunctionResponseTypes:          pulumi.StringArray{pulumi.String("ReportBatchItemFailures")},
		BisectBatchOnFunctionError:     pulumi.Bool(true),
		MaximumRetryAttempts:           pulumi.Int(s.StreamMaxRetries),
		DestinationConfig: &lambda.EventSourceMappingDestinationConfigArgs{
			OnFailure: &lambda.EventSourceMappingDestinationConfigOnFailureArgs{DestinationArn: p.DeadLetters.Arn},
		},
		FilterCriteria: &lambda.EventSourceMappingFilterCriteriaArgs{
			Filters: lambda.EventSourceMappingFilterCriteriaFilterArray{
				&lambda.EventSourceMappingFilterCriteriaFilterArgs{Pattern: pulumi.String(pattern)},
			},
		},
	}, child, pulumi.DependsOn([]pulumi.Resource{apply}))
	if err != nil {
		return fmt.Errorf("event source mapping: %w", err)
	}
	return nil
}
