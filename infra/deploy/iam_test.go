package deploy

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
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
			res := mustDeploy(t, role, nil)
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
			fns := []string{spec.FunctionRedrive}
			if role == spec.RoleSecondary {
				fns = append(fns, spec.FunctionApply)
			} else {
				fns = append(fns, spec.FunctionCapture, spec.FunctionRecheck, spec.FunctionSweep)
			}
			for _, fn := range fns {
				if iotGrants[fn] == 0 {
					t.Errorf("%s holds no IoT statement: the walk saw nothing to check", fn)
				}
			}
		})
	}
}

// TestApplyHoldsNoWriteOnTheSourceRegion: the apply side (apply, and redrive in the
// applying stack) may write only its own Region's IoT; the capture side holds no IoT
// write at all.
func TestApplyHoldsNoWriteOnTheSourceRegion(t *testing.T) {
	writes := map[string]bool{}
	for _, a := range slices.Concat(applyWriteActions, shadowWriteActions, []string{"iot:RegisterCertificateWithoutCA"}) {
		writes[a] = true
	}
	for _, tc := range []struct {
		role     string
		fn       string
		mayWrite bool
	}{
		{spec.RoleSecondary, spec.FunctionApply, true},
		{spec.RoleSecondary, spec.FunctionRedrive, true},
		{spec.RolePrimary, spec.FunctionCapture, false},
		{spec.RolePrimary, spec.FunctionRecheck, false},
		{spec.RolePrimary, spec.FunctionSweep, false},
		{spec.RolePrimary, spec.FunctionRedrive, false},
	} {
		t.Run(tc.role+"/"+tc.fn, func(t *testing.T) {
			res := mustDeploy(t, tc.role, nil)
			own := regionOf(tc.role)
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

// TestPipelineMayCallWhatItsHandlersCall: the IoT actions are kept by hand beside the
// client interfaces the handlers use; every method of those interfaces is an IAM action
// of the same name, which the function must hold on its own Region.
func TestPipelineMayCallWhatItsHandlersCall(t *testing.T) {
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
	source := methods(reflect.TypeFor[replication.Source]())
	sourceShadows := methods(reflect.TypeFor[replication.SourceShadows]())
	target := methods(reflect.TypeFor[replication.IoT]())
	targetShadows := methods(reflect.TypeFor[replication.Shadows]())
	// Only the sweep lists whole registries; only a full reconcile (which no Lambda
	// runs) lists every thing type on the target.
	sweepOnly := map[string]bool{"iot:ListThings": true, "iot:ListThingTypes": true, "iot:ListThingGroups": true}
	reconcileOnly := map[string]bool{"iot:ListThingTypes": true}
	for a := range sweepOnly {
		if !slices.Contains(source, a) {
			t.Errorf("exception %s is not a replication.Source method any more", a)
		}
	}
	for _, tc := range []struct {
		role    string
		fn      string
		actions []string
		except  map[string]bool
	}{
		{spec.RolePrimary, spec.FunctionCapture, slices.Concat(source, sourceShadows), sweepOnly},
		{spec.RolePrimary, spec.FunctionRecheck, source, sweepOnly},
		{spec.RolePrimary, spec.FunctionSweep, slices.Concat(source, sourceShadows), nil},
		{spec.RolePrimary, spec.FunctionRedrive, slices.Concat(source, sourceShadows), sweepOnly},
		{spec.RoleSecondary, spec.FunctionApply, slices.Concat(target, targetShadows), reconcileOnly},
		{spec.RoleSecondary, spec.FunctionRedrive, slices.Concat(target, targetShadows), reconcileOnly},
	} {
		t.Run(tc.role+"/"+tc.fn, func(t *testing.T) {
			res := mustDeploy(t, tc.role, nil)
			own := regionOf(tc.role)
			stmts := policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", tc.fn))
			granted := func(action string) bool {
				for _, s := range stmts {
					if !slices.Contains(s.Action, action) {
						continue
					}
					for _, r := range s.Resource {
						if r == "*" || strings.HasPrefix(r, "arn:aws:iot:"+own+":") {
							return true
						}
					}
				}
				return false
			}
			for _, a := range tc.actions {
				if !tc.except[a] && !granted(a) {
					t.Errorf("%s may not call %s in %s, which its handler calls", tc.fn, a, own)
				}
			}
			if !granted("iot:DescribeEndpoint") {
				t.Errorf("%s may not look up its data endpoint", tc.fn)
			}
		})
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

// TestPipelineMayUseItsTables: each function may make the DynamoDB calls its handler
// makes, on its own Region's tables: capture's conditional writes and reads of the
// state table, the sweep's and the re-apply's scans, every function's error records,
// the redrive's drain of the error table.
func TestPipelineMayUseItsTables(t *testing.T) {
	const state, errs = "-state", "-errors"
	for _, tc := range []struct {
		role, fn string
		want     map[string][]string // table suffix -> actions
	}{
		{spec.RolePrimary, spec.FunctionCapture, map[string][]string{state: {"dynamodb:GetItem", "dynamodb:PutItem"}, errs: {"dynamodb:PutItem"}}},
		{spec.RolePrimary, spec.FunctionRecheck, map[string][]string{state: {"dynamodb:GetItem", "dynamodb:PutItem"}}},
		{spec.RolePrimary, spec.FunctionSweep, map[string][]string{state: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"}, errs: {"dynamodb:PutItem"}}},
		{spec.RolePrimary, spec.FunctionRedrive, map[string][]string{state: {"dynamodb:GetItem", "dynamodb:PutItem"}, errs: {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:PutItem"}}},
		{spec.RoleSecondary, spec.FunctionApply, map[string][]string{state: {"dynamodb:GetItem"}, errs: {"dynamodb:PutItem"}}},
		{spec.RoleSecondary, spec.FunctionRedrive, map[string][]string{state: {"dynamodb:GetItem", "dynamodb:Scan"}, errs: {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:PutItem"}}},
	} {
		t.Run(tc.role+"/"+tc.fn, func(t *testing.T) {
			res := mustDeploy(t, tc.role, nil)
			own := regionOf(tc.role)
			stmts := policyStatements(t, res.m.one(t, "aws:iam/rolePolicy:RolePolicy", tc.fn))
			for table, actions := range tc.want {
				for _, a := range actions {
					ok := false
					for _, s := range stmts {
						if !slices.Contains(s.Action, a) {
							continue
						}
						for _, r := range s.Resource {
							if strings.HasPrefix(r, "arn:aws:dynamodb:"+own+":") && strings.Contains(r, table) {
								ok = true
							}
						}
					}
					if !ok {
						t.Errorf("%s may not call %s on its %s table in %s", tc.fn, a, strings.TrimPrefix(table, "-"), own)
					}
				}
			}
		})
	}
}
