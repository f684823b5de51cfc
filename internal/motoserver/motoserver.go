// Package motoserver starts a throwaway moto_server (the AWS API emulator of
// the moto project, https://github.com/getmoto/moto) for integration tests
// that drive real aws-sdk-go-v2 clients, and builds the aws.Config that points
// those clients at it.
//
// Each Start runs a fresh server process on a free loopback port, waits until
// it answers HTTP, and stops it (its whole process group) when the test ends.
// Where moto_server cannot be found the test is skipped with instructions,
// unless RequireEnv is set, in which case it fails: CI sets it so that a
// missing emulator cannot silently turn an integration suite into a no-op.
//
// It is a test helper only: it never talks to AWS, and moto is an emulator
// whose behaviour differs from AWS in places (see the conformance suite in
// e2e/conformance for the differences that matter to iot-dr).
package motoserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

const (
	// BinaryEnv names the environment variable that, when set, is the path of
	// the moto_server executable to run, overriding the search.
	BinaryEnv = "MOTO_SERVER"
	// RequireEnv names the environment variable that, when set to a non-empty
	// value, turns "moto_server not installed" from a skip into a failure.
	RequireEnv = "IOTDR_REQUIRE_MOTO"
	// AccountID is the account moto uses for requests signed with the static
	// credentials of AWSConfig; it appears in the ARNs moto returns.
	AccountID = "123456789012"

	// startTimeout bounds how long a server may take to answer; moto imports
	// every backend lazily, so a cold start on a busy 2-core machine takes a
	// few seconds at most.
	startTimeout = 60 * time.Second
	// stopTimeout bounds the wait after SIGTERM before the group is killed.
	stopTimeout = 5 * time.Second
	// startAttempts covers the small window in which another process may take
	// the port between choosing it and moto binding it.
	startAttempts = 3
	// logLimit caps the server output kept for failure reports.
	logLimit = 64 << 10
)

// installHint is appended to skip and failure messages.
const installHint = "install moto with its server extra (pip install 'moto[server]'), " +
	"put moto_server on PATH (pyenv: $HOME/.pyenv/shims), or set " + BinaryEnv + " to its path"

// Command returns the command line (program and leading arguments, to which
// "-H host -p port" are appended) that runs moto_server on this machine. It
// looks, in order, at $MOTO_SERVER, moto_server on PATH, the pyenv shims
// ($PYENV_ROOT/shims, $HOME/.pyenv/shims), and finally python3 -m moto.server
// when python3 can import moto.server. The error says what was tried.
func Command() ([]string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if isExecutable(p) {
			return []string{p}, nil
		}
		return nil, fmt.Errorf("%s=%q is not an executable file", BinaryEnv, p)
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return []string{p}, nil
	}
	var tried []string
	for _, root := range pyenvRoots() {
		p := filepath.Join(root, "shims", "moto_server")
		if isExecutable(p) {
			return []string{p}, nil
		}
		tried = append(tried, p)
	}
	if py, err := exec.LookPath("python3"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if exec.CommandContext(ctx, py, "-c", "import moto.server").Run() == nil {
			return []string{py, "-m", "moto.server"}, nil
		}
		tried = append(tried, py+" -m moto.server")
	}
	return nil, fmt.Errorf("moto_server not found (looked at $%s, PATH, %v)", BinaryEnv, tried)
}

func pyenvRoots() []string {
	var roots []string
	if r := os.Getenv("PYENV_ROOT"); r != "" {
		roots = append(roots, r)
	}
	if home, err := os.UserHomeDir(); err == nil {
		if r := filepath.Join(home, ".pyenv"); len(roots) == 0 || roots[0] != r {
			roots = append(roots, r)
		}
	}
	return roots
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Start runs a fresh moto_server on a free 127.0.0.1 port and returns its
// endpoint URL, e.g. "http://127.0.0.1:41234". It returns only once the server
// answers HTTP, and stops the server in t.Cleanup. Without moto_server the test
// is skipped (or fails when $IOTDR_REQUIRE_MOTO is set). The server's output is
// logged when the test fails.
func Start(t testing.TB) string {
	t.Helper()
	argv, err := Command()
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("moto_server required by $%s but not installed: %v; %s", RequireEnv, err, installHint)
		}
		t.Skipf("moto_server not installed: %v; %s", err, installHint)
	}
	var errs []error
	for range startAttempts {
		srv, err := start(argv)
		if err == nil {
			t.Cleanup(func() {
				if err := srv.stop(); err != nil {
					t.Errorf("motoserver: stopping %s: %v", srv.url, err)
				}
				if t.Failed() {
					t.Logf("moto_server output (last %d bytes at most):\n%s", logLimit, srv.log.String())
				}
			})
			return srv.url
		}
		errs = append(errs, err)
	}
	t.Fatalf("motoserver: could not start %v: %v", argv, errors.Join(errs...))
	return ""
}

// server is one running moto_server process.
type server struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	werr error         // Wait's result, valid after done
	log  *tailBuffer
}

func start(argv []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, argv[1:]...), "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd := exec.Command(argv[0], args...)
	log := &tailBuffer{max: logLimit}
	cmd.Stdout, cmd.Stderr = log, log
	// Python writes its own output unbuffered so the log is complete on failure.
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	s := &server{
		url:  "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:  cmd,
		done: make(chan struct{}),
		log:  log,
	}
	go func() {
		s.werr = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(startTimeout); err != nil {
		_ = s.stop()
		return nil, fmt.Errorf("%w; output:\n%s", err, log.String())
	}
	return s, nil
}

// freePort asks the OS for a free loopback port. The port is released before
// moto binds it; Start retries if someone else takes it in between.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("choosing a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls moto's own API until it answers 200, the process exits or
// the timeout passes.
func (s *server) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(s.url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("moto_server exited before answering on %s: %v", s.url, s.werr)
		case <-deadline.C:
			return fmt.Errorf("moto_server did not answer on %s within %v (last error: %v)", s.url, timeout, err)
		case <-tick.C:
		}
	}
}

// stop terminates the process group politely, then forcibly, and waits for
// the process to exit.
func (s *server) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := signalGroup(s.cmd, false); err != nil {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := signalGroup(s.cmd, true); err != nil {
		return err
	}
	<-s.done
	return nil
}

// Reset wipes all state of the moto_server at endpoint (every service, every
// Region) through moto's reset API, so that one server can serve several
// independent test cases.
func Reset(t testing.TB, endpoint string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/moto-api/reset", nil)
	if err != nil {
		t.Fatalf("motoserver: reset request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("motoserver: reset %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("motoserver: reset %s: HTTP %s", endpoint, resp.Status)
	}
}

// AWSConfig returns an aws.Config for region whose clients send every request
// to endpoint (BaseEndpoint) with static test credentials, so no credential
// chain, shared config file or environment variable of the machine is read.
// Use it for both the iot and the iotdataplane clients: moto serves the data
// plane on the same URL and routes by the request's signing name.
func AWSConfig(t testing.TB, endpoint, region string) aws.Config {
	t.Helper()
	if endpoint == "" || region == "" {
		t.Fatalf("motoserver: AWSConfig needs an endpoint and a region (got %q, %q)", endpoint, region)
	}
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
		// A local emulator answers at once; retries only hide its errors.
		RetryMaxAttempts: 1,
	}
}

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use, as exec copies stdout and stderr in separate goroutines.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
