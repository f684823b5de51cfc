package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simserver"
	"github.com/iot-dr/iot-dr/simulator"
)

// simBuffer is a bytes.Buffer safe for the command's writes and the test's reads.
type simBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *simBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *simBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// simRun is `iotdr sim` running in the background.
type simRun struct {
	stdout, stderr simBuffer
	cancel         context.CancelFunc
	done           chan int
}

// startSim runs simCmd until the test stops it (stop, or at cleanup) and waits until
// it reports ready.
func startSim(t *testing.T, args ...string) *simRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &simRun{cancel: cancel, done: make(chan int, 1)}
	go func() { r.done <- simCmd(ctx, args, &r.stdout, &r.stderr) }()
	t.Cleanup(func() { r.stop(t) })
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(r.stderr.String(), "iotdr sim: ready") {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("iotdr sim exited %d before ready; stderr:\n%s", code, r.stderr.String())
		case <-deadline:
			t.Fatalf("iotdr sim not ready; stderr:\n%s", r.stderr.String())
		case <-tick.C:
		}
	}
	return r
}

// stop cancels the command (as SIGINT does) and returns its exit code.
func (r *simRun) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code // later calls see it too
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("iotdr sim did not stop; stderr:\n%s", r.stderr.String())
		return -1
	}
}

func readSimInfo(t *testing.T, dir string) simserver.Info {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, simserver.EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	var info simserver.Info
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("%s: %v", simserver.EndpointsFile, err)
	}
	return info
}

var simHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

func simPost(t *testing.T, url string) string {
	t.Helper()
	resp, err := simHTTP.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func simGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := simHTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestSimBadInput(t *testing.T) {
	// Bad input must fail before anything starts; the timeout turns a server that
	// started by mistake into a failure instead of a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--devices", "-1"}, "--devices must be between 0 and 10000, got -1"},
		{[]string{"--devices", "many"}, `invalid value "many" for flag -devices`},
		{[]string{"--listen", "0.0.0.0:8080"}, "loopback IP only"},
		{[]string{"--interval", "1ms"}, "--interval must be between 10ms and 1m0s"},
		{[]string{"--threshold", "0"}, "--threshold must be between 1 and 10, got 0"},
		{[]string{"--ttl", "0s"}, "--ttl must be between 10ms and 1h0m0s"},
		{[]string{"--replication-delay", "2m"}, "--replication-delay must be between 0 and 1m0s"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--aws-listen", "0.0.0.0:4566"}, "--aws-listen \"0.0.0.0:4566\": the AWS endpoint has no authentication"},
		{[]string{"--rate", "CreateThing"}, "want API=TPS"},
		{[]string{"--rate", "Frobnicate=5"}, `unknown API "Frobnicate"`},
		{[]string{"--rate", "CreateThing=-1"}, "TPS must be a number, 0 (unlimited) or more"},
	} {
		var out, errb bytes.Buffer
		code := simCmd(ctx, tc.args, &out, &errb)
		if code != exitError || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("iotdr sim %v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errb.String(), tc.want)
		}
		if strings.Contains(errb.String(), "starting") {
			t.Errorf("iotdr sim %v started despite bad input", tc.args)
		}
	}
	// A --dir that cannot be created fails after validation, still with exit 2.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := simCmd(ctx, []string{"--dir", filepath.Join(file, "sub"), "--devices", "0"}, &out, &errb); code != exitError ||
		!strings.Contains(errb.String(), "output directory") {
		t.Errorf("unwritable --dir: exit %d, stderr %q", code, errb.String())
	}
}

func TestSimHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := simCmd(context.Background(), []string{"-h"}, &out, &errb); code != exitOK || !strings.Contains(errb.String(), "-replication-delay") {
		t.Errorf("exit %d, stderr:\n%s", code, errb.String())
	}
}

// TestSimRunsUntilCancelled starts `iotdr sim`, checks what it prints and writes and
// that its control API answers, then cancels it and checks that it stopped cleanly.
func TestSimRunsUntilCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := filepath.Join(t.TempDir(), "sim")
	r := startSim(t, "--dir", dir, "--devices", "2", "--interval", "200ms", "--threshold", "2", "--ttl", "100ms")
	info := readSimInfo(t, dir)
	out := r.stdout.String()
	for _, want := range []string{
		"mqtts://" + simulator.PrimaryIP + ":" + info.Port, "mqtts://" + simulator.SecondaryIP + ":" + info.Port,
		"custom domain", info.Domain, info.DNSServer, info.ControlURL, info.AWSEndpointURL,
		"aws --endpoint-url " + info.AWSEndpointURL + " --region us-east-1 iot create-thing --thing-name my-thing",
		"export AWS_ENDPOINT_URL=" + info.AWSEndpointURL, filepath.Join(dir, simserver.StackOutputsFile),
		filepath.Join(dir, "ca.pem"),
		"device-0002", simserver.UnreplicatedThing + "  certificate registered in the primary only",
		"mosquitto_pub --cafile " + dir + "/ca.pem --cert " + dir + "/device-0001.crt.pem --key " + dir + "/device-0001.key.pem -h " +
			simulator.PrimaryIP + " -p " + info.Port + " -i device-0001 -q 1 -t devices/device-0001/telemetry",
		"mosquitto_pub --cafile " + dir + "/ca.pem --cert " + dir + "/" + simserver.UnreplicatedThing + ".crt.pem --key " + dir + "/" +
			simserver.UnreplicatedThing + ".key.pem -h " + simulator.SecondaryIP + " -p " + info.Port + " -i " + simserver.UnreplicatedThing +
			" -q 1 -t devices/" + simserver.UnreplicatedThing + "/telemetry -m hello",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"ca.pem", "device-0001.crt.pem", "device-0001.key.pem", "device-0002.key.pem",
		simserver.UnreplicatedThing + ".crt.pem", simserver.UnreplicatedThing + ".key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if st := simGet(t, info.ControlURL+"/status"); !strings.Contains(st, `"dns_active": true`) {
		t.Errorf("status:\n%s", st)
	}

	if code := r.stop(t); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "iotdr sim: stopped") {
		t.Errorf("stderr:\n%s", r.stderr.String())
	}
	if _, err := simHTTP.Get(info.ControlURL + "/status"); err == nil {
		t.Error("control API still answers after the command returned")
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
		t.Errorf("--dir files removed on exit: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSimTempDirRemoved checks that without --dir the files go to a temporary
// directory that is removed on exit.
func TestSimTempDirRemoved(t *testing.T) {
	r := startSim(t, "--devices", "0")
	var dir string
	for _, line := range strings.Split(r.stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "files" {
			dir = f[1]
		}
	}
	if dir == "" || !strings.Contains(r.stdout.String(), "removed on exit") {
		t.Fatalf("no temporary directory in stdout:\n%s", r.stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, simserver.UnreplicatedThing+".key.pem")); err != nil {
		t.Fatal(err)
	}
	if code := r.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after exit (%v)", dir, err)
	}
}

// runMosquitto runs one mosquitto client as thing against ip and returns its exit error
// and combined output. The brokers allow one CONNECT per second per client id, as AWS
// IoT Core does, and close a throttled CONNECT without a CONNACK ("The connection was
// lost"): like a device, the client is run again once the second has passed.
func runMosquitto(t *testing.T, info simserver.Info, tool, thing, ip string, args ...string) (string, error) {
	t.Helper()
	base := []string{"--cafile", info.CAFile, "--cert", filepath.Join(info.Dir, thing+".crt.pem"), "--key", filepath.Join(info.Dir, thing+".key.pem"),
		"-h", ip, "-p", info.Port, "-i", thing}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, tool, append(base, args...)...).CombinedOutput()
		cancel()
		if err == nil || attempt == 3 || !strings.Contains(string(out), "The connection was lost") {
			return string(out), err
		}
		time.Sleep(1100 * time.Millisecond) // the per-client-id CONNECT quota's refill
	}
}

// TestSimWithMosquitto drives `iotdr sim` with the real mosquitto clients: a replicated
// device publishes telemetry to the primary and receives it on its own subscription
// (mosquitto_rr: one session, since the policy ties the client id to the thing), the
// unreplicated device is refused by the secondary, and after the primary is taken down
// through the control API the same certificate publishes to the secondary.
func TestSimWithMosquitto(t *testing.T) {
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub", "mosquitto_rr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install mosquitto-clients): %v", tool, err)
		}
	}
	dir := t.TempDir()
	startSim(t, "--dir", dir, "--devices", "1")
	info := readSimInfo(t, dir)
	const thing, topic = "device-0001", "devices/device-0001/telemetry"

	out, err := runMosquitto(t, info, "mosquitto_pub", thing, simulator.PrimaryIP, "-q", "1", "-t", topic, "-m", `{"temp":21}`)
	if err != nil {
		t.Fatalf("mosquitto_pub to the primary: %v\n%s", err, out)
	}
	out, err = runMosquitto(t, info, "mosquitto_rr", thing, simulator.PrimaryIP, "-t", topic, "-e", topic, "-m", `{"temp":22}`, "-W", "10")
	if err != nil || strings.TrimSpace(out) != `{"temp":22}` {
		t.Fatalf("mosquitto_rr on the primary: %v\n%s", err, out)
	}
	// Another device's topic is outside the policy: the broker refuses the subscription.
	if out, _ := runMosquitto(t, info, "mosquitto_sub", thing, simulator.PrimaryIP, "-t", "devices/other/telemetry", "-C", "1", "-W", "5"); !strings.Contains(out, "subscription requests were denied") {
		t.Errorf("mosquitto_sub on another device's topic was not denied:\n%s", out)
	}

	out, err = runMosquitto(t, info, "mosquitto_pub", simserver.UnreplicatedThing, simulator.SecondaryIP, "-q", "1",
		"-t", "devices/"+simserver.UnreplicatedThing+"/telemetry", "-m", "hello")
	if err == nil || !strings.Contains(out, "not authorised") {
		t.Fatalf("the secondary did not refuse the unreplicated device: %v\n%s", err, out)
	}
	if refusals := simGet(t, info.ControlURL+"/regions/secondary/refusals"); !strings.Contains(refusals, "not registered in eu-west-1") {
		t.Errorf("secondary refusals:\n%s", refusals)
	}
	if out, err := runMosquitto(t, info, "mosquitto_pub", simserver.UnreplicatedThing, simulator.PrimaryIP, "-q", "1",
		"-t", "devices/"+simserver.UnreplicatedThing+"/telemetry", "-m", "hello"); err != nil {
		t.Errorf("the primary refused the unreplicated device: %v\n%s", err, out)
	}

	simPost(t, info.ControlURL+"/regions/primary/down")
	if out, err := runMosquitto(t, info, "mosquitto_pub", thing, simulator.PrimaryIP, "-q", "1", "-t", topic, "-m", "x"); err == nil {
		t.Errorf("mosquitto_pub to a down primary succeeded:\n%s", out)
	}
	out, err = runMosquitto(t, info, "mosquitto_pub", thing, simulator.SecondaryIP, "-q", "1", "-t", topic, "-m", `{"temp":23}`)
	if err != nil {
		t.Fatalf("mosquitto_pub to the secondary with the same certificate: %v\n%s", err, out)
	}
	out, err = runMosquitto(t, info, "mosquitto_rr", thing, simulator.SecondaryIP, "-t", topic, "-e", topic, "-m", `{"temp":24}`, "-W", "10")
	if err != nil || strings.TrimSpace(out) != `{"temp":24}` {
		t.Fatalf("mosquitto_rr on the secondary: %v\n%s", err, out)
	}
}
