package deploy

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/metrics"
	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

func TestIAMLeastPrivilege(t *testing.T) {
	for _, role := range roles {
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
	for _, role := range roles {
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

// TestNoFunctionReachesThePeerRegion walks every role policy of both stacks: every
// IoT or DynamoDB ARN names the stack's own Region, every IoT action on Resource "*"
// is held to the own Region by aws:RequestedRegion, and no action is a service
// wildcard. For the apply function (the requirement) it also checks that the
// walk saw its IoT grants at all, so an empty or unparsed policy cannot pass.
func TestNoFunctionReachesThePeerRegion(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, map[string]string{"onboardingRoles": onboardingRolesConfig})
			own := regionOf(role)
			iotGrants := map[string]int{}
			for _, p := range res.m.byType("aws:iam/rolePolicy:RolePolicy") {
				for _, s := range policyStatements(t, p) {
					iot := false
					for _, a := range s.Action {
						if strings.HasSuffix(a, ":*") || a == "*" || strings.Contains(a, "*") {
							t.Errorf("policy %s statement %s grants wildcard action %q", p.Name, s.Sid, a)
						}
						iot = iot || strings.HasPrefix(a, "iot:")
					}
					if iot {
						iotGrants[p.Name]++
					}
					for _, r := range s.Resource {
						if r == "*" {
							if iot && s.Condition["StringEquals"]["aws:RequestedRegion"] != own {
								t.Errorf("policy %s statement %s grants IoT on \"*\" without aws:RequestedRegion=%s (condition %v)", p.Name, s.Sid, own, s.Condition)
							}
							continue
						}
						parts := strings.SplitN(r, ":", 6)
						if len(parts) < 6 {
							t.Errorf("policy %s statement %s resource %q is not an ARN", p.Name, s.Sid, r)
							continue
						}
						switch service, region := parts[2], parts[3]; service {
						case "iam":
							// IAM is global: only the roles the apply may pass.
							if region != "" || !strings.HasPrefix(parts[5], "role/") || !slices.Equal(s.Action, []string{"iam:PassRole"}) {
								t.Errorf("policy %s statement %s grants %v on %s", p.Name, s.Sid, s.Action, r)
							}
						case "iot", "dynamodb", "states", "lambda", "sqs", "ssm", "logs", "kms":
							if region != own {
								t.Errorf("policy %s statement %s names %s in %q, not this stack's %s: %s", p.Name, s.Sid, service, region, own, r)
							}
						default:
							t.Errorf("policy %s statement %s: resource %s of an unexpected service", p.Name, s.Sid, r)
						}
					}
				}
			}
			for _, fn := range spec.PipelineFunctions {
				if iotGrants[fn] == 0 {
					t.Errorf("%s holds no IoT statement: the walk saw nothing to check", fn)
				}
			}
		})
	}
}

// TestApplyHoldsNoWriteOnTheSourceRegion: the apply side (apply, and redrive, which
// re-applies) of either stack may write only its own Region's IoT; the capture side
// (capture, re-check, sweep) holds no IoT write at all.
func TestApplyHoldsNoWriteOnTheSourceRegion(t *testing.T) {
	writes := map[string]bool{}
	for _, a := range slices.Concat(applyWriteActions, shadowWriteActions, retainedWriteActions, onboardingWriteActions,
		[]string{"iot:RegisterCertificateWithoutCA", "iot:RegisterCACertificate"}) {
		writes[a] = true
	}
	for _, role := range roles {
		for _, tc := range []struct {
			fn       string
			mayWrite bool
		}{
			{spec.FunctionApply, true}, {spec.FunctionRedrive, true},
			{spec.FunctionCapture, false}, {spec.FunctionRecheck, false}, {spec.FunctionSweep, false},
		} {
			t.Run(role+"/"+tc.fn, func(t *testing.T) {
				res := mustDeploy(t, role, nil)
				own := regionOf(role)
				sawWrite := false
				for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", tc.fn)) {
					for _, a := range s.Action {
						if !writes[a] {
							continue
						}
						sawWrite = true
						if !tc.mayWrite {
							t.Errorf("%s holds %s", tc.fn, a)
						}
						for _, r := range s.Resource {
							if r != "*" && !strings.HasPrefix(r, "arn:aws:iot:"+own+":") {
								t.Errorf("%s may %s on %s", tc.fn, a, r)
							}
						}
					}
				}
				if tc.mayWrite && !sawWrite {
					t.Errorf("%s holds no IoT write: it cannot converge %s", tc.fn, own)
				}
			})
		}
	}
}

// uses is one narrow interface a function's code calls, on one resource: every
// method is an IAM action of the same name in service (the data plane's are iot:
// actions too), unless only lists the methods this function reaches.
type uses struct {
	iface    reflect.Type
	service  string
	resource string // "iot" (this Region's IoT), "topic" (its MQTT topics), a table ("state", "errors", "marks"), "recheck" (the re-check machine)
	only     []string
	// implies are the further actions AWS authorises a method's call as (a Publish
	// with the retain flag is iot:Publish and iot:RetainPublish).
	implies map[string][]string
	// passes are the methods whose call names an IAM role that AWS makes the caller
	// pass: iam:PassRole on the configured onboarding roles ("roles").
	passes []string
	// except are methods of iface this function never reaches, with the reason.
	except map[string]string
}

// Every function's main looks up its data endpoint (awsclients.DataPlane) with
// *iot.Client, outside any interface.
var mainCalls = uses{iface: reflect.TypeFor[interface {
	DescribeEndpoint(context.Context, *iot.DescribeEndpointInput, ...func(*iot.Options)) (*iot.DescribeEndpointOutput, error)
}](), service: "iot", resource: "iot"}

// The calls of each pipeline function, from the interfaces its handler's parts hold
// (functions/awsclients.NewPipeline wires them). Only the sweep lists whole
// registries; only a full reconcile, which no Lambda runs, lists every thing type of
// the target.
var (
	sweepOnly     = map[string]string{"ListThings": "sweep only", "ListThingTypes": "sweep only", "ListThingGroups": "sweep only"}
	reconcileOnly = map[string]string{"ListThingTypes": "a full reconcile only (iotdr sync), no Lambda"}

	// The sweep lists and reads retained messages; a re-capture (the redrive) reads one.
	readsRetained = uses{iface: reflect.TypeFor[capture.RetainedMessages](), service: "iot", resource: "topic"}
	// The apply reads a retained message and publishes it retained.
	convergesRetained = uses{iface: reflect.TypeFor[replication.RetainedTarget](), service: "iot", resource: "topic",
		implies: map[string][]string{"Publish": {"RetainPublish"}}}
	// applymark.Held.HeldRef: which retained messages, billing groups and onboarding
	// resources the apply created here.
	readsHeld = uses{iface: reflect.TypeFor[applymark.Table](), service: "dynamodb", resource: "marks", only: []string{"GetItem"}}
	// The sweep lists and describes role aliases, provisioning templates and CA
	// certificates (capture.Capturer.Provisioning).
	readsOnboarding = uses{iface: reflect.TypeFor[replication.ProvisioningReader](), service: "iot", resource: "iot"}
	// The apply converges them; creating or updating a role alias or a template
	// passes the role it names.
	convergesOnboarding = uses{iface: reflect.TypeFor[replication.Provisioning](), service: "iot", resource: "iot",
		passes: []string{"CreateRoleAlias", "UpdateRoleAlias", "CreateProvisioningTemplate", "UpdateProvisioningTemplate"},
		except: map[string]string{
			"ListRoleAliases": "sync and verify only", "ListProvisioningTemplates": "sync and verify only", "ListCACertificates": "sync and verify only",
		}}
	// onboardingRolesConfig is the iotdr:onboardingRoles the exact-IAM test deploys
	// with, onboardingRoleARNs what iam:PassRole must name then.
	onboardingRolesConfig = "iot-provisioning,fleet/iot-credentials-*"
	onboardingRoleARNs    = []string{"arn:aws:iam::" + testAccount + ":role/iot-provisioning", "arn:aws:iam::" + testAccount + ":role/fleet/iot-credentials-*"}

	captureUses = []uses{
		{iface: reflect.TypeFor[replication.Source](), service: "iot", resource: "iot", except: sweepOnly},
		{iface: reflect.TypeFor[replication.SourceShadows](), service: "iot", resource: "iot"},
		{iface: reflect.TypeFor[state.Table](), service: "dynamodb", resource: "state"},
		// A thing's capture reads the billing group it names (capture.BillingGroupReader
		// without the listing).
		{iface: reflect.TypeFor[capture.BillingGroupReader](), service: "iot", resource: "iot", except: map[string]string{"ListBillingGroups": "sweep only"}},
		{iface: reflect.TypeFor[capture.TagReader](), service: "iot", resource: "iot", except: map[string]string{"ListPolicies": "sweep only"}},
		// A dynamic group's capture reads the Region's fleet indexing.
		readsIndexing,
	}
	readsIndexing = uses{iface: reflect.TypeFor[replication.IndexingReader](), service: "iot", resource: "iot"}
	applyUses     = []uses{
		{iface: reflect.TypeFor[replication.IoT](), service: "iot", resource: "iot", except: reconcileOnly},
		{iface: reflect.TypeFor[replication.Shadows](), service: "iot", resource: "iot"},
		{iface: reflect.TypeFor[replication.BillingGroups](), service: "iot", resource: "iot"},
		{iface: reflect.TypeFor[replication.Tagging](), service: "iot", resource: "iot"},
		{iface: reflect.TypeFor[replication.DynamicGroups](), service: "iot", resource: "iot"},
		// The applier reads items (state.Store.Get, state.View) and never writes them.
		{iface: reflect.TypeFor[state.Table](), service: "dynamodb", resource: "state", only: []string{"GetItem"}},
		{iface: reflect.TypeFor[applymark.Table](), service: "dynamodb", resource: "marks"},
		{iface: reflect.TypeFor[metrics.PutMetricDataAPI](), service: "cloudwatch", resource: "*"},
		convergesRetained, convergesOnboarding,
	}
	// failures.Recorder.Record is all capture and apply call; the redrive also lists
	// and deletes.
	recordsFailures = uses{iface: reflect.TypeFor[failures.Table](), service: "dynamodb", resource: "errors", only: []string{"PutItem"}}

	functionUses = map[string][]uses{
		spec.FunctionCapture: slices.Concat(captureUses, []uses{
			recordsFailures,
			// Handler.applied: Marks.Covered reads only.
			{iface: reflect.TypeFor[applymark.Table](), service: "dynamodb", resource: "marks", only: []string{"GetItem"}},
			{iface: reflect.TypeFor[capture.StepFunctions](), service: "states", resource: "recheck"},
		}),
		// The re-check reads attachments only: no shadows, and gives up through its
		// state machine, which records the failure itself.
		spec.FunctionRecheck: {captureUses[0], captureUses[2], captureUses[3], captureUses[4]},
		spec.FunctionSweep: {
			{iface: reflect.TypeFor[replication.Source](), service: "iot", resource: "iot"},
			captureUses[1], captureUses[2],
			{iface: reflect.TypeFor[capture.BillingGroupReader](), service: "iot", resource: "iot"},
			{iface: reflect.TypeFor[capture.TagReader](), service: "iot", resource: "iot"},
			{iface: reflect.TypeFor[state.Scanner](), service: "dynamodb", resource: "state"},
			recordsFailures, readsRetained, readsHeld, readsOnboarding, readsIndexing,
		},
		spec.FunctionApply: slices.Concat(applyUses, []uses{recordsFailures}),
		spec.FunctionRedrive: slices.Concat(captureUses, applyUses, []uses{
			{iface: readsRetained.iface, service: "iot", resource: "topic", only: []string{"GetRetainedMessage"}},
			{iface: reflect.TypeFor[failures.Table](), service: "dynamodb", resource: "errors"},
			// state.Store.OthersKeys: the re-apply of the whole replica.
			{iface: reflect.TypeFor[state.Scanner](), service: "dynamodb", resource: "state"},
		}),
	}

	// platformCalls are made with a function's role by AWS on its behalf, not by its
	// code: Lambda's stream poller reads the replica's stream and sends the metadata of
	// batches given up on to the queue (FunctionApply only).
	platformCalls = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "sqs:SendMessage"}
)

// TestEachFunctionHoldsExactlyWhatItsCodeCalls derives each pipeline function's calls
// from the interfaces its code uses (functionUses) and compares them with its role
// policy both ways: every call granted, on this Region's resource it is made on
// (the table, the machine, this Region's IoT), and nothing granted beyond them (and the
// function's own logs and, for the apply, Lambda's stream polling). A method added to
// an interface fails here until the function may call it.
func TestEachFunctionHoldsExactlyWhatItsCodeCalls(t *testing.T) {
	for _, role := range roles {
		res := mustDeploy(t, role, map[string]string{"onboardingRoles": onboardingRolesConfig})
		own := regionOf(role)
		table := func(name string) string { return "arn:aws:dynamodb:" + own + ":" + testAccount + ":table/" + name }
		resources := map[string]string{
			"state": table("iotdr-state"), "errors": table("iotdr-errors"), "marks": table("iotdr-apply-marks"),
			"recheck": str(res.m.one(t, "aws:sfn/stateMachine:StateMachine", "recheck").State, "arn"),
		}
		for fn, us := range functionUses {
			t.Run(role+"/"+fn, func(t *testing.T) {
				want := map[string]map[string]bool{} // action -> resource kinds
				for _, u := range slices.Concat(us, []uses{mainCalls}) {
					n := 0
					for i := range u.iface.NumMethod() {
						m := u.iface.Method(i).Name
						if _, skip := u.except[m]; skip || (u.only != nil && !slices.Contains(u.only, m)) {
							continue
						}
						grant := func(a, resource string) {
							if want[a] == nil {
								want[a] = map[string]bool{}
							}
							want[a][resource] = true
						}
						for _, call := range slices.Concat([]string{m}, u.implies[m]) {
							grant(u.service+":"+call, u.resource)
						}
						if slices.Contains(u.passes, m) {
							grant("iam:PassRole", "roles")
						}
						n++
					}
					for _, m := range slices.Concat(u.only, u.passes, slices.Collect(maps.Keys(u.except)), slices.Collect(maps.Keys(u.implies))) {
						if _, ok := u.iface.MethodByName(m); !ok {
							t.Errorf("%s lists %s, which is not a method of %s any more", fn, m, u.iface)
						}
					}
					if n == 0 {
						t.Errorf("%s: %s contributes no call", fn, u.iface)
					}
				}
				granted := map[string][]policyStatement{}
				for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", fn)) {
					if s.Sid == "WriteOwnLogs" {
						continue
					}
					for _, a := range s.Action {
						granted[a] = append(granted[a], s)
					}
				}
				for a, kinds := range want {
					stmts, ok := granted[a]
					if !ok {
						t.Errorf("%s may not call %s, which its code calls", fn, a)
						continue
					}
					var got []string
					for _, s := range stmts {
						got = append(got, s.Resource...)
					}
					for kind := range kinds {
						switch kind {
						case "iot":
							for _, r := range got {
								if r == "*" {
									if _, ok := wildcardActions[a]; !ok {
										t.Errorf("%s holds %s on \"*\"", fn, a)
									}
								} else if !strings.HasPrefix(r, "arn:aws:iot:"+own+":"+testAccount+":") {
									t.Errorf("%s holds %s on %s, not this Region's IoT", fn, a, r)
								}
							}
						case "topic":
							// Retained messages are read and published on this Region's
							// topics, and on nothing else (ListRetainedMessages has no
							// resource types).
							topics := "arn:aws:iot:" + own + ":" + testAccount + ":topic/*"
							if _, ok := wildcardActions[a]; ok {
								topics = "*"
							}
							if !slices.Equal(got, []string{topics}) {
								t.Errorf("%s holds %s on %v, want %s", fn, a, got, topics)
							}
						case "*":
							if !slices.Equal(got, []string{"*"}) {
								t.Errorf("%s holds %s on %v", fn, a, got)
							}
						case "roles":
							// Exactly the configured onboarding roles, nothing broader.
							if !slices.Equal(got, onboardingRoleARNs) {
								t.Errorf("%s holds %s on %v, want exactly %v", fn, a, got, onboardingRoleARNs)
							}
						default:
							if !slices.Contains(got, resources[kind]) {
								t.Errorf("%s may not call %s on its %s (%s): granted on %v", fn, a, kind, resources[kind], got)
							}
						}
					}
					// A table action on a table the code does not call it on is too much.
					if strings.HasPrefix(a, "dynamodb:") || strings.HasPrefix(a, "states:") {
						for _, r := range got {
							found := false
							for kind := range kinds {
								found = found || resources[kind] == r
							}
							if !found {
								t.Errorf("%s holds %s on %s, which its code never calls it on", fn, a, r)
							}
						}
					}
				}
				for a := range granted {
					if want[a] == nil && !(fn == spec.FunctionApply && slices.Contains(platformCalls, a)) {
						t.Errorf("%s holds %s, which its code never calls", fn, a)
					}
				}
			})
		}
	}
}

// TestOnboardingRolesBoundPassRole: iam:PassRole is granted to the apply side only
// (apply, and redrive, which re-applies), on exactly the roles iotdr:onboardingRoles
// names (a name prefix stays a prefix of role names), and to nobody when it is unset;
// the apply still converges role aliases, templates and CA certificates then (its
// creates of a role-naming resource fail with AccessDenied, recorded).
func TestOnboardingRolesBoundPassRole(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{"unset", "", nil},
		{"names and prefixes", onboardingRolesConfig, onboardingRoleARNs},
		{"one role", "iot-provisioning", onboardingRoleARNs[:1]},
	} {
		for _, role := range roles {
			t.Run(tc.name+"/"+role, func(t *testing.T) {
				res := mustDeploy(t, role, map[string]string{"onboardingRoles": tc.config})
				for _, fn := range spec.PipelineFunctions {
					var passes []string
					converges := false
					for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", fn)) {
						if slices.Contains(s.Action, "iam:PassRole") {
							passes = append(passes, s.Resource...)
						}
						converges = converges || slices.Contains(s.Action, "iot:CreateProvisioningTemplate")
					}
					applies := fn == spec.FunctionApply || fn == spec.FunctionRedrive
					if want := tc.want; !applies && len(passes) > 0 || applies && !slices.Equal(passes, want) {
						t.Errorf("%s may pass %v (applies: %v), want %v", fn, passes, applies, want)
					}
					if converges != applies {
						t.Errorf("%s holds iot:CreateProvisioningTemplate: %v, want %v", fn, converges, applies)
					}
				}
			})
		}
	}
}

type policyStatement struct {
	Sid       string
	Action    []string
	Resource  []string
	Condition map[string]map[string]string
}

// policyStatements parses a role policy's document.
func policyStatements(t *testing.T, p mockResource) []policyStatement {
	t.Helper()
	doc, _ := get(p, "policy").(string)
	var parsed struct{ Statement []policyStatement }
	if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
		t.Fatalf("policy %s: %v", p.Name, err)
	}
	if len(parsed.Statement) == 0 {
		t.Fatalf("policy %s has no statements", p.Name)
	}
	return parsed.Statement
}

// TestProbeHoldsExactlyWhatItsCodeCalls: the health probe's role, against the
// interfaces its code holds (probe.ParameterStore on its three parameters,
// probe.MarkTable on this Region's mark table for the catch-up gate), both ways; and
// KMS decryption of its SecureString secret only through SSM, which SSM performs with
// the caller's role.
func TestProbeHoldsExactlyWhatItsCodeCalls(t *testing.T) {
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			res := mustDeploy(t, role, nil)
			own := regionOf(role)
			prefix := map[string]string{
				"ssm":      "arn:aws:ssm:" + own + ":" + testAccount + ":parameter/iotdr/probe/",
				"dynamodb": "arn:aws:dynamodb:" + own + ":" + testAccount + ":table/iotdr-apply-marks",
			}
			want := map[string]int{} // action -> resources it is called on
			for _, u := range []struct {
				iface   reflect.Type
				service string
				n       int
			}{
				{reflect.TypeFor[probe.ParameterStore](), "ssm", 3}, // secret, certificate, force-fail
				{reflect.TypeFor[probe.MarkTable](), "dynamodb", 1},
			} {
				for i := range u.iface.NumMethod() {
					want[u.service+":"+u.iface.Method(i).Name] = u.n
				}
			}
			granted := map[string]bool{}
			for _, s := range policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", spec.FunctionHealthProbe)) {
				if s.Sid == "WriteOwnLogs" {
					continue
				}
				for _, a := range s.Action {
					granted[a] = true
					if a == "kms:Decrypt" {
						if s.Condition["StringEquals"]["kms:ViaService"] != "ssm."+own+".amazonaws.com" {
							t.Errorf("kms:Decrypt not limited to SSM in %s: %v", own, s.Condition)
						}
						continue
					}
					n, ok := want[a]
					if !ok {
						t.Errorf("the probe holds %s, which its code never calls", a)
						continue
					}
					service, _, _ := strings.Cut(a, ":")
					if len(s.Resource) != n {
						t.Errorf("%s on %d resources %v, want %d", a, len(s.Resource), s.Resource, n)
					}
					for _, r := range s.Resource {
						if !strings.HasPrefix(r, prefix[service]) {
							t.Errorf("%s on %s, not the probe's own %s resource", a, r, service)
						}
					}
				}
			}
			for a := range want {
				if !granted[a] {
					t.Errorf("the probe may not call %s, which its code calls", a)
				}
			}
			if !granted["kms:Decrypt"] {
				t.Error("the probe cannot decrypt its SecureString secret")
			}
		})
	}
}
