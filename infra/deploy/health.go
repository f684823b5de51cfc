package deploy

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigatewayv2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iot"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Probe is one Region's health probe: a Lambda that round-trips MQTT messages through
// this Region's broker, its HTTP API, the SSM parameters it reads (shared secret, its
// certificate and key, the force-fail switch) and the Route 53 health check calling it.
type Probe struct {
	pulumi.ResourceState

	Function       *Function
	API            *apigatewayv2.Api
	HealthCheck    *route53.HealthCheck
	ForceFailParam *ssm.Parameter
	// URL is the probe's URL without the secret.
	URL pulumi.StringOutput
}

// probeArgs are what the probe needs from the rest of the stack.
type probeArgs struct {
	Account  string
	Endpoint string // this Region's iot:Data-ATS endpoint
	Code     pulumi.Archive
}

func newProbe(ctx *pulumi.Context, s *settings, args probeArgs, opts ...pulumi.ResourceOption) (*Probe, error) {
	p := &Probe{}
	if err := ctx.RegisterComponentResource("iotdr:health:Probe", "probe", p, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(p)
	region := s.Region()

	// The secret and the key live only in SecureString parameters (encrypted with the
	// account's aws/ssm key); the Lambda gets their names and reads them at cold start.
	secretParam, err := ssm.NewParameter(ctx, "probe-secret", &ssm.ParameterArgs{
		Name:        pulumi.String(spec.ProbeParameter(s.Prefix, "secret")),
		Description: pulumi.String("iot-dr: shared secret the health probe demands"),
		Type:        pulumi.String("SecureString"),
		Tier:        pulumi.String("Standard"),
		Value:       s.secret(),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("probe secret parameter: %w", err)
	}

	// AWS generates the probe's key pair; it never leaves Pulumi's encrypted state and
	// the SecureString parameter.
	cert, err := iot.NewCertificate(ctx, "probe-cert", &iot.CertificateArgs{Active: pulumi.Bool(true)}, child)
	if err != nil {
		return nil, fmt.Errorf("probe certificate: %w", err)
	}
	policyDoc, err := spec.ProbePolicy(region, args.Account)
	if err != nil {
		return nil, fmt.Errorf("probe policy: %w", err)
	}
	policy, err := iot.NewPolicy(ctx, "probe-policy", &iot.PolicyArgs{
		Name:   pulumi.String(spec.Prefixed(s.Prefix, spec.ProbePolicyName)),
		Policy: pulumi.String(policyDoc),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("probe policy: %w", err)
	}
	if _, err := iot.NewPolicyAttachment(ctx, "probe-policy", &iot.PolicyAttachmentArgs{
		Policy: policy.Name,
		Target: cert.Arn,
	}, child); err != nil {
		return nil, fmt.Errorf("probe policy attachment: %w", err)
	}
	// Certificate PEM followed by private key PEM, as one document.
	certAndKey := pulumi.ToSecret(pulumi.All(cert.CertificatePem, cert.PrivateKey).ApplyT(func(v []any) string {
		return strings.TrimSpace(v[0].(string)) + "\n" + strings.TrimSpace(v[1].(string)) + "\n"
	})).(pulumi.StringOutput)
	certParam, err := ssm.NewParameter(ctx, "probe-certificate", &ssm.ParameterArgs{
		Name:        pulumi.String(spec.ProbeParameter(s.Prefix, "certificate")),
		Description: pulumi.String("iot-dr: the health probe's device certificate and private key (PEM)"),
		Type:        pulumi.String("SecureString"),
		Tier:        pulumi.String("Standard"),
		Value:       certAndKey,
	}, child)
	if err != nil {
		return nil, fmt.Errorf("probe certificate parameter: %w", err)
	}
	// Drills flip this switch to fail the Region over without harming it; `pulumi up`
	// leaves whatever value a drill set alone.
	p.ForceFailParam, err = ssm.NewParameter(ctx, "probe-force-fail", &ssm.ParameterArgs{
		Name:        pulumi.String(spec.ForceFailParameter(s.Prefix)),
		Description: pulumi.String("iot-dr: set to true to make this Region's health probe fail (drills)"),
		Type:        pulumi.String("String"),
		Tier:        pulumi.String("Standard"),
		Value:       pulumi.String("false"),
	}, child, pulumi.IgnoreChanges([]string{"value"}))
	if err != nil {
		return nil, fmt.Errorf("probe force-fail parameter: %w", err)
	}

	// This Region's apply-mark table, by the name the pipeline gives it.
	markTable := spec.Prefixed(s.Prefix, spec.MarkTableName)
	// Lambda must answer inside Route 53's 2-second window, so its timeout only adds
	// room for a cold start to the probe's own bound.
	timeout := int(s.ProbeTimeout.Seconds()) + 5
	p.Function, err = newFunction(ctx, s, functionArgs{
		Name:        spec.FunctionHealthProbe,
		Description: "iot-dr: MQTT round-trip health probe for Route 53",
		Code:        args.Code,
		Timeout:     timeout,
		MemoryMB:    spec.FunctionMemoryMB[spec.FunctionHealthProbe],
		Env: pulumi.StringMap{
			spec.EnvProbeEndpoint:       pulumi.String(args.Endpoint),
			spec.EnvProbeDomain:         pulumi.String(s.Domain),
			spec.EnvProbeSecretParam:    secretParam.Name,
			spec.EnvProbeCertParam:      certParam.Name,
			spec.EnvProbeForceFailParam: p.ForceFailParam.Name,
			spec.EnvProbeMessages:       pulumi.String(strconv.Itoa(s.ProbeMessages)),
			spec.EnvProbeTimeoutMS:      pulumi.String(strconv.FormatInt(s.ProbeTimeout.Milliseconds(), 10)),
			// The failback catch-up gate (probe.Gate): the apply's progress and the
			// probe's answers in this Region's mark table; serving once it has answered
			// only healthy for the checks' failure threshold x interval.
			spec.EnvProbeMarkTable:     pulumi.String(markTable),
			spec.EnvProbeCatchUpHoldMS: pulumi.String(strconv.Itoa(s.HealthThreshold * s.HealthInterval * 1000)),
		},
		Statements: []statement{
			{
				Sid:       "ReadProbeParameters",
				Actions:   []string{"ssm:GetParameter"},
				Resources: []pulumi.StringInput{secretParam.Arn, certParam.Arn, p.ForceFailParam.Arn},
			},
			{
				// The catch-up gate: one item of the apply's progress read, the probe's
				// two answer items read and written; nothing else of the table.
				Sid:       "CatchUpGate",
				Actions:   []string{"dynamodb:GetItem", "dynamodb:PutItem"},
				Resources: []pulumi.StringInput{arn("dynamodb", region, args.Account, "table/"+markTable)},
			},
			{
				// Decrypt only through SSM (the aws/ssm key's own policy already allows
				// that for account principals; this makes the grant explicit and narrow).
				Sid:       "DecryptThroughSSM",
				Actions:   []string{"kms:Decrypt"},
				Resources: []pulumi.StringInput{arn("kms", region, args.Account, "key/*")},
				Condition: map[string]map[string]string{"StringEquals": {"kms:ViaService": "ssm." + region + ".amazonaws.com"}},
			},
		},
	}, child)
	if err != nil {
		return nil, err
	}

	if err := p.newAPI(ctx, s, child); err != nil {
		return nil, err
	}
	// The parameter is written before the health check's path changes, so a rotated
	// secret reaches the probe first (probe.RotatingSecret accepts the old one meanwhile).
	if err := p.newHealthCheck(ctx, s, child, pulumi.DependsOn([]pulumi.Resource{secretParam})); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"url": p.URL, "healthCheckId": p.HealthCheck.ID()}); err != nil {
		return nil, err
	}
	return p, nil
}

// newAPI fronts the probe with an HTTP API: one GET route, throttled so that anyone
// hammering the public URL cannot run up the bill (wrong secrets get a 403 from the
// handler without touching the broker).
func (p *Probe) newAPI(ctx *pulumi.Context, s *settings, child pulumi.ResourceOption) error {
	api, err := apigatewayv2.NewApi(ctx, "probe", &apigatewayv2.ApiArgs{
		Name:         pulumi.String(s.Prefix + "-probe"),
		ProtocolType: pulumi.String("HTTP"),
		Description:  pulumi.String("iot-dr: health probe for Route 53"),
	}, child)
	if err != nil {
		return fmt.Errorf("probe API: %w", err)
	}
	integ, err := apigatewayv2.NewIntegration(ctx, "probe", &apigatewayv2.IntegrationArgs{
		ApiId:                api.ID(),
		IntegrationType:      pulumi.String("AWS_PROXY"),
		IntegrationUri:       p.Function.Function.Arn,
		PayloadFormatVersion: pulumi.String("2.0"),
		TimeoutMilliseconds:  pulumi.Int(10000),
	}, child)
	if err != nil {
		return fmt.Errorf("probe integration: %w", err)
	}
	if _, err := apigatewayv2.NewRoute(ctx, "probe", &apigatewayv2.RouteArgs{
		ApiId:    api.ID(),
		RouteKey: pulumi.String("GET " + spec.ProbePath),
		Target:   pulumi.Sprintf("integrations/%s", integ.ID()),
	}, child); err != nil {
		return fmt.Errorf("probe route: %w", err)
	}
	if _, err := apigatewayv2.NewStage(ctx, "probe", &apigatewayv2.StageArgs{
		ApiId:      api.ID(),
		Name:       pulumi.String("$default"),
		AutoDeploy: pulumi.Bool(true),
		DefaultRouteSettings: &apigatewayv2.StageDefaultRouteSettingsArgs{
			ThrottlingBurstLimit: pulumi.Int(20),
			ThrottlingRateLimit:  pulumi.Float64(10),
		},
	}, child); err != nil {
		return fmt.Errorf("probe stage: %w", err)
	}
	if _, err := lambda.NewPermission(ctx, "probe-api", &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  p.Function.Function.Name,
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: pulumi.Sprintf("%s/*/*%s", api.ExecutionArn, spec.ProbePath),
	}, child); err != nil {
		return fmt.Errorf("probe API permission: %w", err)
	}
	p.API = api
	p.URL = pulumi.Sprintf("%s%s", api.ApiEndpoint, spec.ProbePath)
	return nil
}

// newHealthCheck makes Route 53 call the probe over HTTPS.
//
// Trade-off: Route 53 health checks cannot send headers, so the secret travels in the
// query string and is therefore readable in the health check's configuration by anyone
// allowed route53:GetHealthCheck in this account. It is kept out of every Lambda
// environment, every stack output and every log (Pulumi stores the resource path as a
// secret); what it protects is the broker behind a public URL from strangers, not from
// the account's own administrators. Rotate it with `pulumi config set --secret
// iotdr:probeSecret` and `pulumi up` on both stacks.
func (p *Probe) newHealthCheck(ctx *pulumi.Context, s *settings, opts ...pulumi.ResourceOption) error {
	path := s.secret().ApplyT(func(secret string) string {
		return spec.ProbePath + "?" + url.Values{spec.ProbeSecretQuery: {secret}}.Encode()
	}).(pulumi.StringOutput)
	args := &route53.HealthCheckArgs{
		Type: pulumi.String("HTTPS"),
		Fqdn: p.API.ApiEndpoint.ApplyT(func(e string) string {
			return strings.TrimSuffix(strings.TrimPrefix(e, "https://"), "/")
		}).(pulumi.StringOutput),
		Port:             pulumi.Int(443),
		ResourcePath:     pulumi.ToSecret(path).(pulumi.StringOutput),
		EnableSni:        pulumi.Bool(true),
		RequestInterval:  pulumi.Int(s.HealthInterval),
		FailureThreshold: pulumi.Int(s.HealthThreshold),
		Tags:             pulumi.StringMap{"Name": pulumi.String(s.Prefix + "-" + s.Role + "-" + s.Region())},
	}
	if len(s.HealthRegions) > 0 {
		args.Regions = pulumi.ToStringArray(s.HealthRegions)
	}
	hc, err := route53.NewHealthCheck(ctx, "probe", args, opts...)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	p.HealthCheck = hc
	return nil
}
