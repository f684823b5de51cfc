package motoserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tool returns the path of the executable name for a test, looking on PATH and then
// in the pyenv shims, as Command looks for moto_server. Without it the test is skipped
// with a message naming what was tried, or fails when $IOTDR_REQUIRE_MOTO is set (CI
// has pyenv with the aws CLI and boto3).
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	tried := []string{"PATH"}
	for _, root := range pyenvRoots() {
		p := filepath.Join(root, "shims", name)
		if isExecutable(p) {
			return p
		}
		tried = append(tried, p)
	}
	missing(t, name+" not found (looked at "+strings.Join(tried, ", ")+")")
	return ""
}

// Python returns a python3 (PATH, then the pyenv shims) that imports every one of
// modules, skipping the test (or failing under $IOTDR_REQUIRE_MOTO) without one.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	var cands []string
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, root := range pyenvRoots() {
		if p := filepath.Join(root, "shims", "python3"); isExecutable(p) {
			cands = append(cands, p)
		}
	}
	script := ""
	for _, m := range modules {
		script += "import " + m + "\n"
	}
	for _, py := range cands {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := exec.CommandContext(ctx, py, "-c", script).Run()
		cancel()
		if err == nil {
			return py
		}
	}
	missing(t, "no python3 that imports "+strings.Join(modules, ", ")+" (looked at "+strings.Join(append([]string{"PATH"}, cands...), ", ")+")")
	return ""
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s, required by $%s", msg, RequireEnv)
	}
	t.Skip(msg)
}
