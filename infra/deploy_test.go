package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

func TestPrimaryEventTableIsGlobalWithStreamTTLAndRecovery(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, nil)
	tbl := res.m.one(t, "aws:dynamodb/table:Table", "events")
	if tbl.Region != testPrimary {
		t.Errorf("event table in %q, want %q", tbl.Region, testPrimary)
	}
	want := spec.EventTable()
	checks := map[string]any{
		"name":                           "iotdr-events",
		"hashKey":                        want.HashKey,
		"billingMode":                    "PAY_PER_REQUEST",
		"streamEnabled":                  true,
		"streamViewType":                 want.StreamView,
		"ttl.attributeName":              spec.AttrExpires,
		"ttl.enabled":                    true,
		"pointInTimeRecovery.enabled":    true,
		"serverSideEncryption.enabled":   true,
		"replicas.0.regionName":          testSecondary,
		"replicas.0.pointInTimeRecovery": true,
	}
	for path, v := range checks {
		if got := get(tbl, path); got != v {
			t.Errorf("event table %s = %v, want %v", path, got, v)
		}
	}
	if n := len(get(tbl, "replicas").([]any)); n != 1 {
		t.Errorf("event table has %d replicas, want 1", n)
	}
	if got := res.outputs[spec.OutputReplicaStreamArn]; !strings.Contains(fmt.Sprint(got), ":"+testSecondary+":") {
		t.Errorf("replica stream output %v is not in %s", got, testSecondary)
	}
}

func TestPrimaryCaptureRulesUseSpecSQL(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, map[string]string{"eventTtl": "48h"})
	want, err := spec.CaptureRules(testPrimary, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rules := res.m.byType("aws:iot/topicRule:TopicRule")
	if len(rules) != len(want) {
		t.Fatalf("%d topic rules, want %d", len(rules), len(want))
	}
	for _, w := range want {
		r := res.m.one(t, "aws:iot/topicRule:TopicRule", w.Name)
		if got := get(r, "sql"); got != w.SQL {
			t.Errorf("rule %s SQL differs from the spec:\n got %v\nwant %s", w.Name, got, w.SQL)
		}
		if got := get(r, "sqlVersion"); got != spec.SQLVersion {
			t.Errorf("rule %s SQL version %v", w.Name, got)
		}
		if got := get(r, "dynamodbv2s.0.putItem.tableName"); got != "iotdr-events" {
			t.Errorf("rule %s writes %v, want the event table", w.Name, got)
		}
		if get(r, "errorAction.cloudwatchLogs.logGroupName") == nil {
			t.Errorf("rule %s has no error action", w.Name)
		}
		if r.Region != testPrimary {
			t.Errorf("rule %s in %q", w.Name, r.Region)
		}
	}
}

func TestPrimaryRegistryEventsIndexingAndPolicies(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, nil)
	ev := res.m.byType("aws:iot/eventConfigurations:EventConfigurations")
	if len(ev) != 1 {
		t.Fatalf("%d event configurations", len(ev))
	}
	// AWS names an event configuration after its registry event type without the
	// _EVENT suffix; exactly the registry types the pipeline applies are enabled.
	var want []string
	for _, typ := range spec.EventTypes {
		if typ != spec.EventShadow {
			want = append(want, strings.TrimSuffix(typ, "_EVENT"))
		}
	}
	enabled, _ := get(ev[0], "eventConfigurations").(map[string]any)
	if got := slices.Sorted(maps.Keys(enabled)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("event configurations %v, want %v", got, want)
	}
	for _, typ := range want {
		if enabled[typ] != true {
			t.Errorf("registry event %s not enabled", typ)
		}
	}
	idx := res.m.one(t, "aws:iot/indexingConfiguration:IndexingConfiguration", "thing-indexing")
	if got := get(idx, "thingIndexingConfiguration.thingIndexingMode"); got != "REGISTRY" {
		t.Errorf("thing indexing mode %v", got)
	}
	device, _ := spec.DevicePolicy(testPrimary, testAccount)
	if got := get(res.m.one(t, "aws:iot/policy:Policy", "device-policy"), "policy"); got != device {
		t.Errorf("device policy differs from the spec:\n%v", got)
	}
	probe, _ := spec.ProbePolicy(testPrimary, testAccount)
	if got := get(res.m.one(t, "aws:iot/policy:Policy", "probe-policy"), "policy"); got != probe {
		t.Errorf("probe policy differs from the spec:\n%v", got)
	}
	for _, typ := range []string{"aws:sfn/stateMachine:StateMachine", "aws:lambda/eventSourceMapping:EventSourceMapping"} {
		if n := len(res.m.byType(typ)); n != 0 {
			t.Errorf("primary has %d %s", n, typ)
		}
	}
	for _, r := range res.m.byType("aws:route53/record:Record") {
		if get(r, "failoverRoutingPolicies") != nil {
			t.Errorf("primary creates failover record %s; the secondary owns them", r.Name)
		}
	}
}

func TestHealthCheckFromConfig(t *testing.T) {
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, map[string]string{"healthCheckInterval": "10", "healthCheckFailureThreshold": "7"})
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
	for role, want := range map[string][]string{
		spec.RolePrimary:   {spec.FunctionHealthProbe},
		spec.RoleSecondary: append(slices.Clone(spec.ApplyFunctions), spec.FunctionHealthProbe),
	} {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			fns := res.m.byType("aws:lambda/function:Function")
			var names []string
			for _, f := range fns {
				names = append(names, f.Name)
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
			}
			slices.Sort(names)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("functions %v, want %v", names, want)
			}
			built := slices.Sorted(slices.Values(res.builder.names))
			if !slices.Equal(built, want) {
				t.Errorf("built %v, want %v", built, want)
			}
			for _, lg := range res.m.byType("aws:cloudwatch/logGroup:LogGroup") {
				if get(lg, "retentionInDays") != 14.0 {
					t.Errorf("log group %s retention %v", lg.Name, get(lg, "retentionInDays"))
				}
			}
		})
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

func TestSecondaryStateMachineIsSpecDefinition(t *testing.T) {
	res := mustDeploy(t, spec.RoleSecondary, map[string]string{
		"retryIntervalSeconds": "3", "retryBackoffRate": "1.5", "retryMaxAttempts": "4", "stateMachineLogLevel": "ALL",
	})
	arn := func(name string) string {
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:iotdr-%s", testSecondary, testAccount, name)
	}
	want, err := spec.StateMachine{
		Workers: spec.Workers{
			Thing: arn(spec.FunctionThing), ThingType: arn(spec.FunctionThingType),
			ThingGroup: arn(spec.FunctionThingGroup), Shadow: arn(spec.FunctionShadow),
		},
		ErrorTable: "iotdr-errors",
		Retry:      spec.Retry{IntervalSeconds: 3, BackoffRate: 1.5, MaxAttempts: 4},
	}.Definition()
	if err != nil {
		t.Fatal(err)
	}
	sm := res.m.one(t, "aws:sfn/stateMachine:StateMachine", "apply")
	if got := get(sm, "definition"); got != want {
		t.Errorf("state machine definition differs from the spec:\n got %v\nwant %s", got, want)
	}
	for path, v := range map[string]any{
		"type": "STANDARD", "loggingConfiguration.level": "ALL", "loggingConfiguration.includeExecutionData": false,
	} {
		if got := get(sm, path); got != v {
			t.Errorf("state machine %s = %v, want %v", path, got, v)
		}
	}
	if dest, _ := get(sm, "loggingConfiguration.logDestination").(string); !strings.HasPrefix(dest, "arn:aws:logs:") {
		t.Errorf("state machine logs to %q", dest)
	}
	if sm.Region != testSecondary {
		t.Errorf("state machine in %q", sm.Region)
	}
	if res.outputs[spec.OutputStateMachineName] != "iotdr-apply" || res.outputs[spec.OutputErrorTableName] != "iotdr-errors" {
		t.Errorf("outputs %v / %v", res.outputs[spec.OutputStateMachineName], res.outputs[spec.OutputErrorTableName])
	}
}

func TestSecondaryEventSourceMappingFailureHandling(t *testing.T) {
	res := mustDeploy(t, spec.RoleSecondary, map[string]string{"streamMaxRetries": "7", "streamBatchSize": "25"})
	if !slices.Equal(res.m.refs, []string{testPrimaryStack}) {
		t.Errorf("stack references %v, want %s", res.m.refs, testPrimaryStack)
	}
	esm := res.m.one(t, "aws:lambda/eventSourceMapping:EventSourceMapping", "replica-stream")
	queue := res.m.one(t, "aws:sqs/queue:Queue", "stream-failures")
	for path, v := range map[string]any{
		"eventSourceArn":                             testPrimaryStream,
		"functionName":                               fmt.Sprintf("arn:aws:lambda:%s:%s:function:iotdr-trigger", testSecondary, testAccount),
		"functionResponseTypes.0":                    "ReportBatchItemFailures",
		"bisectBatchOnFunctionError":                 true,
		"maximumRetryAttempts":                       7.0,
		"batchSize":                                  25.0,
		"startingPosition":                           "TRIM_HORIZON",
		"destinationConfig.onFailure.destinationArn": str(queue.State, "arn"),
	} {
		if got := get(esm, path); got != v {
			t.Errorf("event source mapping %s = %v, want %v", path, got, v)
		}
	}
	var pattern map[string]any
	if err := json.Unmarshal([]byte(get(esm, "filterCriteria.filters.0.pattern").(string)), &pattern); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pattern) != fmt.Sprint(map[string]any{
		"eventName": []any{"INSERT"},
		"dynamodb":  map[string]any{"NewImage": map[string]any{spec.AttrSourceRegion: map[string]any{"S": []any{testPrimary}}}},
	}) {
		t.Errorf("stream filter %v", pattern)
	}

	trigger := res.m.one(t, "aws:lambda/function:Function", spec.FunctionTrigger)
	sm := res.m.one(t, "aws:sfn/stateMachine:StateMachine", "apply")
	for k, v := range map[string]string{
		spec.EnvStateMachineARN: str(sm.State, "arn"), spec.EnvErrorTable: "iotdr-errors",
	} {
		if got := get(trigger, "environment.variables."+k); got != v {
			t.Errorf("trigger %s = %v, want %v", k, got, v)
		}
	}
	if got := get(trigger, "environment.variables."+spec.EnvSourceRegion); got != nil {
		t.Errorf("trigger gets %s=%v, which it never reads", spec.EnvSourceRegion, got)
	}
	thing := res.m.one(t, "aws:lambda/function:Function", spec.FunctionThing)
	if get(thing, "environment.variables."+spec.EnvRecheckSeconds) != fmt.Sprint(spec.DefaultRecheckSeconds) || get(thing, "environment.variables."+spec.EnvMetricNamespace) != spec.DefaultMetricNamespace {
		t.Errorf("thing worker environment %v", get(thing, "environment.variables"))
	}
	errs := res.m.one(t, "aws:dynamodb/table:Table", "errors")
	if get(errs, "hashKey") != spec.ErrorTable().HashKey || get(errs, "replicas") != nil || get(errs, "pointInTimeRecovery.enabled") != true {
		t.Errorf("error table %v", errs.Inputs)
	}
	rule := res.m.one(t, "aws:cloudwatch/eventRule:EventRule", "reconcile")
	if get(rule, "scheduleExpression") != "rate(5 minutes)" {
		t.Errorf("reconciler schedule %v", get(rule, "scheduleExpression"))
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

func TestSecondaryAlarms(t *testing.T) {
	res := mustDeploy(t, spec.RoleSecondary, map[string]string{"lagAlarmThresholdMs": "5000", "alarmTopicArn": "arn:aws:sns:" + testSecondary + ":" + testAccount + ":ops"})
	lag := res.m.one(t, "aws:cloudwatch/metricAlarm:MetricAlarm", "replication-lag")
	if q, _ := get(lag, "metricQueries.0.expression").(string); !strings.Contains(q, spec.MetricReplicationLag) || !strings.Contains(q, spec.DefaultMetricNamespace) {
		t.Errorf("lag alarm query %q", q)
	}
	if get(lag, "threshold") != 5000.0 || get(lag, "alarmActions.0") != "arn:aws:sns:"+testSecondary+":"+testAccount+":ops" {
		t.Errorf("lag alarm %v", lag.Inputs)
	}
	growth := res.m.one(t, "aws:cloudwatch/metricAlarm:MetricAlarm", "error-table-growth")
	if get(growth, "dimensions.TableName") != "iotdr-errors" || get(growth, "dimensions.Operation") != "PutItem" {
		t.Errorf("error-table alarm dimensions %v", get(growth, "dimensions"))
	}
	res.m.one(t, "aws:cloudwatch/metricAlarm:MetricAlarm", "stream-failures")
	// The health alarm lives in us-east-1, where the eu topic cannot be notified.
	if get(res.m.one(t, "aws:cloudwatch/metricAlarm:MetricAlarm", "health"), "alarmActions") != nil {
		t.Error("health alarm notifies a topic in another Region")
	}
}

func TestSecretNeverInOutputsOrEnvironment(t *testing.T) {
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
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

func TestIAMLeastPrivilege(t *testing.T) {
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			policies := res.m.byType("aws:iam/rolePolicy:RolePolicy")
			if len(policies) == 0 {
				t.Fatal("no role policies")
			}
			for _, p := range policies {
				doc, _ := get(p, "policy").(string)
				if len(doc) > 10240 {
					t.Errorf("policy %s is %d bytes, over IAM's inline limit", p.Name, len(doc))
				}
				var parsed struct {
					Statement []struct {
						Sid      string
						Action   []string
						Resource []string
					}
				}
				if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
					t.Fatalf("policy %s: %v", p.Name, err)
				}
				for _, s := range parsed.Statement {
					for _, a := range s.Action {
						if a == "*" || strings.HasSuffix(a, ":*") || !strings.Contains(a, ":") {
							t.Errorf("policy %s statement %s grants action %q", p.Name, s.Sid, a)
						}
					}
					for _, r := range s.Resource {
						if r != "*" {
							if !strings.HasPrefix(r, "arn:aws:") || strings.Contains(r, ":*:") {
								t.Errorf("policy %s statement %s resource %q is not a scoped ARN", p.Name, s.Sid, r)
							}
							continue
						}
						for _, a := range s.Action {
							if _, ok := wildcardActions[a]; !ok {
								t.Errorf("policy %s statement %s grants %s on Resource \"*\"", p.Name, s.Sid, a)
							}
						}
					}
				}
			}
			for _, r := range res.m.byType("aws:iam/role:Role") {
				var trust struct {
					Statement []struct{ Principal map[string]string }
				}
				if err := json.Unmarshal([]byte(get(r, "assumeRolePolicy").(string)), &trust); err != nil {
					t.Fatal(err)
				}
				for _, s := range trust.Statement {
					if !strings.HasSuffix(s.Principal["Service"], ".amazonaws.com") {
						t.Errorf("role %s trusts %v", r.Name, s.Principal)
					}
				}
			}
		})
	}
}

// TestWildcardActionsAreAllGranted: TestIAMLeastPrivilege allows Resource "*" only for
// wildcardActions; this is the other direction, so the list holds no stale entry that
// would let a future grant on "*" pass unnoticed.
func TestWildcardActionsAreAllGranted(t *testing.T) {
	onAny := map[string]bool{}
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
		res := mustDeploy(t, role, nil)
		for _, p := range res.m.byType("aws:iam/rolePolicy:RolePolicy") {
			for _, s := range policyStatements(t, p) {
				if slices.Contains(s.Resource, "*") {
					for _, a := range s.Action {
						onAny[a] = true
					}
				}
			}
		}
	}
	for a, why := range wildcardActions {
		if !onAny[a] {
			t.Errorf("wildcardActions lists %s, which no policy grants on Resource \"*\"", a)
		}
		if why == "" {
			t.Errorf("wildcardActions gives no reason for %s", a)
		}
	}
}

// TestFunctionEnvironmentIsWhatItsMainReads: each Lambda gets exactly the spec.Env*
// variables its main (functions/cmd/<name>/main.go, through functions/awsclients)
// reads: none missing, which would stop it at cold start, and none it ignores.
func TestFunctionEnvironmentIsWhatItsMainReads(t *testing.T) {
	// awsclients.Workers reads these for every function holding a replicator.
	worker := []string{spec.EnvSourceRegion, spec.EnvRecheckSeconds, spec.EnvRecheckCount, spec.EnvMetricNamespace}
	reads := map[string][]string{
		spec.FunctionThing:      worker,
		spec.FunctionThingType:  worker,
		spec.FunctionThingGroup: worker,
		spec.FunctionShadow:     worker,
		spec.FunctionReconciler: append(slices.Clone(worker), spec.EnvErrorTable),
		spec.FunctionTrigger:    {spec.EnvStateMachineARN, spec.EnvErrorTable},
		spec.FunctionHealthProbe: {spec.EnvProbeEndpoint, spec.EnvProbeSecretParam, spec.EnvProbeCertParam,
			spec.EnvProbeForceFailParam, spec.EnvProbeMessages, spec.EnvProbeTimeoutMS},
	}
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			fns := res.m.byType("aws:lambda/function:Function")
			if len(fns) == 0 {
				t.Fatal("no functions")
			}
			for _, f := range fns {
				want, ok := reads[f.Name]
				if !ok {
					t.Errorf("function %s: no main known to this test", f.Name)
					continue
				}
				vars, _ := get(f, "environment.variables").(map[string]any)
				for _, k := range slices.Sorted(maps.Keys(vars)) {
					if v, _ := vars[k].(string); v == "" {
						t.Errorf("function %s: %s is empty", f.Name, k)
					}
				}
				if got := slices.Sorted(maps.Keys(vars)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
					t.Errorf("function %s environment %v, its main reads %v", f.Name, got, slices.Sorted(slices.Values(want)))
				}
			}
		})
	}
}

// TestWorkersMayCallEveryReplicationMethod: the workers' IoT actions are kept by hand
// beside functions/replication's client interfaces; every method of replication.IoT
// and replication.Shadows is an IAM action of the same name, which the functions
// running the replicator must hold on the target Region.
func TestWorkersMayCallEveryReplicationMethod(t *testing.T) {
	res := mustDeploy(t, spec.RoleSecondary, nil)
	// granted reports whether fn's policy allows action on the target Region.
	granted := func(fn, action string) bool {
		for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", fn)) {
			if !slices.Contains(s.Action, action) {
				continue
			}
			for _, r := range s.Resource {
				if r == "*" || strings.HasPrefix(r, "arn:aws:iot:"+testSecondary+":") {
					return true
				}
			}
		}
		return false
	}
	methods := func(typ reflect.Type) []string {
		var out []string
		for i := range typ.NumMethod() {
			out = append(out, "iot:"+typ.Method(i).Name)
		}
		if len(out) == 0 {
			t.Fatalf("%s has no methods", typ)
		}
		return out
	}
	control, data := methods(reflect.TypeFor[replication.IoT]()), methods(reflect.TypeFor[replication.Shadows]())
	// Only the reconciler's full reconcile lists every thing type.
	reconcileOnly := map[string]bool{"iot:ListThingTypes": true}
	for _, tc := range []struct {
		fn      string
		actions []string
		except  map[string]bool
	}{
		{spec.FunctionThing, control, reconcileOnly},
		{spec.FunctionThingGroup, control, reconcileOnly},
		{spec.FunctionShadow, data, nil},
		{spec.FunctionReconciler, slices.Concat(control, data), nil},
	} {
		for _, a := range tc.actions {
			if !tc.except[a] && !granted(tc.fn, a) {
				t.Errorf("%s may not call %s in %s, which replication calls", tc.fn, a, testSecondary)
			}
		}
	}
	for a := range reconcileOnly {
		if !slices.Contains(control, a) {
			t.Errorf("exception %s is not a replication.IoT method any more", a)
		}
	}
}

type policyStatement struct {
	Sid      string
	Action   []string
	Resource []string
}

// policyStatements parses a role policy's document.
func policyStatements(t *testing.T, p mockResource) []policyStatement {
	t.Helper()
	doc, _ := get(p, "policy").(string)
	var parsed struct{ Statement []policyStatement }
	if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
		t.Fatalf("policy %s: %v", p.Name, err)
	}
	return parsed.Statement
}

func TestSecondaryRefusesMismatchedOrMissingPrimary(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(map[string]any)
		want string
	}{
		"primary not deployed": {func(o map[string]any) { delete(o, spec.OutputReplicaStreamArn) }, "run `pulumi up` on the primary stack first"},
		"other Region pair":    {func(o map[string]any) { o[spec.OutputSecondaryRegion] = "ap-south-1" }, "replicates to ap-south-1"},
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
	for role, keys := range map[string][]string{
		spec.RolePrimary: {spec.OutputIoTEndpoint, spec.OutputHealthCheckID, spec.OutputProbeURL, spec.OutputEventTableName, spec.OutputReplicaStreamArn, spec.OutputDomain,
			spec.OutputDomainConfiguration, spec.OutputProbeForceFailParameter, spec.OutputCaptureRules, spec.OutputDevicePolicy},
		spec.RoleSecondary: {spec.OutputIoTEndpoint, spec.OutputHealthCheckID, spec.OutputPrimaryHealthCheckID, spec.OutputProbeURL, spec.OutputStateMachineName,
			spec.OutputStateMachineArn, spec.OutputErrorTableName, spec.OutputStreamFailureQueueURL, spec.OutputFunctionNames, spec.OutputDomain},
	} {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			for _, k := range keys {
				if v, ok := res.outputs[k]; !ok || v == nil || v == "" {
					t.Errorf("output %s missing (%v)", k, v)
				}
			}
		})
	}
}

// objectOf returns a resource's inputs as plain values.
func objectOf(r mockResource) any { return plain(resource.NewObjectProperty(r.Inputs)) }
