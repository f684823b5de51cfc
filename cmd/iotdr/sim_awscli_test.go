package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSimAWSCLINamedShadowAndRetained: the aws CLI against `iotdr sim` writes a named
// shadow and a retained message in the primary and reads them back (get, list), so
// the data-plane wire shapes are what the CLI (botocore) expects, and reads the named
// shadow back from the secondary once the pipeline has replicated it. (A retained
// message crosses with the capture sweep, hourly: e2e/named_retained_test.go.)
func TestSimAWSCLINamedShadowAndRetained(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		awsCLI = filepath.Join(os.Getenv("HOME"), ".pyenv", "shims", "aws")
		if _, serr := os.Stat(awsCLI); serr != nil {
			t.Skip("aws CLI not installed (neither on PATH nor under ~/.pyenv/shims); CI has it")
		}
	}
	dir := filepath.Join(t.TempDir(), "sim")
	startSim(t, "--dir", dir, "--devices", "1")
	info := readSimInfo(t, dir)
	in := func(region string, args ...string) (string, error) {
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", info.AWSEndpointURL, "--region", region, "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDSIMULATOR", "AWS_SECRET_ACCESS_KEY=secret", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("aws %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := in("us-east-1", args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	doc := filepath.Join(t.TempDir(), "shadow.json")
	run("iot-data", "update-thing-shadow", "--thing-name", "device-0001", "--shadow-name", "config",
		"--payload", `{"state":{"desired":{"interval":5}}}`, doc)
	run("iot-data", "get-thing-shadow", "--thing-name", "device-0001", "--shadow-name", "config", doc)
	if b, err := os.ReadFile(doc); err != nil || !strings.Contains(string(b), `"desired":{"interval":5}`) {
		t.Fatalf("get-thing-shadow wrote %s, %v", b, err)
	}
	if out := run("iot-data", "list-named-shadows-for-thing", "--thing-name", "device-0001"); !strings.Contains(out, `"config"`) {
		t.Errorf("list-named-shadows-for-thing:\n%s", out)
	}
	// The secondary: the pipeline carries the named shadow within seconds.
	secondaryDoc := filepath.Join(t.TempDir(), "secondary.json")
	var lastErr error
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, lastErr = in("eu-west-1", "iot-data", "get-thing-shadow", "--thing-name", "device-0001", "--shadow-name", "config", secondaryDoc); lastErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the named shadow did not reach the secondary within 30 s: %v", lastErr)
		}
		time.Sleep(200 * time.Millisecond) // polling a separate process: no event to wait on
	}
	if b, err := os.ReadFile(secondaryDoc); err != nil || !strings.Contains(string(b), `"desired":{"interval":5}`) {
		t.Errorf("get-thing-shadow in the secondary wrote %s, %v", b, err)
	}
	run("iot-data", "publish", "--topic", "devices/device-0001/config", "--qos", "1", "--retain",
		"--payload", `{"interval":5}`)
	if out := run("iot-data", "get-retained-message", "--topic", "devices/device-0001/config"); !strings.Contains(out, `"topic": "devices/device-0001/config"`) ||
		!strings.Contains(out, `"payload": "eyJpbnRlcnZhbCI6NX0="`) {
		t.Errorf("get-retained-message:\n%s", out)
	}
	if out := run("iot-data", "list-retained-messages"); !strings.Contains(out, `"payloadSize": 14`) {
		t.Errorf("list-retained-messages:\n%s", out)
	}
}
