package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// healthMetricsRegion is where Route 53 publishes health-check metrics, whatever Region
// the checked endpoint is in; alarms on them must live there too.
const healthMetricsRegion = "us-east-1"

// Alarms groups a stack's CloudWatch alarms.
type Alarms struct {
	pulumi.ResourceState

	Names []pulumi.StringOutput
}

// alarmArgs are the resources the alarms watch; zero values skip an alarm.
type alarmArgs struct {
	HealthCheckID pulumi.IDOutput
	// HealthProvider is a provider for healthMetricsRegion.
	HealthProvider pulumi.ProviderResource
	Pipeline       *Pipeline // secondary only
}

func newAlarms(ctx *pulumi.Context, s *settings, args alarmArgs, opts ...pulumi.ResourceOption) (*Alarms, error) {
	a := &Alarms{}
	if err := ctx.RegisterComponentResource("iotdr:observability:Alarms", "alarms", a, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(a)
	add := func(name, region string, alarm *cloudwatch.MetricAlarmArgs, extra ...pulumi.ResourceOption) error {
		alarm.Name = pulumi.String(s.Prefix + "-" + s.Role + "-" + name)
		if actions := s.alarmActions(region); actions != nil {
			alarm.AlarmActions, alarm.OkActions = actions, actions
		}
		r, err := cloudwatch.NewMetricAlarm(ctx, name, alarm, append([]pulumi.ResourceOption{child}, extra...)...)
		if err != nil {
			return fmt.Errorf("alarm %s: %w", name, err)
		}
		a.Names = append(a.Names, r.Name)
		return nil
	}

	// Health: Route 53 reports 1 (healthy) or 0 per check, every minute.
	if err := add("health", healthMetricsRegion, &cloudwatch.MetricAlarmArgs{
		AlarmDescription:   pulumi.Sprintf("iot-dr: the %s Region's health probe fails; Route 53 fails over while it does", s.Role),
		Namespace:          pulumi.String("AWS/Route53"),
		MetricName:         pulumi.String("HealthCheckStatus"),
		Dimensions:         pulumi.StringMap{"HealthCheckId": args.HealthCheckID},
		Statistic:          pulumi.String("Minimum"),
		Period:             pulumi.Int(60),
		EvaluationPeriods:  pulumi.Int(1),
		ComparisonOperator: pulumi.String("LessThanThreshold"),
		Threshold:          pulumi.Float64(1),
		TreatMissingData:   pulumi.String("breaching"),
	}, pulumi.Provider(args.HealthProvider)); err != nil {
		return nil, err
	}

	if p := args.Pipeline; p != nil {
		// The workers publish the lag per event type; one Metrics Insights query
		// alarms on the worst of them, including event types seen for the first time.
		query := fmt.Sprintf(`SELECT MAX(%s) FROM SCHEMA("%s", EventType)`, spec.MetricReplicationLag, s.MetricNamespace)
		if err := add("replication-lag", s.Region(), &cloudwatch.MetricAlarmArgs{
			AlarmDescription: pulumi.Sprintf("iot-dr: replication from %s lags more than %d ms", s.PrimaryRegion, s.LagAlarmMS),
			MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{&cloudwatch.MetricAlarmMetricQueryArgs{
				Id: pulumi.String("lag"), Expression: pulumi.String(query), Period: pulumi.Int(60), ReturnData: pulumi.Bool(true),
			}},
			EvaluationPeriods:  pulumi.Int(3),
			DatapointsToAlarm:  pulumi.Int(2),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(float64(s.LagAlarmMS)),
			TreatMissingData:   pulumi.String("notBreaching"),
		}); err != nil {
			return nil, err
		}
		// Error-table growth: every PutItem on the error table (the state machine's
		// RecordError state, the trigger's failure records) adds an item, and the
		// sample count of the PutItem latency metric counts exactly those calls;
		// the reconciler's deletes do not count.
		if err := add("error-table-growth", s.Region(), &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String("iot-dr: events failed to apply and were recorded in the error table"),
			Namespace:          pulumi.String("AWS/DynamoDB"),
			MetricName:         pulumi.String("SuccessfulRequestLatency"),
			Dimensions:         pulumi.StringMap{"TableName": p.ErrorTable.Name, "Operation": pulumi.String("PutItem")},
			Statistic:          pulumi.String("SampleCount"),
			Period:             pulumi.Int(300),
			EvaluationPeriods:  pulumi.Int(1),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(0),
			TreatMissingData:   pulumi.String("notBreaching"),
		}); err != nil {
			return nil, err
		}
		if err := add("stream-failures", s.Region(), &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String("iot-dr: stream records were given up after the retry bound"),
			Namespace:          pulumi.String("AWS/SQS"),
			MetricName:         pulumi.String("ApproximateNumberOfMessagesVisible"),
			Dimensions:         pulumi.StringMap{"QueueName": p.DeadLetters.Name},
			Statistic:          pulumi.String("Maximum"),
			Period:             pulumi.Int(300),
			EvaluationPeriods:  pulumi.Int(1),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(0),
			TreatMissingData:   pulumi.String("notBreaching"),
		}); err != nil {
			return nil, err
		}
	}
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{}); err != nil {
		return nil, err
	}
	return a, nil
}

// alarmActions returns the alarm topic for alarms in region: CloudWatch only notifies
// a topic in the alarm's own Region, so other alarms are left without actions.
func (s *settings) alarmActions(region string) pulumi.Array {
	parts := strings.Split(s.AlarmTopicARN, ":")
	if len(parts) < 6 || parts[3] != region {
		return nil
	}
	return pulumi.Array{pulumi.String(s.AlarmTopicARN)}
}
