package deploy

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
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
	// Regions maps each alarm's name to its Region.
	Regions map[string]string
}

// alarmArgs are the resources the alarms watch; zero values skip an alarm.
type alarmArgs struct {
	HealthCheckID pulumi.IDOutput
	// HealthProvider is a provider for healthMetricsRegion.
	HealthProvider pulumi.ProviderResource
	Pipeline       *Pipeline
}

func newAlarms(ctx *pulumi.Context, s *settings, args alarmArgs, opts ...pulumi.ResourceOption) (*Alarms, error) {
	a := &Alarms{Regions: map[string]string{}}
	if err := ctx.RegisterComponentResource("iotdr:observability:Alarms", "alarms", a, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(a)
	add := func(name, region string, alarm *cloudwatch.MetricAlarmArgs, extra ...pulumi.ResourceOption) error {
		physical := s.Prefix + "-" + s.Role + "-" + name
		alarm.Name = pulumi.String(physical)
		a.Regions[physical] = region
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
		if err := pipelineAlarms(s, p, add); err != nil {
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

// addAlarm creates one alarm of the stack in region.
type addAlarm func(name, region string, alarm *cloudwatch.MetricAlarmArgs, extra ...pulumi.ResourceOption) error

// pipelineAlarms watch the replication path of the halves the stack runs: anything
// recorded in the error table or still failing after a re-drive, and per half what
// fails before it is recorded.
func pipelineAlarms(s *settings, p *Pipeline, add addAlarm) error {
	region := s.Region()
	// sumAbove alarms when a count metric is positive within one period.
	sumAbove := func(name, desc, ns, metric string, dims pulumi.StringMap, period int) error {
		return add(name, region, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String(desc),
			Namespace:          pulumi.String(ns),
			MetricName:         pulumi.String(metric),
			Dimensions:         dims,
			Statistic:          pulumi.String("Sum"),
			Period:             pulumi.Int(period),
			EvaluationPeriods:  pulumi.Int(1),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(0),
			TreatMissingData:   pulumi.String("notBreaching"),
		})
	}
	fn := func(name string) pulumi.StringMap {
		return pulumi.StringMap{"FunctionName": p.Functions[name].Function.Name}
	}

	// Error-table growth: every PutItem on the error table (the capture's, sweep's and
	// applier's failure records, the state machines' RecordError states) adds an item,
	// and the sample count of the PutItem latency metric counts exactly those calls;
	// the redrive function's deletes do not count.
	if err := add("error-table-growth", region, &cloudwatch.MetricAlarmArgs{
		AlarmDescription:   pulumi.String("iot-dr: replication failures were recorded in the error table"),
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
		return err
	}
	// Records a re-drive could not clear: alarms for as long as any stays, since every
	// scheduled re-drive counts them again.
	if err := sumAbove("redrive-still-failing", "iot-dr: error-table records keep failing when re-driven",
		s.MetricNamespace, MetricRedriveStillFailing, nil, 300); err != nil {
		return err
	}
	if err := sumAbove("redrive-errors", "iot-dr: the redrive function itself fails",
		"AWS/Lambda", "Errors", fn(spec.FunctionRedrive), 300); err != nil {
		return err
	}

	if p.Halves.Capture {
		if err := sumAbove("capture-errors", "iot-dr: capture invocations fail (Lambda retries them twice, the sweep catches the rest)",
			"AWS/Lambda", "Errors", fn(spec.FunctionCapture), 300); err != nil {
			return err
		}
		for _, m := range []struct {
			name    string
			machine *sfn.StateMachine
		}{{"recheck", p.RecheckMachine}, {"sweep", p.SweepMachine}} {
			if err := sumAbove(m.name+"-failed", "iot-dr: "+m.name+" executions failed (recorded in the error table)",
				"AWS/States", "ExecutionsFailed", pulumi.StringMap{"StateMachineArn": m.machine.Arn}, 300); err != nil {
				return err
			}
		}
	}

	if p.Halves.Apply {
		// The applier publishes the lag per kind; one Metrics Insights query alarms on
		// the worst of them, including kinds seen for the first time.
		query := fmt.Sprintf(`SELECT MAX(%s) FROM SCHEMA("%s", EventType)`, spec.MetricReplicationLag, s.MetricNamespace)
		if err := add("replication-lag", region, &cloudwatch.MetricAlarmArgs{
			AlarmDescription: pulumi.Sprintf("iot-dr: applying to %s lags more than %d ms behind the change", region, s.LagAlarmMS),
			MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{&cloudwatch.MetricAlarmMetricQueryArgs{
				Id: pulumi.String("lag"), Expression: pulumi.String(query), Period: pulumi.Int(60), ReturnData: pulumi.Bool(true),
			}},
			EvaluationPeriods:  pulumi.Int(3),
			DatapointsToAlarm:  pulumi.Int(2),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(float64(s.LagAlarmMS)),
			TreatMissingData:   pulumi.String("notBreaching"),
		}); err != nil {
			return err
		}
		// The lag metric only exists for applies that happened; a stuck stream shows
		// as the age of the oldest record the function has not finished.
		if err := add("stream-iterator-age", region, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.Sprintf("iot-dr: the apply function is more than %d ms behind the state table's stream", s.LagAlarmMS),
			Namespace:          pulumi.String("AWS/Lambda"),
			MetricName:         pulumi.String("IteratorAge"),
			Dimensions:         fn(spec.FunctionApply),
			Statistic:          pulumi.String("Maximum"),
			Period:             pulumi.Int(60),
			EvaluationPeriods:  pulumi.Int(3),
			DatapointsToAlarm:  pulumi.Int(2),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(float64(s.LagAlarmMS)),
			TreatMissingData:   pulumi.String("notBreaching"),
		}); err != nil {
			return err
		}
		if err := sumAbove("apply-errors", "iot-dr: apply invocations fail as a whole (item failures are in the error table)",
			"AWS/Lambda", "Errors", fn(spec.FunctionApply), 300); err != nil {
			return err
		}
		if err := add("stream-failures", region, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String("iot-dr: stream batches were given up after the retry bound (their resources are in the error table)"),
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
			return err
		}
	}
	return nil
}
