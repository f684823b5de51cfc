// Package pki is the certificate authority of one simulator run: it issues the
// server certificates for each simulated Region's broker endpoint and the
// custom domain, and the X.509 client certificates of simulated devices, and
// builds the matching TLS configurations.
//
// Every key is ECDSA P-256 so a fleet of thousands of devices can be issued in
// well under a second per thousand (see BenchmarkIssueDevice). Certificate IDs
// follow AWS IoT Core: the lower-case hex SHA-256 of the certificate's DER.
//
// Client authentication mirrors AWS IoT Core: a device certificate can be
// registered without its CA (RegisterCertificateWithoutCA, which the
// replication path uses to copy certificates into the secondary Region), so the
// TLS layer only demands that the client present a certificate and prove it
// holds the key; it does not check which CA issued it. Whether the certificate
// is registered and ACTIVE is decided afterwards by the broker's authoriser,
// from that Region's registry. See ServerTLS.
//
// A test can make a CA of its own (NewCA) to stand for a device maker's, register it
// in a Region for just-in-time provisioning, and issue device certificates with the
// subject a JITP template reads (IssueDeviceFor).
//
// This package is for the simulator and tests only: keys live in memory, there
// is no revocation (CRL/OCSP), no intermediate CAs, no key rotation, and
// validity periods are fixed. It is NOT a production CA.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Validity periods. They are generous so long drills never hit expiry, and
// backdated so clock skew between goroutines never makes a fresh certificate
// "not yet valid".
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 2 * 365 * 24 * time.Hour
	backdate     = time.Hour
)

// CA is a self-signed ECDSA P-256 root that signs server and device
// certificates. It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
	pool    *x509.CertPool
}

// NewCA creates a self-signed root CA with the given subject common name.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"iot-dr simulator"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // no intermediates: the root signs leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: self-sign CA %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
		pool:    pool,
	}, nil
}

// CertPEM returns the PEM-encoded root certificate, e.g. to hand to clients
// outside the process. The caller must not modify it.
func (c *CA) CertPEM() []byte { return c.certPEM }

// Cert returns the parsed root certificate. The caller must not modify it.
func (c *CA) Cert() *x509.Certificate { return c.cert }

// Pool returns a certificate pool holding only this root, for clients' RootCAs.
// Each call returns a fresh copy, so callers may add to it.
func (c *CA) Pool() *x509.CertPool { return c.pool.Clone() }

// IssueServer issues a TLS server certificate whose SANs are dnsNames and ips:
// the broker endpoint of each Region and the custom domain that fails over
// between them. The returned certificate has Leaf set.
func (c *CA) IssueServer(dnsNames []string, ips []net.IP) (tls.Certificate, error) {
	return c.IssueServerValid(dnsNames, ips, time.Time{}, time.Time{})
}

// IssueServerValid is IssueServer with the validity given, for tests that need an
// expired or not yet valid server certificate; zero times mean the default validity.
func (c *CA) IssueServerValid(dnsNames []string, ips []net.IP, notBefore, notAfter time.Time) (tls.Certificate, error) {
	if len(dnsNames) == 0 && len(ips) == 0 {
		return tls.Certificate{}, errors.New("pki: server certificate needs at least one DNS name or IP address")
	}
	cn := ""
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	} else {
		cn = ips[0].String()
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		DNSNames:    append([]string(nil), dnsNames...),
		IPAddresses: append([]net.IP(nil), ips...),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
	}
	cert, _, _, err := c.issue(tmpl)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: issue server certificate for %q: %w", cn, err)
	}
	return cert, nil
}

// Device is a simulated device's identity: its client certificate, private
// key, and AWS certificate ID.
type Device struct {
	// CertPEM is the PEM-encoded certificate, the certificatePem that
	// RegisterCertificate and RegisterCertificateWithoutCA take.
	CertPEM []byte
	// KeyPEM is the PEM-encoded PKCS #8 private key. Never log it.
	KeyPEM []byte
	// TLS is the certificate and key ready for a tls.Config, with Leaf set.
	TLS tls.Certificate
	// Leaf is the parsed certificate.
	Leaf *x509.Certificate
	// ID is the AWS IoT certificate ID: lower-case hex SHA-256 of the DER.
	ID string
}

// IssueDevice issues an ECDSA P-256 client certificate (ExtKeyUsageClientAuth)
// with the given subject common name.
func (c *CA) IssueDevice(commonName string) (*Device, error) {
	return c.IssueDeviceFor(pkix.Name{CommonName: commonName})
}

// IssueDeviceFor is IssueDevice with the whole subject given: a just-in-time
// provisioning template reads its country, organisation, serial number and so on.
func (c *CA) IssueDeviceFor(subject pkix.Name) (*Device, error) {
	commonName := subject.CommonName
	tmpl := &x509.Certificate{
		Subject:     subject,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, certPEM, key, err := c.issue(tmpl)
	if err != nil {
		return nil, fmt.Errorf("pki: issue device certificate for %q: %w", commonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode device key for %q: %w", commonName, err)
	}
	return &Device{
		CertPEM: certPEM,
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		TLS:     cert,
		Leaf:    cert.Leaf,
		ID:      Fingerprint(cert.Leaf.Raw),
	}, nil
}

// WithCA returns a copy of d that presents ca's certificate after its own in the TLS
// handshake, as a device registering just in time without SNI must (AWS's guide
// concatenates the two: deviceCertAndCACert.crt).
func (d *Device) WithCA(ca *CA) *Device {
	out := *d
	out.TLS.Certificate = append([][]byte{d.TLS.Certificate[0]}, ca.cert.Raw)
	return &out
}

// issue fills in the serial, validity and a fresh key, signs tmpl with the CA
// and returns the TLS certificate (Leaf set), its PEM and the key.
func (c *CA) issue(tmpl *x509.Certificate) (tls.Certificate, []byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	if tmpl.NotBefore.IsZero() && tmpl.NotAfter.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-backdate), now.Add(leafValidity)
	}
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil
}

// newSerial returns a random positive 127-bit serial number, as RFC 5280 asks
// for unpredictable serials of at most 20 octets.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("pki: generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// Fingerprint returns the lower-case hex SHA-256 of a certificate's DER bytes,
// which is how AWS IoT Core derives a certificate ID.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ServerTLS returns the broker's TLS configuration.
//
// It uses tls.RequireAnyClientCert: the client must present a certificate and
// prove possession of its key, but the chain is NOT verified against any CA.
// That is deliberate and matches AWS IoT Core, which admits certificates
// registered without a CA (RegisterCertificateWithoutCA); the broker must
// then admit a connection only if the certificate's ID (Fingerprint of
// ConnectionState().PeerCertificates[0].Raw) is registered and ACTIVE in its
// Region's registry, and authorise every action with the attached policies.
//
// clientCAs, if non-nil, is only advertised to clients in the
// CertificateRequest as a hint; it is never used for verification. Clients
// built with ClientTLS present their certificate regardless of that hint.
func ServerTLS(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: simCurves,
		Certificates:     []tls.Certificate{cert},
		ClientAuth:       tls.RequireAnyClientCert,
		ClientCAs:        clientCAs,
	}
}

// simCurves leaves the post-quantum hybrid key exchange (X25519MLKEM768, Go's default)
// out of the simulator's handshakes: both ends of every device connection run in one
// process on two cores, and a fleet failing over at once spends most of its time there.
var simCurves = []tls.CurveID{tls.X25519, tls.CurveP256}

// ClientTLS returns a device's TLS configuration: it verifies the server
// against roots and serverName (the custom domain or a Region endpoint) and
// presents dev's certificate. A nil dev presents no certificate, which a
// ServerTLS broker refuses during the handshake.
func ClientTLS(dev *Device, roots *x509.CertPool, serverName string) *tls.Config {
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: simCurves,
		RootCAs:          roots,
		ServerName:       serverName,
	}
	if dev != nil {
		cert := dev.TLS
		// Present the certificate whatever CAs the server hints at: with a
		// static Certificates list Go would send nothing when the device's
		// issuer is not in the hint, though AWS would accept it.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		}
	}
	return cfg
}

// IssueCertificate signs a client certificate (ExtKeyUsageClientAuth) for pub with the
// given subject common name and returns its DER. It is what Amazon's CA does for
// CreateKeysAndCertificate and CreateCertificateFromCsr, so *CA serves as the
// registry's registry.Issuer.
func (c *CA) IssueCertificate(pub crypto.PublicKey, commonName string) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(leafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("pki: issue certificate for %q: %w", commonName, err)
	}
	return der, nil
}

// ClientTLSWithoutSNI is ClientTLS for a device whose TLS stack sends no Server Name
// Indication (older firmware): it still verifies the server against roots and
// serverName, but leaves the name out of the ClientHello.
func ClientTLSWithoutSNI(dev *Device, roots *x509.CertPool, serverName string) *tls.Config {
	cfg := ClientTLS(dev, roots, "")
	// With no ServerName Go would refuse to verify; verify by hand against serverName.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("pki: server presented no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: serverName, Roots: roots, Intermediates: inter})
		if err != nil {
			return fmt.Errorf("pki: verify server %s: %w", serverName, err)
		}
		return nil
	}
	return cfg
}
