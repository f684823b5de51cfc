package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simserver"
)

// TestAWSDrillAgainstSim runs `iotdr drill --aws --endpoint-url` against a running
// `iotdr sim`, with the stack outputs the server writes: the real SDK clients flip the
// force-fail switch over SSM's wire protocol and watch Route 53's.
func TestAWSDrillAgainstSim(t *testing.T) {
	cfg := simserver.DefaultConfig()
	cfg.Devices, cfg.Dir = 0, t.TempDir()
	cfg.Interval, cfg.Threshold, cfg.TTL = 250*time.Millisecond, 2, 100*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startSimServer(ctx, t, cfg)
	fleetEnv(t, true)
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"drill", "--aws", "--stack-outputs", srv.Info().StackOutputsFile, "--endpoint-url", srv.Info().AWSEndpointURL,
		"--yes", "--poll-interval", "20ms", "--json"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	var rep struct {
		Passed         bool     `json:"passed"`
		SwitchS        *float64 `json:"switch_s"`
		SwitchRestored bool     `json:"switch_restored"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if !rep.Passed || rep.SwitchS == nil {
		t.Fatalf("report %s\nstderr: %s", stdout.String(), stderr.String())
	}
	if st := srv.Status(); regionStatusOf(st, simserver.RolePrimary).ProbeFailing {
		t.Errorf("the primary's probe is still failing after the drill: %+v", st)
	}
}

func regionStatusOf(st simserver.Status, role string) simserver.RegionStatus {
	for _, r := range st.Regions {
		if r.Role == role {
			return r
		}
	}
	return simserver.RegionStatus{}
}
