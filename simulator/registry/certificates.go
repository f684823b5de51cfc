package registry

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

type certificate struct {
	id, arn, pem    string
	caID            string
	status          types.CertificateStatus
	mode            types.CertificateMode
	created         time.Time
	modified        time.Time
	seq             uint64 // creation order, for ListCertificates
	customerVersion int32
	generationID    string
	notBefore       time.Time
	notAfter        time.Time
	things          map[string]struct{} // thing names
	exclusiveThing  string              // set by an EXCLUSIVE_THING attachment
	policies        map[string]struct{} // policy names
}

// maxPoliciesPerCert is AWS's limit on policies attached to one principal.
const maxPoliciesPerCert = 10

func certValidation(format string, args ...any) error {
	return &types.CertificateValidationException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func certState(format string, args ...any) error {
	return &types.CertificateStateException{Message: aws.String(fmt.Sprintf(format, args...))}
}

// parseCertificate decodes the first CERTIFICATE block of a PEM string.
func parseCertificate(pemText string) (*x509.Certificate, error) {
	rest := []byte(pemText)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, certValidation("The certificate is not a valid PEM-encoded X.509 certificate")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, certValidation("The certificate could not be parsed: %v", err)
		}
		return c, nil
	}
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// registrationStatus checks the status a certificate may be registered with;
// unset means INACTIVE, as in AWS.
func registrationStatus(s types.CertificateStatus) (types.CertificateStatus, error) {
	switch s {
	case "":
		return types.CertificateStatusInactive, nil
	case types.CertificateStatusActive, types.CertificateStatusInactive, types.CertificateStatusRevoked:
		return s, nil
	default:
		return "", invalid("Status %s is not valid for certificate registration; use ACTIVE, INACTIVE or REVOKED", s)
	}
}

// register stores a parsed certificate. mu must not be held.
func (r *Registry) register(c *x509.Certificate, caID string, status types.CertificateStatus, mode types.CertificateMode) (*certificate, error) {
	id := fingerprint(c.Raw)
	r.mu.Lock()
	defer r.mu.Unlock()
	if existing := r.certs[id]; existing != nil {
		return nil, alreadyExists(id, existing.arn, "The certificate is already provisioned or registered")
	}
	now := r.now()
	r.certSeq++
	cert := &certificate{
		id: id, arn: r.arn("cert", id), pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
		caID: caID, status: status, mode: mode, created: now, modified: now, seq: r.certSeq, customerVersion: 1,
		generationID: newUUID(), notBefore: c.NotBefore, notAfter: c.NotAfter,
		things: map[string]struct{}{}, policies: map[string]struct{}{},
	}
	r.certs[id] = cert
	r.certKeys.invalidate()
	return cert, nil
}

// RegisterCertificateWithoutCA registers a device certificate without its CA
// (certificate mode SNI_ONLY). The id is the lower-case hex SHA-256 of the
// DER; Status defaults to INACTIVE. An unparsable PEM is a
// CertificateValidationException; registering the same certificate twice a
// ResourceAlreadyExistsException carrying its id and ARN.
func (r *Registry) RegisterCertificateWithoutCA(ctx context.Context, in *iot.RegisterCertificateWithoutCAInput, _ ...func(*iot.Options)) (*iot.RegisterCertificateWithoutCAOutput, error) {
	return call(ctx, r, "RegisterCertificateWithoutCA", in, func(in *iot.RegisterCertificateWithoutCAInput) (*iot.RegisterCertificateWithoutCAOutput, error) {
		if in.CertificatePem == nil {
			return nil, required("RegisterCertificateWithoutCAInput", "CertificatePem")
		}
		status, err := registrationStatus(in.Status)
		if err != nil {
			return nil, err
		}
		c, err := parseCertificate(*in.CertificatePem)
		if err != nil {
			return nil, err
		}
		cert, err := r.register(c, "", status, types.CertificateModeSniOnly)
		if err != nil {
			return nil, err
		}
		return &iot.RegisterCertificateWithoutCAOutput{CertificateArn: aws.String(cert.arn), CertificateId: aws.String(cert.id)}, nil
	})
}

// RegisterCertificate registers a device certificate (certificate mode
// DEFAULT). When CaCertificatePem is given, the certificate must be signed by
// it (CertificateValidationException). Status wins over the deprecated
// SetAsActive; with neither the certificate is INACTIVE.
func (r *Registry) RegisterCertificate(ctx context.Context, in *iot.RegisterCertificateInput, _ ...func(*iot.Options)) (*iot.RegisterCertificateOutput, error) {
	return call(ctx, r, "RegisterCertificate", in, func(in *iot.RegisterCertificateInput) (*iot.RegisterCertificateOutput, error) {
		if in.CertificatePem == nil {
			return nil, required("RegisterCertificateInput", "CertificatePem")
		}
		status := in.Status
		//lint:ignore SA1019 the fake must honour what old callers still send
		if status == "" && aws.ToBool(in.SetAsActive) {
			status = types.CertificateStatusActive
		}
		status, err := registrationStatus(status)
		if err != nil {
			return nil, err
		}
		c, err := parseCertificate(*in.CertificatePem)
		if err != nil {
			return nil, err
		}
		caID := ""
		if in.CaCertificatePem != nil {
			ca, err := parseCertificate(*in.CaCertificatePem)
			if err != nil {
				return nil, err
			}
			if err := c.CheckSignatureFrom(ca); err != nil {
				return nil, certValidation("The certificate is not signed by the given CA certificate: %v", err)
			}
			caID = fingerprint(ca.Raw)
		}
		cert, err := r.register(c, caID, status, types.CertificateModeDefault)
		if err != nil {
			return nil, err
		}
		return &iot.RegisterCertificateOutput{CertificateArn: aws.String(cert.arn), CertificateId: aws.String(cert.id)}, nil
	})
}

// validCertID checks AWS's certificateId shape: 64 hex characters.
func validCertID(id string) error {
	if len(id) != 64 {
		return invalid("Certificate id %q must be 64 hexadecimal characters", excerpt(id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return invalid("Certificate id %q must be 64 lower-case hexadecimal characters", excerpt(id))
		}
	}
	return nil
}

// certByID looks a certificate up for a call that names it; mu must be held.
func (r *Registry) certByID(id string) (*certificate, error) {
	if err := validCertID(id); err != nil {
		return nil, err
	}
	c := r.certs[id]
	if c == nil {
		return nil, notFound("The certificate %s does not exist", id)
	}
	return c, nil
}

// certByARN resolves a principal or policy target; mu must be held. It
// returns ResourceNotFoundException for an unknown certificate of this Region
// and InvalidRequestException for anything else.
func (r *Registry) certByARN(arn string) (*certificate, error) {
	prefix := r.arn("cert", "")
	if !strings.HasPrefix(arn, prefix) {
		return nil, invalid("Principal %q is not a certificate ARN of this Region and account (the simulator models certificate principals only)", excerpt(arn))
	}
	id := strings.TrimPrefix(arn, prefix)
	c := r.certs[id]
	if c == nil {
		return nil, notFound("The certificate %s does not exist", excerpt(id))
	}
	return c, nil
}

// DescribeCertificate returns a certificate's description, PEM included.
func (r *Registry) DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput, _ ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error) {
	return call(ctx, r, "DescribeCertificate", in, func(in *iot.DescribeCertificateInput) (*iot.DescribeCertificateOutput, error) {
		if in.CertificateId == nil {
			return nil, required("DescribeCertificateInput", "CertificateId")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		c, err := r.certByID(*in.CertificateId)
		if err != nil {
			return nil, err
		}
		d := &types.CertificateDescription{
			CertificateArn: aws.String(c.arn), CertificateId: aws.String(c.id), CertificateMode: c.mode,
			CertificatePem: aws.String(c.pem), CreationDate: timePtr(c.created), CustomerVersion: aws.Int32(c.customerVersion),
			GenerationId: aws.String(c.generationID), LastModifiedDate: timePtr(c.modified), OwnedBy: aws.String(r.account),
			Status: c.status, Validity: &types.CertificateValidity{NotBefore: timePtr(c.notBefore), NotAfter: timePtr(c.notAfter)},
		}
		if c.caID != "" {
			d.CaCertificateId = aws.String(c.caID)
		}
		return &iot.DescribeCertificateOutput{CertificateDescription: d}, nil
	})
}

// UpdateCertificate sets a certificate's status to ACTIVE, INACTIVE or
// REVOKED. A revoked certificate cannot be reactivated or deactivated
// (CertificateStateException).
func (r *Registry) UpdateCertificate(ctx context.Context, in *iot.UpdateCertificateInput, _ ...func(*iot.Options)) (*iot.UpdateCertificateOutput, error) {
	return call(ctx, r, "UpdateCertificate", in, func(in *iot.UpdateCertificateInput) (*iot.UpdateCertificateOutput, error) {
		if err := need("UpdateCertificateInput", member{"CertificateId", in.CertificateId != nil}, member{"NewStatus", in.NewStatus != ""}); err != nil {
			return nil, err
		}
		switch in.NewStatus {
		case types.CertificateStatusActive, types.CertificateStatusInactive, types.CertificateStatusRevoked:
		default:
			return nil, invalid("Status %s cannot be set with UpdateCertificate", in.NewStatus)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		c, err := r.certByID(*in.CertificateId)
		if err != nil {
			return nil, err
		}
		if c.status == types.CertificateStatusRevoked && in.NewStatus != types.CertificateStatusRevoked {
			return nil, certState("The certificate %s is revoked and cannot be set to %s", c.id, in.NewStatus)
		}
		if c.status != in.NewStatus {
			c.status = in.NewStatus
			c.modified = r.now()
			c.customerVersion++
			c.generationID = newUUID()
		}
		return &iot.UpdateCertificateOutput{}, nil
	})
}

// DeleteCertificate deletes a certificate. It must not be ACTIVE
// (CertificateStateException) nor attached to a thing (DeleteConflictException);
// attached policies are a DeleteConflictException too unless ForceDelete,
// which detaches them.
func (r *Registry) DeleteCertificate(ctx context.Context, in *iot.DeleteCertificateInput, _ ...func(*iot.Options)) (*iot.DeleteCertificateOutput, error) {
	return call(ctx, r, "DeleteCertificate", in, func(in *iot.DeleteCertificateInput) (*iot.DeleteCertificateOutput, error) {
		if in.CertificateId == nil {
			return nil, required("DeleteCertificateInput", "CertificateId")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		c, err := r.certByID(*in.CertificateId)
		if err != nil {
			return nil, err
		}
		if c.status == types.CertificateStatusActive {
			return nil, certState("Certificate must be deactivated before deletion (id: %s)", c.id)
		}
		if len(c.things) > 0 {
			return nil, deleteConflict("Things must be detached before deletion (arn: %s)", c.arn)
		}
		if len(c.policies) > 0 && !in.ForceDelete {
			return nil, deleteConflict("Certificate policies must be detached before deletion (arn: %s)", c.arn)
		}
		for name := range c.policies {
			if p := r.policies[name]; p != nil {
				delete(p.targets, c.arn)
			}
		}
		delete(r.certs, c.id)
		r.certKeys.invalidate()
		return &iot.DeleteCertificateOutput{}, nil
	})
}

// certOrderKey sorts certificates by creation.
func certOrderKey(c *certificate) string { return fmt.Sprintf("%020d/%s", c.seq, c.id) }

// ListCertificates lists certificates by creation date, newest first unless
// AscendingOrder, paged with Marker/PageSize.
func (r *Registry) ListCertificates(ctx context.Context, in *iot.ListCertificatesInput, _ ...func(*iot.Options)) (*iot.ListCertificatesOutput, error) {
	return call(ctx, r, "ListCertificates", in, func(in *iot.ListCertificatesInput) (*iot.ListCertificatesOutput, error) {
		p, err := parsePage("ListCertificates", in.Marker, in.PageSize, !in.AscendingOrder)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		keys := r.certKeys.get(func() []string {
			out := make([]string, 0, len(r.certs))
			for _, c := range r.certs {
				out = append(out, certOrderKey(c))
			}
			sort.Strings(out)
			return out
		})
		page, next := p.page("ListCertificates", keys, nil)
		out := &iot.ListCertificatesOutput{NextMarker: next, Certificates: make([]types.Certificate, 0, len(page))}
		for _, k := range page {
			c := r.certs[k[strings.IndexByte(k, '/')+1:]]
			out.Certificates = append(out.Certificates, types.Certificate{
				CertificateArn: aws.String(c.arn), CertificateId: aws.String(c.id), CertificateMode: c.mode,
				CreationDate: timePtr(c.created), Status: c.status,
			})
		}
		return out, nil
	})
}
