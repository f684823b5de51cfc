package readiness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
)

// DialCertificate returns a FetchCertificate that opens a TLS connection to the
// endpoint (on port when the endpoint has none; AWS IoT's 443 serves a domain
// configuration's certificate without a client certificate), names serverName in SNI
// and returns the chain the server presented. The chain is captured as soon as it
// arrives and the handshake is then abandoned if the server goes on to ask for a
// client certificate: nothing is sent beyond the ClientHello and the key exchange.
// Verification is left to the caller (probe.VerifyServer), so that an invalid
// certificate can be reported with its details.
func DialCertificate(port string) FetchCertificate {
	return func(ctx context.Context, endpoint, serverName string) ([]*x509.Certificate, error) {
		addr := endpoint
		if _, _, err := net.SplitHostPort(endpoint); err != nil {
			addr = net.JoinHostPort(endpoint, port)
		}
		var (
			mu    sync.Mutex
			chain []*x509.Certificate
		)
		d := &tls.Dialer{Config: &tls.Config{
			ServerName: serverName,
			MinVersion: tls.VersionTLS12,
			// Verified by the caller against the domain, with the reason kept.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				mu.Lock()
				defer mu.Unlock()
				chain = cs.PeerCertificates
				return nil
			},
		}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if conn != nil {
			_ = conn.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		if len(chain) > 0 {
			return chain, nil // a refusal after the server's certificate does not matter here
		}
		if err == nil {
			err = errors.New("the server presented no certificate")
		}
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
}
