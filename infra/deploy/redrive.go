package deploy

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// redriveStillFailingLog is the message functions/redrive logs for each record whose
// re-run failed again; a metric filter counts them (TestRedriveLogMessageExists keeps
// the two in step).
const redriveStillFailingLog = "re-drive failed; the record stays"

// MetricRedriveStillFailing counts error-table records a re-drive could not clear.
const MetricRedriveStillFailing = "RedriveStillFailing"

// newRedrive deploys the redrive function on s.RedriveSchedule. It re-runs the error
// table's records through the capture or the apply, so it holds what the halves this
// stack runs hold, plus reading and clearing the error table.
func (p *Pipeline) newRedrive(ctx *pulumi.Context, s *settings, args pipelineArgs, child pulumi.ResourceOption) error {
	region := s.Region()
	stmts := []statement{{
		// PutItem: a re-run that fails again, or a re-apply that fails, is recorded.
		Sid: "DrainErrors", Actions: []string{"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:PutItem"},
		Resources: []pulumi.StringInput{p.ErrorTable.Arn},
	}}
	env := pulumi.StringMap{}
	state := []string{"dynamodb:GetItem"}
	switch {
	case args.Halves.Apply:
		// Converging reads everything a capture reads, and more.
		stmts = append(stmts, applyStatements(region, args.Account, s.OnboardingRoles)...)
	case args.Halves.Capture:
		stmts = append(stmts, captureStatements(region, args.Account, true, false)...)
		// Re-capturing a retained message or an onboarding resource reads it, and the
		// apply's held copies.
		stmts = append(stmts, readRetained(region, args.Account), readOnboarding(region, args.Account), p.readMarks())
	}
	if args.Halves.Capture {
		state = append(state, "dynamodb:PutItem")
	}
	if args.Halves.Apply {
		// Scan serves the re-apply of the whole replica ({"reapply": true}).
		state = append(state, "dynamodb:Scan")
		stmts = append(stmts, p.writeMarks(), metricStatement(s.MetricNamespace))
		env[spec.EnvMetricNamespace] = pulumi.String(s.MetricNamespace)
	}
	stmts = append(stmts, statement{Sid: "RedriveState", Actions: state, Resources: []pulumi.StringInput{p.StateTableArn}})
	redrive, err := p.addFunction(ctx, s, functionArgs{
		Name: spec.FunctionRedrive, Description: "iot-dr: re-run what the error table holds",
		Code: args.Code[spec.FunctionRedrive], Timeout: int(spec.RedriveTimeout.Seconds()), MemoryMB: spec.FunctionMemoryMB[spec.FunctionRedrive],
		Env: p.env(s, env), Statements: stmts,
	}, child)
	if err != nil {
		return err
	}

	rule, err := cloudwatch.NewEventRule(ctx, "redrive", &cloudwatch.EventRuleArgs{
		Name:               pulumi.String(s.Prefix + "-redrive"),
		Description:        pulumi.String("iot-dr: re-drive the error table"),
		ScheduleExpression: pulumi.String(s.RedriveSchedule),
	}, child)
	if err != nil {
		return fmt.Errorf("redrive schedule: %w", err)
	}
	perm, err := lambda.NewPermission(ctx, "redrive-schedule", &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  redrive.Function.Name,
		Principal: pulumi.String("events.amazonaws.com"),
		SourceArn: rule.Arn,
	}, child)
	if err != nil {
		return fmt.Errorf("redrive permission: %w", err)
	}
	if _, err := cloudwatch.NewEventTarget(ctx, "redrive", &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  redrive.Function.Arn,
	}, child, pulumi.DependsOn([]pulumi.Resource{perm})); err != nil {
		return fmt.Errorf("redrive target: %w", err)
	}
	// The redrive function logs JSON (slog) and returns its counts to no one: the
	// warnings are what can be measured.
	if _, err := cloudwatch.NewLogMetricFilter(ctx, "redrive-still-failing", &cloudwatch.LogMetricFilterArgs{
		Name:         pulumi.String(s.Prefix + "-redrive-still-failing"),
		LogGroupName: redrive.LogGroup.Name,
		Pattern:      pulumi.Sprintf(`{ $.msg = "%s" }`, redriveStillFailingLog),
		MetricTransformation: &cloudwatch.LogMetricFilterMetricTransformationArgs{
			Name:         pulumi.String(MetricRedriveStillFailing),
			Namespace:    pulumi.String(s.MetricNamespace),
			Value:        pulumi.String("1"),
			DefaultValue: pulumi.String("0"),
		},
	}, child); err != nil {
		return fmt.Errorf("redrive metric filter: %w", err)
	}
	return nil
}
