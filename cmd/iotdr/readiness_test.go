package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/readiness"
	"github.com/iot-dr/iot-dr/simserver"
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
// running `iotdr sim`: the checks the simulator's AWS front serves pass over the wire
// (the certificate the brokers serve for the domain, Route 53 health checks, the
// device policy), the sample finds the device `iotdr sim`
// provisions without replicating it, and the rest cannot be made (the front does not
// serve DynamoDB, CloudWatch or the IoT account settings): not ready, exit 1.
func TestReadinessAgainstSim(t *testing.T) {
	cfg := simserver.DefaultConfig()
	cfg.Devices, cfg.Dir = 3, t.TempDir()
	cfg.Interval, cfg.Threshold, cfg.TTL = 100*time.Millisecond, 2, 100*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startSimServer(ctx, t, cfg)
	fleetEnv(t, true)
	var rep struct {
		Ready   bool               `json:"ready"`
		Results []readiness.Result `json:"results"`
	}
	var stdout, stderr bytes.Buffer
	// The health checks may not have heard from every checker yet: retry until they have.
	for {
		stdout.Reset()
		stderr.Reset()
		code := run(ctx, []string{"readiness", "--stack-outputs", srv.Info().StackOutputsFile, "--endpoint-url", srv.Info().AWSEndpointURL,
			"--ca-file", srv.Info().CAFile, "--json", "--timeout", "30s"}, &stdout, &stderr)
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("exit %d: %v\nstdout: %s\nstderr: %s", code, err, stdout.String(), stderr.String())
		}
		healthy := 0
		for _, r := range rep.Results {
			if r.Check == readiness.CheckHealthCheck && r.Status == readiness.OK {
				healthy++
			}
		}
		if healthy == 2 {
			if code != exitFailed || rep.Ready {
				t.Fatalf("exit %d ready %v, want 1:\n%s", code, rep.Ready, stdout.String())
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("health checks never healthy: %s", stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, r := range rep.Results {
		t.Logf("%-10s %-22s %-5s %s", r.Region, r.Check, r.Status, r.Detail)
		switch r.Check {
		case readiness.CheckSample:
			if r.Status != readiness.Fail || !strings.Contains(r.Detail, "unreplicated-device") {
				t.Errorf("sample: %s %s, want the unreplicated device found", r.Status, r.Detail)
			}
		case readiness.CheckHealthCheck, readiness.CheckDevicePolicy, readiness.CheckServedCertificate:
			if r.Status != readiness.OK {
				t.Errorf("%s in %s: %s %s", r.Check, r.Region, r.Status, r.Detail)
			}
		default:
			if r.Status != readiness.Error {
				t.Errorf("%s in %s: %s %s, want error (not served by the front)", r.Check, r.Region, r.Status, r.Detail)
			}
		}
	}
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
