package awsdrill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunCLI drives `iotdr drill --aws` in-process against the simulator: exit codes,
// the JSON report's fields, the text report, and every refusal.
func TestRunCLI(t *testing.T) {
	s := startSim(t)
	primary, secondary := s.writeOutputs(t)
	base := []string{"--aws", "--stack-outputs", primary, "--stack-outputs", secondary, "--poll-interval", "20ms", "--wait", "20s"}
	with := func(extra ...string) []string { return slices.Concat(base, extra) }
	simClients := func(context.Context, Config) (Clients, error) { return s.clients(), nil }
	noClients := func(context.Context, Config) (Clients, error) {
		t.Error("clients built although the drill must not start")
		return Clients{}, errors.New("unreachable")
	}
	cases := []struct {
		name       string
		args       []string
		clients    func(context.Context, Config) (Clients, error)
		code       int
		stdout     []string
		stderr     string
		checkJSON  bool
		recoverSim bool
	}{
		{name: "json report", args: with("--yes", "--json"), clients: simClients, code: ExitOK, checkJSON: true, recoverSim: true},
		{name: "text report", args: with("--yes"), clients: simClients, code: ExitOK, recoverSim: true,
			stdout: []string{`iot-dr drill "aws-probe-failure" on iot.iotdr.test (us-east-1 -> eu-west-1): PASSED`, "DNS switch (RTO)", "fault injected"}},
		{name: "RTO budget broken", args: with("--yes", "--max-rto", "1ns"), clients: simClients, code: ExitFailed,
			stderr: "budget exceeded", recoverSim: true},
		{name: "without --yes", args: base, clients: noClients, code: ExitError, stderr: "pass --yes"},
		{name: "no stack outputs", args: []string{"--aws", "--yes"}, clients: noClients, code: ExitError, stderr: "pass --stack-outputs"},
		{name: "bad stack outputs", args: []string{"--yes", "--stack-outputs", writeFile(t, "bad.json", "{")}, clients: noClients,
			code: ExitError, stderr: "bad.json: not the JSON object"},
		{name: "bad flag", args: with("--yes", "--poll-interval", "-1s"), clients: noClients, code: ExitError, stderr: "--poll-interval must be positive"},
		{name: "stray argument", args: with("--yes", "now"), clients: noClients, code: ExitError, stderr: `unexpected argument "now"`},
		{name: "no credentials", args: with("--yes"), code: ExitError, stderr: "no usable AWS credentials",
			clients: func(context.Context, Config) (Clients, error) {
				return Clients{}, errors.New("no usable AWS credentials (configure the default chain or pass --profile)")
			}},
		{name: "help", args: []string{"-h"}, clients: noClients, code: ExitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runCLI(context.Background(), tc.args, &stdout, &stderr, tc.clients)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
			if tc.checkJSON {
				checkJSONReport(t, stdout.Bytes())
			}
			if tc.recoverSim {
				s.assertRecovered(t)
			}
		})
	}
}

func checkJSONReport(t *testing.T, data []byte) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("report is not one JSON object: %v\n%s", err, data)
	}
	for _, k := range []string{"scenario", "devices", "rto_p50_s", "rto_p99_s", "rto_bound_s", "passed", "timeline",
		"detection_s", "switch_s", "failback_s", "switch_restored"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	if got["scenario"] != Scenario || got["passed"] != true {
		t.Errorf("scenario %v passed %v", got["scenario"], got["passed"])
	}
	rto, ok := got["rto_p50_s"].(float64)
	if !ok || rto <= 0 || got["rto_p99_s"] != got["rto_p50_s"] {
		t.Errorf("rto_p50_s %v rto_p99_s %v", got["rto_p50_s"], got["rto_p99_s"])
	}
	// Read from the front: 250 ms interval and 100 ms TTL round up to 1 s each.
	if got["rto_bound_s"] != float64(simThreshold*1+1) {
		t.Errorf("rto_bound_s %v, want %d", got["rto_bound_s"], simThreshold+1)
	}
}

func TestParseFlagsDefaults(t *testing.T) {
	p, sec := stackOutputs()
	cfg, err := ParseFlags([]string{"--stack-outputs", writeJSON(t, "p.json", p), "--stack-outputs", writeJSON(t, "s.json", sec)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Yes || cfg.PollInterval != 5*time.Second || cfg.Timeout != 30*time.Minute || cfg.MaxRTO != 0 || cfg.JSON {
		t.Errorf("defaults %+v", cfg)
	}
	if cfg.Deployment.ForceFailParameter != p["probeForceFailParameter"] || cfg.Deployment.SecondaryRegion != sec["region"] {
		t.Errorf("deployment %+v", cfg.Deployment)
	}
}
