package awsdrill

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/iot-dr/iot-dr/simulator/awsfront"
)

// TestRunOverHTTP runs `iotdr drill --aws --endpoint-url` end to end against the
// simulator's AWS endpoint: the real SDK clients, Route 53's REST-XML and SSM's JSON
// 1.1 on the wire.
func TestRunOverHTTP(t *testing.T) {
	s := startSim(t)
	srv := httptest.NewServer(s.front.Handler(awsfront.HandlerOptions{}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_PROFILE", "")
	p, sec := s.writeOutputs(t)
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"--aws", "--stack-outputs", p, "--stack-outputs", sec, "--yes",
		"--poll-interval", "20ms", "--endpoint-url", srv.URL, "--json"}, &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if !rep.Passed || !rep.SwitchRestored || !rep.FailedBack || rep.SwitchS == nil {
		t.Fatalf("report %+v\nstderr: %s", rep, stderr.String())
	}
	s.assertRecovered(t)
}
