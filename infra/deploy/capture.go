package deploy

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iot"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// newCapture deploys the capture half in the Region where changes happen: registry
// events switched on, the capture rules invoking the capture function, the re-check
// function and state machine (attachments raise no event), the sweep function, state
// machine and schedule (what no event announced), and, in the primary, the device policy.
func (p *Pipeline) newCapture(ctx *pulumi.Context, s *settings, args pipelineArgs, child pulumi.ResourceOption) error {
	region, acct := s.Region(), args.Account

	// Exactly the registry events the registry rule's SQL selects.
	enabled := pulumi.BoolMap{}
	for _, t := range spec.RegistryEventConfigurations() {
		enabled[t] = pulumi.Bool(true)
	}
	// EventConfigurations is a per-account-and-Region singleton: adopting it changes
	// settings other stacks might also manage. Fleet indexing (IndexingConfiguration,
	// another) is not deployed: the resource replaces the account's whole setting, and
	// Pulumi cannot read and merge it, so the apply function raises it, merged, to what
	// a replicated dynamic group's query needs (replication.Replicator.raiseIndexing).
	if _, err := iot.NewEventConfigurations(ctx, "registry-events", &iot.EventConfigurationsArgs{
		EventConfigurations: enabled,
	}, child); err != nil {
		return fmt.Errorf("registry events: %w", err)
	}

	// The re-check function: one pass over a new thing's attachments, called by the
	// re-check machine, which records what it gives up on itself.
	recheck, err := p.addFunction(ctx, s, functionArgs{
		Name: spec.FunctionRecheck, Description: "iot-dr: re-capture a new thing's attachments", Code: args.Code[spec.FunctionRecheck],
		Timeout: 60, MemoryMB: spec.FunctionMemoryMB[spec.FunctionRecheck],
		Env:        p.env(s, pulumi.StringMap{spec.EnvRecheckCount: pulumi.String(strconv.Itoa(s.RecheckCount))}),
		Statements: append(captureStatements(region, acct, false, false), p.stateReadWrite()),
	}, child)
	if err != nil {
		return err
	}
	p.RecheckMachine, err = p.newMachine(ctx, s, machineArgs{
		Name: "recheck", Account: acct, Task: recheck,
		Definition: func(fn, errs string) (string, error) {
			return spec.RecheckMachine{Recheck: fn, ErrorTable: errs, Retry: s.Retry}.Definition()
		},
	}, child)
	if err != nil {
		return err
	}

	capture, err := p.addFunction(ctx, s, functionArgs{
		Name: spec.FunctionCapture, Description: "iot-dr: capture registry events and shadow documents into the state table",
		Code: args.Code[spec.FunctionCapture], Timeout: 60, MemoryMB: spec.FunctionMemoryMB[spec.FunctionCapture],
		Env: p.env(s, pulumi.StringMap{
			spec.EnvRecheckMachineARN: p.RecheckMachine.Arn,
			spec.EnvRecheckSeconds:    pulumi.String(strconv.Itoa(s.RecheckSeconds)),
		}),
		Statements: append(captureStatements(region, acct, true, false),
			p.stateReadWrite(), p.recordErrors(), p.readMarks(),
			statement{Sid: "StartRechecks", Actions: []string{"states:StartExecution"}, Resources: []pulumi.StringInput{p.RecheckMachine.Arn}},
		),
	}, child)
	if err != nil {
		return err
	}
	if err := p.newRules(ctx, s, acct, capture, child); err != nil {
		return err
	}

	sweep, err := p.addFunction(ctx, s, functionArgs{
		Name: spec.FunctionSweep, Description: "iot-dr: compare one page of the registry and shadows with the state table",
		Code: args.Code[spec.FunctionSweep], Timeout: 300, MemoryMB: spec.FunctionMemoryMB[spec.FunctionSweep],
		Env: p.env(s, nil),
		// Scan: the sweep's last stage pages through the state table for deletes whose
		// event was lost; the mark table says which retained messages the apply
		// published here (applymark.Held).
		Statements: append(captureStatements(region, acct, true, true), p.stateReadWrite(), p.recordErrors(), p.readMarks(),
			statement{Sid: "SweepState", Actions: []string{"dynamodb:Scan"}, Resources: []pulumi.StringInput{p.StateTableArn}}),
	}, child)
	if err != nil {
		return err
	}
	p.SweepMachine, err = p.newMachine(ctx, s, machineArgs{
		Name: "sweep", Account: acct, Task: sweep,
		Definition: func(fn, errs string) (string, error) {
			return spec.SweepMachine{Sweep: fn, ErrorTable: errs, Retry: s.Retry}.Definition()
		},
	}, child)
	if err != nil {
		return err
	}
	if err := p.scheduleSweep(ctx, s, acct, child); err != nil {
		return err
	}

	// The device policy has one owner, the primary: the secondary receives it through
	// the state table like any policy (ARNs rewritten to its Region), as it did before
	// both Regions captured, so a secondary deployed before failback keeps the policy
	// its apply made rather than failing on the name taken.
	if s.Role != spec.RolePrimary {
		return nil
	}
	doc, err := spec.DevicePolicy(region, acct)
	if err != nil {
		return fmt.Errorf("device policy: %w", err)
	}
	// Retained on destroy: the policy is attached to the devices' certificates, which
	// are not the stack's, and IoT refuses to delete an attached policy. Detaching it
	// first would cut every device off the broker of this Region just because the stack
	// went; the README's Destroy section says how to remove it by hand.
	p.DevicePolicy, err = iot.NewPolicy(ctx, "device-policy", &iot.PolicyArgs{
		Name:   pulumi.String(spec.Prefixed(s.Prefix, spec.DevicePolicyName)),
		Policy: pulumi.String(doc),
	}, child, pulumi.RetainOnDelete(true))
	if err != nil {
		return fmt.Errorf("device policy: %w", err)
	}
	return nil
}

// newRules deploys the spec's capture rules, each invoking the capture function.
func (p *Pipeline) newRules(ctx *pulumi.Context, s *settings, account string, capture *Function, child pulumi.ResourceOption) error {
	region := s.Region()
	errorLogs, err := cloudwatch.NewLogGroup(ctx, "rule-errors", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/iot/" + s.Prefix + "-rule-errors"),
		RetentionInDays: pulumi.Int(s.LogRetentionDays),
	}, child)
	if err != nil {
		return fmt.Errorf("rule error log group: %w", err)
	}
	// The rules invoke Lambda through its resource policy, so their role only writes
	// the error log.
	ruleRole, err := newRole(ctx, "capture-rules", "iot.amazonaws.com", account, []statement{{
		Sid:       "WriteRuleErrors",
		Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
		Resources: []pulumi.StringInput{pulumi.Sprintf("%s:*", errorLogs.Arn)},
	}}, child)
	if err != nil {
		return err
	}
	for _, r := range spec.CaptureRules() {
		name := spec.Prefixed(s.Prefix, r.Name)
		// The permission names the rule's ARN, known before the rule exists, so it
		// is in place before the rule's first message: none is lost at deployment.
		perm, err := lambda.NewPermission(ctx, "invoke-"+r.Name, &lambda.PermissionArgs{
			Action:        pulumi.String("lambda:InvokeFunction"),
			Function:      capture.Function.Name,
			Principal:     pulumi.String("iot.amazonaws.com"),
			SourceArn:     arn("iot", region, account, "rule/"+name),
			SourceAccount: pulumi.String(account),
		}, child)
		if err != nil {
			return fmt.Errorf("capture permission for %s: %w", r.Name, err)
		}
		rule, err := iot.NewTopicRule(ctx, r.Name, &iot.TopicRuleArgs{
			Name:        pulumi.String(name),
			Description: pulumi.String("iot-dr: capture into the state table"),
			Enabled:     pulumi.Bool(true),
			Sql:         pulumi.String(r.SQL),
			SqlVersion:  pulumi.String(spec.SQLVersion),
			Lambdas:     iot.TopicRuleLambdaArray{&iot.TopicRuleLambdaArgs{FunctionArn: capture.Function.Arn}},
			// A failed invoke must not vanish silently: it lands in a log group with
			// the message; the sweep captures the resource again in any case.
			ErrorAction: &iot.TopicRuleErrorActionArgs{
				CloudwatchLogs: &iot.TopicRuleErrorActionCloudwatchLogsArgs{
					LogGroupName: errorLogs.Name,
					RoleArn:      ruleRole.Arn,
				},
			},
		}, child, pulumi.DependsOn(append([]pulumi.Resource{perm}, ruleRole.Ready...)))
		if err != nil {
			return fmt.Errorf("topic rule %s: %w", r.Name, err)
		}
		p.Rules = append(p.Rules, rule)
	}
	return nil
}

// scheduleSweep starts the sweep state machine on s.SweepSchedule with an empty state,
// which the sweep reads as "from the first page of the first stage": every run is a
// full compare of the registry and shadows against the state table.
func (p *Pipeline) scheduleSweep(ctx *pulumi.Context, s *settings, account string, child pulumi.ResourceOption) error {
	rule, err := cloudwatch.NewEventRule(ctx, "sweep", &cloudwatch.EventRuleArgs{
		Name:               pulumi.String(s.Prefix + "-sweep"),
		Description:        pulumi.String("iot-dr: full capture sweep of this Region"),
		ScheduleExpression: pulumi.String(s.SweepSchedule),
	}, child)
	if err != nil {
		return fmt.Errorf("sweep schedule: %w", err)
	}
	r, err := newRole(ctx, "sweep-schedule", "events.amazonaws.com", account, []statement{{
		Sid: "StartSweep", Actions: []string{"states:StartExecution"}, Resources: []pulumi.StringInput{p.SweepMachine.Arn},
	}}, child)
	if err != nil {
		return err
	}
	if _, err := cloudwatch.NewEventTarget(ctx, "sweep", &cloudwatch.EventTargetArgs{
		Rule:    rule.Name,
		Arn:     p.SweepMachine.Arn,
		RoleArn: r.Arn,
		Input:   pulumi.String("{}"),
	}, child, pulumi.DependsOn(r.Ready)); err != nil {
		return fmt.Errorf("sweep target: %w", err)
	}
	return nil
}
