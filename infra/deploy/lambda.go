package deploy

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Lambda settings every function shares.
const (
	lambdaRuntime      = "provided.al2023"
	lambdaArchitecture = "arm64"
	lambdaHandler      = "bootstrap" // ignored by provided.* runtimes, set for clarity
)

// Function is one Lambda with its own execution role and log group.
type Function struct {
	pulumi.ResourceState

	Function *lambda.Function
	Role     *role
	LogGroup *cloudwatch.LogGroup
}

// functionArgs describes one Lambda built from functions/cmd/<Name>.
type functionArgs struct {
	Name        string // spec.Function* name
	Code        pulumi.Archive
	Env         pulumi.StringMap
	Statements  []statement // permissions beyond writing its own logs
	Timeout     int         // seconds
	MemoryMB    int
	Description string
}

// newFunction creates the log group (with retention, so logs do not pile up forever),
// the role (only args.Statements plus its own log group) and the function.
func newFunction(ctx *pulumi.Context, s *settings, args functionArgs, opts ...pulumi.ResourceOption) (*Function, error) {
	f := &Function{}
	if err := ctx.RegisterComponentResource("iotdr:lambda:Function", args.Name, f, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(f)
	physical := s.Prefix + "-" + args.Name
	lg, err := cloudwatch.NewLogGroup(ctx, args.Name, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + physical),
		RetentionInDays: pulumi.Int(s.LogRetentionDays),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("log group of %s: %w", args.Name, err)
	}
	stmts := append([]statement{{
		Sid:       "WriteOwnLogs",
		Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: []pulumi.StringInput{pulumi.Sprintf("%s:*", lg.Arn)},
	}}, args.Statements...)
	role, err := newRole(ctx, args.Name, "lambda.amazonaws.com", "", stmts, child)
	if err != nil {
		return nil, err
	}
	fn, err := lambda.NewFunction(ctx, args.Name, &lambda.FunctionArgs{
		Name:          pulumi.String(physical),
		Description:   pulumi.String(args.Description),
		Code:          args.Code,
		Runtime:       pulumi.String(lambdaRuntime),
		Architectures: pulumi.StringArray{pulumi.String(lambdaArchitecture)},
		Handler:       pulumi.String(lambdaHandler),
		Role:          role.Arn,
		Timeout:       pulumi.Int(args.Timeout),
		MemorySize:    pulumi.Int(args.MemoryMB),
		Environment:   &lambda.FunctionEnvironmentArgs{Variables: args.Env},
		LoggingConfig: &lambda.FunctionLoggingConfigArgs{
			LogFormat: pulumi.String("JSON"),
			LogGroup:  lg.Name,
		},
	}, child, pulumi.DependsOn(append([]pulumi.Resource{lg}, role.Ready...)))
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", args.Name, err)
	}
	f.Function, f.Role, f.LogGroup = fn, role, lg
	if err := ctx.RegisterResourceOutputs(f, pulumi.Map{"arn": fn.Arn, "name": fn.Name}); err != nil {
		return nil, err
	}
	return f, nil
}
