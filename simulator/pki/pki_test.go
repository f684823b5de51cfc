package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func newCA(t testing.TB, cn string) *CA {
	t.Helper()
	ca, err := NewCA(cn)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func newDevice(t testing.TB, ca *CA, cn string) *Device {
	t.Helper()
	dev, err := ca.IssueDevice(cn)
	if err != nil {
		t.Fatalf("IssueDevice: %v", err)
	}
	return dev
}

type handshakeResult struct {
	serverErr error
	clientErr error
	peer      []*x509.Certificate // client certificates as the server saw them
}

// handshake runs one TLS handshake over loopback and exchanges a byte so that
// a TLS 1.3 server's rejection of the client certificate reaches the client.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) handshakeResult {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })

	type serverOut struct {
		err  error
		peer []*x509.Certificate
	}
	done := make(chan serverOut, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- serverOut{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		tc := conn.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			done <- serverOut{err: err}
			return
		}
		if _, err := tc.Write([]byte{1}); err != nil {
			done <- serverOut{err: err}
			return
		}
		done <- serverOut{peer: tc.ConnectionState().PeerCertificates}
	}()

	var res handshakeResult
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", ln.Addr().String(), clientCfg)
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1)
		_, err = conn.Read(buf)
		conn.Close()
	}
	res.clientErr = err
	out := <-done
	res.serverErr, res.peer = out.err, out.peer
	return res
}

func TestTLSHandshake(t *testing.T) {
	ca := newCA(t, "sim root")
	otherCA := newCA(t, "other root")
	server, err := ca.IssueServer([]string{"iot.example.test", "abc-ats.iot.us-east-1.sim.test"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	foreignServer, err := otherCA.IssueServer([]string{"iot.example.test"}, nil)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	dev := newDevice(t, ca, "thing-1")
	foreignDev := newDevice(t, otherCA, "thing-2") // registered "without CA"

	tests := []struct {
		name       string
		server     *tls.Config
		client     *tls.Config
		wantOK     bool
		wantPeer   *Device
		wantErrIn  string // in the client's error
		serverFail bool
	}{
		{name: "custom domain", server: ServerTLS(server, nil), client: ClientTLS(dev, ca.Pool(), "iot.example.test"), wantOK: true, wantPeer: dev},
		{name: "region endpoint", server: ServerTLS(server, nil), client: ClientTLS(dev, ca.Pool(), "abc-ats.iot.us-east-1.sim.test"), wantOK: true, wantPeer: dev},
		{name: "ip SAN", server: ServerTLS(server, nil), client: ClientTLS(dev, ca.Pool(), "127.0.0.1"), wantOK: true, wantPeer: dev},
		{name: "client cert from an unknown CA is still presented and accepted",
			server: ServerTLS(server, ca.Pool()), client: ClientTLS(foreignDev, ca.Pool(), "iot.example.test"), wantOK: true, wantPeer: foreignDev},
		{name: "wrong server name", server: ServerTLS(server, nil), client: ClientTLS(dev, ca.Pool(), "evil.example.test"),
			wantErrIn: "evil.example.test", serverFail: true},
		{name: "server from untrusted CA", server: ServerTLS(foreignServer, nil), client: ClientTLS(dev, ca.Pool(), "iot.example.test"),
			wantErrIn: "certificate signed by unknown authority", serverFail: true},
		{name: "no client certificate", server: ServerTLS(server, nil), client: ClientTLS(nil, ca.Pool(), "iot.example.test"),
			serverFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := handshake(t, tc.server, tc.client)
			if tc.wantOK {
				if res.clientErr != nil || res.serverErr != nil {
					t.Fatalf("handshake failed: client %v, server %v", res.clientErr, res.serverErr)
				}
				if len(res.peer) == 0 {
					t.Fatal("server saw no client certificate")
				}
				leaf := res.peer[0]
				if got := Fingerprint(leaf.Raw); got != tc.wantPeer.ID {
					t.Errorf("server saw certificate %s, want %s", got, tc.wantPeer.ID)
				}
				if leaf.Subject.CommonName != tc.wantPeer.Leaf.Subject.CommonName {
					t.Errorf("server saw CN %q, want %q", leaf.Subject.CommonName, tc.wantPeer.Leaf.Subject.CommonName)
				}
				return
			}
			if res.clientErr == nil {
				t.Fatal("client handshake succeeded, want failure")
			}
			if tc.wantErrIn != "" && !strings.Contains(res.clientErr.Error(), tc.wantErrIn) {
				t.Errorf("client error %q does not mention %q", res.clientErr, tc.wantErrIn)
			}
			if tc.serverFail && res.serverErr == nil {
				t.Error("server handshake succeeded, want failure")
			}
		})
	}
}

func TestIssueDevice(t *testing.T) {
	ca := newCA(t, "sim root")
	dev := newDevice(t, ca, "thing-1")

	sum := sha256.Sum256(dev.Leaf.Raw)
	if want := hex.EncodeToString(sum[:]); dev.ID != want || Fingerprint(dev.Leaf.Raw) != want {
		t.Fatalf("ID = %s, want sha256 of DER %s", dev.ID, want)
	}
	if len(dev.ID) != 64 || strings.ToLower(dev.ID) != dev.ID {
		t.Fatalf("ID %q is not 64 lower-case hex digits", dev.ID)
	}

	block, _ := pem.Decode(dev.CertPEM)
	if block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, dev.Leaf.Raw) {
		t.Fatal("CertPEM does not hold the leaf's DER")
	}
	pair, err := tls.X509KeyPair(dev.CertPEM, dev.KeyPEM)
	if err != nil {
		t.Fatalf("CertPEM/KeyPEM are not a key pair: %v", err)
	}
	if !bytes.Equal(pair.Certificate[0], dev.TLS.Certificate[0]) || dev.TLS.Leaf != dev.Leaf {
		t.Fatal("TLS certificate does not match CertPEM/Leaf")
	}

	if dev.Leaf.Subject.CommonName != "thing-1" {
		t.Errorf("CN = %q", dev.Leaf.Subject.CommonName)
	}
	if dev.Leaf.IsCA {
		t.Error("device certificate is a CA")
	}
	if _, err := dev.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("device certificate does not verify as a client certificate: %v", err)
	}
	if _, err := dev.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("device certificate is also valid for server auth")
	}

	again := newDevice(t, ca, "thing-1")
	if again.ID == dev.ID || again.Leaf.SerialNumber.Cmp(dev.Leaf.SerialNumber) == 0 {
		t.Error("two devices with the same CN share an ID or serial")
	}
}

func TestCA(t *testing.T) {
	ca := newCA(t, "sim root")
	block, _ := pem.Decode(ca.CertPEM())
	if block == nil {
		t.Fatal("CertPEM is not PEM")
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse root: %v", err)
	}
	if !root.IsCA || root.Subject.CommonName != "sim root" || !root.Equal(ca.Cert()) {
		t.Fatalf("unexpected root %v (IsCA %v)", root.Subject, root.IsCA)
	}
	p := ca.Pool()
	p.AddCert(newCA(t, "intruder").Cert())
	if ca.Pool().Equal(p) {
		t.Error("Pool returned shared state: adding to a copy changed the CA's pool")
	}
}

func TestIssueServer(t *testing.T) {
	ca := newCA(t, "sim root")
	if _, err := ca.IssueServer(nil, nil); err == nil {
		t.Fatal("IssueServer with no names succeeded")
	}
	cert, err := ca.IssueServer(nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	if err := cert.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("IP-only certificate: %v", err)
	}
	_, err = cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) {
		t.Errorf("server certificate verified for client auth: %v", err)
	}
}

func BenchmarkIssueDevice(b *testing.B) {
	ca := newCA(b, "bench root")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.IssueDevice("thing"); err != nil {
			b.Fatal(err)
		}
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp, "ns/device")
	b.ReportMetric(1e9/perOp, "devices/s")
}
