package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDrillJSONReport(t *testing.T) {
	code, out, errOut := runCLI(t, "drill", "--scenario", "replication-lag", "--devices", "20", "--changes", "10", "--json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report is not one JSON object: %v\n%s", err, out)
	}
	for k, want := range map[string]any{"scenario": "replication-lag", "devices": float64(20), "passed": true,
		"registry_changes_lost": float64(10), "shadow_updates_lost": float64(10)} {
		if rep[k] != want {
			t.Errorf("%s = %v, want %v", k, rep[k], want)
		}
	}
	if !strings.Contains(errOut, "fault: primary lost") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
}

func TestDrillBudgetExitCode(t *testing.T) {
	code, _, errOut := runCLI(t, "drill", "--scenario", "replication-lag", "--devices", "5", "--changes", "3", "--max-lost", "2")
	if code != exitFailed || !strings.Contains(errOut, "budget exceeded: 6 changes lost, budget 2") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestDrillTextReport(t *testing.T) {
	code, out, errOut := runCLI(t, "drill", "--devices", "10", "--changes", "5")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{`iot-dr drill "replication" with 10 devices: PASSED`, "Timeline", "After restore: 0 differences"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "usage: iotdr"},
		{[]string{"explode"}, `unknown command "explode"`},
		{[]string{"drill", "--scenario", "meteor"}, `unknown scenario "meteor"`},
		{[]string{"drill", "--devices", "0"}, "--devices must be between 1 and 100000, got 0"},
		{[]string{"drill", "--replication-delay", "-1s"}, "--replication-delay must be between 0 and 1m"},
		{[]string{"drill", "--devices", "ten"}, `invalid value "ten" for flag -devices`},
		{[]string{"drill", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != exitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("iotdr %v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	code, out, _ := runCLI(t, "drill", "--list")
	if code != exitOK || !strings.Contains(out, "replication-lag") || !strings.Contains(out, "throttling") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
