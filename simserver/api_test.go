package simserver

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/redrive"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/simulator"
)

func TestAPIErrors(t *testing.T) {
	s := startServer(t, testConfig(t, 0))
	base := s.Info().ControlURL
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/nope", 404, "no route GET /nope"},
		{"POST", "/regions/mars/down", 404, `unknown region \"mars\"`},
		{"GET", "/regions/moon/things", 404, `unknown region \"moon\"`},
		{"POST", "/regions/primary/explode", 404, "no route"},
		{"GET", "/regions/primary/down", 405, "method not allowed, use POST"},
		{"POST", "/status", 405, "use GET"},
		{"DELETE", "/replication/pause", 405, "use POST"},
		{"POST", "/regions/primary/flap?period=1", 400, "missing unit"},
		{"POST", "/regions/primary/flap?period=1ms", 400, "period must be between 10ms and 1m0s"},
		{"POST", "/regions/primary/flap?count=0", 400, "count must be between 1 and 1000, got 0"},
		{"POST", "/regions/primary/flap?count=six", 400, `count \"six\" is not an integer`},
		{"POST", "/regions/primary/flap?speed=1", 400, `unknown parameter \"speed\"`},
		{"POST", "/regions/primary/flap?count=1&count=2", 400, "count given 2 times"},
		{"POST", "/regions/primary/down?now=1", 400, "takes no query parameters"},
		{"GET", "/", 200, "/regions/{r}/flap"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, body := call(t, tc.method, base+tc.path)
			if code != tc.code || !hasSubstring(body, tc.want) {
				t.Errorf("status %d, body %s; want %d and %q", code, body, tc.code, tc.want)
			}
		})
	}
	// None of the bad requests may have changed anything.
	st := callJSON[Status](t, "GET", base+"/status", 200)
	for _, r := range st.Regions {
		if r.Down || !r.BrokerUp || r.ProbeFailing || r.Flapping {
			t.Errorf("after bad requests: %+v", r)
		}
	}
}

// TestRegionOutageAndFailback takes the primary down through the API and watches the
// health check and the DNS answer move to the secondary and back.
func TestRegionOutageAndFailback(t *testing.T) {
	s := startServer(t, testConfig(t, 1))
	base := s.Info().ControlURL
	status := func() Status { return callJSON[Status](t, "GET", base+"/status", 200) }

	st := status()
	if st.DNSAnswer.Region != s.World().Primary.Name || st.DNSAnswer.IP != simulator.PrimaryIP || !regionByRole(st, RolePrimary).DNSActive {
		t.Fatalf("initial DNS answer %+v", st.DNSAnswer)
	}
	r := callJSON[RegionStatus](t, "POST", base+"/regions/primary/down", 200)
	if !r.Down || r.BrokerUp || r.Role != RolePrimary {
		t.Errorf("after down: %+v", r)
	}
	code, body := call(t, "GET", base+"/regions/primary/things")
	if code != 503 || !hasSubstring(body, "ServiceUnavailableException") {
		t.Errorf("things of a down Region: %d %s", code, body)
	}
	eventually(t, 10*time.Second, "DNS failover to the secondary", func() bool {
		st := status()
		return st.DNSAnswer.Record == "SECONDARY" && !regionByRole(st, RolePrimary).Healthy && regionByRole(st, RoleSecondary).DNSActive
	})
	h := callJSON[Health](t, "GET", base+"/regions/primary/health", 200)
	if h.Healthy || len(h.Checkers) == 0 || len(h.Transitions) == 0 || h.Transitions[len(h.Transitions)-1].Healthy {
		t.Errorf("primary health while down: %+v", h)
	}
	for _, c := range h.Checkers {
		if hasSubstring([]byte(c.LastError), "secret=") {
			t.Errorf("checker %d error leaks the probe secret: %q", c.Index, c.LastError)
		}
	}
	r = callJSON[RegionStatus](t, "POST", base+"/regions/us-east-1/up", 200) // by Region name
	if r.Down || !r.BrokerUp {
		t.Errorf("after up: %+v", r)
	}
	eventually(t, 10*time.Second, "failback to the primary", func() bool {
		st := status()
		return st.DNSAnswer.Record == "PRIMARY" && regionByRole(st, RolePrimary).Healthy
	})
}

func TestBrokerAndProbeVerbs(t *testing.T) {
	s := startServer(t, testConfig(t, 0))
	base := s.Info().ControlURL
	for _, tc := range []struct {
		path  string
		check func(RegionStatus) bool
	}{
		{"/regions/secondary/broker/down", func(r RegionStatus) bool { return !r.BrokerUp && !r.Down }},
		{"/regions/secondary/broker/up", func(r RegionStatus) bool { return r.BrokerUp }},
		{"/regions/secondary/probe/fail", func(r RegionStatus) bool { return r.ProbeFailing && r.BrokerUp }},
		{"/regions/secondary/probe/ok", func(r RegionStatus) bool { return !r.ProbeFailing }},
	} {
		r := callJSON[RegionStatus](t, "POST", base+tc.path, 200)
		if r.Role != RoleSecondary || !tc.check(r) {
			t.Errorf("POST %s: %+v", tc.path, r)
		}
	}
	// A failing probe alone, the broker up, makes the health check unhealthy.
	callJSON[RegionStatus](t, "POST", base+"/regions/primary/probe/fail", 200)
	eventually(t, 10*time.Second, "primary unhealthy on a failing probe", func() bool {
		h := callJSON[Health](t, "GET", base+"/regions/primary/health", 200)
		return !h.Healthy && h.ProbeFailing
	})
	callJSON[RegionStatus](t, "POST", base+"/regions/primary/probe/ok", 200)
	eventually(t, 10*time.Second, "primary healthy again", func() bool {
		return callJSON[Health](t, "GET", base+"/regions/primary/health", 200).Healthy
	})
}

func TestFlap(t *testing.T) {
	s := startServer(t, testConfig(t, 0))
	base := s.Info().ControlURL
	region := func() RegionStatus {
		return regionByRole(callJSON[Status](t, "GET", base+"/status", 200), RolePrimary)
	}

	t.Run("cancelled by probe ok", func(t *testing.T) {
		f := callJSON[Flap](t, "POST", base+"/regions/primary/flap?period=20ms&count=1000", 202)
		if !f.Flapping || f.Count != 1000 || f.Period != "20ms" || f.Region != s.World().Primary.Name {
			t.Fatalf("flap answer %+v", f)
		}
		var seen [2]bool
		eventually(t, 10*time.Second, "the probe toggling both ways", func() bool {
			r := region()
			if !r.Flapping {
				t.Fatalf("flap stopped early: %+v", r)
			}
			if r.ProbeFailing {
				seen[1] = true
			} else {
				seen[0] = true
			}
			return seen[0] && seen[1]
		})
		r := callJSON[RegionStatus](t, "POST", base+"/regions/primary/probe/ok", 200)
		if r.Flapping || r.ProbeFailing {
			t.Fatalf("after probe/ok: %+v", r)
		}
		// Stopped for good: the probe stays passing.
		for range 5 {
			time.Sleep(20 * time.Millisecond) // one flap period: a running flap would toggle
			if r := region(); r.ProbeFailing || r.Flapping {
				t.Fatalf("flap still running: %+v", r)
			}
		}
	})
	t.Run("ends passing", func(t *testing.T) {
		callJSON[Flap](t, "POST", base+"/regions/primary/flap?period=10ms&count=3", 202)
		eventually(t, 10*time.Second, "the flap to end", func() bool { return !region().Flapping })
		if r := region(); r.ProbeFailing {
			t.Errorf("probe left failing after an odd count: %+v", r)
		}
	})
	t.Run("replaced by a new flap", func(t *testing.T) {
		callJSON[Flap](t, "POST", base+"/regions/primary/flap?period=1m&count=2", 202)
		if r := region(); !r.Flapping || !r.ProbeFailing {
			t.Fatalf("first toggle not applied at once: %+v", r)
		}
		callJSON[Flap](t, "POST", base+"/regions/primary/flap?period=10ms&count=2", 202)
		eventually(t, 10*time.Second, "the second flap to end", func() bool { return !region().Flapping })
	})
}

func TestReplicationPauseResume(t *testing.T) {
	s := startServer(t, testConfig(t, 0))
	base := s.Info().ControlURL
	rep := callJSON[ReplicationStatus](t, "POST", base+"/replication/pause", 200)
	if !rep.Paused || !rep.Held {
		t.Fatalf("after pause: %+v", rep)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.World().ProvisionDevice(ctx, simulator.Device{Thing: "late"}); err != nil {
		t.Fatal(err)
	}
	// Capture is asynchronous (a rule's Lambda action): the change waits in the
	// replication queue once it is captured.
	eventually(t, 10*time.Second, "the capture to wait for replication", func() bool {
		return callJSON[Status](t, "GET", base+"/status", 200).Replication.Pending > 0
	})
	if slices.Contains(callJSON[Things](t, "GET", base+"/regions/secondary/things", 200).Things, "late") {
		t.Error("a thing replicated while replication was paused")
	}
	if primary := callJSON[Things](t, "GET", base+"/regions/primary/things", 200); !slices.Contains(primary.Things, "late") {
		t.Errorf("primary things %v", primary.Things)
	}
	rep = callJSON[ReplicationStatus](t, "POST", base+"/replication/resume", 200)
	if rep.Paused {
		t.Fatalf("after resume: %+v", rep)
	}
	eventually(t, 30*time.Second, "the thing to replicate after resume", func() bool {
		return slices.Contains(callJSON[Things](t, "GET", base+"/regions/secondary/things", 200).Things, "late")
	})
}

// TestThingsPaginates lists more things than one ListThings page holds.
func TestThingsPaginates(t *testing.T) {
	s := startServer(t, testConfig(t, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := []string{UnreplicatedThing}
	for i := range 260 {
		name := "t-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		if _, err := s.World().ProvisionDevice(ctx, simulator.Device{Thing: name}); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	slices.Sort(want)
	got := callJSON[Things](t, "GET", s.Info().ControlURL+"/regions/primary/things", 200)
	if !slices.Equal(got.Things, want) || got.Count != len(want) {
		b, _ := json.Marshal(got)
		t.Errorf("things = %s, want %d names", b, len(want))
	}
}

func TestHealthErrorsHideTheProbeSecret(t *testing.T) {
	in := `request: Get "http://127.0.0.1:4000/probe?secret=0123abcd&x=1": context deadline exceeded`
	want := `request: Get "http://127.0.0.1:4000/probe?…": context deadline exceeded`
	if got := querySecret.ReplaceAllString(in, "?…"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSweepCopiesTheLateCertificate: the unreplicated device's certificate was attached
// after its thing's re-checks ended, so no event carried it; POST /sweep runs the
// capture sweep, which finds it, and the secondary then has it.
func TestSweepCopiesTheLateCertificate(t *testing.T) {
	s := startServer(t, testConfig(t, 0))
	base := s.Info().ControlURL
	cert := func() bool {
		p, err := replication.ThingCertificates(context.Background(), s.World().Primary.Registry, UnreplicatedThing)
		if err != nil || len(p) != 1 {
			t.Fatalf("primary certificates of %s: %v %v", UnreplicatedThing, p, err)
		}
		for id := range p {
			_, ok := s.World().Secondary.Registry.CertificateByFingerprint(id)
			return ok
		}
		return false
	}
	if cert() {
		t.Fatal("the unreplicated certificate is in the secondary before the sweep")
	}
	st := callJSON[capture.SweepState](t, "POST", base+"/sweep", 200)
	if !st.Done || st.Written == 0 {
		t.Errorf("sweep = %+v, want done with items written", st)
	}
	eventually(t, 10*time.Second, "the certificate to reach the secondary", cert)
	if rd := callJSON[redrive.Response](t, "POST", base+"/redrive", 200); rd.StillFailing != 0 {
		t.Errorf("redrive = %+v", rd)
	}
}
