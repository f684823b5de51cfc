package deploy

import (
	"maps"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		edit map[string]string // "" deletes the key
		want string
	}{
		{"missing primary Region", map[string]string{"primaryRegion": ""}, "iotdr:primaryRegion is required"},
		{"missing secondary Region", map[string]string{"secondaryRegion": ""}, "iotdr:secondaryRegion is required"},
		{"missing domain", map[string]string{"domain": ""}, "iotdr:domain is required"},
		{"missing hosted zone", map[string]string{"hostedZoneId": ""}, "iotdr:hostedZoneId is required"},
		{"missing probe secret", map[string]string{"probeSecret": ""}, "iotdr:probeSecret is required"},
		{"equal Regions", map[string]string{"secondaryRegion": testPrimary}, "iotdr:secondaryRegion must differ from iotdr:primaryRegion"},
		{"malformed Region", map[string]string{"primaryRegion": "Europe"}, `iotdr:primaryRegion "Europe" is not an AWS Region`},
		{"interval 20", map[string]string{"healthCheckInterval": "20"}, "iotdr:healthCheckInterval Route 53 supports a request interval of 10 or 30"},
		{"interval 5", map[string]string{"healthCheckInterval": "5"}, "iotdr:healthCheckInterval Route 53 supports a request interval of 10 or 30"},
		{"interval not a number", map[string]string{"healthCheckInterval": "fast"}, "iotdr:healthCheckInterval must be an integer"},
		{"threshold 0", map[string]string{"healthCheckFailureThreshold": "0"}, "iotdr:healthCheckFailureThreshold must be between 1 and 10, got 0"},
		{"threshold 11", map[string]string{"healthCheckFailureThreshold": "11"}, "iotdr:healthCheckFailureThreshold must be between 1 and 10, got 11"},
		{"domain with underscore", map[string]string{"domain": "iot_devices.example.com"}, `iotdr:domain "iot_devices.example.com" is not a valid domain name`},
		{"domain at apex", map[string]string{"domain": "example.com"}, "iotdr:domain \"example.com\" must be a subdomain"},
		{"domain with leading hyphen", map[string]string{"domain": "-iot.example.com"}, "is not a valid domain name"},
		{"domain with empty label", map[string]string{"domain": "iot..example.com"}, "is not a valid domain name"},
		{"domain outside the zone", map[string]string{"domain": "iot.example.org"}, `iotdr:domain "iot.example.org" is not inside hosted zone`},
		{"weak secret", map[string]string{"probeSecret": "short"}, "iotdr:probeSecret must be 32-128 characters"},
		{"unknown role", map[string]string{"role": "tertiary"}, `iotdr:role must be "primary" or "secondary"`},
		{"record TTL too long", map[string]string{"recordTtl": "300"}, "iotdr:recordTtl must be between 1 and 60"},
		{"probe timeout beyond Route 53's window", map[string]string{"probeTimeoutMs": "5000"}, "iotdr:probeTimeoutMs must be between 100 and 1800"},
		{"retired event TTL", map[string]string{"eventTtl": "168h"}, "iotdr:eventTtl is no longer used"},
		{"retired reconcile schedule", map[string]string{"reconcileSchedule": "rate(5 minutes)"}, "iotdr:reconcileSchedule is no longer used: the reconciler is gone: set iotdr:sweepSchedule"},
		{"too few checker Regions", map[string]string{"healthCheckRegions": "us-east-1,eu-west-1"}, "iotdr:healthCheckRegions Route 53 needs at least 3"},
		{"sweep schedule not an expression", map[string]string{"sweepSchedule": "every hour"}, `iotdr:sweepSchedule must be an EventBridge rate(...) or cron(...) expression such as rate(1 hour), got "every hour"`},
		{"sweep schedule plural for 1", map[string]string{"sweepSchedule": "rate(1 hours)"}, "iotdr:sweepSchedule \"rate(1 hours)\": EventBridge wants a singular unit for 1"},
		{"sweep schedule zero", map[string]string{"sweepSchedule": "rate(0 hours)"}, "iotdr:sweepSchedule must be an EventBridge"},
		{"sweep schedule seconds", map[string]string{"sweepSchedule": "rate(30 seconds)"}, "iotdr:sweepSchedule must be an EventBridge"},
		{"sweep cron with 5 fields", map[string]string{"sweepSchedule": "cron(0 * * * *)"}, "iotdr:sweepSchedule \"cron(0 * * * *)\": an EventBridge cron expression has 6 fields"},
		{"redrive schedule not an expression", map[string]string{"redriveSchedule": "5m"}, "iotdr:redriveSchedule must be an EventBridge"},
		{"redrive schedule singular for 5", map[string]string{"redriveSchedule": "rate(5 minute)"}, "iotdr:redriveSchedule \"rate(5 minute)\": EventBridge wants a singular unit for 1 and a plural one otherwise"},
		{"redrive schedule unclosed cron", map[string]string{"redriveSchedule": "cron(0/5 * * * ? *"}, "iotdr:redriveSchedule must be an EventBridge"},
		{"bad retention", map[string]string{"logRetentionDays": "10"}, "iotdr:logRetentionDays must be one of"},
		{"rate plural for 1 minute", map[string]string{"redriveSchedule": "rate(1 minutes)"}, "iotdr:redriveSchedule \"rate(1 minutes)\": EventBridge wants a singular unit for 1"},
		{"not a checker Region", map[string]string{"healthCheckRegions": "us-east-1,eu-west-1,eu-central-1"}, `iotdr:healthCheckRegions "eu-central-1" is not a Route 53 health-checker Region`},
		{"checker Region twice", map[string]string{"healthCheckRegions": "us-east-1,eu-west-1,us-east-1"}, `iotdr:healthCheckRegions lists "us-east-1" twice`},
		{"every role passable", map[string]string{"onboardingRoles": "iot-provisioning,*"}, `iotdr:onboardingRoles "*": name an IAM role`},
		{"role ARN for a name", map[string]string{"onboardingRoles": "arn:aws:iam::123456789012:role/x"}, `iotdr:onboardingRoles "arn:aws:iam::123456789012:role/x": give the role's name`},
		{"role name with a space", map[string]string{"onboardingRoles": "iot provisioning"}, `iotdr:onboardingRoles "iot provisioning" is not an IAM role name`},
		{"certificate of another Region", map[string]string{"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}, `iotdr:certificateArn "arn:aws:acm:us-east-1:123456789012:certificate/abc" is a certificate in us-east-1, but this stack deploys to ` + testPrimary},
		{"certificate of another partition", map[string]string{"certificateArn": "arn:aws-cn:acm:" + testPrimary + ":123456789012:certificate/abc"}, "is in the aws-cn partition"},
		{"certificate ARN of another service", map[string]string{"certificateArn": "arn:aws:iam::123456789012:server-certificate/abc"}, "is not an ACM certificate ARN"},
		{"certificate not an ARN", map[string]string{"certificateArn": "arn:aws-certificate"}, "is not an ACM certificate ARN"},
		{"GovCloud Region", map[string]string{"primaryRegion": "us-gov-west-1"}, `iotdr:primaryRegion "us-gov-west-1" is in the aws-us-gov partition`},
		{"China Region", map[string]string{"secondaryRegion": "cn-north-1"}, `iotdr:secondaryRegion "cn-north-1" is in the aws-cn partition`},
		{"alarm topic not SNS", map[string]string{"alarmTopicArn": "arn:aws:sqs:eu-west-1:123456789012:q"}, "iotdr:alarmTopicArn \"arn:aws:sqs:eu-west-1:123456789012:q\" is not an SNS topic ARN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(spec.RolePrimary)
			maps.Copy(cfg, tc.edit)
			for k, v := range cfg {
				if v == "" {
					delete(cfg, k)
				}
			}
			m := newMocks()
			_, err := deployMocked(t, spec.RolePrimary, cfg, m)
			if err == nil {
				t.Fatalf("deploy succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			if n := len(m.byType("aws:lambda/function:Function")); n != 0 {
				t.Errorf("%d functions created despite invalid config", n)
			}
		})
	}
}

func TestConfigReportsEveryProblemAtOnce(t *testing.T) {
	_, err := deployMocked(t, spec.RolePrimary, map[string]string{"healthCheckInterval": "15"}, newMocks())
	if err == nil {
		t.Fatal("deploy succeeded with an empty configuration")
	}
	for _, key := range []string{"primaryRegion", "secondaryRegion", "domain", "hostedZoneId", "probeSecret", "healthCheckInterval"} {
		if !strings.Contains(err.Error(), "iotdr:"+key) {
			t.Errorf("error does not mention iotdr:%s:\n%v", key, err)
		}
	}
}

func TestConfigRefusesPlainTextSecret(t *testing.T) {
	m := newMocks()
	m.plainSecret = true
	_, err := deployMocked(t, spec.RolePrimary, baseConfig(spec.RolePrimary), m)
	if err == nil || !strings.Contains(err.Error(), "iotdr:probeSecret is stored in plain text") {
		t.Fatalf("error %v, want the plain-text secret refused", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := parseSettings(secretSource(baseConfig(spec.RoleSecondary)), "anything", "acme", "iot-dr")
	if err != nil {
		t.Fatal(err)
	}
	if s.HealthInterval != 30 || s.HealthThreshold != 3 || s.RecordTTL != 60 || s.ProbeMessages != 3 || s.Prefix != "iotdr" ||
		s.SweepSchedule != "rate(1 hour)" || s.RedriveSchedule != "rate(5 minutes)" {
		t.Errorf("defaults %+v", s)
	}
	cfg := baseConfig(spec.RoleSecondary)
	delete(cfg, "primaryStack")
	delete(cfg, "role")
	s, err = parseSettings(secretSource(cfg), spec.RoleSecondary, "acme", "iot-dr")
	if err != nil {
		t.Fatal(err)
	}
	if s.Role != spec.RoleSecondary || s.PrimaryStack != "acme/iot-dr/primary" {
		t.Errorf("role %q, primary stack %q", s.Role, s.PrimaryStack)
	}
}

// secretSource is config whose probeSecret was set with --secret.
type secretSource map[string]string

func (m secretSource) Get(key string) string { return m[key] }

func (m secretSource) IsSecret(key string) bool { return key == "probeSecret" }

// TestValidScheduleAccepts: the expressions EventBridge takes pass, so the validation
// refuses only what EventBridge would refuse at `pulumi up`.
func TestValidScheduleAccepts(t *testing.T) {
	for _, expr := range []string{
		"rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(7 days)",
		"cron(0 * * * ? *)", "cron(0/15 8-18 ? * MON-FRI *)",
	} {
		if err := validSchedule(expr); err != nil {
			t.Errorf("validSchedule(%q) = %v", expr, err)
		}
	}
}

// TestConfigAcceptsCheckerRegionsAndOwnCertificate: the values the validation must
// let through.
func TestConfigAcceptsCheckerRegionsAndOwnCertificate(t *testing.T) {
	cfg := baseConfig(spec.RolePrimary)
	cfg["healthCheckRegions"] = "us-east-1, eu-west-1,ap-southeast-2"
	cfg["certificateArn"] = "arn:aws:acm:" + testPrimary + ":123456789012:certificate/0123-abcd"
	s, err := parseSettings(secretSource(cfg), spec.RolePrimary, "acme", "iot-dr")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.HealthRegions) != 3 || s.HealthRegions[1] != "eu-west-1" {
		t.Errorf("checker Regions %q", s.HealthRegions)
	}
}

// TestComponentArgsAreValidated: a program that builds the args itself gets the same
// checks as one reading the config, including ranges and required fields.
func TestComponentArgsAreValidated(t *testing.T) {
	good := DefaultConfig()
	good.PrimaryRegion, good.SecondaryRegion = testPrimary, testSecondary
	good.Domain, good.HostedZoneID, good.ProbeSecret = testDomain, "Z0123456789ABCDEFGHIJ", testSecret
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"missing domain", func(c *Config) { c.Domain = "" }, "iotdr:domain is required"},
		{"zero probe messages", func(c *Config) { c.ProbeMessages = 0 }, "iotdr:probeMessages must be between 1 and 100, got 0"},
		{"TTL too long", func(c *Config) { c.RecordTTL = 300 }, "iotdr:recordTtl must be between 1 and 60"},
		{"backoff below 1", func(c *Config) { c.Retry.BackoffRate = 0.5 }, "iotdr:retryBackoffRate must be between 1 and 10, got 0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				_, err := NewPrimary(ctx, "iotdr", &PrimaryArgs{Config: cfg, Builder: &fakeBuilder{}})
				return err
			}, pulumi.WithMocks("iot-dr", "primary", newMocks()))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	m := newMocks()
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewPrimary(ctx, "iotdr", &PrimaryArgs{Config: good, Builder: &fakeBuilder{}})
		return err
	}, pulumi.WithMocks("iot-dr", "any-stack-name", m))
	if err != nil {
		t.Fatalf("valid args refused: %v", err)
	}
	if len(m.byType("iotdr:index:Primary")) != 1 || len(m.byType("aws:dynamodb/table:Table")) == 0 {
		t.Error("NewPrimary created no Primary component with the state table under it")
	}
}
