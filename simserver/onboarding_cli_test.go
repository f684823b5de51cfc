package simserver

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/internal/motoserver"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// TestAWSCLIOnboardingKinds creates a role alias, a fleet provisioning template with a
// pre-provisioning hook and a CA certificate (SNI_ONLY) in the primary with the aws
// CLI; after the primary's sweep (none of them raises a registry event) the secondary
// answers them, the hook naming the secondary's Region.
func TestAWSCLIOnboardingKinds(t *testing.T) {
	bin := motoserver.Tool(t, "aws")
	s := startServer(t, testConfig(t, 0))
	c := cli{t: t, bin: bin, url: s.Info().AWSEndpointURL, env: awsEnv(t, "")}
	p, sec := s.World().Primary.Name, s.World().Secondary.Name
	const role = "arn:aws:iam::123456789012:role/provisioning"
	hook := func(region string) string { return "arn:aws:lambda:" + region + ":123456789012:function:vet" }
	ca, err := pki.NewCA("cli CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}

	c.must(p, "iot", "create-role-alias", "--role-alias", "cli-camera", "--role-arn", role, "--credential-duration-seconds", "1800")
	c.must(p, "iot", "create-provisioning-template", "--template-name", "cli-claim", "--template-body", `{"Resources":{}}`,
		"--provisioning-role-arn", role, "--enabled", "--pre-provisioning-hook", `{"targetArn":"`+hook(p)+`"}`)
	reg := c.must(p, "iot", "register-ca-certificate", "--ca-certificate", "file://"+caFile, "--certificate-mode", "SNI_ONLY", "--set-as-active")
	id, _ := reg["certificateId"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.World().Sweep(ctx, s.World().Primary); err != nil {
		t.Fatal(err)
	}
	if err := s.World().Settle(ctx); err != nil {
		t.Fatal(err)
	}
	ra, _ := c.must(sec, "iot", "describe-role-alias", "--role-alias", "cli-camera")["roleAliasDescription"].(map[string]any)
	if ra["roleArn"] != role || ra["credentialDurationSeconds"] != float64(1800) {
		t.Errorf("secondary describe-role-alias: %v", ra)
	}
	tp := c.must(sec, "iot", "describe-provisioning-template", "--template-name", "cli-claim")
	h, _ := tp["preProvisioningHook"].(map[string]any)
	if tp["enabled"] != true || tp["templateBody"] != `{"Resources":{}}` || h["targetArn"] != hook(sec) {
		t.Errorf("secondary describe-provisioning-template: %v", tp)
	}
	cd, _ := c.must(sec, "iot", "describe-ca-certificate", "--certificate-id", id)["certificateDescription"].(map[string]any)
	if cd["status"] != "ACTIVE" || cd["certificateMode"] != "SNI_ONLY" {
		t.Errorf("secondary describe-ca-certificate: %v", cd)
	}
}
