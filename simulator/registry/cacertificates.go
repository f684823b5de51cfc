package registry

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// caCertificate is a registered CA certificate.
type caCertificate struct {
	id, arn, pem      string
	status            types.CACertificateStatus
	autoRegistration  types.AutoRegistrationStatus
	mode              types.CertificateMode
	config            *types.RegistrationConfig
	seq               uint64
	created, modified time.Time
	notBefore         time.Time
	notAfter          time.Time
	customerVersion   int32
	generationID      string
}

func caNotFound(id string) error {
	return notFound("The CA certificate %s does not exist", id)
}

// registrationCode returns this account's registration code in the Region, made on
// first use (r.mu held for writing).
func (r *Registry) registrationCode() string {
	if r.prov.code == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Sprintf("registry: crypto/rand: %v", err)) // never fails on supported platforms
		}
		r.prov.code = hex.EncodeToString(b)
	}
	return r.prov.code
}

// GetRegistrationCode returns the code a DEFAULT-mode CA registration's verification
// certificate must carry as its subject's common name; it is the same on every call.
func (r *Registry) GetRegistrationCode(ctx context.Context, in *iot.GetRegistrationCodeInput, _ ...func(*iot.Options)) (*iot.GetRegistrationCodeOutput, error) {
	return call(ctx, r, "GetRegistrationCode", in, func(*iot.GetRegistrationCodeInput) (*iot.GetRegistrationCodeOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.prov.init()
		return &iot.GetRegistrationCodeOutput{RegistrationCode: aws.String(r.registrationCode())}, nil
	})
}

// SetCARegisteredElsewhere models another AWS account having registered the CA
// certificate id (its SHA-256 fingerprint) in DEFAULT mode in this Region (on), or
// no longer (off): AWS then refuses this account's DEFAULT-mode registration of it,
// while SNI_ONLY mode stays open to several accounts.
func (r *Registry) SetCARegisteredElsewhere(id string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prov.init()
	if on {
		r.prov.foreignDefaultCAs[id] = true
	} else {
		delete(r.prov.foreignDefaultCAs, id)
	}
}

// validRegistrationConfig checks a CA's registration config (r.mu held): a template
// name, which must name a JITP template, or a template body with the role JITP runs
// it with, not both.
func (r *Registry) validRegistrationConfig(c *types.RegistrationConfig) (*types.RegistrationConfig, error) {
	if c == nil {
		return nil, nil
	}
	out := &types.RegistrationConfig{TemplateName: cloneString(c.TemplateName), TemplateBody: cloneString(c.TemplateBody), RoleArn: cloneString(c.RoleArn)}
	if out.TemplateName != nil {
		if out.TemplateBody != nil || out.RoleArn != nil {
			return nil, invalid("registrationConfig takes either templateName or templateBody and roleArn, not both")
		}
		t := r.prov.templates[*out.TemplateName]
		if t == nil {
			return nil, templateNotFound(*out.TemplateName)
		}
		if t.typ != types.TemplateTypeJitp {
			return nil, invalid("The provisioning template %s is of type %s; a CA certificate's registration config needs a JITP template", t.name, t.typ)
		}
		return out, nil
	}
	if out.TemplateBody != nil {
		if err := validTemplateBody(*out.TemplateBody); err != nil {
			return nil, err
		}
	}
	if out.RoleArn != nil {
		if err := validRoleARN("registrationConfig.roleArn", *out.RoleArn); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RegisterCACertificate registers a CA certificate, which must be a CA
// (basicConstraints CA:TRUE; CertificateValidationException otherwise). In DEFAULT
// mode (the default) a verification certificate is required: signed by the CA's
// private key, its subject's common name this account's registration code
// (GetRegistrationCode); a CA another account registered in DEFAULT mode in this
// Region (SetCARegisteredElsewhere) is refused with a
// ResourceAlreadyExistsException. In SNI_ONLY mode a verification certificate is
// refused (InvalidRequestException). The same CA twice in this account is a
// ResourceAlreadyExistsException. SetAsActive makes it ACTIVE (else INACTIVE),
// AllowAutoRegistration ENABLE (else DISABLE). Tags are kept on registration (tags.go).
func (r *Registry) RegisterCACertificate(ctx context.Context, in *iot.RegisterCACertificateInput, _ ...func(*iot.Options)) (*iot.RegisterCACertificateOutput, error) {
	return call(ctx, r, "RegisterCACertificate", in, func(in *iot.RegisterCACertificateInput) (*iot.RegisterCACertificateOutput, error) {
		if in.CaCertificate == nil {
			return nil, required("RegisterCACertificateInput", "CaCertificate")
		}
		mode := in.CertificateMode
		switch mode {
		case "":
			mode = types.CertificateModeDefault
		case types.CertificateModeDefault, types.CertificateModeSniOnly:
		default:
			return nil, invalid("certificateMode %q is not DEFAULT or SNI_ONLY", excerpt(string(mode)))
		}
		ca, err := parseCertificate(*in.CaCertificate)
		if err != nil {
			return nil, err
		}
		if !ca.BasicConstraintsValid || !ca.IsCA {
			return nil, certValidation("The certificate is not a CA certificate (basicConstraints CA:TRUE)")
		}
		var verification *x509.Certificate
		switch {
		case mode == types.CertificateModeSniOnly && in.VerificationCertificate != nil:
			return nil, invalid("A CA certificate in SNI_ONLY mode is registered without a verification certificate")
		case mode == types.CertificateModeDefault && in.VerificationCertificate == nil:
			return nil, invalid("A CA certificate in DEFAULT mode needs a verification certificate")
		case in.VerificationCertificate != nil:
			if verification, err = parseCertificate(*in.VerificationCertificate); err != nil {
				return nil, err
			}
			if err := verification.CheckSignatureFrom(ca); err != nil {
				return nil, certValidation("The verification certificate is not signed by the CA certificate's private key: %v", err)
			}
		}
		if err := createTags(in.Tags); err != nil {
			return nil, err
		}
		id := fingerprint(ca.Raw)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.prov.init()
		if verification != nil && verification.Subject.CommonName != r.registrationCode() {
			return nil, certValidation("The verification certificate's common name is not this account's registration code")
		}
		if c := r.prov.cas[id]; c != nil {
			return nil, alreadyExists(id, c.arn, "The CA certificate is already registered")
		}
		if mode == types.CertificateModeDefault && r.prov.foreignDefaultCAs[id] {
			return nil, alreadyExists(id, "", "The CA certificate is already registered in DEFAULT mode by another account in %s; register it in SNI_ONLY mode", r.region)
		}
		config, err := r.validRegistrationConfig(in.RegistrationConfig)
		if err != nil {
			return nil, err
		}
		now := r.now()
		r.prov.caSeq++
		c := &caCertificate{
			id: id, arn: r.arn("cacert", id), pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})),
			status: types.CACertificateStatusInactive, autoRegistration: types.AutoRegistrationStatusDisable, mode: mode,
			config: config, seq: r.prov.caSeq, created: now, modified: now, notBefore: ca.NotBefore, notAfter: ca.NotAfter,
			customerVersion: 1, generationID: newUUID(),
		}
		if in.SetAsActive {
			c.status = types.CACertificateStatusActive
		}
		if in.AllowAutoRegistration {
			c.autoRegistration = types.AutoRegistrationStatusEnable
		}
		r.prov.cas[id] = c
		_ = r.setTags(c.arn, in.Tags) // checked by createTags
		return &iot.RegisterCACertificateOutput{CertificateArn: aws.String(c.arn), CertificateId: aws.String(id)}, nil
	})
}

// DescribeCACertificate returns a CA certificate with its registration config.
func (r *Registry) DescribeCACertificate(ctx context.Context, in *iot.DescribeCACertificateInput, _ ...func(*iot.Options)) (*iot.DescribeCACertificateOutput, error) {
	return call(ctx, r, "DescribeCACertificate", in, func(in *iot.DescribeCACertificateInput) (*iot.DescribeCACertificateOutput, error) {
		if in.CertificateId == nil {
			return nil, required("DescribeCACertificateInput", "CertificateId")
		}
		if err := validCertID(*in.CertificateId); err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		c := r.prov.cas[*in.CertificateId]
		if c == nil {
			return nil, caNotFound(*in.CertificateId)
		}
		out := &iot.DescribeCACertificateOutput{CertificateDescription: &types.CACertificateDescription{
			CertificateArn: aws.String(c.arn), CertificateId: aws.String(c.id), CertificatePem: aws.String(c.pem),
			Status: c.status, AutoRegistrationStatus: c.autoRegistration, CertificateMode: c.mode, OwnedBy: aws.String(r.account),
			CreationDate: timePtr(c.created), LastModifiedDate: timePtr(c.modified), CustomerVersion: aws.Int32(c.customerVersion),
			GenerationId: aws.String(c.generationID), Validity: &types.CertificateValidity{NotBefore: timePtr(c.notBefore), NotAfter: timePtr(c.notAfter)},
		}}
		if c.config != nil {
			out.RegistrationConfig = &types.RegistrationConfig{TemplateName: cloneString(c.config.TemplateName), TemplateBody: cloneString(c.config.TemplateBody), RoleArn: cloneString(c.config.RoleArn)}
		}
		return out, nil
	})
}

// UpdateCACertificate changes a CA certificate's status (ACTIVE or INACTIVE),
// auto-registration status (ENABLE or DISABLE) and registration config (validated as
// by RegisterCACertificate); RemoveAutoRegistration disables auto-registration.
func (r *Registry) UpdateCACertificate(ctx context.Context, in *iot.UpdateCACertificateInput, _ ...func(*iot.Options)) (*iot.UpdateCACertificateOutput, error) {
	return call(ctx, r, "UpdateCACertificate", in, func(in *iot.UpdateCACertificateInput) (*iot.UpdateCACertificateOutput, error) {
		if in.CertificateId == nil {
			return nil, required("UpdateCACertificateInput", "CertificateId")
		}
		switch in.NewStatus {
		case "", types.CACertificateStatusActive, types.CACertificateStatusInactive:
		default:
			return nil, invalid("newStatus %q is not ACTIVE or INACTIVE", excerpt(string(in.NewStatus)))
		}
		switch in.NewAutoRegistrationStatus {
		case "", types.AutoRegistrationStatusEnable, types.AutoRegistrationStatusDisable:
		default:
			return nil, invalid("newAutoRegistrationStatus %q is not ENABLE or DISABLE", excerpt(string(in.NewAutoRegistrationStatus)))
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		c := r.prov.cas[*in.CertificateId]
		if c == nil {
			return nil, caNotFound(*in.CertificateId)
		}
		config, err := r.validRegistrationConfig(in.RegistrationConfig)
		if err != nil {
			return nil, err
		}
		if in.NewStatus != "" {
			c.status = in.NewStatus
		}
		if in.NewAutoRegistrationStatus != "" {
			c.autoRegistration = in.NewAutoRegistrationStatus
		}
		if in.RemoveAutoRegistration {
			c.autoRegistration = types.AutoRegistrationStatusDisable
		}
		if config != nil {
			c.config = config
		}
		c.modified = r.now()
		c.customerVersion++
		return &iot.UpdateCACertificateOutput{}, nil
	})
}

// DeleteCACertificate deletes an INACTIVE CA certificate (an ACTIVE one is a
// CertificateStateException); the device certificates registered with it stay.
func (r *Registry) DeleteCACertificate(ctx context.Context, in *iot.DeleteCACertificateInput, _ ...func(*iot.Options)) (*iot.DeleteCACertificateOutput, error) {
	return call(ctx, r, "DeleteCACertificate", in, func(in *iot.DeleteCACertificateInput) (*iot.DeleteCACertificateOutput, error) {
		if in.CertificateId == nil {
			return nil, required("DeleteCACertificateInput", "CertificateId")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		c := r.prov.cas[*in.CertificateId]
		if c == nil {
			return nil, caNotFound(*in.CertificateId)
		}
		if c.status == types.CACertificateStatusActive {
			return nil, certState("The CA certificate %s is ACTIVE; deactivate it first", c.id)
		}
		delete(r.prov.cas, c.id)
		delete(r.tags, c.arn)
		return &iot.DeleteCACertificateOutput{}, nil
	})
}

// ListCACertificates lists CA certificates by registration order (AscendingOrder=false,
// the default, newest first), optionally only those whose registration config names
// TemplateName, paged by Marker and PageSize.
func (r *Registry) ListCACertificates(ctx context.Context, in *iot.ListCACertificatesInput, _ ...func(*iot.Options)) (*iot.ListCACertificatesOutput, error) {
	return call(ctx, r, "ListCACertificates", in, func(in *iot.ListCACertificatesInput) (*iot.ListCACertificatesOutput, error) {
		p, err := parsePage("ListCACertificates", in.Marker, in.PageSize, !in.AscendingOrder)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		byKey := map[string]*caCertificate{}
		for _, c := range r.prov.cas {
			byKey[fmt.Sprintf("%020d/%s", c.seq, c.id)] = c
		}
		keep := func(k string) bool {
			return in.TemplateName == nil || byKey[k].config != nil && aws.ToString(byKey[k].config.TemplateName) == *in.TemplateName
		}
		page, next := p.page("ListCACertificates", sortedSet(byKey), keep)
		out := &iot.ListCACertificatesOutput{NextMarker: next, Certificates: []types.CACertificate{}}
		for _, k := range page {
			c := byKey[k]
			out.Certificates = append(out.Certificates, types.CACertificate{
				CertificateArn: aws.String(c.arn), CertificateId: aws.String(c.id), Status: c.status, CreationDate: timePtr(c.created),
			})
		}
		return out, nil
	})
}

// RegisteredCA returns the registered CA certificate whose id is id: its status, its
// auto-registration status and the JITP template its registration config runs (a
// template's body and role, or the named template's default version and role).
func (r *Registry) RegisteredCA(id string) (CAInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := r.prov.cas[id]
	if c == nil {
		return CAInfo{}, false
	}
	info := CAInfo{ID: c.id, PEM: c.pem, Status: string(c.status), AutoRegistration: c.autoRegistration == types.AutoRegistrationStatusEnable, Mode: string(c.mode)}
	if cfg := c.config; cfg != nil {
		info.TemplateName = aws.ToString(cfg.TemplateName)
		if t := r.prov.templates[aws.ToString(cfg.TemplateName)]; t != nil {
			info.TemplateBody, info.RoleArn = t.versions[t.defaultVersion].body, t.roleArn
		} else {
			info.TemplateBody, info.RoleArn = aws.ToString(cfg.TemplateBody), aws.ToString(cfg.RoleArn)
		}
	}
	return info, true
}

// CAInfo is what a JITP flow needs to know about a registered CA certificate.
type CAInfo struct {
	ID, PEM, Status, Mode string
	AutoRegistration      bool
	// TemplateBody and RoleArn are the JITP template the CA runs; empty without one.
	TemplateBody, RoleArn string
	// TemplateName is the template the registration config names, if it names one
	// (TemplateBody is then empty when that template no longer exists).
	TemplateName string
}
