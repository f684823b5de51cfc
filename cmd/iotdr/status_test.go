package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simserver"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/status"
)

// TestStatusAgainstSim runs `iotdr status --sim` against a running `iotdr sim`: the
// fleet's Region follows the DNS answer (primary, then the secondary once the primary
// is down), a conflict recorded in the primary's error table is counted and shown, and
// the exit status says normal (0) or failed over (1).
func TestStatusAgainstSim(t *testing.T) {
	cfg := simserver.DefaultConfig()
	cfg.Devices, cfg.Dir = 0, t.TempDir()
	cfg.Interval, cfg.Threshold, cfg.TTL = 100*time.Millisecond, 2, 100*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startSimServer(ctx, t, cfg)
	w := srv.World()
	rec := &failures.Recorder{Table: w.Primary.Errors, Name: simulator.ErrorTableName}
	if err := rec.Record(ctx, spec.StageConflict, "thing#both", "ConflictRecorded", errors.New("changed in both Regions"), nil); err != nil {
		t.Fatal(err)
	}
	url := srv.Info().ControlURL

	// status polls `iotdr status --sim` until the fleet's Region is want.
	poll := func(want string, args ...string) (int, string) {
		t.Helper()
		for {
			var stdout, stderr bytes.Buffer
			code := run(ctx, append([]string{"status", "--sim", url}, args...), &stdout, &stderr)
			var rep status.Report
			if strings.Contains(strings.Join(args, " "), "--json") {
				if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
					t.Fatalf("exit %d: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
				}
			} else if strings.Contains(stdout.String(), "served by "+want) {
				return code, stdout.String()
			}
			if rep.Serving == want {
				return code, stdout.String()
			}
			if ctx.Err() != nil {
				t.Fatalf("the fleet never on %s: exit %d\n%s\n%s", want, code, stdout.String(), stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	code, out := poll(w.Primary.Name, "--json")
	var rep status.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != status.ExitNormal || rep.From != "dns" || rep.ServingRole != spec.RolePrimary || len(rep.Regions) != 2 {
		t.Fatalf("exit %d, %+v", code, rep)
	}
	p := rep.Regions[0]
	if p.Name != w.Primary.Name || p.Backlog.From != w.Secondary.Name || p.Conflicts.Count != 1 || p.Conflicts.Recent[0].Key != "thing#both" {
		t.Errorf("primary: %+v", p)
	}

	resp, err := http.Post(url+"/regions/primary/down", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, out = poll(w.Secondary.Name + " (secondary)")
	if code != status.ExitAttention || !strings.Contains(out, "from the DNS answer") || !strings.Contains(out, "thing#both") {
		t.Errorf("failed over: exit %d\n%s", code, out)
	}
	t.Logf("\n%s", out)

	// The real deployment's path with the real SDK clients against the simulator's AWS
	// front: Route 53 is served (the fleet's Region follows the health checks), the
	// front serves no DynamoDB, so the tables cannot be read: shown, exit 2.
	raw, err := os.ReadFile(srv.Info().StackOutputsFile)
	if err != nil {
		t.Fatal(err)
	}
	var stacks map[string]map[string]any
	if err := json.Unmarshal(raw, &stacks); err != nil {
		t.Fatal(err)
	}
	for _, out := range stacks {
		out[spec.OutputMarkTableName], out[spec.OutputErrorTableName] = simulator.MarkTableName, simulator.ErrorTableName
	}
	withTables := filepath.Join(t.TempDir(), "outputs.json")
	raw, _ = json.Marshal(stacks)
	if err := os.WriteFile(withTables, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	fleetEnv(t, true)
	for {
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"status", "--stack-outputs", withTables, "--endpoint-url", srv.Info().AWSEndpointURL, "--json"}, &stdout, &stderr)
		var rep status.Report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("exit %d: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
		}
		if rep.Serving == w.Secondary.Name {
			if code != status.ExitUnknown || rep.From != "health" || rep.Regions[0].Healthy || !rep.Regions[1].Healthy ||
				!strings.Contains(strings.Join(rep.Regions[1].Errors, " "), "error table") {
				t.Errorf("exit %d: %+v\n%s", code, rep, stderr.String())
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Route 53 never sent the fleet to the secondary: %s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStatusRejectsBadInput(t *testing.T) {
	fleetEnv(t, true)
	noTables := filepath.Join(t.TempDir(), "outputs.json")
	// Both stacks' outputs as `iotdr sim` writes them: no mark or error table.
	if err := os.WriteFile(noTables, []byte(`{"primary": {"role": "primary", "region": "us-east-1", "primaryRegion": "us-east-1", "secondaryRegion": "eu-west-1",
		"domain": "iot.example.com", "iotEndpoint": "a.iot.us-east-1.amazonaws.com", "domainConfigurationName": "iotdr", "healthCheckId": "hp",
		"probeUrl": "https://p/probe", "probeForceFailParameter": "/iotdr/probe/force-fail", "stateTableName": "iotdr-state", "alarmNames": []},
		"secondary": {"role": "secondary", "region": "eu-west-1", "primaryRegion": "us-east-1", "secondaryRegion": "eu-west-1",
		"domain": "iot.example.com", "iotEndpoint": "a.iot.eu-west-1.amazonaws.com", "domainConfigurationName": "iotdr", "healthCheckId": "hs",
		"probeUrl": "https://s/probe", "stateTableName": "iotdr-state", "alarmNames": [], "primaryHealthCheckId": "hp"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{nil, "pass exactly one of --sim URL and --stack-outputs"},
		{[]string{"--sim", "http://127.0.0.1:1", "--stack-outputs", "x.json"}, "pass exactly one of"},
		{[]string{"--sim", "ftp://example"}, "not an http(s) URL"},
		{[]string{"--sim", "http://127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
		{[]string{"--sim", "http://127.0.0.1:1", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"--stack-outputs", filepath.Join(t.TempDir(), "missing.json")}, "stack outputs"},
		{[]string{"--stack-outputs", noTables, "--endpoint-url", "http://127.0.0.1:1"}, `has no output "` + spec.OutputMarkTableName + `"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"status"}, tt.args...), &stdout, &stderr)
			if code != exitError || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}
