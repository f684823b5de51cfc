package probe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// ServerCertificate is what a TLS handshake showed of the server's certificate.
type ServerCertificate struct {
	// Subject is the leaf's subject common name.
	Subject string
	// DNSNames are the leaf's subject alternative names.
	DNSNames []string
	// NotAfter is when the leaf expires.
	NotAfter time.Time
}

// DaysLeft is the number of whole days until the certificate expires, negative once
// it has.
func (c ServerCertificate) DaysLeft(now time.Time) int {
	return int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
}

// VerifyServer verifies the chain a server presented against roots (nil: the system
// pool) for name at time now, as a device's TLS stack does, and returns what the leaf
// says. The error explains in words what is wrong (expired, another name, an untrusted
// issuer), since it ends up as the probe's reason and in `iotdr readiness`.
func VerifyServer(chain []*x509.Certificate, roots *x509.CertPool, name string, now time.Time) (ServerCertificate, error) {
	if len(chain) == 0 {
		return ServerCertificate{}, errors.New("the server presented no certificate")
	}
	leaf := chain[0]
	got := ServerCertificate{Subject: leaf.Subject.CommonName, DNSNames: append([]string(nil), leaf.DNSNames...), NotAfter: leaf.NotAfter}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter, CurrentTime: now})
	if err == nil {
		return got, nil
	}
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && now.After(leaf.NotAfter):
		return got, fmt.Errorf("the server certificate for %s expired %s (%s)", name, leaf.NotAfter.UTC().Format(time.RFC3339), ago(now.Sub(leaf.NotAfter)))
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return got, fmt.Errorf("the server certificate for %s is not valid before %s", name, leaf.NotBefore.UTC().Format(time.RFC3339))
	case errors.As(err, &host):
		return got, fmt.Errorf("the server certificate is not valid for %s: it names %s (is the domain configuration missing, disabled, or serving another certificate?)", name, names(leaf))
	case errors.As(err, &unknown):
		return got, fmt.Errorf("the server certificate for %s is not trusted: issued by %q, unknown to the trust store", name, leaf.Issuer.CommonName)
	}
	return got, fmt.Errorf("the server certificate for %s does not verify: %w", name, err)
}

func ago(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
	return d.Round(time.Second).String() + " ago"
}

func names(c *x509.Certificate) string {
	all := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		all = append(all, ip.String())
	}
	if len(all) == 0 {
		return fmt.Sprintf("only the subject %q", c.Subject.CommonName)
	}
	return strings.Join(all, ", ")
}

// certCheck verifies one connection's server certificate by hand, so that a failure
// has a clear reason and a success records the expiry. It is safe for concurrent
// use: paho runs the handshake on its own goroutine.
type certCheck struct {
	mu   sync.Mutex
	cert ServerCertificate
	seen bool
	err  error
}

// verifying returns a copy of base that verifies the server with VerifyServer (for
// base.ServerName, against base.RootCAs) and records the outcome in the returned check.
// Go's own verification is switched off only because it is replaced by the same
// verification done here, where its result can be read.
func verifying(base *tls.Config, now func() time.Time) (*tls.Config, *certCheck) {
	chk := &certCheck{}
	if base == nil {
		base = &tls.Config{}
	}
	cfg := base.Clone()
	name, roots := cfg.ServerName, cfg.RootCAs
	cfg.InsecureSkipVerify = true // replaced by VerifyConnection below, never skipped
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		c, err := VerifyServer(cs.PeerCertificates, roots, name, now())
		chk.mu.Lock()
		defer chk.mu.Unlock()
		chk.cert, chk.seen, chk.err = c, len(cs.PeerCertificates) > 0, err
		return err
	}
	return cfg, chk
}

func (c *certCheck) result() (ServerCertificate, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert, c.seen, c.err
}
