package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/simserver"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

// TestSyncAndVerifyAgainstSim runs `iotdr verify` and `iotdr sync` with --endpoint-url
// against a running `iotdr sim` at AWS's default rate quotas, with its replication
// paused so that the fleet exists in the primary only: verify finds it missing, sync
// copies it (paced under the quotas the simulator enforces), verify finds the Regions
// equal. A role alias, a fleet provisioning template and a CA certificate (SNI_ONLY)
// are copied and compared too, and with --retained the primary's retained messages,
// through the AWS front's data plane.
func TestSyncAndVerifyAgainstSim(t *testing.T) {
	cfg := simserver.DefaultConfig()
	cfg.Devices, cfg.Dir = 0, t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startSimServer(ctx, t, cfg)
	resp, err := http.Post(srv.Info().ControlURL+"/replication/pause", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pause replication: %s", resp.Status)
	}
	fleetEnv(t, true)
	endpoint := srv.Info().AWSEndpointURL
	from, to := srv.World().Primary.Name, srv.World().Secondary.Name
	const devices = 4
	motoFleet(t, endpoint, from, devices)
	onboardingKinds(ctx, t, srv.World().Primary.Registry)
	for _, topic := range []string{"config/a", "config/b"} {
		if _, err := srv.World().Primary.Broker.DataPlane().Publish(ctx, &iotdataplane.PublishInput{
			Topic: aws.String(topic), Payload: []byte(`{"interval":5}`), Qos: 1, Retain: true}); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"--from", from, "--to", to, "--endpoint-url", endpoint, "--shadows", "--retained"}

	code, stdout, stderr := runCmd(t, verifyMain, base...)
	if code != exitFailed || !strings.Contains(stdout, "Missing in secondary") || !strings.Contains(normalizeSpaces(stdout), "retained message  config/a") {
		t.Fatalf("verify before sync: exit %d, want %d with missing resources\n%s%s", code, exitFailed, stdout, stderr)
	}
	// The server's unreplicated device (its certificate is in the primary only) is
	// copied too.
	// The AWS front serves no DynamoDB: the simulator's own marks are not reachable.
	code, stdout, stderr = runCmd(t, syncMain, append(base, "--marks-table", "")...)
	if out := normalizeSpaces(stdout); code != exitOK || !strings.Contains(out, fmt.Sprintf("things  %d  0  0", devices+1)) || !strings.Contains(out, "onboarding  3  0  0") ||
		!strings.Contains(out, "retained messages  2  0  0") {
		t.Fatalf("sync: exit %d, want %d with %d things, 3 onboarding resources and 2 retained messages copied\n%s%s", code, exitOK, devices+1, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, verifyMain, base...)
	if code != exitOK || !strings.Contains(stdout, "The Regions are equal.") || !strings.Contains(stdout, "2 retained messages") {
		t.Fatalf("verify after sync: exit %d, want %d\n%s%s", code, exitOK, stdout, stderr)
	}
}

// onboardingKinds creates one role alias, one fleet provisioning template and one CA
// certificate (SNI_ONLY) in reg.
func onboardingKinds(ctx context.Context, t *testing.T, reg *registry.Registry) {
	t.Helper()
	const role = "arn:aws:iam::123456789012:role/provisioning"
	ca, err := pki.NewCA("fleet CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		second(reg.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("camera"), RoleArn: aws.String(role)})),
		second(reg.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("claim"),
			TemplateBody: aws.String(`{"Resources":{}}`), ProvisioningRoleArn: aws.String(role), Enabled: aws.Bool(true)})),
		second(reg.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(string(ca.CertPEM())),
			CertificateMode: types.CertificateModeSniOnly, SetAsActive: true})),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func second[T any](_ T, err error) error { return err }
