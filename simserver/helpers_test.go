package simserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testConfig is a fast configuration: health checks that notice an outage in well
// under a second while leaving the probe enough time on a loaded machine.
func testConfig(t *testing.T, devices int) Config {
	t.Helper()
	c := DefaultConfig()
	c.Devices, c.Dir, c.Interval, c.Threshold, c.TTL = devices, t.TempDir(), 200*time.Millisecond, 2, 100*time.Millisecond
	// Tests provision through the World directly, faster than AWS's quotas allow;
	// the ones about throttling set their rates.
	c.APIRates = nil
	return c
}

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// apiClient calls a control API without keeping connections (and their goroutines)
// alive between calls.
var apiClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// call sends one request and returns the status code and body; it fails the test on
// a transport error.
func call(t *testing.T, method, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, url, ct)
	}
	return resp.StatusCode, body
}

// callJSON calls and decodes a JSON answer with the wanted status code.
func callJSON[T any](t *testing.T, method, url string, want int) T {
	t.Helper()
	code, body := call(t, method, url)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, code, want, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s %s: %v\n%s", method, url, err, body)
	}
	return v
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func regionByRole(st Status, role string) RegionStatus {
	for _, r := range st.Regions {
		if r.Role == role {
			return r
		}
	}
	return RegionStatus{}
}

func hasSubstring(b []byte, sub string) bool { return strings.Contains(string(b), sub) }
