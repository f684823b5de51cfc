package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fleetEnv gives the test process static AWS credentials and no shared config, so the
// default credential chain resolves without touching the machine's files or the
// instance metadata service. With creds false the chain finds nothing.
func fleetEnv(t *testing.T, creds bool) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_DEFAULT_PROFILE", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	key, secret := "", ""
	if creds {
		key, secret = "testing", "testing"
	}
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
}

func runCmd(t *testing.T, cmd func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cmd(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func syncMain(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int {
	return syncCmd(ctx, args, stdout, stderr)
}

func verifyMain(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int {
	return verifyCmd(ctx, args, stdout, stderr)
}

func TestFleetCommandsRejectBadInput(t *testing.T) {
	fleetEnv(t, true)
	unreadable := filepath.Join(t.TempDir(), "missing.txt")
	badNames := filepath.Join(t.TempDir(), "names.txt")
	if err := os.WriteFile(badNames, []byte("dev-1\ndev 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The endpoint is never called: every case fails before the first request.
	ep := "--endpoint-url=http://127.0.0.1:1"
	regions := []string{"--from", "us-east-1", "--to", "eu-west-1", ep}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no Regions", []string{ep}, "--from and --to are required"},
		{"unknown source Region", []string{"--from", "mars-north-1x", "--to", "eu-west-1", ep}, `--from "mars-north-1x" is not an AWS Region`},
		{"unknown target Region", []string{"--from", "us-east-1", "--to", "EU", ep}, `--to "EU" is not an AWS Region`},
		{"same Region twice", []string{"--from", "us-east-1", "--to", "us-east-1", ep}, "both us-east-1"},
		{"rate without TPS", append([]string{"--rate", "CreateThing"}, regions...), "want API=TPS"},
		{"rate not a number", append([]string{"--rate", "CreateThing=fast"}, regions...), "TPS must be a positive number"},
		{"rate zero", append([]string{"--rate", "CreateThing=0"}, regions...), "TPS must be a positive number"},
		{"rate unknown API", append([]string{"--rate", "CreateThingz=5"}, regions...), `unknown API "CreateThingz"`},
		{"bad concurrency", append([]string{"--concurrency", "0"}, regions...), "--concurrency 0"},
		{"bad endpoint", []string{"--from", "us-east-1", "--to", "eu-west-1", "--endpoint-url", "localhost:4566"}, "want an http:// or https:// URL"},
		{"stray argument", append(regions, "extra"), `unexpected argument "extra"`},
	}
	for _, cmd := range []struct {
		name string
		fn   func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int
	}{{"sync", syncMain}, {"verify", verifyMain}} {
		for _, tt := range tests {
			t.Run(cmd.name+"/"+tt.name, func(t *testing.T) {
				code, _, stderr := runCmd(t, cmd.fn, tt.args...)
				if code != exitError {
					t.Errorf("exit %d, want %d", code, exitError)
				}
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("stderr %q does not contain %q", stderr, tt.want)
				}
			})
		}
	}

	syncOnly := []struct {
		name string
		args []string
		want string
	}{
		{"unreadable things file", append([]string{"--things", unreadable}, regions...), "--things: open " + unreadable},
		{"malformed things file", append([]string{"--things", badNames}, regions...), `names.txt:2: "dev 2" is not a thing name`},
		{"query and things", append([]string{"--things", badNames, "--query", "x"}, regions...), "mutually exclusive"},
	}
	for _, tt := range syncOnly {
		t.Run("sync/"+tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, syncMain, tt.args...)
			if code != exitError || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitError, tt.want)
			}
		})
	}
}

func TestFleetCommandsNeedCredentials(t *testing.T) {
	fleetEnv(t, false)
	args := []string{"--from", "us-east-1", "--to", "eu-west-1", "--endpoint-url", "http://127.0.0.1:1"}
	for name, fn := range map[string]func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int{"sync": syncMain, "verify": verifyMain} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCmd(t, fn, args...)
			if code != exitError || !strings.Contains(stderr, "no usable AWS credentials") {
				t.Errorf("exit %d, stderr %q; want %d and a credentials error", code, stderr, exitError)
			}
		})
	}
	t.Run("unknown profile", func(t *testing.T) {
		fleetEnv(t, true)
		code, _, stderr := runCmd(t, syncMain, append(args, "--profile", "no-such-profile")...)
		if code != exitError || !strings.Contains(stderr, "no-such-profile") {
			t.Errorf("exit %d, stderr %q; want %d naming the profile", code, stderr, exitError)
		}
	})
}

func TestSyncListRates(t *testing.T) {
	code, stdout, _ := runCmd(t, syncMain, "--list-rates", "--rate", "CreateThing=42")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"ListThingPrincipals  10", "DescribeThing  350", "CreateThing  42  (default 100)"} {
		if !strings.Contains(normalizeSpaces(stdout), want) {
			t.Errorf("--list-rates output lacks %q:\n%s", want, stdout)
		}
	}
}

// normalizeSpaces collapses runs of spaces to two, as tabwriter pads variably.
func normalizeSpaces(s string) string {
	var b strings.Builder
	spaces := 0
	for _, r := range s {
		if r == ' ' {
			spaces++
			continue
		}
		if spaces > 0 {
			b.WriteString(strings.Repeat(" ", min(spaces, 2)))
			spaces = 0
		}
		b.WriteRune(r)
	}
	return b.String()
}
