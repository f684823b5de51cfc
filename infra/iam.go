package main

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// statement is one IAM policy statement whose resources may be outputs of other
// resources (ARNs known only after they are created).
type statement struct {
	Sid       string
	Actions   []string
	Resources []pulumi.StringInput
	Condition map[string]map[string]string
}

// anyResource is the bare "*" resource. It is only used for actions that support no
// resource-level permissions; wildcardActions lists them and a test enforces it.
var anyResource = pulumi.String("*")

// wildcardActions are the actions this program grants on Resource "*" because AWS
// offers no resource-level permission for them.
var wildcardActions = map[string]string{
	"cloudwatch:PutMetricData":         "no resource types; scoped by the cloudwatch:namespace condition instead",
	"iot:DescribeEndpoint":             "no resource types",
	"iot:RegisterCertificateWithoutCA": "no resource types",
	"iot:ListThings":                   "no resource types",
	"iot:ListThingTypes":               "no resource types",
	"iot:ListThingGroups":              "no resource types",
	// Step Functions' CloudWatch Logs delivery: AWS documents these with Resource "*".
	"logs:CreateLogDelivery":        "log delivery API has no resource types",
	"logs:GetLogDelivery":           "log delivery API has no resource types",
	"logs:UpdateLogDelivery":        "log delivery API has no resource types",
	"logs:DeleteLogDelivery":        "log delivery API has no resource types",
	"logs:ListLogDeliveries":        "log delivery API has no resource types",
	"logs:PutResourcePolicy":        "log delivery API has no resource types",
	"logs:DescribeResourcePolicies": "log delivery API has no resource types",
	"logs:DescribeLogGroups":        "log delivery API has no resource types",
}

// policyDocument renders statements as an IAM policy JSON once every resource ARN is known.
func policyDocument(stmts []statement) pulumi.StringOutput {
	var inputs []any
	for _, s := range stmts {
		for _, r := range s.Resources {
			inputs = append(inputs, r)
		}
	}
	return pulumi.All(inputs...).ApplyT(func(vals []any) (string, error) {
		type jsonStatement struct {
			Sid       string                       `json:"Sid,omitempty"`
			Effect    string                       `json:"Effect"`
			Action    []string                     `json:"Action"`
			Resource  []string                     `json:"Resource"`
			Condition map[string]map[string]string `json:"Condition,omitempty"`
		}
		doc := struct {
			Version   string          `json:"Version"`
			Statement []jsonStatement `json:"Statement"`
		}{Version: "2012-10-17"}
		i := 0
		for _, s := range stmts {
			js := jsonStatement{Sid: s.Sid, Effect: "Allow", Action: s.Actions, Condition: s.Condition}
			for range s.Resources {
				arn, _ := vals[i].(string)
				i++
				if arn == "" {
					return "", fmt.Errorf("iam: statement %q has an empty resource", s.Sid)
				}
				js.Resource = append(js.Resource, arn)
			}
			doc.Statement = append(doc.Statement, js)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return "", fmt.Errorf("iam: encode policy: %w", err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
}

// assumeRolePolicy lets service (e.g. lambda.amazonaws.com) assume a role. When
// account is set the trust is limited to requests on behalf of that account, which
// guards against the confused-deputy problem for services that send aws:SourceAccount.
func assumeRolePolicy(service, account string) string {
	st := map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]string{"Service": service},
		"Action":    "sts:AssumeRole",
	}
	if account != "" {
		st["Condition"] = map[string]any{"StringEquals": map[string]string{"aws:SourceAccount": account}}
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
	return string(b)
}

// role is an IAM role and its inline policy. Users of the role depend on Ready, so
// services that check permissions at creation (event source mappings, Step Functions
// logging) see the policy already in place.
type role struct {
	*iam.Role
	Ready []pulumi.Resource
}

// newRole creates a role that service may assume, with one inline policy.
func newRole(ctx *pulumi.Context, name, service, account string, stmts []statement, opts ...pulumi.ResourceOption) (*role, error) {
	r, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(assumeRolePolicy(service, account)),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", name, err)
	}
	pol, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
		Role:   r.ID(),
		Policy: policyDocument(stmts),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("role policy %s: %w", name, err)
	}
	return &role{Role: r, Ready: []pulumi.Resource{r, pol}}, nil
}

// arn formats an ARN in this partition.
func arn(service, region, account, resource string) pulumi.String {
	return pulumi.String(fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, account, resource))
}

// iotResources returns the ARN patterns of the given IoT resource kinds in region.
func iotResources(region, account string, kinds ...string) []pulumi.StringInput {
	var out []pulumi.StringInput
	for _, k := range kinds {
		out = append(out, arn("iot", region, account, k+"/*"))
	}
	return out
}

// IoT permissions of the workers: read the source's current state, read and write this
// Region's. They follow the calls of functions/replication; keep them in step with it
// (TestWorkersMayCallEveryReplicationMethod checks that every client method is granted).
// Converging a thing also converges its type, its certificates with their policies and
// its group memberships (creating missing groups), and converging a group's membership
// may converge the thing, so the thing and thing-group workers share one set.
var (
	registryReadActions = []string{
		"iot:DescribeThing", "iot:ListThingPrincipals", "iot:ListThingGroupsForThing",
		"iot:DescribeCertificate", "iot:ListAttachedPolicies", "iot:ListPrincipalThings",
		"iot:GetPolicy", "iot:ListPolicyVersions", "iot:ListTargetsForPolicy",
		"iot:DescribeThingType", "iot:DescribeThingGroup", "iot:ListThingsInThingGroup",
	}
	registryWriteActions = []string{
		"iot:CreateThing", "iot:UpdateThing", "iot:DeleteThing",
		"iot:AttachThingPrincipal", "iot:DetachThingPrincipal",
		"iot:UpdateCertificate", "iot:DeleteCertificate",
		"iot:CreatePolicy", "iot:CreatePolicyVersion", "iot:DeletePolicyVersion", "iot:DeletePolicy",
		"iot:AttachPolicy", "iot:DetachPolicy",
		"iot:CreateThingType", "iot:DeprecateThingType", "iot:DeleteThingType",
		"iot:CreateThingGroup", "iot:UpdateThingGroup", "iot:DeleteThingGroup",
		"iot:AddThingToThingGroup", "iot:RemoveThingFromThingGroup",
	}
	thingTypeReadActions  = []string{"iot:DescribeThingType"}
	thingTypeWriteActions = []string{"iot:CreateThingType", "iot:DeprecateThingType", "iot:DeleteThingType"}
	shadowReadActions     = []string{"iot:GetThingShadow"}
	shadowWriteActions    = []string{"iot:UpdateThingShadow", "iot:DeleteThingShadow"}
	iotKinds              = []string{"thing", "thingtype", "thinggroup", "cert", "policy"}
)

// workerStatements are the IoT permissions of one worker family: reads in the source
// Region and reads plus writes in the target Region, on the resource kinds it touches.
func workerStatements(sid string, src, dst, account string, read, write []string, kinds ...string) []statement {
	return []statement{
		{Sid: sid + "ReadSource", Actions: read, Resources: iotResources(src, account, kinds...)},
		{Sid: sid + "ConvergeTarget", Actions: slices.Concat(read, write), Resources: iotResources(dst, account, kinds...)},
	}
}

// metricStatement allows publishing to namespace only.
func metricStatement(namespace string) statement {
	return statement{
		Sid: "PublishMetrics", Actions: []string{"cloudwatch:PutMetricData"}, Resources: []pulumi.StringInput{anyResource},
		Condition: map[string]map[string]string{"StringEquals": {"cloudwatch:namespace": namespace}},
	}
}
