package deploy

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
// offers no resource-level permission for them. Every iot: action among them is also
// held to the stack's own Region by an aws:RequestedRegion condition (inRegion).
var wildcardActions = map[string]string{
	"cloudwatch:PutMetricData":         "no resource types; scoped by the cloudwatch:namespace condition instead",
	"iot:DescribeEndpoint":             "no resource types",
	"iot:RegisterCertificateWithoutCA": "no resource types",
	"iot:ListThings":                   "no resource types",
	"iot:ListThingTypes":               "no resource types",
	"iot:ListThingGroups":              "no resource types",
	"iot:ListBillingGroups":            "no resource types",
	"iot:ListPolicies":                 "no resource types",
	"iot:ListRetainedMessages":         "no resource types",
	"iot:GetIndexingConfiguration":     "no resource types (an account-and-Region setting)",
	"iot:UpdateIndexingConfiguration":  "no resource types (an account-and-Region setting)",
	"iot:ListRoleAliases":              "no resource types",
	"iot:ListProvisioningTemplates":    "no resource types",
	"iot:ListCACertificates":           "no resource types",
	"iot:RegisterCACertificate":        "no resource types",
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

// inRegion limits a statement on Resource "*" to requests to region: the actions that
// have no resource types would otherwise reach every Region's IoT.
func inRegion(region string) map[string]map[string]string {
	return map[string]map[string]string{"StringEquals": {"aws:RequestedRegion": region}}
}

// IoT permissions of the pipeline's functions. They follow the calls the handlers make
// (functions/capture through replication.Source and replication.SourceShadows, and
// functions/apply through replication.IoT and replication.Shadows); keep them in step
// (TestPipelineMayCallWhatItsHandlersCall checks every client method by reflection).
// Every grant names the stack's own Region: capture reads the Region where changes
// happen, apply writes the Region it converges, and neither ever calls the other.
var (
	// captureReadActions are the registry reads of a capture (replication.Source
	// without the listings, which have no resource types: see listActions).
	captureReadActions = []string{
		"iot:DescribeThing", "iot:ListThingPrincipals", "iot:ListPrincipalThings",
		"iot:DescribeCertificate", "iot:GetPolicy", "iot:ListAttachedPolicies",
		"iot:DescribeThingType", "iot:DescribeThingGroup",
		"iot:ListThingGroupsForThing", "iot:ListThingsInThingGroup",
		"iot:DescribeBillingGroup", "iot:ListTagsForResource",
	}
	// applyReadActions are what converging reads of the Region it writes, beyond the
	// capture's reads.
	applyReadActions = []string{"iot:ListPolicyVersions", "iot:ListTargetsForPolicy"}
	// applyWriteActions converge a Region's registry.
	applyWriteActions = []string{
		"iot:CreateThing", "iot:UpdateThing", "iot:DeleteThing",
		"iot:AttachThingPrincipal", "iot:DetachThingPrincipal",
		"iot:UpdateCertificate", "iot:DeleteCertificate",
		"iot:CreatePolicy", "iot:CreatePolicyVersion", "iot:DeletePolicyVersion", "iot:DeletePolicy",
		"iot:AttachPolicy", "iot:DetachPolicy",
		"iot:CreateThingType", "iot:UpdateThingType", "iot:DeprecateThingType", "iot:DeleteThingType",
		"iot:CreateThingGroup", "iot:UpdateThingGroup", "iot:DeleteThingGroup",
		"iot:CreateDynamicThingGroup", "iot:UpdateDynamicThingGroup", "iot:DeleteDynamicThingGroup",
		"iot:AddThingToThingGroup", "iot:RemoveThingFromThingGroup",
		"iot:CreateBillingGroup", "iot:UpdateBillingGroup", "iot:DeleteBillingGroup",
		"iot:AddThingToBillingGroup", "iot:RemoveThingFromBillingGroup",
		"iot:TagResource", "iot:UntagResource",
	}
	// retainedReadAction reads one topic's retained message (capture.RetainedMessages,
	// replication.RetainedTarget); retainedWriteActions publish it retained: AWS
	// authorises a Publish with the retain flag as iot:Publish and iot:RetainPublish.
	// Both on this Region's topics only.
	retainedReadAction   = "iot:GetRetainedMessage"
	retainedWriteActions = []string{"iot:Publish", "iot:RetainPublish"}
	shadowReadActions    = []string{"iot:GetThingShadow", "iot:ListNamedShadowsForThing"}
	shadowWriteActions   = []string{"iot:UpdateThingShadow", "iot:DeleteThingShadow"}
	// onboardingReadActions read one role alias, provisioning template or CA
	// certificate (replication.ProvisioningSource: the sweep, a re-capture, the
	// apply); onboardingListActions page them (the sweep; no resource types);
	// onboardingWriteActions converge them (replication.Provisioning), with
	// RegisterCACertificate, which has no resource types, in ConvergeUnscoped.
	onboardingReadActions  = []string{"iot:DescribeRoleAlias", "iot:DescribeProvisioningTemplate", "iot:DescribeCACertificate"}
	onboardingListActions  = []string{"iot:ListRoleAliases", "iot:ListProvisioningTemplates", "iot:ListCACertificates"}
	onboardingWriteActions = []string{
		"iot:CreateRoleAlias", "iot:UpdateRoleAlias", "iot:DeleteRoleAlias",
		"iot:CreateProvisioningTemplate", "iot:UpdateProvisioningTemplate", "iot:DeleteProvisioningTemplate",
		"iot:CreateProvisioningTemplateVersion", "iot:ListProvisioningTemplateVersions", "iot:DeleteProvisioningTemplateVersion",
		"iot:UpdateCACertificate", "iot:DeleteCACertificate",
	}
	onboardingKinds = []string{"rolealias", "provisioningtemplate", "cacert"}
	// iotKinds are the IoT resource types the pipeline reads and converges (and
	// tags: ListTagsForResource, TagResource and UntagResource name the resource).
	iotKinds = slices.Concat([]string{"thing", "thingtype", "thinggroup", "billinggroup", "cert", "policy"}, onboardingKinds)
)

// captureStatements let a function read its own Region's registry (and, with shadows,
// its classic shadows) the way a capture does; sweep adds listing every resource.
func captureStatements(region, account string, shadows, sweep bool) []statement {
	read := captureReadActions
	if shadows {
		read = slices.Concat(read, shadowReadActions)
	}
	out := []statement{
		{Sid: "CaptureReadRegistry", Actions: read, Resources: iotResources(region, account, iotKinds...)},
		// Looking up the data endpoint at cold start (awsclients.DataPlane).
		{Sid: "FindDataEndpoint", Actions: []string{"iot:DescribeEndpoint"}, Resources: []pulumi.StringInput{anyResource}, Condition: inRegion(region)},
	}
	if shadows {
		// Every capture but the re-check's (which reads a thing's attachments only)
		// captures thing groups, and reads the Region's fleet indexing for a dynamic
		// group's query (capture.Capturer.Indexing).
		out = append(out, statement{Sid: "ReadIndexing", Actions: []string{"iot:GetIndexingConfiguration"}, Resources: []pulumi.StringInput{anyResource}, Condition: inRegion(region)})
	}
	if sweep {
		out = append(out, statement{
			Sid: "SweepListRegistry", Actions: slices.Concat([]string{"iot:ListThingTypes", "iot:ListThingGroups", "iot:ListThings", "iot:ListBillingGroups", "iot:ListPolicies", "iot:ListRetainedMessages"}, onboardingListActions),
			Resources: []pulumi.StringInput{anyResource}, Condition: inRegion(region),
		}, readRetained(region, account), readOnboarding(region, account))
	}
	return out
}

// readOnboarding lets a function read the Region's role aliases, provisioning
// templates and CA certificates one by one (the sweep, a re-capture).
func readOnboarding(region, account string) statement {
	return statement{Sid: "ReadOnboarding", Actions: onboardingReadActions, Resources: iotResources(region, account, onboardingKinds...)}
}

// passOnboardingRoles lets the apply hand IoT the roles a role alias or a provisioning
// template names (CreateRoleAlias, UpdateRoleAlias, CreateProvisioningTemplate and
// UpdateProvisioningTemplate need iam:PassRole on the role), only those roles
// (iotdr:onboardingRoles: names or name prefixes), and only to IoT; none when none
// is configured.
func passOnboardingRoles(account string, roles []string) []statement {
	if len(roles) == 0 {
		return nil
	}
	st := statement{Sid: "PassOnboardingRoles", Actions: []string{"iam:PassRole"}}
	for _, r := range roles {
		st.Resources = append(st.Resources, pulumi.String(fmt.Sprintf("arn:aws:iam::%s:role/%s", account, r)))
	}
	return []statement{st}
}

// readRetained lets a function read the Region's retained messages, topic by topic.
func readRetained(region, account string) statement {
	return statement{Sid: "ReadRetained", Actions: []string{retainedReadAction}, Resources: iotResources(region, account, "topic")}
}

// applyStatements let a function converge its own Region's registry and shadows, and
// nothing else's: every IoT ARN names region, every Resource "*" is held to it; roles
// are the IAM roles it may pass (passOnboardingRoles).
func applyStatements(region, account string, roles []string) []statement {
	return append([]statement{
		{
			Sid: "ConvergeRegistry",
			Actions: slices.Concat(captureReadActions, applyReadActions, applyWriteActions, shadowReadActions, shadowWriteActions,
				onboardingReadActions, onboardingWriteActions),
			Resources: iotResources(region, account, iotKinds...),
		},
		// Registering a certificate or a CA certificate names none yet; listing child
		// groups (group-tree deletes) and the things of a type (a type is only deleted
		// when unused) has no resource types, nor has the Region's fleet indexing,
		// which a dynamic group's apply raises to what its query needs (merged, never
		// lowered).
		{
			Sid: "ConvergeUnscoped", Actions: []string{"iot:RegisterCertificateWithoutCA", "iot:RegisterCACertificate", "iot:ListThingGroups", "iot:ListThings",
				"iot:GetIndexingConfiguration", "iot:UpdateIndexingConfiguration"},
			Resources: []pulumi.StringInput{anyResource}, Condition: inRegion(region),
		},
		{Sid: "FindDataEndpoint", Actions: []string{"iot:DescribeEndpoint"}, Resources: []pulumi.StringInput{anyResource}, Condition: inRegion(region)},
		// Converging a retained message: read it, publish it retained (or delete it
		// with an empty retained publish).
		{Sid: "ConvergeRetained", Actions: slices.Concat([]string{retainedReadAction}, retainedWriteActions), Resources: iotResources(region, account, "topic")},
	}, passOnboardingRoles(account, roles)...)
}

// metricStatement allows publishing to namespace only.
func metricStatement(namespace string) statement {
	return statement{
		Sid: "PublishMetrics", Actions: []string{"cloudwatch:PutMetricData"}, Resources: []pulumi.StringInput{anyResource},
		Condition: map[string]map[string]string{"StringEquals": {"cloudwatch:namespace": namespace}},
	}
}
