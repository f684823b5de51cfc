package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Pipeline is the secondary's apply pipeline: the replica stream's trigger, the state
// machine and its workers, the error table and the reconciler that re-drives it.
type Pipeline struct {
	pulumi.ResourceState

	ErrorTable   *dynamodb.Table
	DeadLetters  *sqs.Queue
	StateMachine *sfn.StateMachine
	Mapping      *lambda.EventSourceMapping
	Functions    map[string]*Function
}

// pipelineArgs are what the pipeline needs from the primary and the rest of the stack.
type pipelineArgs struct {
	Account string
	Code    map[string]pulumi.Archive
	// EventTableName and ReplicaStreamArn come from the primary stack's outputs.
	EventTableName   pulumi.StringInput
	ReplicaStreamArn pulumi.StringInput
}

func newPipeline(ctx *pulumi.Context, s *settings, args pipelineArgs, opts ...pulumi.ResourceOption) (*Pipeline, error) {
	p := &Pipeline{Functions: map[string]*Function{}}
	if err := ctx.RegisterComponentResource("iotdr:replication:Pipeline", "apply", p, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(p)
	src, dst, acct := s.PrimaryRegion, s.SecondaryRegion, args.Account

	var err error
	if p.ErrorTable, err = newTable(ctx, "errors", s.Prefix+"-errors", spec.ErrorTable(), nil, child); err != nil {
		return nil, err
	}
	p.DeadLetters, err = sqs.NewQueue(ctx, "stream-failures", &sqs.QueueArgs{
		Name:                    pulumi.String(s.Prefix + "-stream-failures"),
		MessageRetentionSeconds: pulumi.Int(14 * 24 * 3600),
		SqsManagedSseEnabled:    pulumi.Bool(true),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("stream failure queue: %w", err)
	}

	// Every worker converges this Region to the source's current state, so it reads
	// the source Region and writes this one, and reports the replication lag.
	workerEnv := pulumi.StringMap{
		spec.EnvSourceRegion:    pulumi.String(src),
		spec.EnvMetricNamespace: pulumi.String(s.MetricNamespace),
		spec.EnvRecheckSeconds:  pulumi.String(strconv.Itoa(s.RecheckSeconds)),
		spec.EnvRecheckCount:    pulumi.String(strconv.Itoa(s.RecheckCount)),
	}
	common := []statement{
		metricStatement(s.MetricNamespace),
		{Sid: "FindDataEndpoints", Actions: []string{"iot:DescribeEndpoint"}, Resources: []pulumi.StringInput{anyResource}},
	}
	// Listing has no resource-level permissions: child groups (group-tree deletes) and
	// things of a type (a type is only deleted when unused).
	registry := append(workerStatements("Registry", src, dst, acct, registryReadActions, registryWriteActions, iotKinds...),
		statement{Sid: "RegisterCertificates", Actions: []string{"iot:RegisterCertificateWithoutCA"}, Resources: []pulumi.StringInput{anyResource}},
		statement{Sid: "ListRegistry", Actions: []string{"iot:ListThingGroups", "iot:ListThings"}, Resources: []pulumi.StringInput{anyResource}})
	thingType := append(workerStatements("ThingType", src, dst, acct, thingTypeReadActions, thingTypeWriteActions, "thingtype"),
		statement{Sid: "ListThingsOfType", Actions: []string{"iot:ListThings"}, Resources: []pulumi.StringInput{anyResource}})
	shadow := workerStatements("Shadow", src, dst, acct, shadowReadActions, shadowWriteActions, "thing")
	// The state machine's task Lambdas, in one place: the state machine and its role
	// are derived from this list.
	workers := []struct {
		name  string
		stmts []statement
	}{
		{spec.FunctionThing, registry},
		{spec.FunctionThingType, thingType},
		{spec.FunctionThingGroup, registry},
		{spec.FunctionShadow, shadow},
	}
	workerNames := make([]string, 0, len(workers))
	for _, w := range workers {
		f, err := newFunction(ctx, s, functionArgs{
			Name: w.name, Description: "iot-dr: apply worker", Code: args.Code[w.name],
			Timeout: 60, MemoryMB: 256, Env: workerEnv,
			Statements: slices.Concat(common, w.stmts),
		}, child)
		if err != nil {
			return nil, err
		}
		p.Functions[w.name] = f
		workerNames = append(workerNames, w.name)
	}

	if err := p.newStateMachine(ctx, s, acct, workerNames, child); err != nil {
		return nil, err
	}

	errorTableArn := p.ErrorTable.Arn
	streamResource := pulumi.Sprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/*", dst, acct, args.EventTableName)
	trigger, err := newFunction(ctx, s, functionArgs{
		Name: spec.FunctionTrigger, Description: "iot-dr: replica stream -> state machine", Code: args.Code[spec.FunctionTrigger],
		Timeout: 60, MemoryMB: 256,
		Env: pulumi.StringMap{
			spec.EnvStateMachineARN: p.StateMachine.Arn,
			spec.EnvErrorTable:      p.ErrorTable.Name,
		},
		Statements: []statement{
			{Sid: "ReadReplicaStream", Actions: []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}, Resources: []pulumi.StringInput{streamResource}},
			{Sid: "StartApply", Actions: []string{"states:StartExecution"}, Resources: []pulumi.StringInput{p.StateMachine.Arn}},
			{Sid: "RecordErrors", Actions: []string{"dynamodb:PutItem"}, Resources: []pulumi.StringInput{errorTableArn}},
			{Sid: "GiveUpToQueue", Actions: []string{"sqs:SendMessage"}, Resources: []pulumi.StringInput{p.DeadLetters.Arn}},
		},
	}, child)
	if err != nil {
		return nil, err
	}
	p.Functions[spec.FunctionTrigger] = trigger
	if err := p.newMapping(ctx, s, trigger, args.ReplicaStreamArn, child); err != nil {
		return nil, err
	}

	// The reconciler re-applies recorded failures itself and runs full reconciles, so
	// it holds the workers' permissions plus listing the registries.
	var all []statement
	for _, set := range [][]statement{registry, shadow} {
		for _, st := range set {
			st.Sid = "Reconcile" + st.Sid
			all = append(all, st)
		}
	}
	reconcilerEnv := pulumi.StringMap{spec.EnvErrorTable: p.ErrorTable.Name}
	maps.Copy(reconcilerEnv, workerEnv)
	reconciler, err := newFunction(ctx, s, functionArgs{
		Name: spec.FunctionReconciler, Description: "iot-dr: re-drive the error table", Code: args.Code[spec.FunctionReconciler],
		Timeout: 900, MemoryMB: 512, Env: reconcilerEnv,
		Statements: slices.Concat(common, all, []statement{
			{Sid: "ListAllTypes", Actions: []string{"iot:ListThingTypes"}, Resources: []pulumi.StringInput{anyResource}},
			{Sid: "ReadErrors", Actions: []string{"dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, Resources: []pulumi.StringInput{errorTableArn}},
		}),
	}, child)
	if err != nil {
		return nil, err
	}
	p.Functions[spec.FunctionReconciler] = reconciler
	if err := p.schedule(ctx, s, reconciler, child); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"stateMachineArn": p.StateMachine.Arn, "errorTable": p.ErrorTable.Name}); err != nil {
		return nil, err
	}
	return p, nil
}

// newStateMachine deploys the spec's definition verbatim, with the ARNs of workers
// (already in p.Functions), the error table and the configured retry policy filled in.
func (p *Pipeline) newStateMachine(ctx *pulumi.Context, s *settings, account string, workers []string, child pulumi.ResourceOption) error {
	w := func(name string) pulumi.StringOutput { return p.Functions[name].Function.Arn }
	inputs := []any{p.ErrorTable.Name}
	var invoke []pulumi.StringInput
	for _, n := range workers {
		inputs = append(inputs, w(n))
		invoke = append(invoke, w(n), pulumi.Sprintf("%s:*", w(n)))
	}
	def := pulumi.All(inputs...).
		ApplyT(func(v []any) (string, error) {
			arn := map[string]string{}
			for i, n := range workers {
				arn[n] = v[i+1].(string)
			}
			// A worker missing here leaves its ARN empty, which Definition refuses.
			return spec.StateMachine{
				Workers: spec.Workers{
					Thing: arn[spec.FunctionThing], ThingType: arn[spec.FunctionThingType],
					ThingGroup: arn[spec.FunctionThingGroup], Shadow: arn[spec.FunctionShadow],
				},
				ErrorTable: v[0].(string),
				Retry:      s.Retry,
			}.Definition()
		}).(pulumi.StringOutput)

	logs, err := cloudwatch.NewLogGroup(ctx, "state-machine", &cloudwatch.LogGroupArgs{
		// Step Functions requires the /aws/vendedlogs/ prefix to keep its resource
		// policy small.
		Name:            pulumi.String("/aws/vendedlogs/states/" + s.Prefix + "-apply"),
		RetentionInDays: pulumi.Int(s.LogRetentionDays),
	}, child)
	if err != nil {
		return fmt.Errorf("state machine log group: %w", err)
	}
	r, err := newRole(ctx, "state-machine", "states.amazonaws.com", account, []statement{
		{Sid: "InvokeWorkers", Actions: []string{"lambda:InvokeFunction"}, Resources: invoke},
		{Sid: "RecordErrors", Actions: []string{"dynamodb:PutItem"}, Resources: []pulumi.StringInput{p.ErrorTable.Arn}},
		{
			Sid: "DeliverLogs",
			Actions: []string{
				"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
				"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
			},
			Resources: []pulumi.StringInput{anyResource},
		},
	}, child)
	if err != nil {
		return err
	}
	logging := &sfn.StateMachineLoggingConfigurationArgs{Level: pulumi.String(s.StateMachineLog)}
	if s.StateMachineLog != "OFF" {
		// Execution data would put device attributes and shadow state into the logs.
		logging.IncludeExecutionData = pulumi.Bool(false)
		logging.LogDestination = pulumi.Sprintf("%s:*", logs.Arn)
	}
	// STANDARD, not EXPRESS: only standard workflows dedupe StartExecution by name,
	// which is what makes a redelivered stream record harmless.
	p.StateMachine, err = sfn.NewStateMachine(ctx, "apply", &sfn.StateMachineArgs{
		Name:                 pulumi.String(s.Prefix + "-apply"),
		Type:                 pulumi.String("STANDARD"),
		RoleArn:              r.Arn,
		Definition:           def,
		LoggingConfiguration: logging,
	}, child, pulumi.DependsOn(r.Ready))
	if err != nil {
		return fmt.Errorf("state machine: %w", err)
	}
	return nil
}

// newMapping connects the replica's stream to the trigger. Failed records are reported
// per item (partial batch response) so only they are retried; bisecting isolates a
// poison record; retries are bounded and what is given up lands in the queue.
// Only inserts captured in the source Region pass the filter, which keeps TTL deletes
// and this Region's own writes from invoking the trigger at all.
func (p *Pipeline) newMapping(ctx *pulumi.Context, s *settings, trigger *Function, stream pulumi.StringInput, child pulumi.ResourceOption) error {
	pattern, err := json.Marshal(map[string]any{
		"eventName": []string{"INSERT"},
		"dynamodb": map[string]any{"NewImage": map[string]any{
			spec.AttrSourceRegion: map[string]any{"S": []string{s.PrimaryRegion}},
		}},
	})
	if err != nil {
		return fmt.Errorf("stream filter: %w", err)
	}
	p.Mapping, err = lambda.NewEventSourceMapping(ctx, "replica-stream", &lambda.EventSourceMappingArgs{
		EventSourceArn:                 stream,
		FunctionName:                   trigger.Function.Arn,
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
				&lambda.EventSourceMappingFilterCriteriaFilterArgs{Pattern: pulumi.String(string(pattern))},
			},
		},
	}, child, pulumi.DependsOn([]pulumi.Resource{trigger}))
	if err != nil {
		return fmt.Errorf("event source mapping: %w", err)
	}
	return nil
}

// schedule runs the reconciler on s.ReconcileSchedule.
func (p *Pipeline) schedule(ctx *pulumi.Context, s *settings, reconciler *Function, child pulumi.ResourceOption) error {
	rule, err := cloudwatch.NewEventRule(ctx, "reconcile", &cloudwatch.EventRuleArgs{
		Name:               pulumi.String(s.Prefix + "-reconcile"),
		Description:        pulumi.String("iot-dr: re-drive failed applies"),
		ScheduleExpression: pulumi.String(s.ReconcileSchedule),
	}, child)
	if err != nil {
		return fmt.Errorf("reconcile schedule: %w", err)
	}
	if _, err := lambda.NewPermission(ctx, "reconcile-schedule", &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  reconciler.Function.Name,
		Principal: pulumi.String("events.amazonaws.com"),
		SourceArn: rule.Arn,
	}, child); err != nil {
		return fmt.Errorf("reconcile permission: %w", err)
	}
	if _, err := cloudwatch.NewEventTarget(ctx, "reconcile", &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  reconciler.Function.Arn,
	}, child); err != nil {
		return fmt.Errorf("reconcile target: %w", err)
	}
	return nil
}
