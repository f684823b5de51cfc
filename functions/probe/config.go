package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// MQTTPort is AWS IoT Core's port for MQTT over TLS with client certificates.
const MQTTPort = "8883"

// ParameterStore is the SSM call Parameter needs; *ssm.Client implements it.
type ParameterStore interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Parameter reads one SSM parameter and caches its value for TTL, so a probe
// invoked every few seconds by many Route 53 checkers does not call SSM each
// time. If a refresh fails after a value was read once, the last value is
// served (and the failure logged) and the next call tries again; only the
// first read can fail. Safe for concurrent use; one refresh runs at a time.
type Parameter struct {
	// Store is the SSM client.
	Store ParameterStore
	// Name is the parameter's name or ARN.
	Name string
	// Decrypt asks SSM to decrypt a SecureString.
	Decrypt bool
	// TTL is how long a value is served from the cache; 0 reads every time.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives refresh failures (never values); nil discards.
	Logger *slog.Logger

	mu      sync.Mutex
	value   string
	fetched time.Time
	ok      bool
}

// Get returns the parameter's value, from the cache while it is fresh.
func (p *Parameter) Get(ctx context.Context) (string, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ok && now().Sub(p.fetched) < p.TTL {
		return p.value, nil
	}
	out, err := p.Store.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.Name), WithDecryption: aws.Bool(p.Decrypt)})
	if err == nil && (out == nil || out.Parameter == nil || out.Parameter.Value == nil) {
		err = errors.New("no value in the response")
	}
	if err != nil {
		err = fmt.Errorf("read SSM parameter %s: %w", p.Name, err)
		if p.ok {
			if p.Logger != nil {
				p.Logger.Warn("serving the cached parameter value", "parameter", p.Name, "error", err)
			}
			return p.value, nil
		}
		return "", err
	}
	p.value, p.fetched, p.ok = *out.Parameter.Value, now(), true
	return p.value, nil
}

// Bool reads the parameter as a boolean switch: "true" (any case, spaces
// trimmed, or any other strconv.ParseBool spelling) is on. An unparsable value
// is off, with an error saying so.
func (p *Parameter) Bool(ctx context.Context) (bool, error) {
	v, err := p.Get(ctx)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("SSM parameter %s is not a boolean (%d bytes)", p.Name, len(v))
	}
	return b, nil
}

// ClientTLS builds the probe's TLS configuration from one PEM document holding
// its certificate and private key (in either order), verifying the broker
// against the system roots (ACM's and AWS IoT's ATS certificates chain to
// Amazon Root CA) as serverName, the custom domain.
func ClientTLS(certAndKeyPEM []byte, serverName string) (*tls.Config, error) {
	// X509KeyPair takes the CERTIFICATE blocks from its first argument and the
	// first private-key block from its second, skipping everything else.
	cert, err := tls.X509KeyPair(certAndKeyPEM, certAndKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("probe certificate and key: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ServerName:   serverName,
		Certificates: []tls.Certificate{cert},
	}, nil
}

// BrokerURL turns an IoT data endpoint, as DescribeEndpoint returns it (a bare
// host name) or host:port, into the tls://host:port URL Prober dials, and
// returns the host name to verify the server certificate against. A value that
// already has a scheme is returned as it is.
func BrokerURL(endpoint string) (brokerURL, serverName string, err error) {
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		return "", "", errors.New("empty IoT endpoint")
	}
	hostport := endpoint
	if _, rest, ok := strings.Cut(endpoint, "://"); ok {
		hostport = rest
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, MQTTPort
	}
	if host == "" {
		return "", "", fmt.Errorf("IoT endpoint %q has no host", endpoint)
	}
	if strings.Contains(endpoint, "://") {
		return endpoint, host, nil
	}
	return "tls://" + net.JoinHostPort(host, port), host, nil
}
