package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// roles are both stacks' roles, for tests that hold for each.
var roles = []string{spec.RolePrimary, spec.RoleSecondary}

// regionOf is the Region a role's stack deploys to in the tests.
func regionOf(role string) string {
	if role == spec.RolePrimary {
		return testPrimary
	}
	return testSecondary
}

func TestPrimaryStateTableIsGlobalWithStreamTTLAndRecovery(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, nil)
	tbl := res.m.one(t, "aws:dynamodb/table:Table", "state")
	if tbl.Region != testPrimary {
		t.Errorf("state table in %q, want %q", tbl.Region, testPrimary)
	}
	want := spec.StateTable()
	checks := map[string]any{
		"name":                           "iotdr-state",
		"hashKey":                        spec.StateAttrKey,
		"attributes.0.name":              spec.StateAttrKey,
		"attributes.0.type":              "S",
		"billingMode":                    "PAY_PER_REQUEST",
		"streamEnabled":                  true,
		"streamViewType":                 "NEW_AND_OLD_IMAGES",
		"ttl.attributeName":              spec.StateAttrExpires,
		"ttl.enabled":                    true,
		"pointInTimeRecovery.enabled":    true,
		"serverSideEncryption.enabled":   true,
		"replicas.0.regionName":          testSecondary,
		"replicas.0.pointInTimeRecovery": true,
	}
	for path, v := range checks {
		if got := get(tbl, path); got != v {
			t.Errorf("state table %s = %v, want %v", path, got, v)
		}
	}
	if want.HashKey != spec.StateAttrKey || want.TTLAttribute != spec.StateAttrExpires {
		t.Errorf("spec.StateTable() %+v no longer keyed by %s with TTL %s: update this test", want, spec.StateAttrKey, spec.StateAttrExpires)
	}
	if n := len(get(tbl, "replicas").([]any)); n != 1 {
		t.Errorf("state table has %d replicas, want 1", n)
	}
	for key, want := range map[string]string{
		spec.OutputStateTableName:   "iotdr-state",
		spec.OutputStateTableArn:    "arn:aws:dynamodb:" + testPrimary + ":" + testAccount + ":table/iotdr-state",
		spec.OutputReplicaArn:       testReplicaArn,
		spec.OutputReplicaStreamArn: testPrimaryStream,
	} {
		if got := res.outputs[key]; got != want {
			t.Errorf("output %s = %v, want %v", key, got, want)
		}
	}
	// The secondary owns no state table: its replica is part of the primary's.
	sec := mustDeploy(t, spec.RoleSecondary, nil)
	for _, tbl := range sec.m.byType("aws:dynamodb/table:Table") {
		if tbl.Name != "errors" && tbl.Name != "apply-marks" {
			t.Errorf("secondary creates table %s", tbl.Name)
		}
	}
	if got := sec.outputs[spec.OutputStateTableArn]; got != testReplicaArn {
		t.Errorf("secondary state table ARN %v, want its replica %s", got, testReplicaArn)
	}
}

// TestMarkTableInEachRegionNotReplicated: each Region's apply marks its own writes in
// a table of its own, keyed and expiring as spec.MarkTable says, named as the
// simulator names it, and exported for `iotdr sync`.
func TestMarkTableInEachRegionNotReplicated(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			marks := res.m.one(t, "aws:dynamodb/table:Table", "apply-marks")
			want := spec.MarkTable()
			for path, v := range map[string]any{
				"name": spec.MarkTableName, "hashKey": want.HashKey, "attributes.0.name": want.HashKey, "attributes.0.type": "S",
				"ttl.attributeName": want.TTLAttribute, "ttl.enabled": true, "billingMode": "PAY_PER_REQUEST",
				"replicas": nil, "streamEnabled": nil,
			} {
				if got := get(marks, path); got != v {
					t.Errorf("mark table %s = %v, want %v", path, got, v)
				}
			}
			if marks.Region != regionOf(role) {
				t.Errorf("mark table in %q", marks.Region)
			}
			if res.outputs[spec.OutputMarkTableName] != spec.MarkTableName {
				t.Errorf("%s output %v", spec.OutputMarkTableName, res.outputs[spec.OutputMarkTableName])
			}
			other := mustDeploy(t, role, map[string]string{"prefix": "acme"})
			if got := get(other.m.one(t, "aws:dynamodb/table:Table", "apply-marks"), "name"); got != "acme-apply-marks" {
				t.Errorf("mark table with prefix acme is named %v", got)
			}
		})
	}
}

func TestErrorTableInEachRegionNotReplicated(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			errs := res.m.one(t, "aws:dynamodb/table:Table", "errors")
			for path, v := range map[string]any{
				"name": "iotdr-errors", "hashKey": spec.ErrorAttrID, "pointInTimeRecovery.enabled": true,
				"replicas": nil, "streamEnabled": nil, "ttl": nil,
			} {
				if got := get(errs, path); got != v {
					t.Errorf("error table %s = %v, want %v", path, got, v)
				}
			}
			if errs.Region != regionOf(role) {
				t.Errorf("error table in %q", errs.Region)
			}
			if res.outputs[spec.OutputErrorTableName] != "iotdr-errors" {
				t.Errorf("errorTableName output %v", res.outputs[spec.OutputErrorTableName])
			}
		})
	}
}

func TestPrimaryRegistryEventsNoIndexingAndPolicies(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, nil)
	ev := res.m.byType("aws:iot/eventConfigurations:EventConfigurations")
	if len(ev) != 1 {
		t.Fatalf("%d event configurations", len(ev))
	}
	want := spec.RegistryEventConfigurations()
	enabled, _ := get(ev[0], "eventConfigurations").(map[string]any)
	if got := slices.Sorted(maps.Keys(enabled)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("event configurations %v, want %v", got, want)
	}
	for _, typ := range want {
		if enabled[typ] != true {
			t.Errorf("registry event %s not enabled", typ)
		}
	}
	// Fleet indexing is the account's, merged by the apply when a dynamic group needs
	// more: a stack resource would replace what other users of the account set.
	if idx := res.m.byType("aws:iot/indexingConfiguration:IndexingConfiguration"); len(idx) != 0 {
		t.Errorf("the stack deploys %d indexing configurations, want none", len(idx))
	}
	device, _ := spec.DevicePolicy(testPrimary, testAccount)
	if got := get(res.m.one(t, "aws:iot/policy:Policy", "device-policy"), "policy"); got != device {
		t.Errorf("device policy differs from the spec:\n%v", got)
	}
	probe, _ := spec.ProbePolicy(testPrimary, testAccount)
	if got := get(res.m.one(t, "aws:iot/policy:Policy", "probe-policy"), "policy"); got != probe {
		t.Errorf("probe policy differs from the spec:\n%v", got)
	}
	for _, r := range res.m.byType("aws:route53/record:Record") {
		if get(r, "failoverRoutingPolicies") != nil {
			t.Errorf("primary creates failover record %s; the secondary owns them", r.Name)
		}
	}
}

// TestBothHalvesInBothStacks: failback needs capture and apply in both Regions, as
// the simulator runs them (simulator/world.go): capture rules, registry events
// (fleet indexing is the account's: none deployed), the re-check and sweep machines, the stream mapping and its queue.
func TestBothHalvesInBothStacks(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			for typ, n := range map[string]int{
				"aws:iot/topicRule:TopicRule": len(spec.CaptureRules()), "aws:iot/eventConfigurations:EventConfigurations": 1,
				"aws:iot/indexingConfiguration:IndexingConfiguration": 0, "aws:sfn/stateMachine:StateMachine": 2,
				"aws:lambda/eventSourceMapping:EventSourceMapping": 1, "aws:sqs/queue:Queue": 1,
			} {
				if got := len(res.m.byType(typ)); got != n {
					t.Errorf("%d %s, want %d", got, typ, n)
				}
			}
			for _, k := range []string{spec.OutputCaptureRules, spec.OutputDevicePolicy, spec.OutputRecheckMachineArn,
				spec.OutputSweepMachineArn, spec.OutputStreamFailureQueueURL, spec.OutputMarkTableName} {
				if v, ok := res.outputs[k]; !ok || v == nil || v == "" {
					t.Errorf("output %s missing", k)
				}
			}
		})
	}
}

func TestHealthCheckFromConfig(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			// replaceHealthCheck: the mocked primary last deployed 30 s.
			res := mustDeploy(t, role, map[string]string{"healthCheckInterval": "10", "healthCheckFailureThreshold": "7", "replaceHealthCheck": "true"})
			hcs := res.m.byType("aws:route53/healthCheck:HealthCheck")
			if len(hcs) != 1 {
				t.Fatalf("%d health checks", len(hcs))
			}
			hc := hcs[0]
			region := map[string]string{spec.RolePrimary: testPrimary, spec.RoleSecondary: testSecondary}[role]
			for path, v := range map[string]any{
				"type": "HTTPS", "requestInterval": 10.0, "failureThreshold": 7.0, "port": 443.0, "enableSni": true,
				"fqdn": "abc123.execute-api." + region + ".amazonaws.com",
			} {
				if got := get(hc, path); got != v {
					t.Errorf("health check %s = %v, want %v", path, got, v)
				}
			}
			// The secret rides in the query string (Route 53 sends no headers) and must
			// at least stay encrypted in state.
			rp := hc.Inputs["resourcePath"]
			if !rp.ContainsSecrets() {
				t.Error("health check resource path is not a secret")
			}
			if got := plain(rp); got != spec.ProbePath+"?"+spec.ProbeSecretQuery+"="+testSecret {
				t.Errorf("resource path %v", got)
			}
			if got := fmt.Sprint(res.outputs[spec.OutputHealthCheckID]); got != hc.ID {
				t.Errorf("healthCheckId output %v, want %v", got, hc.ID)
			}
			if url := fmt.Sprint(res.outputs[spec.OutputProbeURL]); strings.Contains(url, "?") || !strings.HasSuffix(url, spec.ProbePath) {
				t.Errorf("probe URL %q", url)
			}
			alarm := res.m.one(t, "aws:cloudwatch/metricAlarm:MetricAlarm", "health")
			if alarm.Region != healthMetricsRegion || get(alarm, "dimensions.HealthCheckId") != hc.ID {
				t.Errorf("health alarm in %q on %v", alarm.Region, get(alarm, "dimensions"))
			}
		})
	}
}

func TestLambdasRuntimeArchitectureAndBuild(t *testing.T) {
	deployed := map[string]bool{}
	for role, want := range map[string][]string{
		spec.RolePrimary:   append(slices.Clone(spec.PipelineFunctions), spec.FunctionHealthProbe),
		spec.RoleSecondary: append(slices.Clone(spec.PipelineFunctions), spec.FunctionHealthProbe),
	} {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			fns := res.m.byType("aws:lambda/function:Function")
			var names []string
			for _, f := range fns {
				names = append(names, f.Name)
				deployed[f.Name] = true
				for path, v := range map[string]any{"runtime": lambdaRuntime, "architectures.0": lambdaArchitecture, "handler": "bootstrap", "name": "iotdr-" + f.Name} {
					if got := get(f, path); got != v {
						t.Errorf("function %s %s = %v, want %v", f.Name, path, got, v)
					}
				}
				if n := len(get(f, "architectures").([]any)); n != 1 {
					t.Errorf("function %s has %d architectures", f.Name, n)
				}
				if get(f, "code") == nil {
					t.Errorf("function %s has no code", f.Name)
				}
				if get(f, "loggingConfig.logGroup") != "/aws/lambda/iotdr-"+f.Name {
					t.Errorf("function %s logs to %v", f.Name, get(f, "loggingConfig.logGroup"))
				}
				if f.Region != regionOf(role) {
					t.Errorf("function %s in %q", f.Name, f.Region)
				}
			}
			slices.Sort(names)
			want := slices.Sorted(slices.Values(want))
			if !slices.Equal(names, want) {
				t.Errorf("functions %v, want %v", names, want)
			}
			built := slices.Sorted(slices.Values(res.builder.names))
			if !slices.Equal(built, want) {
				t.Errorf("built %v, want %v", built, want)
			}
			fnOut, _ := res.outputs[spec.OutputFunctionNames].(map[string]string)
			if got := slices.Sorted(maps.Keys(fnOut)); !slices.Equal(got, want) {
				t.Errorf("functionNames output %v, want %v", got, want)
			}
			for k, v := range fnOut {
				if v != "iotdr-"+k {
					t.Errorf("functionNames[%s] = %q, want iotdr-%s", k, v, k)
				}
			}
			for _, lg := range res.m.byType("aws:cloudwatch/logGroup:LogGroup") {
				if get(lg, "retentionInDays") != 14.0 {
					t.Errorf("log group %s retention %v", lg.Name, get(lg, "retentionInDays"))
				}
			}
		})
	}
	// Between them the stacks deploy every pipeline function, each built from a main
	// that exists.
	for _, n := range append(slices.Clone(spec.PipelineFunctions), spec.FunctionHealthProbe) {
		if !deployed[n] {
			t.Errorf("no stack deploys %s", n)
		}
		if _, err := os.Stat(filepath.Join("..", "..", "functions", "cmd", n, "main.go")); err != nil {
			t.Errorf("function %s has no main: %v", n, err)
		}
	}
}

func TestBuildFailureFailsDeployment(t *testing.T) {
	m := newMocks()
	cfg := baseConfig(spec.RolePrimary)
	b := &fakeBuilder{err: fmt.Errorf("lambda build of probe failed: exit status 1\nfunctions/cmd/probe/main.go:3:1: syntax error")}
	_, err := deployWith(t, spec.RolePrimary, cfg, m, b)
	if err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("deploy error %v, want the compiler's message", err)
	}
	if n := len(m.byType("aws:lambda/function:Function")); n != 0 {
		t.Errorf("%d functions created despite the failed build", n)
	}
}

func TestSecondaryFailoverRecords(t *testing.T) {
	res := mustDeploy(t, spec.RoleSecondary, map[string]string{"recordTtl": "30"})
	own := res.m.byType("aws:route53/healthCheck:HealthCheck")[0].ID
	want := map[string]struct{ hc, target string }{
		"PRIMARY":   {testPrimaryHC, endpointOf(testPrimary)},
		"SECONDARY": {own, endpointOf(testSecondary)},
	}
	seen := 0
	for _, r := range res.m.byType("aws:route53/record:Record") {
		kind, _ := get(r, "failoverRoutingPolicies.0.type").(string)
		if kind == "" {
			continue
		}
		seen++
		w, ok := want[kind]
		if !ok {
			t.Errorf("unexpected failover type %q", kind)
			continue
		}
		for path, v := range map[string]any{
			"name": testDomain, "type": "CNAME", "ttl": 30.0, "healthCheckId": w.hc, "records.0": w.target,
			"zoneId": "Z0123456789ABCDEFGHIJ",
		} {
			if got := get(r, path); got != v {
				t.Errorf("%s record %s = %v, want %v", kind, path, got, v)
			}
		}
	}
	if seen != 2 {
		t.Errorf("%d failover records, want 2", seen)
	}
	if res.outputs[spec.OutputPrimaryHealthCheckID] != testPrimaryHC {
		t.Errorf("primaryHealthCheckId output %v", res.outputs[spec.OutputPrimaryHealthCheckID])
	}
	dc := res.m.one(t, "aws:iot/domainConfiguration:DomainConfiguration", "domain")
	if get(dc, "domainName") != testDomain || get(dc, "serviceType") != "DATA" || dc.Region != testSecondary {
		t.Errorf("domain configuration %v in %s", dc.Inputs, dc.Region)
	}
}

func TestSecretNeverInOutputsOrEnvironment(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			for k, v := range res.outputs {
				if strings.Contains(fmt.Sprint(v), testSecret) {
					t.Errorf("output %s contains the probe secret", k)
				}
			}
			for _, f := range res.m.byType("aws:lambda/function:Function") {
				vars, _ := get(f, "environment.variables").(map[string]any)
				for k, v := range vars {
					if strings.Contains(fmt.Sprint(v), testSecret) {
						t.Errorf("function %s env %s contains the probe secret", f.Name, k)
					}
					if !strings.HasPrefix(k, "IOTDR_") {
						t.Errorf("function %s env %s is not a spec.Env* name", f.Name, k)
					}
				}
			}
			probe := res.m.one(t, "aws:lambda/function:Function", spec.FunctionHealthProbe)
			secretParam := res.m.one(t, "aws:ssm/parameter:Parameter", "probe-secret")
			// The probe names the custom domain the domain configuration serves.
			if d, dc := get(probe, "environment.variables."+spec.EnvProbeDomain), get(res.m.one(t, "aws:iot/domainConfiguration:DomainConfiguration", "domain"), "domainName"); d == nil || d != dc {
				t.Errorf("probe verifies %v, the domain configuration serves %v", d, dc)
			}
			if get(probe, "environment.variables."+spec.EnvProbeSecretParam) != get(secretParam, "name") {
				t.Errorf("probe reads %v, secret is in %v", get(probe, "environment.variables."+spec.EnvProbeSecretParam), get(secretParam, "name"))
			}
			for _, p := range []string{"probe-secret", "probe-certificate"} {
				r := res.m.one(t, "aws:ssm/parameter:Parameter", p)
				if get(r, "type") != "SecureString" || !r.Inputs["value"].ContainsSecrets() {
					t.Errorf("parameter %s is %v (secret value: %v)", p, get(r, "type"), r.Inputs["value"].ContainsSecrets())
				}
			}
			// Only the secret's parameter and the health check's path may hold it.
			allowed := map[string]bool{"aws:ssm/parameter:Parameter/probe-secret": true, "aws:route53/healthCheck:HealthCheck/probe": true}
			for _, r := range res.m.resources {
				if strings.Contains(fmt.Sprint(objectOf(r)), testSecret) && !allowed[r.Type+"/"+r.Name] {
					t.Errorf("%s %s carries the probe secret", r.Type, r.Name)
				}
			}
		})
	}
}

func TestSecondaryRefusesMismatchedOrMissingPrimary(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(map[string]any)
		want string
	}{
		"primary not deployed":  {func(o map[string]any) { delete(o, spec.OutputReplicaStreamArn) }, "run `pulumi up` on the primary stack first"},
		"no state table output": {func(o map[string]any) { delete(o, spec.OutputStateTableName) }, `no output "` + spec.OutputStateTableName + `"`},
		"other Region pair":     {func(o map[string]any) { o[spec.OutputSecondaryRegion] = "ap-south-1" }, "replicates to ap-south-1"},
	} {
		t.Run(name, func(t *testing.T) {
			m := newMocks()
			tc.edit(m.primary)
			_, err := deployMocked(t, spec.RoleSecondary, baseConfig(spec.RoleSecondary), m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestOutputsAUserNeeds(t *testing.T) {
	both := []string{spec.OutputRole, spec.OutputRegion, spec.OutputIoTEndpoint, spec.OutputHealthCheckID, spec.OutputProbeURL,
		spec.OutputDomain, spec.OutputDomainConfiguration, spec.OutputProbeForceFailParameter, spec.OutputAlarmNames,
		spec.OutputStateTableName, spec.OutputStateTableArn, spec.OutputReplicaArn, spec.OutputReplicaStreamArn,
		spec.OutputErrorTableName, spec.OutputFunctionNames, spec.OutputMarkTableName, spec.OutputHostedZoneID,
		spec.OutputCaptureRules, spec.OutputDevicePolicy, spec.OutputRecheckMachineArn, spec.OutputSweepMachineArn,
		spec.OutputStreamFailureQueueURL}
	for role, keys := range map[string][]string{
		spec.RolePrimary:   slices.Clone(both),
		spec.RoleSecondary: append(slices.Clone(both), spec.OutputPrimaryHealthCheckID),
	} {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			for _, k := range keys {
				if v, ok := res.outputs[k]; !ok || v == nil || v == "" {
					t.Errorf("output %s missing (%v)", k, v)
				}
			}
			if res.outputs[spec.OutputReplicaStreamArn] != testPrimaryStream {
				t.Errorf("replica stream %v, want %s in both stacks", res.outputs[spec.OutputReplicaStreamArn], testPrimaryStream)
			}
		})
	}
}

// objectOf returns a resource's inputs as plain values.
func objectOf(r mockResource) any { return plain(resource.NewObjectProperty(r.Inputs)) }

// TestEveryPipelineFunctionBelongsToAHalf: functionsOf refuses a spec function it
// cannot place, and places each one in exactly the halves that need it.
func TestEveryPipelineFunctionBelongsToAHalf(t *testing.T) {
	for _, tc := range []struct {
		h    Halves
		want []string
	}{
		{Halves{Capture: true}, []string{spec.FunctionCapture, spec.FunctionRecheck, spec.FunctionSweep, spec.FunctionRedrive}},
		{Halves{Apply: true}, []string{spec.FunctionApply, spec.FunctionRedrive}},
		{Halves{Capture: true, Apply: true}, spec.PipelineFunctions},
		{Halves{}, []string{spec.FunctionRedrive}},
	} {
		got, err := functionsOf(tc.h)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tc.want))) {
			t.Errorf("functionsOf(%+v) = %v, want %v", tc.h, got, tc.want)
		}
	}
	saved := spec.PipelineFunctions
	t.Cleanup(func() { spec.PipelineFunctions = saved })
	spec.PipelineFunctions = append(slices.Clone(saved), "replicate-more")
	if _, err := functionsOf(Halves{Capture: true}); err == nil || !strings.Contains(err.Error(), "replicate-more belongs to no half") {
		t.Errorf("unplaced function error %v", err)
	}
}

// TestNamesFollowThePrefix: two deployments with different prefixes in one account
// and Region name no rule or policy alike.
func TestNamesFollowThePrefix(t *testing.T) {
	names := func(prefix string) []string {
		res := mustDeploy(t, spec.RolePrimary, map[string]string{"prefix": prefix})
		var out []string
		for _, typ := range []string{"aws:iot/topicRule:TopicRule", "aws:iot/policy:Policy"} {
			for _, r := range res.m.byType(typ) {
				out = append(out, str(r.Inputs, "name"))
			}
		}
		return out
	}
	a, b := names("iotdr"), names("acme-dr")
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("names %v and %v", a, b)
	}
	for _, n := range b {
		if slices.Contains(a, n) {
			t.Errorf("%s is named alike in both deployments", n)
		}
		if !strings.HasPrefix(n, "acme-dr-") && !strings.HasPrefix(n, "acme_dr_") {
			t.Errorf("%s does not carry the prefix acme-dr", n)
		}
	}
	if !slices.Contains(a, spec.DevicePolicyName) {
		t.Errorf("default names %v lack %s, the name the simulator uses", a, spec.DevicePolicyName)
	}
}

// TestDevicePolicyIsRetainedOnDestroy: IoT refuses to delete a policy attached to
// certificates, and the devices' certificates are not the stack's.
func TestDevicePolicyIsRetainedOnDestroy(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, nil)
	p := res.m.one(t, "aws:iot/policy:Policy", "device-policy")
	if !p.RetainOnDelete {
		t.Error("the device policy is deleted on destroy")
	}
	for _, other := range res.m.byType("aws:iot/policy:Policy") {
		if other.Name != "device-policy" && other.RetainOnDelete {
			t.Errorf("%s retained too", other.Name)
		}
	}
	// One owner: the secondary's copy comes through the state table, and a secondary
	// deployed before failback already holds the one its apply made.
	sec := mustDeploy(t, spec.RoleSecondary, nil)
	for _, other := range sec.m.byType("aws:iot/policy:Policy") {
		if other.Name == "device-policy" {
			t.Error("the secondary deploys the device policy too")
		}
	}
	if sec.outputs[spec.OutputDevicePolicy] != spec.DevicePolicyName {
		t.Errorf("secondary %s output %v", spec.OutputDevicePolicy, sec.outputs[spec.OutputDevicePolicy])
	}
}

// TestACMValidationRecordHasOneOwner: both Regions' certificates for the domain share
// one validation CNAME; the primary writes it and the secondary validates through it,
// so destroying or replacing the secondary cannot delete what the primary renews
// through. Only if the primary brings its own certificate does the secondary write it.
func TestACMValidationRecordHasOneOwner(t *testing.T) {
	primary := mustDeploy(t, spec.RolePrimary, nil)
	rec := primary.m.one(t, "aws:route53/record:Record", "domain-validation")
	if got := primary.outputs[spec.OutputCertificateValidationRecord]; got != str(rec.State, "fqdn") || got == "" {
		t.Errorf("primary exports validation record %v, wrote %s", got, str(rec.State, "fqdn"))
	}

	secondary := mustDeploy(t, spec.RoleSecondary, nil)
	for _, r := range secondary.m.byType("aws:route53/record:Record") {
		if r.Name == "domain-validation" {
			t.Error("the secondary writes the validation record the primary owns")
		}
	}
	v := secondary.m.one(t, "aws:acm/certificateValidation:CertificateValidation", "domain")
	if got := get(v, "validationRecordFqdns.0"); got != primaryOutputs()[spec.OutputCertificateValidationRecord] {
		t.Errorf("the secondary validates through %v, not the primary's record", got)
	}
	if _, ok := secondary.outputs[spec.OutputCertificateValidationRecord]; ok {
		t.Error("the secondary exports a validation record it does not own")
	}

	// A primary with its own certificate owns no record: the secondary writes it.
	m := newMocks()
	delete(m.primary, spec.OutputCertificateValidationRecord)
	res, err := deployMocked(t, spec.RoleSecondary, baseConfig(spec.RoleSecondary), m)
	if err != nil {
		t.Fatal(err)
	}
	res.m.one(t, "aws:route53/record:Record", "domain-validation")
	byo := mustDeploy(t, spec.RolePrimary, map[string]string{"certificateArn": "arn:aws:acm:" + testPrimary + ":" + testAccount + ":certificate/own"})
	if _, ok := byo.outputs[spec.OutputCertificateValidationRecord]; ok {
		t.Error("a primary with its own certificate claims the validation record")
	}
}

// TestSecondaryRefusesAMismatchedValidationRecord: a shared record that is not the
// one the secondary's certificate asks for fails the deployment, not the renewal.
func TestSecondaryRefusesAMismatchedValidationRecord(t *testing.T) {
	m := newMocks()
	m.primary[spec.OutputCertificateValidationRecord] = "_other.iot.example.com."
	_, err := deployMocked(t, spec.RoleSecondary, baseConfig(spec.RoleSecondary), m)
	if err == nil || !strings.Contains(err.Error(), "is not the one this certificate needs") {
		t.Fatalf("error %v, want the mismatched record refused", err)
	}
}

// TestHealthCheckIntervalChangeIsRefusedUnlessAnnounced: the primary's last deployed
// interval (its own output, 30 in the mocks) differs from the config's: the change
// replaces the check the secondary's record names, so it needs
// iotdr:replaceHealthCheck; a first deployment or an unchanged interval needs nothing.
func TestHealthCheckIntervalChangeIsRefusedUnlessAnnounced(t *testing.T) {
	cfg := baseConfig(spec.RolePrimary)
	cfg["healthCheckInterval"] = "10"
	m := newMocks()
	_, err := deployMocked(t, spec.RolePrimary, cfg, m)
	for _, want := range []string{"iotdr:healthCheckInterval changes from 30 to 10 s", "iotdr:replaceHealthCheck=true", "pulumi up -s <secondary>"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	if n := len(m.byType("aws:route53/healthCheck:HealthCheck")); n != 0 {
		t.Errorf("%d health checks declared despite the refusal", n)
	}
	if !slices.Contains(m.refs, testPrimaryStack) {
		t.Errorf("the primary read stack references %v, not its own %s", m.refs, testPrimaryStack)
	}

	cfg["replaceHealthCheck"] = "true"
	res, err := deployMocked(t, spec.RolePrimary, cfg, newMocks())
	if err != nil {
		t.Fatalf("announced change refused: %v", err)
	}
	if got := fmt.Sprint(res.outputs[spec.OutputHealthCheckInterval]); got != "10" {
		t.Errorf("exported interval %v, want 10", got)
	}
	first := newMocks()
	delete(first.primary, spec.OutputHealthCheckInterval)
	if _, err := deployMocked(t, spec.RolePrimary, baseConfig(spec.RolePrimary), first); err != nil {
		t.Errorf("first deployment refused: %v", err)
	}
	cfg["replaceHealthCheck"] = "yes"
	if _, err := deployMocked(t, spec.RolePrimary, cfg, newMocks()); err == nil || !strings.Contains(err.Error(), "iotdr:replaceHealthCheck must be true or false") {
		t.Errorf("error %v for replaceHealthCheck=yes", err)
	}
}
