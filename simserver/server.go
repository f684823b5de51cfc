package simserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// UnreplicatedThing is the device whose certificate is registered in the primary only
// (see the package documentation).
const UnreplicatedThing = "unreplicated-device"

// Files written to Config.Dir besides the devices' <thing>.crt.pem and <thing>.key.pem.
const (
	CAFile        = "ca.pem"
	EndpointsFile = "endpoints.json"
	// StackOutputsFile holds what `pulumi stack output --json` would print for both
	// stacks, {"primary": ..., "secondary": ...}: the --stack-outputs of
	// `iotdr drill --aws --endpoint-url`.
	StackOutputsFile = "stack-outputs.json"
)

// Region roles, as used in the control API's paths.
const (
	RolePrimary   = "primary"
	RoleSecondary = "secondary"
)

// Info is what a client needs to reach the server; Start writes it to
// Dir/endpoints.json.
type Info struct {
	// Dir is the directory holding the files below (absolute).
	Dir string `json:"dir"`
	// ControlURL is the control API's base URL, e.g. http://127.0.0.1:8080.
	ControlURL string `json:"control_url"`
	// AWSEndpointURL is the AWS API endpoint for both Regions (the Region comes from
	// each request's SigV4 credential scope): the --endpoint-url of the aws CLI and
	// the AWS_ENDPOINT_URL of the SDKs.
	AWSEndpointURL string `json:"aws_endpoint_url"`
	// Domain is the custom domain devices connect to through DNSServer.
	Domain string `json:"domain"`
	// DNSServer is the failover DNS server's address (UDP and TCP). Its wire TTLs are
	// in units of simulator.TTLUnit, not seconds.
	DNSServer string `json:"dns_server"`
	// Port is both brokers' MQTT-over-TLS port.
	Port string `json:"port"`
	// CAFile is the CA certificate that signed both brokers' server certificates.
	CAFile string `json:"ca_file"`
	// StackOutputsFile is the simulated stacks' outputs, for `iotdr drill --aws`.
	StackOutputsFile string       `json:"stack_outputs_file"`
	Regions          []RegionInfo `json:"regions"`
	Devices          []DeviceInfo `json:"devices"`
}

// RegionInfo describes one Region's endpoints.
type RegionInfo struct {
	Role string `json:"role"`
	Name string `json:"name"`
	// Endpoint is the broker's ip:port. The IP is a SAN of the server certificate, so
	// clients can connect by address and still verify the server.
	Endpoint string `json:"endpoint"`
	// EndpointName is the Region's own IoT endpoint name (also a SAN).
	EndpointName string `json:"endpoint_name"`
}

// DeviceInfo describes one provisioned device.
type DeviceInfo struct {
	Thing         string `json:"thing"`
	CertificateID string `json:"certificate_id"`
	CertFile      string `json:"cert_file"`
	KeyFile       string `json:"key_file"`
	// Replicated is false for UnreplicatedThing only.
	Replicated bool `json:"replicated"`
}

// Server is a running simulator with its control API. Close stops it.
type Server struct {
	cfg     Config
	world   *simulator.World
	edge    *simulator.Edge
	regions []*regionState // primary, secondary
	info    Info
	log     *slog.Logger

	ln      net.Listener
	http    *http.Server
	served  chan struct{}
	awsHTTP *http.Server
	awsDone chan struct{}
	closeMu sync.Once
	closeEr error

	// mu serialises the chaos verbs and guards the state they track (the simulator's
	// components do not report it all back) and the running flaps.
	mu     sync.Mutex
	paused bool
	closed bool
}

// Start starts the simulator, provisions the devices, writes the files and serves the
// control API. It returns once everything is replicated and reachable. ctx bounds the
// start-up only; the server runs until Close.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("simserver: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("simserver: output directory: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, served: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.world, err = simulator.New(ctx, simulator.Options{ReplicationDelay: cfg.ReplicationDelay, Logger: cfg.Logger,
		// As strict as AWS: registry events and rule actions at least once and
		// unordered, AWS's quotas.
		Fidelity: simulator.StrictFidelity(1),
		// Ordinary MQTT clients reach the Regions by IP address (mosquitto_pub -h 127.0.0.12),
		// and TLS sends no SNI for an address: the secondary's SNI_ONLY copies would refuse them.
		SNIOptional: true}); err != nil {
		return nil, fmt.Errorf("simserver: %w", err)
	}
	if s.edge, err = s.world.StartEdge(ctx, simulator.EdgeOptions{Interval: cfg.Interval, FailureThreshold: cfg.Threshold, TTL: cfg.TTL}); err != nil {
		return nil, fmt.Errorf("simserver: %w", err)
	}
	s.regions = []*regionState{
		{role: RolePrimary, r: s.world.Primary, ip: simulator.PrimaryIP},
		{role: RoleSecondary, r: s.world.Secondary, ip: simulator.SecondaryIP},
	}
	devices, err := s.provision(ctx, cfg.Devices)
	if err != nil {
		return nil, err
	}
	s.info = Info{
		Dir: dir, Domain: s.world.Options().Domain, DNSServer: s.edge.DNS.Addr(), Port: s.world.Port,
		CAFile: filepath.Join(dir, CAFile),
	}
	for _, rs := range s.regions {
		s.info.Regions = append(s.info.Regions, RegionInfo{Role: rs.role, Name: rs.r.Name,
			Endpoint: net.JoinHostPort(rs.ip, s.world.Port), EndpointName: simulator.Endpoint(rs.r.Name)})
	}
	if err := s.writeFiles(devices); err != nil {
		return nil, err
	}
	// The quotas apply from here on: provisioning and the start-up replication run
	// unthrottled so that a large --devices does not take minutes.
	for _, rs := range s.regions {
		for api, tps := range cfg.APIRates {
			rs.r.Registry.SetRate(api, tps)
		}
	}
	if err := s.serve(); err != nil {
		return nil, err
	}
	if err := s.serveAWS(); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, EndpointsFile), s.info, 0o644); err != nil {
		return nil, err
	}
	return s, nil
}

// device is a provisioned device and whether it was replicated.
type device struct {
	thing      string
	id         *pki.Device
	replicated bool
}

// settleTimeout bounds one wait for the pipeline at start-up, generously: replication
// of n devices takes milliseconds each.
func settleTimeout(n int) time.Duration { return time.Minute + time.Duration(n)*20*time.Millisecond }

// provision provisions n replicated devices and the unreplicated one.
func (s *Server) provision(ctx context.Context, n int) ([]device, error) {
	w := s.world
	var out []device
	for i := range n {
		thing := fmt.Sprintf("device-%04d", i+1)
		d, err := w.ProvisionDevice(ctx, simulator.Device{Thing: thing, Attributes: map[string]string{"fleet": "sim"}})
		if err != nil {
			return nil, fmt.Errorf("simserver: %w", err)
		}
		out = append(out, device{thing: thing, id: d, replicated: true})
	}
	// The unreplicated device: its thing first, replicated like any other, then (once
	// its re-checks have ended) the certificate and attachments, for which AWS
	// publishes no registry event.
	p := w.Primary.Registry
	if err := simulator.EnsureDevicePolicy(ctx, p, w.Primary.Name, w.Options().AccountID); err != nil {
		return nil, fmt.Errorf("simserver: %w", err)
	}
	if _, err := p.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(UnreplicatedThing)}); err != nil {
		return nil, fmt.Errorf("simserver: create %s: %w", UnreplicatedThing, err)
	}
	if err := s.settle(ctx, n); err != nil {
		return nil, err
	}
	d, err := w.CA.IssueDevice(UnreplicatedThing)
	if err != nil {
		return nil, fmt.Errorf("simserver: %w", err)
	}
	cert, err := p.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(string(d.CertPEM)),
		CaCertificatePem: aws.String(string(w.CA.CertPEM())), Status: iottypes.CertificateStatusActive})
	if err != nil {
		return nil, fmt.Errorf("simserver: register %s certificate: %w", UnreplicatedThing, err)
	}
	if _, err := p.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(spec.DevicePolicyName), Target: cert.CertificateArn}); err != nil {
		return nil, fmt.Errorf("simserver: attach policy to %s certificate: %w", UnreplicatedThing, err)
	}
	if _, err := p.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(UnreplicatedThing), Principal: cert.CertificateArn}); err != nil {
		return nil, fmt.Errorf("simserver: attach %s certificate: %w", UnreplicatedThing, err)
	}
	if err := s.settle(ctx, 0); err != nil {
		return nil, err
	}
	// Check what the package documentation promises rather than assume it.
	if _, ok := w.Secondary.Registry.CertificateByFingerprint(d.ID); ok {
		return nil, fmt.Errorf("simserver: %s certificate reached %s; it must stay in the primary only", UnreplicatedThing, w.Secondary.Name)
	}
	for _, dev := range out {
		if _, ok := w.Secondary.Registry.CertificateByFingerprint(dev.id.ID); !ok {
			return nil, fmt.Errorf("simserver: %s certificate not replicated to %s", dev.thing, w.Secondary.Name)
		}
	}
	return append(out, device{thing: UnreplicatedThing, id: d}), nil
}

func (s *Server) settle(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout(n))
	defer cancel()
	if err := s.world.Settle(ctx); err != nil {
		return fmt.Errorf("simserver: waiting for replication: %w", err)
	}
	return nil
}

// writeFiles writes the CA certificate and every device's certificate and key (0600).
func (s *Server) writeFiles(devices []device) error {
	if err := os.WriteFile(s.info.CAFile, s.world.CA.CertPEM(), 0o644); err != nil {
		return fmt.Errorf("simserver: %w", err)
	}
	for _, d := range devices {
		di := DeviceInfo{Thing: d.thing, CertificateID: d.id.ID, Replicated: d.replicated,
			CertFile: filepath.Join(s.info.Dir, d.thing+".crt.pem"), KeyFile: filepath.Join(s.info.Dir, d.thing+".key.pem")}
		if err := os.WriteFile(di.CertFile, d.id.CertPEM, 0o644); err != nil {
			return fmt.Errorf("simserver: %w", err)
		}
		if err := os.WriteFile(di.KeyFile, d.id.KeyPEM, 0o600); err != nil {
			return fmt.Errorf("simserver: %w", err)
		}
		s.info.Devices = append(s.info.Devices, di)
	}
	return nil
}

// writeFileAtomic writes v as indented JSON through a temporary file and a rename, so
// that a reader polling for the file never sees it half-written.
func writeFileAtomic(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("simserver: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), perm); err != nil {
		return fmt.Errorf("simserver: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("simserver: %w", err)
	}
	return nil
}

// serve starts the control API.
func (s *Server) serve() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("simserver: control API: %w", err)
	}
	s.ln = ln
	s.info.ControlURL = "http://" + ln.Addr().String()
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("simserver: control API stopped", "error", err)
		}
	}()
	return nil
}

// serveAWS starts the AWS API endpoint (simulator/awsfront) for both Regions.
func (s *Server) serveAWS() error {
	ln, err := net.Listen("tcp", s.cfg.AWSListen)
	if err != nil {
		return fmt.Errorf("simserver: AWS endpoint: %w", err)
	}
	s.info.AWSEndpointURL = "http://" + ln.Addr().String()
	front := awsfront.New(s.world, s.edge)
	p, sec := front.StackOutputs()
	s.info.StackOutputsFile = filepath.Join(s.info.Dir, StackOutputsFile)
	if err := writeFileAtomic(s.info.StackOutputsFile, map[string]any{spec.RolePrimary: p, spec.RoleSecondary: sec}, 0o644); err != nil {
		ln.Close()
		return err
	}
	s.awsHTTP = &http.Server{
		Handler:           front.Handler(awsfront.HandlerOptions{Rates: s.cfg.APIRates, Logger: s.log}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.awsDone = make(chan struct{})
	go func() {
		defer close(s.awsDone)
		if err := s.awsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("simserver: AWS endpoint stopped", "error", err)
		}
	}()
	return nil
}

// Info returns the server's endpoints and files.
func (s *Server) Info() Info { return s.info }

// World returns the simulated World, for tests and embedding programs.
func (s *Server) World() *simulator.World { return s.world }

// Edge returns the World's edge (health checks, zone, DNS).
func (s *Server) Edge() *simulator.Edge { return s.edge }

// Close stops the control API and the AWS endpoint (waiting for requests in flight), any running flap, the
// edge and the World. The files in Dir are left in place. It is safe to call more
// than once.
// shutdownGrace bounds each HTTP server's graceful shutdown. It is longer than
// net/http's 5 s grace for a connection that never sent a request (an HTTP client's
// transport keeps spare ones it dialed), which Shutdown closes only once that passed.
const shutdownGrace = 10 * time.Second

func (s *Server) Close() error {
	s.closeMu.Do(func() {
		var errs []error
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			if err := s.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("simserver: control API shutdown: %w", err))
				_ = s.http.Close()
			}
			cancel()
			<-s.served
		}
		if s.awsHTTP != nil {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			if err := s.awsHTTP.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("simserver: AWS endpoint shutdown: %w", err))
				_ = s.awsHTTP.Close()
			}
			cancel()
			<-s.awsDone
		}
		s.mu.Lock()
		s.closed = true
		for _, rs := range s.regions {
			rs.stopFlapLocked()
		}
		s.mu.Unlock()
		if s.edge != nil {
			errs = append(errs, s.edge.Close())
		}
		if s.world != nil {
			errs = append(errs, s.world.Close())
		}
		s.closeEr = errors.Join(errs...)
	})
	return s.closeEr
}
