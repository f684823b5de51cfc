package simserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iot-dr/iot-dr/simulator"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Dir = "d"
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"negative devices", func(c *Config) { c.Devices = -1 }, "--devices must be between 0 and 10000, got -1"},
		{"too many devices", func(c *Config) { c.Devices = MaxDevices + 1 }, "--devices must be between 0 and 10000"},
		{"no dir", func(c *Config) { c.Dir = "" }, "--dir is required"},
		{"interval too short", func(c *Config) { c.Interval = time.Millisecond }, "--interval must be between 10ms and 1m0s, got 1ms"},
		{"threshold", func(c *Config) { c.Threshold = 11 }, "--threshold must be between 1 and 10, got 11"},
		{"ttl", func(c *Config) { c.TTL = time.Millisecond }, "--ttl must be between 10ms and 1h0m0s"},
		{"zero ttl", func(c *Config) { c.TTL = 0 }, "--ttl must be between 10ms and 1h0m0s, got 0s"},
		{"zero interval", func(c *Config) { c.Interval = 0 }, "--interval must be between"},
		{"zero threshold", func(c *Config) { c.Threshold = 0 }, "--threshold must be between 1 and 10, got 0"},
		{"empty listen", func(c *Config) { c.Listen = "" }, ""},
		{"replication delay", func(c *Config) { c.ReplicationDelay = -time.Second }, "--replication-delay must be between 0 and 1m0s"},
		{"listen not loopback", func(c *Config) { c.Listen = "0.0.0.0:8080" }, "loopback IP only"},
		{"listen host name", func(c *Config) { c.Listen = "localhost:8080" }, "loopback IP only"},
		{"listen malformed", func(c *Config) { c.Listen = "8080" }, `--listen "8080"`},
		{"listen ipv6 loopback", func(c *Config) { c.Listen = "[::1]:0" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// TestStartFiles checks the files and the replication state Start promises: devices in
// both Regions, the unreplicated device's thing in both and its certificate in the
// primary only, and certificates that ordinary clients can load from disk.
func TestStartFiles(t *testing.T) {
	s := startServer(t, testConfig(t, 2))
	info := s.Info()

	var onDisk Info
	b, err := os.ReadFile(filepath.Join(info.Dir, EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatalf("%s: %v", EndpointsFile, err)
	}
	if onDisk.ControlURL != info.ControlURL || onDisk.Port != info.Port || len(onDisk.Devices) != 3 {
		t.Errorf("%s = %+v, want %+v", EndpointsFile, onDisk, info)
	}
	if got := []string{info.Regions[0].Endpoint, info.Regions[1].Endpoint}; got[0] != simulator.PrimaryIP+":"+info.Port || got[1] != simulator.SecondaryIP+":"+info.Port {
		t.Errorf("endpoints %v", got)
	}
	w := s.World()
	for _, d := range info.Devices {
		fi, err := os.Stat(d.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", d.KeyFile, perm)
		}
		if _, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile); err != nil {
			t.Errorf("%s: %v", d.Thing, err)
		}
		if _, ok := w.Primary.Registry.CertificateByFingerprint(d.CertificateID); !ok {
			t.Errorf("%s: certificate not in the primary", d.Thing)
		}
		_, inSecondary := w.Secondary.Registry.CertificateByFingerprint(d.CertificateID)
		if inSecondary != d.Replicated || d.Replicated != (d.Thing != UnreplicatedThing) {
			t.Errorf("%s: replicated %t, certificate in the secondary %t", d.Thing, d.Replicated, inSecondary)
		}
	}
	things := callJSON[Things](t, "GET", info.ControlURL+"/regions/secondary/things", 200)
	if want := []string{"device-0001", "device-0002", UnreplicatedThing}; !slices.Equal(things.Things, want) || things.Count != 3 {
		t.Errorf("secondary things = %+v, want %v (the unreplicated device's thing replicates, its certificate does not)", things, want)
	}
}

// connect opens an MQTT session as thing against a Region, with the files Start wrote.
func connect(t *testing.T, info Info, thing, ip string) (paho.Client, error) {
	t.Helper()
	caPEM, err := os.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", info.CAFile)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(info.Dir, thing+".crt.pem"), filepath.Join(info.Dir, thing+".key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// ServerName left empty: the client verifies the IP SAN, as mosquitto_pub -h <ip> does.
	opts := paho.NewClientOptions().AddBroker("tls://" + net.JoinHostPort(ip, info.Port)).SetClientID(thing).
		SetTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		// No fallback to MQTT 3.1 after a refusal: its second CONNECT within the second
		// would be throttled (1 CONNECT/s per client ID), hiding the refusal's reason.
		SetProtocolVersion(4)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// TestDevicesConnectWithTheFiles drives the written certificates with a Go MQTT client:
// a replicated device round-trips telemetry in the primary, the unreplicated one is
// refused by the secondary with the reason recorded, and after a Region outage of the
// primary the same certificate works against the secondary.
func TestDevicesConnectWithTheFiles(t *testing.T) {
	s := startServer(t, testConfig(t, 1))
	info := s.Info()

	c, err := connect(t, info, "device-0001", simulator.PrimaryIP)
	if err != nil {
		t.Fatalf("device-0001 to the primary: %v", err)
	}
	got := make(chan string, 1)
	topic := "devices/device-0001/telemetry"
	if tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := c.Publish(topic, 1, false, `{"temp":21}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case m := <-got:
		if m != `{"temp":21}` {
			t.Errorf("received %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("own telemetry not received")
	}
	c.Disconnect(100)

	if _, err := connect(t, info, UnreplicatedThing, simulator.SecondaryIP); err == nil {
		t.Fatal("the secondary admitted the unreplicated device")
	}
	refusals := callJSON[[]Refusal](t, "GET", info.ControlURL+"/regions/secondary/refusals", 200)
	if n := len(refusals); n == 0 || refusals[n-1].ClientID != UnreplicatedThing || refusals[n-1].Action != "iot:Connect" ||
		!strings.Contains(refusals[n-1].Reason, "not registered in "+s.World().Secondary.Name) {
		t.Errorf("secondary refusals = %+v", refusals)
	}
	if _, err := connect(t, info, UnreplicatedThing, simulator.PrimaryIP); err != nil {
		t.Errorf("the primary refused the unreplicated device: %v", err)
	}

	callJSON[RegionStatus](t, "POST", info.ControlURL+"/regions/primary/down", 200)
	if _, err := connect(t, info, "device-0001", simulator.PrimaryIP); err == nil {
		t.Error("the primary admitted a device while down")
	}
	if _, err := connect(t, info, "device-0001", simulator.SecondaryIP); err != nil {
		t.Errorf("device-0001 to the secondary: %v", err)
	}
}

// TestCloseStopsEverything checks that Close leaves no goroutine behind and frees the
// control API's address.
func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, testConfig(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	info := s.Info()
	callJSON[Flap](t, "POST", info.ControlURL+"/regions/primary/flap?period=10ms&count=1000", 202)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := apiClient.Get(info.ControlURL + "/status"); err == nil {
		t.Error("control API still answers after Close")
	}
	// Connections the health checks kept alive end when their peers close; give them a
	// moment rather than a fixed sleep.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before Start, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartFailsCleanly(t *testing.T) {
	// A file where the directory should be: Start must fail and stop what it started.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"dir is a file", Config{Dir: filepath.Join(file, "sub"), Interval: time.Second, TTL: time.Second, Threshold: 3}, "output directory"},
		{"invalid", Config{Dir: t.TempDir(), Interval: time.Second, TTL: time.Second, Threshold: 20}, "--threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(context.Background(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start: %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("listen address taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cfg := testConfig(t, 0)
		cfg.Listen = ln.Addr().String()
		s, err := Start(context.Background(), cfg)
		if err == nil {
			s.Close()
			t.Fatal("Start succeeded on a taken address")
		}
		if !strings.Contains(err.Error(), "control API") {
			t.Errorf("Start: %v", err)
		}
	})
}
