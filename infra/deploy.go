package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iot"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Output names. The secondary stack and `iotdr drill --aws` read these.
const (
	outRole                  = "role"
	outRegion                = "region"
	outPrimaryRegion         = "primaryRegion"
	outSecondaryRegion       = "secondaryRegion"
	outIoTEndpoint           = "iotEndpoint"
	outDomain                = "domain"
	outDomainConfiguration   = "domainConfigurationName"
	outHealthCheckID         = "healthCheckId"
	outPrimaryHealthCheckID  = "primaryHealthCheckId"
	outProbeURL              = "probeUrl"
	outProbeForceFailParam   = "probeForceFailParameter"
	outEventTableName        = "eventTableName"
	outEventTableArn         = "eventTableArn"
	outReplicaArn            = "eventTableReplicaArn"
	outReplicaStreamArn      = "eventTableReplicaStreamArn"
	outCaptureRules          = "captureRuleNames"
	outDevicePolicy          = "devicePolicyName"
	outStateMachineName      = "stateMachineName"
	outStateMachineArn       = "stateMachineArn"
	outErrorTableName        = "errorTableName"
	outStreamFailureQueueURL = "streamFailureQueueUrl"
	outFunctionNames         = "functionNames"
	outAlarmNames            = "alarmNames"
)

// deploy is the Pulumi program: it validates the configuration and builds the stack
// for its role, compiling the Lambdas with the local Go toolchain.
func deploy(ctx *pulumi.Context) error {
	outputs, err := build(ctx, &goBuilder{})
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(outputs)) {
		ctx.Export(k, outputs[k])
	}
	return nil
}

// stack is what every part of a stack shares.
type stack struct {
	s        *settings
	account  string
	endpoint string // this Region's iot:Data-ATS endpoint
	region   pulumi.ProviderResource
	health   pulumi.ProviderResource // us-east-1, for health-check metrics
	code     map[string]pulumi.Archive
	probe    *Probe
}

// build creates the stack's resources and returns its outputs. Tests call it with a
// fake Builder.
func build(ctx *pulumi.Context, builder Builder) (map[string]pulumi.Input, error) {
	s, err := loadSettings(ctx)
	if err != nil {
		return nil, err
	}
	st := &stack{s: s}
	// Explicit providers: every resource lands in the Region the config names, never
	// in whatever aws:region or AWS_REGION happen to say.
	if st.region, err = aws.NewProvider(ctx, "aws-"+s.Region(), &aws.ProviderArgs{Region: pulumi.String(s.Region())}); err != nil {
		return nil, fmt.Errorf("provider for %s: %w", s.Region(), err)
	}
	st.health = st.region
	if s.Region() != healthMetricsRegion {
		if st.health, err = aws.NewProvider(ctx, "aws-"+healthMetricsRegion, &aws.ProviderArgs{Region: pulumi.String(healthMetricsRegion)}); err != nil {
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

	names := []string{spec.FunctionHealthProbe}
	if s.Role == roleSecondary {
		names = append(slices.Clone(spec.ApplyFunctions), names...)
	}
	if st.code, err = builder.Build(names); err != nil {
		return nil, err
	}
	for _, n := range names {
		if st.code[n] == nil {
			return nil, fmt.Errorf("lambda build returned no archive for %s", n)
		}
	}

	if s.Role == rolePrimary {
		return st.primary(ctx)
	}
	return st.secondary(ctx)
}

// common deploys what both Regions have: the probe with its health check, the domain
// configuration and the health alarm.
func (st *stack) common(ctx *pulumi.Context, pipeline *Pipeline) (map[string]pulumi.Input, error) {
	s, inRegion := st.s, pulumi.Provider(st.region)
	probe, err := newProbe(ctx, s, probeArgs{Account: st.account, Endpoint: st.endpoint, Code: st.code[spec.FunctionHealthProbe]}, inRegion)
	if err != nil {
		return nil, err
	}
	st.probe = probe
	domain, err := newDomain(ctx, s, inRegion)
	if err != nil {
		return nil, err
	}
	alarms, err := newAlarms(ctx, s, alarmArgs{HealthCheckID: probe.HealthCheck.ID(), HealthProvider: st.health, Pipeline: pipeline}, inRegion)
	if err != nil {
		return nil, err
	}
	alarmNames := pulumi.StringArray{}
	for _, n := range alarms.Names {
		alarmNames = append(alarmNames, n)
	}
	return map[string]pulumi.Input{
		outRole:                pulumi.String(s.Role),
		outRegion:              pulumi.String(s.Region()),
		outPrimaryRegion:       pulumi.String(s.PrimaryRegion),
		outSecondaryRegion:     pulumi.String(s.SecondaryRegion),
		outIoTEndpoint:         pulumi.String(st.endpoint),
		outDomain:              pulumi.String(s.Domain),
		outDomainConfiguration: domain.Configuration.Name,
		outHealthCheckID:       probe.HealthCheck.ID(),
		outProbeURL:            probe.URL,
		outProbeForceFailParam: probe.ForceFailParam.Name,
		outAlarmNames:          alarmNames,
	}, nil
}

func (st *stack) primary(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	inRegion := pulumi.Provider(st.region)
	events, err := newEventTable(ctx, st.s, inRegion)
	if err != nil {
		return nil, err
	}
	capture, err := newCapture(ctx, st.s, st.account, events, inRegion)
	if err != nil {
		return nil, err
	}
	out, err := st.common(ctx, nil)
	if err != nil {
		return nil, err
	}
	rules := pulumi.StringArray{}
	for _, r := range capture.Rules {
		rules = append(rules, r.Name)
	}
	out[outEventTableName] = events.Table.Name
	out[outEventTableArn] = events.Table.Arn
	out[outReplicaArn] = events.ReplicaArn
	out[outReplicaStreamArn] = events.ReplicaStreamArn
	out[outCaptureRules] = rules
	out[outDevicePolicy] = capture.DevicePolicy.Name
	return out, nil
}

func (st *stack) secondary(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	s, inRegion := st.s, pulumi.Provider(st.region)
	ref, err := pulumi.NewStackReference(ctx, s.PrimaryStack, nil)
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
	checkRegion := fromPrimary(outSecondaryRegion).ApplyT(func(r string) (string, error) {
		if r != s.SecondaryRegion {
			return "", fmt.Errorf("primary stack %s replicates to %s, but this stack is %s", s.PrimaryStack, r, s.SecondaryRegion)
		}
		return r, nil
	}).(pulumi.StringOutput)
	replicaStream := pulumi.All(fromPrimary(outReplicaStreamArn), checkRegion).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)

	pipeline, err := newPipeline(ctx, s, pipelineArgs{
		Account:          st.account,
		Code:             st.code,
		EventTableName:   fromPrimary(outEventTableName),
		ReplicaStreamArn: replicaStream,
	}, inRegion)
	if err != nil {
		return nil, err
	}
	out, err := st.common(ctx, pipeline)
	if err != nil {
		return nil, err
	}
	primaryHC := fromPrimary(outHealthCheckID)
	if _, err := newFailover(ctx, s,
		failoverTarget{Endpoint: fromPrimary(outIoTEndpoint), HealthCheckID: primaryHC},
		failoverTarget{Endpoint: pulumi.String(st.endpoint), HealthCheckID: st.probe.HealthCheck.ID().ToStringOutput()},
		inRegion); err != nil {
		return nil, err
	}
	fns := pulumi.StringMap{}
	for name, f := range pipeline.Functions {
		fns[name] = f.Function.Name
	}
	out[outPrimaryHealthCheckID] = primaryHC
	out[outStateMachineName] = pipeline.StateMachine.Name
	out[outStateMachineArn] = pipeline.StateMachine.Arn
	out[outErrorTableName] = pipeline.ErrorTable.Name
	out[outStreamFailureQueueURL] = pipeline.DeadLetters.Url
	out[outFunctionNames] = fns
	return out, nil
}
