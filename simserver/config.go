package simserver

import (
	"fmt"
	"log/slog"
	"net"
	"time"

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
	// Logger receives the simulator's logs (nil: discarded).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults of `iotdr sim`: 3 devices, health checks every
// second with threshold 3, a 1 s TTL, no replication delay, the control API on an
// OS-chosen loopback port. Dir is left to the caller.
func DefaultConfig() Config {
	return Config{Devices: 3, Listen: "127.0.0.1:0", Interval: time.Second, Threshold: 3, TTL: time.Second}
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
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
	return checkLoopback(c.Listen)
}

// checkLoopback refuses anything but a loopback host:port: the control API has no
// authentication.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: the control API has no authentication and listens on a loopback IP only (e.g. 127.0.0.1:8080)", addr)
	}
	return nil
}
