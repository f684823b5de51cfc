package simulator

import (
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
)

// serverCerts chooses the broker's server certificate from the TLS server name, as AWS
// IoT Core chooses a domain configuration: the custom domain gets the certificate its
// domain configuration serves (by default one issued by the World's CA for the domain),
// any other name or none the Region's own certificate. SetDomainCertificate swaps the
// domain's certificate, so tests can serve an expired or wrong-name one.
type serverCerts struct {
	domain string
	own    *tls.Certificate
	// enabled reports whether the domain's configuration is ENABLED: a disabled one
	// refuses the handshake, as AWS IoT refuses a disabled domain.
	enabled func(domain string) bool

	mu     sync.RWMutex
	served *tls.Certificate // the domain configuration's certificate
}

func (c *serverCerts) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if strings.EqualFold(strings.TrimSuffix(hello.ServerName, "."), c.domain) {
		if c.enabled != nil && !c.enabled(c.domain) {
			return nil, fmt.Errorf("simulator: the domain configuration of %s is disabled", c.domain)
		}
		c.mu.RLock()
		defer c.mu.RUnlock()
		return c.served, nil
	}
	return c.own, nil
}

// SetDomainCertificate makes r's broker serve cert to clients that name the custom
// domain (SNI), as replacing the server certificate of r's domain configuration does.
// Connections already open keep the certificate they were handshaken with.
func (r *Region) SetDomainCertificate(cert tls.Certificate) {
	r.certs.mu.Lock()
	defer r.certs.mu.Unlock()
	r.certs.served = &cert
}

// DomainCertificate returns the certificate r's broker serves for the custom domain.
func (r *Region) DomainCertificate() tls.Certificate {
	r.certs.mu.RLock()
	defer r.certs.mu.RUnlock()
	return *r.certs.served
}
