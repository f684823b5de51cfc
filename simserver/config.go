package simserver

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"time"

	"github.com/iot-dr/iot-dr/fleetsync"
	"github.com/iot-dr/iot-dr/simulator"
)

// Limits of Config's settings. They keep a hand-driven server responsive: every
// device is provisioned and replicated before Start returns, and each health check
// runs route53.DefaultCheckers probes per interval against each Region.
const (
	MaxDevices          = 10000
	MinInterval         = 10 * time.Millisecond
	MaxInterval         = time.Minute
	MaxTTL              = time.Hour
	MaxReplicationDelay = time.Minute
)

// Config configures a server. Start from DefaultConfig: a zero Interval, Threshold or
// TTL is invalid rather than defaulted, so that an explicit 0 from the command line is
// refused instead of silently replaced.
type Config struct {
	// Devices is the number of replicated devices to provision; the unreplicated
	// device comes on top.
	Devices int
	// Dir receives ca.pem, <thing>.crt.pem, <thing>.key.pem and endpoints.json; it is
	// created (0700) when missing. Required.
	Dir string
	// Listen is the control API's address; it must be a loopback IP (empty means
	// 127.0.0.1:0, a port chosen by the OS).
	Listen string
	// Interval and Threshold are the Route 53 health checks' request interval and
	// failure threshold.
	Interval  time.Duration
	Threshold int
	// TTL is the failover records' TTL.
	TTL time.Duration
	// ReplicationDelay is the global table's replication delay.
	ReplicationDelay time.Duration
	// AWSListen is the AWS API endpoint's address (both Regions, every service); like
	// Listen it must be a loopback IP (empty means 127.0.0.1:0).
	AWSListen string
	// APIRates limits each Region's AWS APIs (operation name -> TPS), the IoT control
	// plane in the registries and the shadow data plane at the endpoint; nil or a
	// missing API means unlimited. They apply once the devices are provisioned.
	APIRates map[string]float64
	// Logger receives the simulator's logs (nil: discarded).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults of `iotdr sim`: 3 devices, health checks every
// second with threshold 3, a 1 s TTL, no replication delay, the control API and the
// AWS endpoint on OS-chosen loopback ports, AWS's default API rates
// (DefaultAPIRates). Dir is left to the caller.
func DefaultConfig() Config {
	return Config{Devices: 3, Listen: "127.0.0.1:0", AWSListen: "127.0.0.1:0", Interval: time.Second, Threshold: 3, TTL: time.Second,
		APIRates: DefaultAPIRates()}
}

// DefaultAPIRates returns AWS's default per-Region rate quotas for every API the
// endpoint serves: fleetsync.DefaultRates (the APIs sync and verify call, with their
// sources) and, from the same "AWS IoT Core throttling quotas" table, the provisioning
// and listing APIs sync does not call.
func DefaultAPIRates() map[string]float64 {
	r := maps.Clone(fleetsync.DefaultRates)
	for api, tps := range map[string]float64{
		"CreateKeysAndCertificate": 10,
		"CreateCertificateFromCsr": 15,
		"RegisterCertificate":      10,
		"DescribeEndpoint":         10,
		"ListCertificates":         10,
		"ListPolicies":             10,
		"SetDefaultPolicyVersion":  10,
	} {
		r[api] = tps
	}
	return r
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.AWSListen == "" {
		c.AWSListen = "127.0.0.1:0"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first setting that is out of range, named after its `iotdr sim`
// flag, after filling in defaults on a copy.
func (c Config) Validate() error {
	c.defaults()
	switch {
	case c.Devices < 0 || c.Devices > MaxDevices:
		return fmt.Errorf("--devices must be between 0 and %d, got %d", MaxDevices, c.Devices)
	case c.Dir == "":
		return fmt.Errorf("--dir is required")
	case c.Interval < MinInterval || c.Interval > MaxInterval:
		return fmt.Errorf("--interval must be between %v and %v, got %v", MinInterval, MaxInterval, c.Interval)
	case c.Threshold < 1 || c.Threshold > 10:
		return fmt.Errorf("--threshold must be between 1 and 10, got %d", c.Threshold)
	case c.TTL < simulator.TTLUnit || c.TTL > MaxTTL:
		return fmt.Errorf("--ttl must be between %v and %v, got %v", simulator.TTLUnit, MaxTTL, c.TTL)
	case c.ReplicationDelay < 0 || c.ReplicationDelay > MaxReplicationDelay:
		return fmt.Errorf("--replication-delay must be between 0 and %v, got %v", MaxReplicationDelay, c.ReplicationDelay)
	}
	for api, tps := range c.APIRates {
		if tps < 0 || math.IsNaN(tps) || math.IsInf(tps, 0) {
			return fmt.Errorf("--rate %s=%v: the rate must be a number of calls per second, 0 or more", api, tps)
		}
	}
	if err := checkLoopback("--listen", "the control API", c.Listen); err != nil {
		return err
	}
	return checkLoopback("--aws-listen", "the AWS endpoint", c.AWSListen)
}

// checkLoopback refuses anything but a loopback host:port: neither the control API
// nor the AWS endpoint authenticates its callers.
func checkLoopback(flag, what, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", flag, addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s %q: %s has no authentication and listens on a loopback IP only (e.g. 127.0.0.1:8080)", flag, addr, what)
	}
	return nil
}
