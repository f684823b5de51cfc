package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
	html := filepath.Join(t.TempDir(), "report.html")
	code, out, errOut := runCLI(t, "drill", "--scenario", "replication-lag", "--devices", "20", "--changes", "10", "--json", "--report", html)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report is not one JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"scenario", "devices", "rto_p50_s", "rto_p99_s", "rto_bound_s", "devices_lost",
		"registry_changes_lost", "shadow_updates_lost", "refused_devices", "passed"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	if rep["scenario"] != "replication-lag" || rep["devices"] != float64(20) || rep["passed"] != true || rep["devices_lost"] != float64(0) {
		t.Errorf("report = %v", rep)
	}
	// 10 attribute changes on 10 things and the late device were not replicated at the
	// fault; so were 10 shadow updates and the late device's shadow.
	if rep["registry_changes_lost"].(float64) < 11 || rep["shadow_updates_lost"] != float64(11) {
		t.Errorf("RPO: registry %v, shadow %v", rep["registry_changes_lost"], rep["shadow_updates_lost"])
	}
	refused := rep["refused_devices"].([]any)
	if len(refused) != 1 || !strings.Contains(refused[0].(map[string]any)["reason"].(string), "not registered") {
		t.Errorf("refused devices = %v, want the one unreplicated device, refused for its certificate", refused)
	}
	if p99, bound := rep["rto_p99_s"].(float64), rep["rto_bound_s"].(float64); p99 <= 0 || p99 > 3*bound {
		t.Errorf("RTO p99 %.3fs against bound %.3fs", p99, bound)
	}
	// Health events name their Region; failures before the fault are counted per Region.
	before, _ := rep["health_checks_failed_before_fault"].(map[string]any)
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		if _, ok := before[region].(float64); !ok {
			t.Errorf("health checks failed before the fault = %v, want a count for %s", rep["health_checks_failed_before_fault"], region)
		}
	}
	var names []string
	for _, p := range rep["timeline"].([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	if !slices.Contains(names, "us-east-1 health check unhealthy") || !slices.Contains(names, "first failed health check of us-east-1 after the fault") {
		t.Errorf("timeline lacks the primary's health events by name:\n%s", strings.Join(names, "\n"))
	}
	if !strings.Contains(errOut, "fault injected") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "<polyline", "fault injected", "replication-lag", "PASSED"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://"} {
		if bytes.Contains(bytes.ReplaceAll(page, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil), []byte(bad)) {
			t.Errorf("HTML report refers to an external asset (%s)", bad)
		}
	}
}

func TestDrillBudgetExitCode(t *testing.T) {
	code, _, errOut := runCLI(t, "drill", "--scenario", "replication-lag", "--devices", "5", "--changes", "3", "--max-lost", "2", "--max-rto", "1ms")
	if code != exitFailed || !strings.Contains(errOut, "--max-lost 2") || !strings.Contains(errOut, "over --max-rto 1ms") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestDrillScenariosText(t *testing.T) {
	for _, sc := range []string{"region-outage", "flapping"} {
		code, out, errOut := runCLI(t, "drill", "--scenario", sc, "--devices", "10")
		if code != exitOK {
			t.Fatalf("%s: exit %d, stderr:\n%s\nstdout:\n%s", sc, code, errOut, out)
		}
		for _, want := range []string{`iot-dr drill "` + sc + `" with 10 devices: PASSED`, "Timeline", "RTO p50 / p99 / max", "After restore: 0 differences"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q:\n%s", sc, want, out)
			}
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
		{[]string{"drill", "--devices", "0"}, "--devices must be between 1 and"},
		{[]string{"drill", "--devices", "100000000"}, "open-file limit"},
		{[]string{"drill", "--threshold", "11"}, "--threshold must be between 1 and 10"},
		{[]string{"drill", "--interval", "1ms"}, "--interval must be between 10ms and 30s"},
		{[]string{"drill", "--backoff-base", "2s", "--backoff-cap", "1s"}, "--backoff-base (2s) must be positive and at most --backoff-cap (1s)"},
		{[]string{"drill", "--replication-delay", "-1s"}, "--replication-delay must be between 0 and 1m"},
		{[]string{"drill", "--devices", "ten"}, `invalid value "ten" for flag -devices`},
		{[]string{"drill", "--report", "/nonexistent-dir/r.html"}, "--report: open /nonexistent-dir/r.html"},
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
	for _, sc := range []string{"region-outage", "broker-outage", "probe-failure", "flapping", "replication-lag", "throttling"} {
		if code != exitOK || !strings.Contains(out, sc) {
			t.Errorf("--list lacks %s (exit %d):\n%s", sc, code, out)
		}
	}
}
