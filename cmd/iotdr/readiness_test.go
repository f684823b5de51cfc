package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/readiness"
	"github.com/iot-dr/iot-dr/simserver"
	"github.com/iot-dr/iot-dr/simulator"
)

// TestReadinessFlags: bad flags and stack outputs are refused with exit 2 and a
// message naming what was wrong, before any AWS call.
func TestReadinessFlags(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "primary.json")
	if err := os.WriteFile(one, []byte(`{"role":"primary","region":"us-east-1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no stack outputs"},
		{[]string{"--stack-outputs", one}, "no secondary stack outputs"},
		{[]string{"--stack-outputs", one, "--min-days", "-1"}, "--min-days -1"},
		{[]string{"--stack-outputs", one, "--sample", "-3"}, "--sample -3"},
		{[]string{"--stack-outputs", one, "extra"}, `unexpected argument "extra"`},
		{[]string{"--stack-outputs", filepath.Join(dir, "nope.json")}, "no such file"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), append([]string{"readiness"}, tc.args...), &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestReadinessAgainstSim runs `iotdr readiness` with the real SDK clients against a
// running `iotdr sim`: every check is made over the wire (IoT domain and event
// configurations, indexing, DynamoDB DescribeTable, CloudWatch DescribeAlarms, Route
// 53 health checks and failover records, the device policy) and the deployment is
// ready (exit 0). Then each failure is injected through the AWS front (or the World,
// where AWS offers no call: a deleted replica) and fails its own check with exit 1.
func TestReadinessAgainstSim(t *testing.T) {
	cfg := simserver.DefaultConfig()
	cfg.Devices, cfg.Dir = 3, t.TempDir()
	cfg.Interval, cfg.Threshold, cfg.TTL = 100*time.Millisecond, 2, 100*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startSimServer(ctx, t, cfg)
	fleetEnv(t, true)
	info := srv.Info()
	w := srv.World()
	p, s := w.Primary.Name, w.Secondary.Name
	type report struct {
		Ready   bool               `json:"ready"`
		Results []readiness.Result `json:"results"`
	}
	check := func(sample int) (int, report) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"readiness", "--stack-outputs", info.StackOutputsFile, "--endpoint-url", info.AWSEndpointURL,
			"--ca-file", info.CAFile, "--json", "--timeout", "30s", "--sample", fmt.Sprint(sample)}, &stdout, &stderr)
		var rep report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("exit %d: %v\nstdout: %s\nstderr: %s", code, err, stdout.String(), stderr.String())
		}
		return code, rep
	}
	result := func(rep report, region, name string) readiness.Result {
		t.Helper()
		for _, r := range rep.Results {
			if r.Region == region && r.Check == name {
				return r
			}
		}
		t.Fatalf("no %s result in %s: %+v", name, region, rep.Results)
		return readiness.Result{}
	}
	// Ready once Route 53's checkers have heard from both probes.
	var code int
	var rep report
	for {
		if code, rep = check(0); code == exitOK {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("never ready: exit %d %+v", code, rep.Results)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, r := range rep.Results {
		t.Logf("%-10s %-22s %-5s %s", r.Region, r.Check, r.Status, r.Detail)
	}
	if len(rep.Results) != 2*9+2 || !rep.Ready {
		t.Fatalf("ready %v with %d results, want 20", rep.Ready, len(rep.Results))
	}

	aws := func(region string) awssdk.Config {
		c, err := newReadinessAWS(ctx, region, "", info.AWSEndpointURL)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	pIoT, sIoT := iot.NewFromConfig(aws(p)), iot.NewFromConfig(aws(s))
	errorRecord := &dynamodb.PutItemInput{TableName: awssdk.String(simulator.ErrorTableName), Item: map[string]ddbtypes.AttributeValue{
		spec.ErrorAttrID: &ddbtypes.AttributeValueMemberS{Value: "apply#thing#readiness-test"}, spec.ErrorAttrStage: &ddbtypes.AttributeValueMemberS{Value: spec.StageApply},
		spec.ErrorAttrKey: &ddbtypes.AttributeValueMemberS{Value: "thing#readiness-test"}, spec.ErrorAttrError: &ddbtypes.AttributeValueMemberS{Value: "Injected"},
	}}
	domainStatus := func(c *iot.Client, st iottypes.DomainConfigurationStatus) error {
		_, err := c.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{
			DomainConfigurationName: awssdk.String(spec.DomainConfigurationName(spec.DefaultPrefix)), DomainConfigurationStatus: st})
		return err
	}
	for _, tc := range []struct {
		name          string
		sample        int
		inject, undo  func() error
		region, check string
		status        readiness.Status
		detail        string
	}{
		{name: "registry events off", region: s, check: readiness.CheckRegistryEvents, status: readiness.Fail, detail: "off: THING_GROUP",
			inject: func() error {
				_, err := sIoT.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]iottypes.Configuration{"THING_GROUP": {Enabled: false}}})
				return err
			},
			undo: func() error {
				_, err := sIoT.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{EventConfigurations: map[string]iottypes.Configuration{"THING_GROUP": {Enabled: true}}})
				return err
			}},
		{name: "indexing off", region: p, check: readiness.CheckIndexing, status: readiness.Fail, detail: "OFF",
			inject: func() error {
				_, err := pIoT.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &iottypes.ThingIndexingConfiguration{ThingIndexingMode: iottypes.ThingIndexingModeOff}})
				return err
			},
			undo: func() error {
				_, err := pIoT.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &iottypes.ThingIndexingConfiguration{ThingIndexingMode: iottypes.ThingIndexingModeRegistry}})
				return err
			}},
		{name: "error table growing", region: p, check: readiness.CheckAlarms, status: readiness.Fail, detail: "iotdr-primary-error-table-growth ALARM",
			inject: func() error { _, err := dynamodb.NewFromConfig(aws(p)).PutItem(ctx, errorRecord); return err },
			undo: func() error {
				_, err := w.Primary.Errors.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: errorRecord.TableName, Key: map[string]ddbtypes.AttributeValue{spec.ErrorAttrID: errorRecord.Item[spec.ErrorAttrID]}})
				return err
			}},
		{name: "sample differs", sample: 10, region: "both", check: readiness.CheckSample, status: readiness.Fail, detail: "unreplicated-device",
			inject: func() error { return nil }, undo: func() error { return nil }},
		{name: "device policy missing", region: s, check: readiness.CheckDevicePolicy, status: readiness.Fail, detail: "does not exist",
			inject: func() error { return detachAndDeletePolicy(ctx, sIoT, spec.DevicePolicyName) },
			undo: func() error {
				return simulator.EnsureDevicePolicy(ctx, w.Secondary.Registry, s, w.Options().AccountID)
			}},
		{name: "domain configuration disabled", region: s, check: readiness.CheckDomainConfiguration, status: readiness.Fail, detail: "is DISABLED, not ENABLED",
			inject: func() error { return domainStatus(sIoT, iottypes.DomainConfigurationStatusDisabled) },
			undo:   func() error { return domainStatus(sIoT, iottypes.DomainConfigurationStatusEnabled) }},
		// Last: a replica cannot be brought back.
		{name: "replica deleted", region: p, check: readiness.CheckStateTable, status: readiness.Fail, detail: "no replica in " + s,
			inject: func() error { w.Replication.Close(); return nil }, undo: func() error { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.inject(); err != nil {
				t.Fatal(err)
			}
			code, rep := check(tc.sample)
			got := result(rep, tc.region, tc.check)
			if got.Status != tc.status || !strings.Contains(got.Detail, tc.detail) || code != exitFailed {
				t.Errorf("exit %d, %s in %s: %s %q, want exit 1 and %s containing %q", code, tc.check, tc.region, got.Status, got.Detail, tc.status, tc.detail)
			}
			for _, r := range rep.Results {
				// A disabled domain also refuses the probes and the certificate fetch.
				affected := r.Check == readiness.CheckHealthCheck || r.Check == readiness.CheckServedCertificate ||
					(tc.check == readiness.CheckStateTable && r.Check == tc.check)
				if r.Status != readiness.OK && (r.Region != tc.region || r.Check != tc.check) && !affected {
					t.Errorf("another check failed too: %+v", r)
				}
			}
			if err := tc.undo(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// detachAndDeletePolicy removes a policy from every certificate it is attached to, then
// deletes it (IoT refuses to delete an attached policy).
func detachAndDeletePolicy(ctx context.Context, c *iot.Client, name string) error {
	targets, err := c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: awssdk.String(name)})
	if err != nil {
		return err
	}
	for _, tg := range targets.Targets {
		if _, err := c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: awssdk.String(name), Target: awssdk.String(tg)}); err != nil {
			return err
		}
	}
	_, err = c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: awssdk.String(name)})
	return err
}

// startSimServer starts `iotdr sim`'s server with cfg and closes it when the test ends.
func startSimServer(ctx context.Context, t *testing.T, cfg simserver.Config) *simserver.Server {
	t.Helper()
	srv, err := simserver.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}
