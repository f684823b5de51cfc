package deploy

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iot"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// PrimaryArgs are NewPrimary's inputs.
type PrimaryArgs struct {
	Config
	// Builder compiles the Lambdas; nil means GoBuilder, the local Go toolchain.
	Builder Builder
}

// SecondaryArgs are NewSecondary's inputs.
type SecondaryArgs struct {
	Config
	// PrimaryStack is the fully qualified name (<org>/<project>/<stack>) of the stack
	// holding the primary, whose outputs the secondary reads.
	PrimaryStack string
	// Builder compiles the Lambdas; nil means GoBuilder, the local Go toolchain.
	Builder Builder
}

// Primary is the primary Region's half of a deployment: the global state table with
// its replica in the secondary Region, the replication pipeline (capture and apply,
// so that changes made in the secondary while failed over flow back), the health
// probe and the domain configuration.
type Primary struct {
	pulumi.ResourceState
	// Outputs are what the iotdr CLI and the secondary read, under spec's Output* keys.
	// A program holding only this component exports them as its stack outputs.
	Outputs pulumi.Map
}

// Secondary is the secondary Region's half: the replication pipeline (capture and
// apply) on the state table's replica, the health probe, the domain configuration and
// the failover records that point the custom domain at the healthy Region.
type Secondary struct {
	pulumi.ResourceState
	// Outputs are what the iotdr CLI reads, under spec's Output* keys.
	Outputs pulumi.Map
}

// NewPrimary builds the primary stack as one component resource. Its resources use
// providers of their own for the Regions the Config names, never the program's
// default provider.
func NewPrimary(ctx *pulumi.Context, name string, args *PrimaryArgs, opts ...pulumi.ResourceOption) (*Primary, error) {
	if args == nil {
		return nil, fmt.Errorf("deploy.NewPrimary %s: no args", name)
	}
	s := &settings{Role: spec.RolePrimary, Config: args.Config}
	if err := s.check(); err != nil {
		return nil, err
	}
	c := &Primary{}
	if err := ctx.RegisterComponentResource("iotdr:index:Primary", name, c, opts...); err != nil {
		return nil, err
	}
	st, err := newStack(ctx, s, args.Builder, c)
	if err != nil {
		return nil, err
	}
	out, err := st.primary(ctx)
	if err != nil {
		return nil, err
	}
	c.Outputs = outputMap(out)
	return c, ctx.RegisterResourceOutputs(c, c.Outputs)
}

// NewSecondary builds the secondary stack as one component resource, reading the
// primary's outputs from args.PrimaryStack.
func NewSecondary(ctx *pulumi.Context, name string, args *SecondaryArgs, opts ...pulumi.ResourceOption) (*Secondary, error) {
	if args == nil {
		return nil, fmt.Errorf("deploy.NewSecondary %s: no args", name)
	}
	s := &settings{Role: spec.RoleSecondary, PrimaryStack: args.PrimaryStack, Config: args.Config}
	if err := s.check(); err != nil {
		return nil, err
	}
	c := &Secondary{}
	if err := ctx.RegisterComponentResource("iotdr:index:Secondary", name, c, opts...); err != nil {
		return nil, err
	}
	st, err := newStack(ctx, s, args.Builder, c)
	if err != nil {
		return nil, err
	}
	out, err := st.secondary(ctx)
	if err != nil {
		return nil, err
	}
	c.Outputs = outputMap(out)
	return c, ctx.RegisterResourceOutputs(c, c.Outputs)
}

func outputMap(out map[string]pulumi.Input) pulumi.Map {
	m := pulumi.Map{}
	for k, v := range out {
		m[k] = v
	}
	return m
}

// stack is what every part of a stack shares.
type stack struct {
	s        *settings
	account  string
	endpoint string // this Region's iot:Data-ATS endpoint
	region   pulumi.ProviderResource
	health   pulumi.ProviderResource // us-east-1, for health-check metrics
	code     map[string]pulumi.Archive
	parent   pulumi.Resource // the Primary or Secondary component
	// sharedValidationRecord is the primary's ACM validation CNAME (secondary only).
	sharedValidationRecord pulumi.StringInput
}

// newStack creates the stack's providers under parent, looks up what the stack needs
// from the account and builds the Lambdas.
func newStack(ctx *pulumi.Context, s *settings, builder Builder, parent pulumi.Resource) (*stack, error) {
	if builder == nil {
		builder = &GoBuilder{}
	}
	st := &stack{s: s, parent: parent}
	child := pulumi.Parent(parent)
	var err error
	// Explicit providers: every resource lands in the Region the config names, never
	// in whatever aws:region or AWS_REGION happen to say.
	if st.region, err = aws.NewProvider(ctx, "aws-"+s.Region(), &aws.ProviderArgs{Region: pulumi.String(s.Region())}, child); err != nil {
		return nil, fmt.Errorf("provider for %s: %w", s.Region(), err)
	}
	st.health = st.region
	if s.Region() != healthMetricsRegion {
		if st.health, err = aws.NewProvider(ctx, "aws-"+healthMetricsRegion, &aws.ProviderArgs{Region: pulumi.String(healthMetricsRegion)}, child); err != nil {
			return nil, fmt.Errorf("provider for %s: %w", healthMetricsRegion, err)
		}
	}
	inRegion := pulumi.Provider(st.region)

	id, err := aws.GetCallerIdentity(ctx, nil, inRegion)
	if err != nil {
		return nil, fmt.Errorf("look up the AWS account: %w", err)
	}
	st.account = id.AccountId
	zone, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{ZoneId: &s.HostedZoneID}, inRegion)
	if err != nil {
		return nil, fmt.Errorf("look up hosted zone %s: %w", s.HostedZoneID, err)
	}
	if zn := strings.TrimSuffix(zone.Name, "."); !strings.HasSuffix(s.Domain, "."+zn) {
		return nil, fmt.Errorf("%s:domain %q is not inside hosted zone %s (%s)", configNamespace, s.Domain, s.HostedZoneID, zn)
	}
	ep, err := iot.GetEndpoint(ctx, &iot.GetEndpointArgs{EndpointType: pulumi.StringRef("iot:Data-ATS")}, inRegion)
	if err != nil {
		return nil, fmt.Errorf("look up the IoT data endpoint in %s: %w", s.Region(), err)
	}
	st.endpoint = ep.EndpointAddress

	names, err := functionsOf(s.halves())
	if err != nil {
		return nil, err
	}
	names = append(names, spec.FunctionHealthProbe)
	if st.code, err = builder.Build(names); err != nil {
		return nil, err
	}
	for _, n := range names {
		if st.code[n] == nil {
			return nil, fmt.Errorf("lambda build returned no archive for %s", n)
		}
	}

	return st, nil
}

// in are the options of a resource the stack creates directly: in its Region, under
// its component.
func (st *stack) in() []pulumi.ResourceOption {
	return []pulumi.ResourceOption{pulumi.Provider(st.region), pulumi.Parent(st.parent)}
}

// common deploys what both Regions have: the pipeline (the halves the stack runs), the
// probe with its health check, the domain configuration and the alarms. It returns the
// outputs they give and the probe, whose health check the secondary's failover record
// uses.
func (st *stack) common(ctx *pulumi.Context, args pipelineArgs) (map[string]pulumi.Input, *Probe, error) {
	s, inRegion := st.s, st.in()
	args.Account, args.Code, args.Halves = st.account, st.code, s.halves()
	pipeline, err := newPipeline(ctx, s, args, inRegion...)
	if err != nil {
		return nil, nil, err
	}
	probe, err := newProbe(ctx, s, probeArgs{Account: st.account, Endpoint: st.endpoint, Code: st.code[spec.FunctionHealthProbe]}, inRegion...)
	if err != nil {
		return nil, nil, err
	}
	domain, err := newDomain(ctx, s, domainArgs{SharedValidationRecord: st.sharedValidationRecord}, inRegion...)
	if err != nil {
		return nil, nil, err
	}
	alarms, err := newAlarms(ctx, s, alarmArgs{HealthCheckID: probe.HealthCheck.ID(), HealthProvider: st.health, Pipeline: pipeline}, inRegion...)
	if err != nil {
		return nil, nil, err
	}
	alarmNames, alarmRegions := pulumi.StringArray{}, pulumi.StringMap{}
	for _, n := range alarms.Names {
		alarmNames = append(alarmNames, n)
	}
	for n, r := range alarms.Regions {
		alarmRegions[n] = pulumi.String(r)
	}
	fns := pulumi.StringMap{}
	for name, f := range pipeline.Functions {
		fns[name] = f.Function.Name
	}
	fns[spec.FunctionHealthProbe] = probe.Function.Function.Name
	out := map[string]pulumi.Input{
		spec.OutputRole:                    pulumi.String(s.Role),
		spec.OutputRegion:                  pulumi.String(s.Region()),
		spec.OutputPrimaryRegion:           pulumi.String(s.PrimaryRegion),
		spec.OutputSecondaryRegion:         pulumi.String(s.SecondaryRegion),
		spec.OutputIoTEndpoint:             pulumi.String(st.endpoint),
		spec.OutputDomain:                  pulumi.String(s.Domain),
		spec.OutputDomainConfiguration:     domain.Configuration.Name,
		spec.OutputHealthCheckID:           probe.HealthCheck.ID(),
		spec.OutputProbeURL:                probe.URL,
		spec.OutputProbeForceFailParameter: probe.ForceFailParam.Name,
		spec.OutputAlarmNames:              alarmNames,
		spec.OutputAlarmRegions:            alarmRegions,
		spec.OutputStateTableName:          pipeline.StateTableName,
		spec.OutputStateTableArn:           pipeline.StateTableArn,
		spec.OutputErrorTableName:          pipeline.ErrorTable.Name,
		spec.OutputMarkTableName:           pipeline.MarkTable.Name,
		spec.OutputHostedZoneID:            pulumi.String(s.HostedZoneID),
		spec.OutputFunctionNames:           fns,
	}
	if s.Role == spec.RolePrimary && st.sharedValidationRecord == nil && s.CertificateARN == "" {
		out[spec.OutputCertificateValidationRecord] = domain.ValidationRecord
	}
	if pipeline.Halves.Capture {
		rules := pulumi.StringArray{}
		for _, r := range pipeline.Rules {
			rules = append(rules, r.Name)
		}
		out[spec.OutputCaptureRules] = rules
		// Its name in both Regions (the secondary's copy arrives through the table).
		out[spec.OutputDevicePolicy] = pulumi.String(spec.Prefixed(s.Prefix, spec.DevicePolicyName))
		out[spec.OutputRecheckMachineArn] = pipeline.RecheckMachine.Arn
		out[spec.OutputSweepMachineArn] = pipeline.SweepMachine.Arn
	}
	if pipeline.Halves.Apply {
		out[spec.OutputStreamFailureQueueURL] = pipeline.DeadLetters.Url
	}
	return out, probe, nil
}

func (st *stack) primary(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	if err := st.checkIntervalChange(ctx); err != nil {
		return nil, err
	}
	state, err := newStateTable(ctx, st.s, st.in()...)
	if err != nil {
		return nil, err
	}
	out, _, err := st.common(ctx, pipelineArgs{StateTableName: state.Table.Name, StreamArn: state.Table.StreamArn})
	if err != nil {
		return nil, err
	}
	out[spec.OutputReplicaArn] = state.ReplicaArn
	out[spec.OutputReplicaStreamArn] = state.ReplicaStreamArn
	out[spec.OutputHealthCheckInterval] = pulumi.Int(st.s.HealthInterval)
	return out, nil
}

// checkIntervalChange refuses a change of the primary's health-check interval unless
// the operator announced it. Route 53 cannot change a check's interval in place, so the
// check is replaced, and the secondary's PRIMARY failover record names the deleted
// one until the secondary is deployed again: Route 53 does not stop the delete, and
// the record's health is then undefined. The last deployed interval is the stack's own
// output, read through a reference to this very stack.
func (st *stack) checkIntervalChange(ctx *pulumi.Context) error {
	s := st.s
	self := ctx.Organization() + "/" + ctx.Project() + "/" + ctx.Stack()
	ref, err := pulumi.NewStackReference(ctx, "previous-deployment", &pulumi.StackReferenceArgs{Name: pulumi.String(self)}, pulumi.Parent(st.parent))
	if err != nil {
		return fmt.Errorf("read this stack's last outputs: %w", err)
	}
	prev, err := ref.GetOutputDetails(spec.OutputHealthCheckInterval)
	if err != nil {
		return fmt.Errorf("read this stack's last outputs: %w", err)
	}
	was, ok := prev.Value.(float64)
	if !ok || int(was) == s.HealthInterval || s.ReplaceHealthCheck {
		return nil
	}
	return fmt.Errorf("%s:healthCheckInterval changes from %d to %d s: Route 53 replaces the primary's health check, "+
		"and the secondary's PRIMARY failover record keeps naming the deleted check until the secondary is deployed again. "+
		"Do it in a quiet period: `pulumi up -s <primary> --config %s:replaceHealthCheck=true`, then at once `pulumi up -s <secondary>`, "+
		"then `pulumi config rm %s:replaceHealthCheck`; or set it back to %d",
		configNamespace, int(was), s.HealthInterval, configNamespace, configNamespace, int(was))
}

func (st *stack) secondary(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	s := st.s
	ref, err := pulumi.NewStackReference(ctx, s.PrimaryStack, nil, pulumi.Parent(st.parent))
	if err != nil {
		return nil, fmt.Errorf("reference the primary stack %s: %w", s.PrimaryStack, err)
	}
	fromPrimary := func(key string) pulumi.StringOutput {
		return ref.GetOutput(pulumi.String(key)).ApplyT(func(v any) (string, error) {
			str, ok := v.(string)
			if !ok || str == "" {
				return "", fmt.Errorf("primary stack %s has no output %q: run `pulumi up` on the primary stack first", s.PrimaryStack, key)
			}
			return str, nil
		}).(pulumi.StringOutput)
	}
	// Deploying against a primary configured for another pair of Regions would
	// replicate from the wrong place; refuse early.
	checkRegion := fromPrimary(spec.OutputSecondaryRegion).ApplyT(func(r string) (string, error) {
		if r != s.SecondaryRegion {
			return "", fmt.Errorf("primary stack %s replicates to %s, but this stack is %s", s.PrimaryStack, r, s.SecondaryRegion)
		}
		return r, nil
	}).(pulumi.StringOutput)
	checked := func(v pulumi.StringOutput) pulumi.StringOutput {
		return pulumi.All(v, checkRegion).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	}
	// Whether the primary owns the ACM validation record decides whether this stack
	// declares one, so it is read now rather than as an output.
	rec, err := ref.GetOutputDetails(spec.OutputCertificateValidationRecord)
	if err != nil {
		return nil, fmt.Errorf("read the primary stack %s: %w", s.PrimaryStack, err)
	}
	if v, ok := rec.Value.(string); ok && v != "" {
		st.sharedValidationRecord = pulumi.String(v)
	}
	replicaStream := checked(fromPrimary(spec.OutputReplicaStreamArn))
	out, probe, err := st.common(ctx, pipelineArgs{
		StateTableName: checked(fromPrimary(spec.OutputStateTableName)),
		StreamArn:      replicaStream,
	})
	if err != nil {
		return nil, err
	}
	primaryHC := fromPrimary(spec.OutputHealthCheckID)
	if _, err := newFailover(ctx, s,
		failoverTarget{Endpoint: fromPrimary(spec.OutputIoTEndpoint), HealthCheckID: primaryHC},
		failoverTarget{Endpoint: pulumi.String(st.endpoint), HealthCheckID: probe.HealthCheck.ID().ToStringOutput()},
		st.in()...); err != nil {
		return nil, err
	}
	out[spec.OutputPrimaryHealthCheckID] = primaryHC
	out[spec.OutputReplicaArn] = fromPrimary(spec.OutputReplicaArn)
	out[spec.OutputReplicaStreamArn] = replicaStream
	return out, nil
}
