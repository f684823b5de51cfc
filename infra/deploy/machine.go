package deploy

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// machineArgs describes one of the capture's state machines: a loop around one Task
// Lambda whose failures a RecordError state writes into the error table.
type machineArgs struct {
	Name    string // logical name and physical suffix: recheck, sweep
	Account string
	Task    *Function
	// Definition returns the spec's ASL for the task's ARN and the error table's name.
	Definition func(taskArn, errorTable string) (string, error)
}

// newMachine deploys the spec's definition verbatim, with the task's ARN, the error
// table and the configured retry policy filled in, a role that may only invoke the task
// and write the error table, and logs without execution data.
func (p *Pipeline) newMachine(ctx *pulumi.Context, s *settings, args machineArgs, child pulumi.ResourceOption) (*sfn.StateMachine, error) {
	fn := args.Task.Function.Arn
	def := pulumi.All(fn, p.ErrorTable.Name).ApplyT(func(v []any) (string, error) {
		return args.Definition(v[0].(string), v[1].(string))
	}).(pulumi.StringOutput)

	logs, err := cloudwatch.NewLogGroup(ctx, args.Name+"-machine", &cloudwatch.LogGroupArgs{
		// Step Functions requires the /aws/vendedlogs/ prefix to keep its resource
		// policy small.
		Name:            pulumi.String("/aws/vendedlogs/states/" + s.Prefix + "-" + args.Name),
		RetentionInDays: pulumi.Int(s.LogRetentionDays),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("%s state machine log group: %w", args.Name, err)
	}
	r, err := newRole(ctx, args.Name+"-machine", "states.amazonaws.com", args.Account, []statement{
		{Sid: "InvokeTask", Actions: []string{"lambda:InvokeFunction"}, Resources: []pulumi.StringInput{fn, pulumi.Sprintf("%s:*", fn)}},
		// The RecordError state's dynamodb:putItem integration.
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
		return nil, err
	}
	logging := &sfn.StateMachineLoggingConfigurationArgs{Level: pulumi.String(s.StateMachineLog)}
	if s.StateMachineLog != "OFF" {
		// Execution data would put device attributes into the logs.
		logging.IncludeExecutionData = pulumi.Bool(false)
		logging.LogDestination = pulumi.Sprintf("%s:*", logs.Arn)
	}
	// STANDARD, not EXPRESS: a re-check waits about five minutes in all (longer than
	// an express workflow may run) and a sweep of a large fleet runs longer still;
	// a Wait costs one transition however long it lasts.
	m, err := sfn.NewStateMachine(ctx, args.Name, &sfn.StateMachineArgs{
		Name:                 pulumi.String(s.Prefix + "-" + args.Name),
		Type:                 pulumi.String("STANDARD"),
		RoleArn:              r.Arn,
		Definition:           def,
		LoggingConfiguration: logging,
	}, child, pulumi.DependsOn(r.Ready))
	if err != nil {
		return nil, fmt.Errorf("%s state machine: %w", args.Name, err)
	}
	return m, nil
}
