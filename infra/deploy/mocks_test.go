package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

const (
	testAccount       = "123456789012"
	testPrimary       = "eu-west-1"
	testSecondary     = "eu-central-1"
	testSecret        = "s3cr3t-probe-value-0123456789abcdefABCDEF"
	testZone          = "example.com."
	testDomain        = "iot.example.com"
	testPrimaryStack  = "acme/iot-dr/primary"
	testPrimaryHC     = "hc-primary-1234"
	testPrimaryStream = "arn:aws:dynamodb:eu-central-1:123456789012:table/iotdr-state/stream/2026-01-01T00:00:00.000"
	testReplicaArn    = "arn:aws:dynamodb:eu-central-1:123456789012:table/iotdr-state"
)

// endpointOf is the mocked iot:Data-ATS endpoint of a Region.
func endpointOf(region string) string { return "a1b2c3-ats.iot." + region + ".amazonaws.com" }

// baseConfig is a complete valid configuration for role.
func baseConfig(role string) map[string]string {
	return map[string]string{
		"role":            role,
		"primaryRegion":   testPrimary,
		"secondaryRegion": testSecondary,
		"domain":          testDomain,
		"hostedZoneId":    "Z0123456789ABCDEFGHIJ",
		"probeSecret":     testSecret,
		"primaryStack":    testPrimaryStack,
	}
}

// primaryOutputs is what the mocked primary stack reference returns.
func primaryOutputs() map[string]any {
	return map[string]any{
		spec.OutputRole:                        spec.RolePrimary,
		spec.OutputRegion:                      testPrimary,
		spec.OutputSecondaryRegion:             testSecondary,
		spec.OutputIoTEndpoint:                 endpointOf(testPrimary),
		spec.OutputHealthCheckID:               testPrimaryHC,
		spec.OutputStateTableName:              "iotdr-state",
		spec.OutputReplicaArn:                  testReplicaArn,
		spec.OutputReplicaStreamArn:            testPrimaryStream,
		spec.OutputCertificateValidationRecord: "_abc." + testDomain + ".",
		spec.OutputHealthCheckInterval:         30,
	}
}

// mockResource is one resource the program registered.
type mockResource struct {
	Type, Name, ID string
	Region         string // Region of the provider it was created with
	Inputs         resource.PropertyMap
	State          resource.PropertyMap
	RetainOnDelete bool
	Parent         string // the parent's URN
}

// mocks is a Pulumi mock monitor that fills in the outputs AWS would compute, records
// every resource, and remembers each provider's Region.
type mocks struct {
	mu        sync.Mutex
	resources []mockResource
	providers map[string]string // provider id -> region
	refs      []string          // stack references read
	primary   map[string]any
	// plainSecret stores the probe secret unencrypted in the test's config.
	plainSecret bool
}

func newMocks() *mocks {
	return &mocks{providers: map[string]string{}, primary: primaryOutputs()}
}

func (m *mocks) regionOf(providerRef string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := strings.LastIndex(providerRef, "::")
	if i < 0 {
		return ""
	}
	return m.providers[providerRef[i+2:]]
}

func str(pm resource.PropertyMap, key string) string {
	v, ok := pm[resource.PropertyKey(key)]
	if !ok {
		return ""
	}
	if s, ok := plain(v).(string); ok {
		return s
	}
	return ""
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id := args.Name + "-id"
	if args.TypeToken == "pulumi:pulumi:StackReference" {
		m.mu.Lock()
		m.refs = append(m.refs, args.ID)
		m.mu.Unlock()
		return args.ID, resource.NewPropertyMapFromMap(map[string]any{"name": args.ID, "outputs": m.primary}), nil
	}
	state := args.Inputs.Copy()
	region := m.regionOf(args.Provider)
	name := str(args.Inputs, "name")
	if name == "" {
		name = args.Name
	}
	set := func(k string, v any) { state[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	arnOf := func(service, rest string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, testAccount, rest)
	}
	switch args.TypeToken {
	case "pulumi:providers:aws":
		m.mu.Lock()
		m.providers[id] = str(args.Inputs, "region")
		m.mu.Unlock()
	case "aws:lambda/function:Function":
		set("arn", arnOf("lambda", "function:"+name))
		set("invokeArn", "arn:aws:apigateway:"+region+":lambda:path/functions/"+arnOf("lambda", "function:"+name)+"/invocations")
	case "aws:dynamodb/table:Table":
		set("arn", arnOf("dynamodb", "table/"+name))
		set("streamArn", arnOf("dynamodb", "table/"+name+"/stream/2026-01-01T00:00:00.000"))
		if reps, ok := args.Inputs["replicas"]; ok && reps.IsArray() {
			var out []any
			for _, r := range reps.ArrayValue() {
				rm, _ := plain(r).(map[string]any)
				rr, _ := rm["regionName"].(string)
				rm["arn"] = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", rr, testAccount, name)
				rm["streamArn"] = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/2026-01-01T00:00:00.000", rr, testAccount, name)
				out = append(out, rm)
			}
			set("replicas", out)
		}
	case "aws:sfn/stateMachine:StateMachine":
		set("arn", arnOf("states", "stateMachine:"+name))
	case "aws:apigatewayv2/api:Api":
		set("apiEndpoint", "https://abc123.execute-api."+region+".amazonaws.com")
		set("executionArn", arnOf("execute-api", "abc123"))
	case "aws:iot/certificate:Certificate":
		set("arn", arnOf("iot", "cert/0123abcd"))
		set("certificatePem", "-----BEGIN CERTIFICATE-----\nMOCKCERT\n-----END CERTIFICATE-----\n")
		state["privateKey"] = resource.MakeSecret(resource.NewPropertyValue("-----BEGIN RSA PRIVATE KEY-----\nMOCKKEY\n-----END RSA PRIVATE KEY-----\n"))
	case "aws:acm/certificate:Certificate":
		set("arn", arnOf("acm", "certificate/"+args.Name))
		set("domainValidationOptions", []any{map[string]any{
			"domainName": testDomain, "resourceRecordName": "_abc." + testDomain + ".",
			"resourceRecordType": "CNAME", "resourceRecordValue": "_def.acm-validations.aws.",
		}})
	case "aws:route53/record:Record":
		set("fqdn", name)
	case "aws:route53/healthCheck:HealthCheck":
		id = "hc-" + args.Name + "-" + region
	case "aws:sqs/queue:Queue":
		set("arn", arnOf("sqs", name))
		set("url", "https://sqs."+region+".amazonaws.com/"+testAccount+"/"+name)
	case "aws:ssm/parameter:Parameter":
		set("arn", arnOf("ssm", "parameter"+name))
	case "aws:cloudwatch/logGroup:LogGroup":
		set("arn", arnOf("logs", "log-group:"+name))
	case "aws:iam/role:Role":
		set("arn", "arn:aws:iam::"+testAccount+":role/"+args.Name)
	case "aws:iot/topicRule:TopicRule":
		set("arn", arnOf("iot", "rule/"+name))
	case "aws:cloudwatch/eventRule:EventRule":
		set("arn", arnOf("events", "rule/"+name))
	}
	if _, ok := state["name"]; !ok {
		set("name", name)
	}
	if _, ok := state["arn"]; !ok {
		set("arn", arnOf("mock", args.TypeToken+"/"+args.Name))
	}
	m.mu.Lock()
	r := mockResource{Type: args.TypeToken, Name: args.Name, ID: id, Region: region, Inputs: args.Inputs, State: state}
	if args.RegisterRPC != nil {
		r.RetainOnDelete = args.RegisterRPC.GetRetainOnDelete()
		r.Parent = args.RegisterRPC.GetParent()
	}
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	return id, state, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	region := m.regionOf(args.Provider)
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": testAccount, "arn": "arn:aws:iam::" + testAccount + ":user/test", "id": testAccount, "userId": "AIDA",
		}), nil
	case "aws:route53/getZone:getZone":
		return resource.NewPropertyMapFromMap(map[string]any{"name": testZone, "zoneId": "Z0123456789ABCDEFGHIJ", "id": "Z0123456789ABCDEFGHIJ"}), nil
	case "aws:iot/getEndpoint:getEndpoint":
		if region == "" {
			return nil, fmt.Errorf("iot endpoint looked up without a Region provider")
		}
		return resource.NewPropertyMapFromMap(map[string]any{"endpointAddress": endpointOf(region), "id": region}), nil
	}
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// byType returns the recorded resources of type typ, sorted by name.
func (m *mocks) byType(typ string) []mockResource {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mockResource
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b mockResource) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// one returns the single resource of typ named name.
func (m *mocks) one(t *testing.T, typ, name string) mockResource {
	t.Helper()
	for _, r := range m.byType(typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %q", typ, name)
	return mockResource{}
}

// plain turns a property value into plain Go values, unwrapping secrets and outputs.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsComputed(), v.IsNull():
		return nil
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsBool():
		return v.BoolValue()
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsAsset(), v.IsArchive():
		return "<asset>"
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return fmt.Sprint(v)
}

// get walks a dotted path (numbers index arrays) through a resource's inputs.
func get(r mockResource, path string) any {
	var cur any = plain(resource.NewObjectProperty(r.Inputs))
	for p := range strings.SplitSeq(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// fakeBuilder hands out dummy archives and records what it was asked for.
type fakeBuilder struct {
	mu    sync.Mutex
	names []string
	err   error
}

func (f *fakeBuilder) Build(names []string) (map[string]pulumi.Archive, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = append(f.names, names...)
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]pulumi.Archive{}
	for _, n := range names {
		out[n] = pulumi.NewAssetArchive(map[string]any{"bootstrap": pulumi.NewStringAsset("fake " + n)})
	}
	return out, nil
}

// result is one mocked deployment.
type result struct {
	m       *mocks
	builder *fakeBuilder
	outputs map[string]any
}

// deployMocked runs the program for stack with cfg (keys without the iotdr: prefix)
// under Pulumi's mock monitor and returns the recorded resources and resolved outputs.
func deployMocked(t *testing.T, stack string, cfg map[string]string, m *mocks) (*result, error) {
	t.Helper()
	return deployWith(t, stack, cfg, m, &fakeBuilder{})
}

// deployWith is deployMocked with a given builder.
func deployWith(t *testing.T, stack string, cfg map[string]string, m *mocks, builder *fakeBuilder) (*result, error) {
	t.Helper()
	full := map[string]string{}
	for k, v := range cfg {
		full[configNamespace+":"+k] = v
	}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(b))
	secretKeys := `["` + configNamespace + `:probeSecret"]`
	if m.plainSecret {
		secretKeys = "[]"
	}
	t.Setenv(pulumi.EnvConfigSecretKeys, secretKeys)
	res := &result{m: m, builder: builder}
	done := make(chan map[string]any, 1)
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		outs, err := deployComponent(ctx, res.builder)
		if err != nil {
			return err
		}
		keys := slices.Sorted(maps.Keys(outs))
		var vals []any
		for _, k := range keys {
			vals = append(vals, outs[k])
		}
		pulumi.All(vals...).ApplyT(func(v []any) error {
			got := map[string]any{}
			for i, k := range keys {
				got[k] = v[i]
			}
			done <- got
			return nil
		})
		return nil
	}, pulumi.WithMocksWithOrganization("acme", "iot-dr", stack, m))
	if err != nil {
		return res, err
	}
	select {
	case res.outputs = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("stack outputs never resolved")
	}
	return res, nil
}

// deployComponent is what infra/main.go does, through the package's public API: the
// component for the configured role, with a fake builder.
func deployComponent(ctx *pulumi.Context, builder Builder) (pulumi.Map, error) {
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Role == spec.RolePrimary {
		c, err := NewPrimary(ctx, "iotdr", &PrimaryArgs{Config: cfg.Config, Builder: builder})
		if err != nil {
			return nil, err
		}
		return c.Outputs, nil
	}
	c, err := NewSecondary(ctx, "iotdr", &SecondaryArgs{Config: cfg.Config, PrimaryStack: cfg.PrimaryStack, Builder: builder})
	if err != nil {
		return nil, err
	}
	return c.Outputs, nil
}

// mustDeploy is deployMocked for a configuration that must succeed.
func mustDeploy(t *testing.T, role string, override map[string]string) *result {
	t.Helper()
	cfg := baseConfig(role)
	maps.Copy(cfg, override)
	res, err := deployMocked(t, role, cfg, newMocks())
	if err != nil {
		t.Fatalf("deploy %s: %v", role, err)
	}
	return res
}
