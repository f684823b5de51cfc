package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// fnArn is the mocked ARN of a deployed function.
func fnArn(region, name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:iotdr-%s", region, testAccount, name)
}

func TestPrimaryCaptureRulesInvokeCapture(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, nil)
	want := spec.CaptureRules()
	rules := res.m.byType("aws:iot/topicRule:TopicRule")
	if len(rules) != len(want) {
		t.Fatalf("%d topic rules, want %d", len(rules), len(want))
	}
	capture := fnArn(testPrimary, spec.FunctionCapture)
	perms := map[string]mockResource{}
	for _, p := range res.m.byType("aws:lambda/permission:Permission") {
		if get(p, "principal") == "iot.amazonaws.com" {
			perms[get(p, "sourceArn").(string)] = p
		}
	}
	if len(perms) != len(want) {
		t.Errorf("%d permissions for iot.amazonaws.com, want one per rule", len(perms))
	}
	for _, w := range want {
		r := res.m.one(t, "aws:iot/topicRule:TopicRule", w.Name)
		for path, v := range map[string]any{
			"name": w.Name, "sql": w.SQL, "sqlVersion": spec.SQLVersion, "enabled": true,
			"lambdas.0.functionArn": capture,
			// No other action: the state table is written by the capture function only.
			"dynamodbv2s": nil, "dynamodbs": nil, "lambdas.1": nil,
		} {
			if got := get(r, path); got != v {
				t.Errorf("rule %s %s = %v, want %v", w.Name, path, got, v)
			}
		}
		if get(r, "errorAction.cloudwatchLogs.logGroupName") != "/aws/iot/iotdr-rule-errors" {
			t.Errorf("rule %s error action %v", w.Name, get(r, "errorAction"))
		}
		if r.Region != testPrimary {
			t.Errorf("rule %s in %q", w.Name, r.Region)
		}
		// The permission names this very rule (the mock gives rules their real ARN).
		p, ok := perms[str(r.State, "arn")]
		if !ok {
			t.Errorf("no permission lets rule %s (%s) invoke capture", w.Name, str(r.State, "arn"))
			continue
		}
		for path, v := range map[string]any{
			"action": "lambda:InvokeFunction", "function": "iotdr-" + spec.FunctionCapture, "sourceAccount": testAccount,
		} {
			if got := get(p, path); got != v {
				t.Errorf("permission for %s %s = %v, want %v", w.Name, path, got, v)
			}
		}
	}
	// The rules' role writes the error log only: invoking goes by the resource policy.
	for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", "capture-rules")) {
		for _, a := range s.Action {
			if !strings.HasPrefix(a, "logs:") {
				t.Errorf("capture-rules role holds %s", a)
			}
		}
	}
}

func TestPrimaryStateMachinesAreSpecDefinitions(t *testing.T) {
	res := mustDeploy(t, spec.RolePrimary, map[string]string{
		"retryIntervalSeconds": "3", "retryBackoffRate": "1.5", "retryMaxAttempts": "4", "stateMachineLogLevel": "ALL",
	})
	retry := spec.Retry{IntervalSeconds: 3, BackoffRate: 1.5, MaxAttempts: 4}
	recheck, err := spec.RecheckMachine{Recheck: fnArn(testPrimary, spec.FunctionRecheck), ErrorTable: "iotdr-errors", Retry: retry}.Definition()
	if err != nil {
		t.Fatal(err)
	}
	sweep, err := spec.SweepMachine{Sweep: fnArn(testPrimary, spec.FunctionSweep), ErrorTable: "iotdr-errors", Retry: retry}.Definition()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, def, task, output string
	}{
		{"recheck", recheck, spec.FunctionRecheck, spec.OutputRecheckMachineArn},
		{"sweep", sweep, spec.FunctionSweep, spec.OutputSweepMachineArn},
	} {
		sm := res.m.one(t, "aws:sfn/stateMachine:StateMachine", tc.name)
		if got := get(sm, "definition"); got != tc.def {
			t.Errorf("%s definition differs from the spec:\n got %v\nwant %s", tc.name, got, tc.def)
		}
		for path, v := range map[string]any{
			"name": "iotdr-" + tc.name, "type": "STANDARD",
			"loggingConfiguration.level": "ALL", "loggingConfiguration.includeExecutionData": false,
			"loggingConfiguration.logDestination": "arn:aws:logs:" + testPrimary + ":" + testAccount + ":log-group:/aws/vendedlogs/states/iotdr-" + tc.name + ":*",
		} {
			if got := get(sm, path); got != v {
				t.Errorf("%s %s = %v, want %v", tc.name, path, got, v)
			}
		}
		if sm.Region != testPrimary {
			t.Errorf("%s in %q", tc.name, sm.Region)
		}
		if res.outputs[tc.output] != str(sm.State, "arn") {
			t.Errorf("output %s = %v, want %s", tc.output, res.outputs[tc.output], str(sm.State, "arn"))
		}
		// The machine's role invokes its own task and writes the error table, no more.
		grants := map[string][]string{}
		for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", tc.name+"-machine")) {
			for _, a := range s.Action {
				if !strings.HasPrefix(a, "logs:") {
					grants[a] = append(grants[a], s.Resource...)
				}
			}
		}
		fn := fnArn(testPrimary, tc.task)
		want := map[string][]string{
			"lambda:InvokeFunction": {fn, fn + ":*"},
			"dynamodb:PutItem":      {"arn:aws:dynamodb:" + testPrimary + ":" + testAccount + ":table/iotdr-errors"},
		}
		if !reflect.DeepEqual(grants, want) {
			t.Errorf("%s machine role grants %v, want %v", tc.name, grants, want)
		}
	}
	// The log level OFF sends nothing anywhere.
	off := mustDeploy(t, spec.RolePrimary, map[string]string{"stateMachineLogLevel": "OFF"})
	if dest := get(off.m.one(t, "aws:sfn/stateMachine:StateMachine", "sweep"), "loggingConfiguration.logDestination"); dest != nil {
		t.Errorf("log level OFF still logs to %v", dest)
	}
}

func TestSchedules(t *testing.T) {
	for _, tc := range []struct {
		name           string
		config         map[string]string
		sweep, redrive string
	}{
		{"defaults", nil, "rate(1 hour)", "rate(5 minutes)"},
		{"configured", map[string]string{"sweepSchedule": "cron(0 3 * * ? *)", "redriveSchedule": "rate(1 minute)"}, "cron(0 3 * * ? *)", "rate(1 minute)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, role := range roles {
				res := mustDeploy(t, role, tc.config)
				region := regionOf(role)

				// Redrive, in both stacks: EventBridge invokes the function, allowed by
				// a permission naming the rule.
				rule := res.m.one(t, "aws:cloudwatch/eventRule:EventRule", "redrive")
				if get(rule, "scheduleExpression") != tc.redrive || rule.Region != region {
					t.Errorf("%s redrive schedule %v in %s, want %s", role, get(rule, "scheduleExpression"), rule.Region, tc.redrive)
				}
				target := res.m.one(t, "aws:cloudwatch/eventTarget:EventTarget", "redrive")
				if get(target, "arn") != fnArn(region, spec.FunctionRedrive) || get(target, "rule") != "iotdr-redrive" {
					t.Errorf("%s redrive target %v", role, objectOf(target))
				}
				perm := res.m.one(t, "aws:lambda/permission:Permission", "redrive-schedule")
				if get(perm, "principal") != "events.amazonaws.com" || get(perm, "sourceArn") != str(rule.State, "arn") ||
					get(perm, "function") != "iotdr-"+spec.FunctionRedrive {
					t.Errorf("%s redrive permission %v", role, objectOf(perm))
				}

				if rules := res.m.byType("aws:cloudwatch/eventRule:EventRule"); len(rules) != 2 {
					t.Errorf("%s has %d schedules, want the redrive and the sweep", role, len(rules))
				}
				// Sweep, in both stacks since both capture: EventBridge starts the
				// state machine with an empty state (a full sweep from the first page).
				rule = res.m.one(t, "aws:cloudwatch/eventRule:EventRule", "sweep")
				if get(rule, "scheduleExpression") != tc.sweep {
					t.Errorf("sweep schedule %v, want %s", get(rule, "scheduleExpression"), tc.sweep)
				}
				machine := str(res.m.one(t, "aws:sfn/stateMachine:StateMachine", "sweep").State, "arn")
				target = res.m.one(t, "aws:cloudwatch/eventTarget:EventTarget", "sweep")
				if get(target, "arn") != machine || get(target, "input") != "{}" || get(target, "rule") != "iotdr-sweep" {
					t.Errorf("sweep target %v, want the sweep machine %s with {}", objectOf(target), machine)
				}
				if get(target, "roleArn") != "arn:aws:iam::"+testAccount+":role/sweep-schedule" {
					t.Errorf("sweep target role %v", get(target, "roleArn"))
				}
				stmts := policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", "sweep-schedule"))
				if len(stmts) != 1 || !slices.Equal(stmts[0].Action, []string{"states:StartExecution"}) || !slices.Equal(stmts[0].Resource, []string{machine}) {
					t.Errorf("sweep schedule role %+v, want StartExecution on %s only", stmts, machine)
				}
			}
		})
	}
}

// TestEventSourceMappingOnTheRegionsReplica: in both stacks the apply reads the
// stream of the state table's replica in its own Region (the primary's own table,
// the secondary's replica), passing only other Regions' captures.
func TestEventSourceMappingOnTheRegionsReplica(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) { testEventSourceMapping(t, role) })
	}
}

func testEventSourceMapping(t *testing.T, role string) {
	res := mustDeploy(t, role, map[string]string{"streamMaxRetries": "7", "streamBatchSize": "25"})
	region := regionOf(role)
	table := "arn:aws:dynamodb:" + region + ":" + testAccount + ":table/iotdr-state"
	stream := table + "/stream/2026-01-01T00:00:00.000"
	if role == spec.RoleSecondary {
		if !slices.Equal(res.m.refs, []string{testPrimaryStack}) {
			t.Errorf("stack references %v, want %s", res.m.refs, testPrimaryStack)
		}
		if stream != testPrimaryStream || table != testReplicaArn {
			t.Fatalf("mock replica %s %s", testPrimaryStream, testReplicaArn)
		}
	}
	esm := res.m.one(t, "aws:lambda/eventSourceMapping:EventSourceMapping", "state-stream")
	queue := res.m.one(t, "aws:sqs/queue:Queue", "stream-failures")
	for path, v := range map[string]any{
		"eventSourceArn":                             stream,
		"functionName":                               fnArn(region, spec.FunctionApply),
		"functionResponseTypes.0":                    "ReportBatchItemFailures",
		"bisectBatchOnFunctionError":                 true,
		"maximumRetryAttempts":                       7.0,
		"batchSize":                                  25.0,
		"startingPosition":                           "TRIM_HORIZON",
		"destinationConfig.onFailure.destinationArn": str(queue.State, "arn"),
		"parallelizationFactor":                      nil, // one batch per shard at a time keeps applies in order
	} {
		if got := get(esm, path); got != v {
			t.Errorf("event source mapping %s = %v, want %v", path, got, v)
		}
	}
	if esm.Region != region {
		t.Errorf("event source mapping in %q", esm.Region)
	}
	var pattern any
	if err := json.Unmarshal([]byte(get(esm, "filterCriteria.filters.0.pattern").(string)), &pattern); err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal([]byte(`{"eventName": ["INSERT", "MODIFY"],
		"dynamodb": {"NewImage": {"`+spec.StateAttrOrigin+`": {"S": [{"anything-but": ["`+region+`"]}]}}}}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pattern, want) {
		t.Errorf("stream filter %v, want %v", pattern, want)
	}
	if q := res.outputs[spec.OutputStreamFailureQueueURL]; q != str(queue.State, "url") {
		t.Errorf("queue URL output %v", q)
	}
	// The function can read the stream and give up to the queue, nothing more on either;
	// its tables are its own Region's.
	grants := map[string][]string{}
	for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", spec.FunctionApply)) {
		for _, a := range s.Action {
			if strings.HasPrefix(a, "sqs:") || strings.HasPrefix(a, "dynamodb:") {
				grants[a] = append(grants[a], s.Resource...)
			}
		}
	}
	own := "arn:aws:dynamodb:" + region + ":" + testAccount + ":table/"
	wantGrants := map[string][]string{
		"dynamodb:DescribeStream": {stream}, "dynamodb:GetRecords": {stream}, "dynamodb:GetShardIterator": {stream},
		"dynamodb:ListStreams": {table + "/stream/*"},
		"dynamodb:GetItem":     {table, own + "iotdr-apply-marks"},
		"dynamodb:PutItem":     {own + "iotdr-errors", own + "iotdr-apply-marks"},
		"sqs:SendMessage":      {str(queue.State, "arn")},
	}
	if !reflect.DeepEqual(grants, wantGrants) {
		t.Errorf("apply's table and queue grants\n got %v\nwant %v", grants, wantGrants)
	}
}

// TestFunctionEnvironmentIsWhatItsMainReads: each Lambda gets the spec.Env* variables
// its main (functions/cmd/<name>/main.go, through functions/awsclients) reads, with the
// values of this stack: none missing, which would stop it at cold start, and none its
// handler ignores.
func TestFunctionEnvironmentIsWhatItsMainReads(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			region, peer := regionOf(role), regionOf(spec.RolePrimary)
			if role == spec.RolePrimary {
				peer = testSecondary
			}
			// awsclients.NewPipeline requires these in every pipeline main.
			base := map[string]string{
				spec.EnvPeerRegion: peer, spec.EnvStateTable: "iotdr-state", spec.EnvErrorTable: "iotdr-errors",
				spec.EnvMarkTable: "iotdr-apply-marks",
			}
			with := func(extra map[string]string) map[string]string {
				out := maps.Clone(base)
				maps.Copy(out, extra)
				return out
			}
			// The redrive re-applies too, which publishes the lag.
			redrive := with(map[string]string{spec.EnvMetricNamespace: spec.DefaultMetricNamespace})
			want := map[string]map[string]string{
				spec.FunctionCapture: with(map[string]string{
					spec.EnvRecheckMachineARN: "arn:aws:states:" + region + ":" + testAccount + ":stateMachine:iotdr-recheck",
					spec.EnvRecheckSeconds:    fmt.Sprint(spec.DefaultRecheckSeconds),
				}),
				spec.FunctionRecheck: with(map[string]string{spec.EnvRecheckCount: fmt.Sprint(spec.DefaultRecheckCount)}),
				spec.FunctionSweep:   base,
				spec.FunctionApply:   with(map[string]string{spec.EnvMetricNamespace: spec.DefaultMetricNamespace}),
				spec.FunctionRedrive: redrive,
			}
			fns := res.m.byType("aws:lambda/function:Function")
			if len(fns) == 0 {
				t.Fatal("no functions")
			}
			for _, f := range fns {
				vars, _ := get(f, "environment.variables").(map[string]any)
				if f.Name == spec.FunctionHealthProbe {
					for _, k := range []string{spec.EnvProbeEndpoint, spec.EnvProbeDomain, spec.EnvProbeSecretParam, spec.EnvProbeCertParam,
						spec.EnvProbeForceFailParam, spec.EnvProbeMessages, spec.EnvProbeTimeoutMS, spec.EnvProbeMarkTable, spec.EnvProbeCatchUpHoldMS} {
						if v, _ := vars[k].(string); v == "" {
							t.Errorf("probe: %s missing", k)
						}
					}
					if vars[spec.EnvProbeMarkTable] != "iotdr-apply-marks" || vars[spec.EnvProbeCatchUpHoldMS] != "90000" {
						t.Errorf("probe: catch-up gate on %v with hold %v ms, want iotdr-apply-marks and 3 x 30 s", vars[spec.EnvProbeMarkTable], vars[spec.EnvProbeCatchUpHoldMS])
					}
					if len(vars) != 9 {
						t.Errorf("probe environment %v", slices.Sorted(maps.Keys(vars)))
					}
					continue
				}
				w, ok := want[f.Name]
				if !ok {
					t.Errorf("function %s: no main known to this test", f.Name)
					continue
				}
				got := map[string]string{}
				for k, v := range vars {
					got[k], _ = v.(string)
				}
				if !maps.Equal(got, w) {
					t.Errorf("function %s environment\n got %v\nwant %v", f.Name, got, w)
				}
			}
		})
	}
}

// TestRedriveLogMessageExists: the still-failing metric filter matches the message
// functions/redrive logs; renaming it there would silently blind the alarm.
func TestRedriveLogMessageExists(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "functions", "redrive", "redrive.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `"`+redriveStillFailingLog+`"`) {
		t.Errorf("functions/redrive no longer logs %q", redriveStillFailingLog)
	}
	for _, role := range roles {
		res := mustDeploy(t, role, nil)
		f := res.m.one(t, "aws:cloudwatch/logMetricFilter:LogMetricFilter", "redrive-still-failing")
		for path, v := range map[string]any{
			"logGroupName":                   "/aws/lambda/iotdr-" + spec.FunctionRedrive,
			"pattern":                        `{ $.msg = "` + redriveStillFailingLog + `" }`,
			"metricTransformation.name":      MetricRedriveStillFailing,
			"metricTransformation.namespace": spec.DefaultMetricNamespace,
			"metricTransformation.value":     "1",
		} {
			if got := get(f, path); got != v {
				t.Errorf("%s metric filter %s = %v, want %v", role, path, got, v)
			}
		}
	}
}

func TestAlarms(t *testing.T) {
	topic := func(region string) string { return "arn:aws:sns:" + region + ":" + testAccount + ":ops" }
	// Both stacks capture and apply, so both watch both halves.
	both := []string{"health", "error-table-growth", "redrive-still-failing", "redrive-errors",
		"capture-errors", "recheck-failed", "sweep-failed",
		"replication-lag", "stream-iterator-age", "apply-errors", "stream-failures"}
	for _, tc := range []struct {
		role string
		want []string
	}{
		{spec.RolePrimary, both},
		{spec.RoleSecondary, both},
	} {
		t.Run(tc.role, func(t *testing.T) {
			region := regionOf(tc.role)
			res := mustDeploy(t, tc.role, map[string]string{"lagAlarmThresholdMs": "5000", "alarmTopicArn": topic(region)})
			alarm := func(name string) mockResource { return res.m.one(t, "aws:cloudwatch/metricAlarm:MetricAlarm", name) }
			var names []string
			for _, a := range res.m.byType("aws:cloudwatch/metricAlarm:MetricAlarm") {
				names = append(names, a.Name)
				if a.Name == "health" {
					continue
				}
				if a.Region != region || get(a, "alarmActions.0") != topic(region) || get(a, "okActions.0") != topic(region) {
					t.Errorf("alarm %s in %s notifies %v", a.Name, a.Region, get(a, "alarmActions"))
				}
				if get(a, "name") != "iotdr-"+tc.role+"-"+a.Name {
					t.Errorf("alarm %s is named %v", a.Name, get(a, "name"))
				}
			}
			if !slices.Equal(names, slices.Sorted(slices.Values(tc.want))) {
				t.Errorf("alarms %v, want %v", names, slices.Sorted(slices.Values(tc.want)))
			}
			if n := len(res.outputs[spec.OutputAlarmNames].([]string)); n != len(tc.want) {
				t.Errorf("alarmNames output has %d names, want %d", n, len(tc.want))
			}
			// Where each alarm lives, so that `iotdr readiness` asks the right Region.
			regions, _ := res.outputs[spec.OutputAlarmRegions].(map[string]string)
			for _, a := range res.m.byType("aws:cloudwatch/metricAlarm:MetricAlarm") {
				if got := regions[get(a, "name").(string)]; got != a.Region {
					t.Errorf("alarmRegions[%s] = %v, want %s", get(a, "name"), got, a.Region)
				}
			}
			if len(regions) != len(tc.want) {
				t.Errorf("alarmRegions %v", regions)
			}
			// The health alarm lives in us-east-1, where a topic elsewhere cannot be notified.
			if get(alarm("health"), "alarmActions") != nil {
				t.Error("health alarm notifies a topic in another Region")
			}
			growth := alarm("error-table-growth")
			if get(growth, "dimensions.TableName") != "iotdr-errors" || get(growth, "dimensions.Operation") != "PutItem" {
				t.Errorf("error-table alarm dimensions %v", get(growth, "dimensions"))
			}
			still := alarm("redrive-still-failing")
			if get(still, "namespace") != spec.DefaultMetricNamespace || get(still, "metricName") != MetricRedriveStillFailing || get(still, "statistic") != "Sum" {
				t.Errorf("still-failing alarm %v", objectOf(still))
			}
			// checkMetric checks an AWS metric alarm's source.
			checkMetric := func(name, ns, metric, dim, value string) {
				t.Helper()
				a := alarm(name)
				if get(a, "namespace") != ns || get(a, "metricName") != metric || get(a, "dimensions."+dim) != value {
					t.Errorf("alarm %s watches %v %v %v, want %s %s %s=%s", name, get(a, "namespace"), get(a, "metricName"), get(a, "dimensions"), ns, metric, dim, value)
				}
			}
			checkMetric("redrive-errors", "AWS/Lambda", "Errors", "FunctionName", "iotdr-"+spec.FunctionRedrive)
			checkMetric("capture-errors", "AWS/Lambda", "Errors", "FunctionName", "iotdr-"+spec.FunctionCapture)
			for _, m := range []string{"recheck", "sweep"} {
				checkMetric(m+"-failed", "AWS/States", "ExecutionsFailed", "StateMachineArn",
					str(res.m.one(t, "aws:sfn/stateMachine:StateMachine", m).State, "arn"))
			}
			lag := alarm("replication-lag")
			if q, _ := get(lag, "metricQueries.0.expression").(string); !strings.Contains(q, "MAX("+spec.MetricReplicationLag+")") || !strings.Contains(q, `"`+spec.DefaultMetricNamespace+`"`) {
				t.Errorf("lag alarm query %q", q)
			}
			if get(lag, "threshold") != 5000.0 {
				t.Errorf("lag alarm threshold %v", get(lag, "threshold"))
			}
			checkMetric("stream-iterator-age", "AWS/Lambda", "IteratorAge", "FunctionName", "iotdr-"+spec.FunctionApply)
			if a := alarm("stream-iterator-age"); get(a, "threshold") != 5000.0 || get(a, "statistic") != "Maximum" {
				t.Errorf("iterator age alarm %v", objectOf(a))
			}
			checkMetric("apply-errors", "AWS/Lambda", "Errors", "FunctionName", "iotdr-"+spec.FunctionApply)
			checkMetric("stream-failures", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "iotdr-stream-failures")
		})
	}
}
