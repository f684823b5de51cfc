package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator/pki"
)

func newProvisioningRegistry(t *testing.T) *Registry {
	t.Helper()
	ca, err := pki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Region: testRegion, AccountID: testAccount, Issuer: ca, DataEndpoint: "127.0.0.11"})
}

func TestCreateKeysAndCertificate(t *testing.T) {
	r := newProvisioningRegistry(t)
	ctx := context.Background()
	for _, active := range []bool{true, false} {
		out, err := r.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: active})
		if err != nil {
			t.Fatal(err)
		}
		info, ok := r.CertificateByFingerprint(aws.ToString(out.CertificateId))
		want := types.CertificateStatusInactive
		if active {
			want = types.CertificateStatusActive
		}
		if !ok || info.Status != string(want) || info.PEM != aws.ToString(out.CertificatePem) {
			t.Fatalf("SetAsActive=%v: registered %+v, want status %s", active, info, want)
		}
		block, _ := pem.Decode([]byte(aws.ToString(out.KeyPair.PrivateKey)))
		if block == nil || block.Type != "RSA PRIVATE KEY" {
			t.Fatalf("private key is not PKCS #1 PEM: %q", aws.ToString(out.KeyPair.PrivateKey))
		}
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := pem.Decode([]byte(aws.ToString(out.CertificatePem)))
		leaf, err := x509.ParseCertificate(cb.Bytes)
		if err != nil || !key.PublicKey.Equal(leaf.PublicKey) || leaf.Subject.CommonName != issuedCommonName {
			t.Fatalf("certificate %v does not hold the returned key (%v)", leaf, err)
		}
	}
}

func TestCreateCertificateFromCsrRefusesBadRequests(t *testing.T) {
	r := newProvisioningRegistry(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), der...)
	tampered[len(tampered)-3] ^= 0xff // the signature's tail
	csr := func(b []byte) *string {
		return aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: b})))
	}
	tests := []struct {
		name string
		in   *iot.CreateCertificateFromCsrInput
		want string
	}{
		{"not PEM", &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String("hello")}, "not a PEM certificate request"},
		{"a certificate", &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))}, "not a PEM certificate request"},
		{"bad signature", &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: csr(tampered)}, "signature"},
		{"too long", &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(strings.Repeat("x", maxCSRLength+1))}, "1-4096 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.CreateCertificateFromCsr(context.Background(), tc.in)
			var inv *types.InvalidRequestException
			if !errors.As(err, &inv) || !strings.Contains(aws.ToString(inv.Message), tc.want) {
				t.Fatalf("error %v, want InvalidRequestException with %q", err, tc.want)
			}
		})
	}
	if _, err := r.CreateCertificateFromCsr(context.Background(), &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: csr(der)}); err != nil {
		t.Fatalf("a good CSR: %v", err)
	}
}

func TestDescribeEndpoint(t *testing.T) {
	r := newProvisioningRegistry(t)
	tests := []struct {
		typ     *string
		want    string
		invalid bool
	}{
		{aws.String(EndpointDataATS), "127.0.0.11", false},
		{aws.String(EndpointData), "127.0.0.11", false},
		{nil, "127.0.0.11", false},
		{aws.String("iot:CredentialProvider"), "", true},
		{aws.String("iot:Nope"), "", true},
	}
	for _, tc := range tests {
		out, err := r.DescribeEndpoint(context.Background(), &iot.DescribeEndpointInput{EndpointType: tc.typ})
		var inv *types.InvalidRequestException
		switch {
		case tc.invalid && !errors.As(err, &inv):
			t.Errorf("%v: error %v, want InvalidRequestException", aws.ToString(tc.typ), err)
		case !tc.invalid && (err != nil || aws.ToString(out.EndpointAddress) != tc.want):
			t.Errorf("%v: %v, %v; want %s", aws.ToString(tc.typ), out, err, tc.want)
		}
	}
}

func TestProvisioningWithoutIssuerOrEndpoint(t *testing.T) {
	r := New(Options{Region: testRegion, AccountID: testAccount})
	ctx := context.Background()
	var fail *types.InternalFailureException
	if _, err := r.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{}); !errors.As(err, &fail) {
		t.Errorf("CreateKeysAndCertificate without an issuer: %v, want InternalFailureException", err)
	}
	if _, err := r.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{}); !errors.As(err, &fail) {
		t.Errorf("DescribeEndpoint without an endpoint: %v, want InternalFailureException", err)
	}
}
