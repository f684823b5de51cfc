package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimAWSCLINamedShadowAndRetained: the aws CLI against `iotdr sim` writes a named
// shadow and a retained message in the primary and reads them back (get, list), so
// the data-plane wire shapes are what the CLI (botocore) expects. Read-back from the
// secondary waits for their replication, which is not built yet.
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
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", info.AWSEndpointURL, "--region", "us-east-1", "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDSIMULATOR", "AWS_SECRET_ACCESS_KEY=secret", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
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
