package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iot"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Capture is the primary's change capture: registry events switched on, fleet
// indexing, the two topic rules writing into the event table, and the device policy.
type Capture struct {
	pulumi.ResourceState

	Rules        []*iot.TopicRule
	DevicePolicy *iot.Policy
}

func newCapture(ctx *pulumi.Context, s *settings, account string, events *EventTable, opts ...pulumi.ResourceOption) (*Capture, error) {
	c := &Capture{}
	if err := ctx.RegisterComponentResource("iotdr:replication:Capture", "capture", c, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(c)

	// Exactly the registry events the capture rule's SQL selects.
	enabled := pulumi.BoolMap{}
	for _, t := range spec.RegistryEventConfigurations() {
		enabled[t] = pulumi.Bool(true)
	}
	// EventConfigurations and IndexingConfiguration are per-account-and-Region
	// singletons: adopting them changes settings other stacks might also manage.
	if _, err := iot.NewEventConfigurations(ctx, "registry-events", &iot.EventConfigurationsArgs{
		EventConfigurations: enabled,
	}, child); err != nil {
		return nil, fmt.Errorf("registry events: %w", err)
	}
	if _, err := iot.NewIndexingConfiguration(ctx, "thing-indexing", &iot.IndexingConfigurationArgs{
		ThingIndexingConfiguration: &iot.IndexingConfigurationThingIndexingConfigurationArgs{
			ThingIndexingMode: pulumi.String("REGISTRY"),
		},
	}, child); err != nil {
		return nil, fmt.Errorf("thing indexing: %w", err)
	}

	errorLogs, err := cloudwatch.NewLogGroup(ctx, "rule-errors", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/iot/" + s.Prefix + "-rule-errors"),
		RetentionInDays: pulumi.Int(s.LogRetentionDays),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("rule error log group: %w", err)
	}
	ruleRole, err := newRole(ctx, "capture-rules", "iot.amazonaws.com", account, []statement{
		{Sid: "WriteEvents", Actions: []string{"dynamodb:PutItem"}, Resources: []pulumi.StringInput{events.Table.Arn}},
		{
			Sid:       "WriteRuleErrors",
			Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
			Resources: []pulumi.StringInput{pulumi.Sprintf("%s:*", errorLogs.Arn)},
		},
	}, child)
	if err != nil {
		return nil, err
	}

	rules, err := spec.CaptureRules(s.PrimaryRegion, s.EventTTL)
	if err != nil {
		return nil, fmt.Errorf("capture rules: %w", err)
	}
	for _, r := range rules {
		rule, err := iot.NewTopicRule(ctx, r.Name, &iot.TopicRuleArgs{
			Name:        pulumi.String(r.Name),
			Description: pulumi.String("iot-dr: capture into the replicated event table"),
			Enabled:     pulumi.Bool(true),
			Sql:         pulumi.String(r.SQL),
			SqlVersion:  pulumi.String(spec.SQLVersion),
			Dynamodbv2s: iot.TopicRuleDynamodbv2Array{&iot.TopicRuleDynamodbv2Args{
				RoleArn: ruleRole.Arn,
				PutItem: &iot.TopicRuleDynamodbv2PutItemArgs{TableName: events.Table.Name},
			}},
			// A failed write must not vanish silently: it lands in a log group with
			// the message, so a lost event can be found and replayed.
			ErrorAction: &iot.TopicRuleErrorActionArgs{
				CloudwatchLogs: &iot.TopicRuleErrorActionCloudwatchLogsArgs{
					LogGroupName: errorLogs.Name,
					RoleArn:      ruleRole.Arn,
				},
			},
		}, child, pulumi.DependsOn(ruleRole.Ready))
		if err != nil {
			return nil, fmt.Errorf("topic rule %s: %w", r.Name, err)
		}
		c.Rules = append(c.Rules, rule)
	}

	doc, err := spec.DevicePolicy(s.PrimaryRegion, account)
	if err != nil {
		return nil, fmt.Errorf("device policy: %w", err)
	}
	c.DevicePolicy, err = iot.NewPolicy(ctx, "device-policy", &iot.PolicyArgs{
		Name:   pulumi.String(spec.DevicePolicyName),
		Policy: pulumi.String(doc),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("device policy: %w", err)
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"devicePolicy": c.DevicePolicy.Name}); err != nil {
		return nil, err
	}
	return c, nil
}
