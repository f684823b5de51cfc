package registry

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Issuer signs the certificates that CreateKeysAndCertificate and
// CreateCertificateFromCsr create, as Amazon's CA does in AWS. *pki.CA implements it.
type Issuer interface {
	IssueCertificate(pub crypto.PublicKey, commonName string) (der []byte, err error)
}

// Endpoint types DescribeEndpoint answers.
const (
	EndpointDataATS = "iot:Data-ATS"
	EndpointData    = "iot:Data"
)

// issuedCommonName is the subject AWS gives the certificates it creates with a key pair.
const issuedCommonName = "AWS IoT Certificate"

// maxCSRLength is the model's limit on certificateSigningRequest.
const maxCSRLength = 4096

func (r *Registry) issue(pub crypto.PublicKey, cn string, setAsActive bool) (*certificate, error) {
	if r.issuer == nil {
		return nil, &types.InternalFailureException{Message: aws.String("no certificate issuer configured (registry.Options.Issuer)")}
	}
	der, err := r.issuer.IssueCertificate(pub, cn)
	if err != nil {
		return nil, &types.InternalFailureException{Message: aws.String(fmt.Sprintf("issue certificate: %v", err))}
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &types.InternalFailureException{Message: aws.String(fmt.Sprintf("parse issued certificate: %v", err))}
	}
	status := types.CertificateStatusInactive
	if setAsActive {
		status = types.CertificateStatusActive
	}
	return r.register(c, "", status, types.CertificateModeDefault)
}

// CreateKeysAndCertificate creates a 2048-bit RSA key pair and a certificate for it
// signed by Options.Issuer (certificate mode DEFAULT, subject "AWS IoT Certificate"),
// ACTIVE with SetAsActive and INACTIVE otherwise. The private key is returned once, as
// PKCS #1 PEM, and never stored, as in AWS.
func (r *Registry) CreateKeysAndCertificate(ctx context.Context, in *iot.CreateKeysAndCertificateInput, _ ...func(*iot.Options)) (*iot.CreateKeysAndCertificateOutput, error) {
	return call(ctx, r, "CreateKeysAndCertificate", in, func(in *iot.CreateKeysAndCertificateInput) (*iot.CreateKeysAndCertificateOutput, error) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, &types.InternalFailureException{Message: aws.String(fmt.Sprintf("generate key pair: %v", err))}
		}
		pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return nil, &types.InternalFailureException{Message: aws.String(fmt.Sprintf("encode public key: %v", err))}
		}
		cert, err := r.issue(&key.PublicKey, issuedCommonName, in.SetAsActive)
		if err != nil {
			return nil, err
		}
		return &iot.CreateKeysAndCertificateOutput{
			CertificateArn: aws.String(cert.arn),
			CertificateId:  aws.String(cert.id),
			CertificatePem: aws.String(cert.pem),
			KeyPair: &types.KeyPair{
				PublicKey:  aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))),
				PrivateKey: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))),
			},
		}, nil
	})
}

// CreateCertificateFromCsr signs a PEM certificate signing request with
// Options.Issuer, keeping the request's subject common name (certificate mode
// DEFAULT), ACTIVE with SetAsActive and INACTIVE otherwise. A request that is not a
// PEM CSR, whose signature does not verify or that is longer than 4096 characters is
// an InvalidRequestException.
func (r *Registry) CreateCertificateFromCsr(ctx context.Context, in *iot.CreateCertificateFromCsrInput, _ ...func(*iot.Options)) (*iot.CreateCertificateFromCsrOutput, error) {
	return call(ctx, r, "CreateCertificateFromCsr", in, func(in *iot.CreateCertificateFromCsrInput) (*iot.CreateCertificateFromCsrOutput, error) {
		if in.CertificateSigningRequest == nil {
			return nil, required("CreateCertificateFromCsrInput", "CertificateSigningRequest")
		}
		text := *in.CertificateSigningRequest
		if len(text) == 0 || len(text) > maxCSRLength {
			return nil, invalid("certificateSigningRequest must be 1-%d characters, got %d", maxCSRLength, len(text))
		}
		block, _ := pem.Decode([]byte(text))
		if block == nil || block.Type != "CERTIFICATE REQUEST" {
			return nil, invalid("certificateSigningRequest is not a PEM certificate request")
		}
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return nil, invalid("certificateSigningRequest cannot be parsed: %v", err)
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, invalid("certificateSigningRequest signature does not verify: %v", err)
		}
		cert, err := r.issue(csr.PublicKey, csr.Subject.CommonName, in.SetAsActive)
		if err != nil {
			return nil, err
		}
		return &iot.CreateCertificateFromCsrOutput{
			CertificateArn: aws.String(cert.arn), CertificateId: aws.String(cert.id), CertificatePem: aws.String(cert.pem),
		}, nil
	})
}

// DescribeEndpoint answers the Region's MQTT endpoint (Options.DataEndpoint) for
// iot:Data-ATS, and also for iot:Data and an empty type: the simulator has one
// broker, with one CA, where AWS keeps a legacy VeriSign-signed endpoint too. The
// other types (iot:CredentialProvider, iot:Jobs) are not modelled and are an
// InvalidRequestException naming the accepted ones, as is any unknown type.
func (r *Registry) DescribeEndpoint(ctx context.Context, in *iot.DescribeEndpointInput, _ ...func(*iot.Options)) (*iot.DescribeEndpointOutput, error) {
	return call(ctx, r, "DescribeEndpoint", in, func(in *iot.DescribeEndpointInput) (*iot.DescribeEndpointOutput, error) {
		switch t := aws.ToString(in.EndpointType); t {
		case "", EndpointDataATS, EndpointData:
			if r.dataEndpoint == "" {
				return nil, &types.InternalFailureException{Message: aws.String("no data endpoint configured (registry.Options.DataEndpoint)")}
			}
			return &iot.DescribeEndpointOutput{EndpointAddress: aws.String(r.dataEndpoint)}, nil
		default:
			return nil, invalid("endpointType %q is not supported by the simulator; use %s", t, strings.Join([]string{EndpointDataATS, EndpointData}, " or "))
		}
	})
}
