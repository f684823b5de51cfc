package authz

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/iotpolicy"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

// JITRegistry is what just-in-time registration and provisioning on connect need of
// the Region's registry. *registry.Registry implements it.
type JITRegistry interface {
	// CertificateStatus returns a certificate's status, if it is registered.
	CertificateStatus(certID string) (string, bool)
	// SigningCA returns the registered CA certificate that signed leaf.
	SigningCA(leaf *x509.Certificate) (registry.CAInfo, bool)
	// AutoRegisterCertificate registers leaf in PENDING_ACTIVATION under caID and
	// announces it on $aws/events/certificates/registered/<caID>.
	AutoRegisterCertificate(leaf *x509.Certificate, caID string) (registry.CertInfo, error)
	// RegisterThing runs a provisioning template, as JITP does with the CA's.
	RegisterThing(ctx context.Context, in *iot.RegisterThingInput, optFns ...func(*iot.Options)) (*iot.RegisterThingOutput, error)
}

// JustInTime switches on just-in-time registration (JITR) and provisioning (JITP) on
// connect, with reg (see the package doc).
func (a *Authorizer) JustInTime(reg JITRegistry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.jit = reg
}

// justInTime registers, and with a JITP template provisions, the certificate of a
// connecting client that this Region does not know (or holds in PENDING_ACTIVATION)
// when a CA registered here signed it. It returns nil when there is nothing to do
// (JustInTime not called, a known certificate, no registered CA signed it): Connect
// then decides as usual. Otherwise the connection ends here: refused with the reason,
// or, once the certificate is registered, closed without a CONNACK, as AWS IoT closes
// the first connection of a device it registered just in time.
func (a *Authorizer) justInTime(c broker.ClientInfo) error {
	a.mu.RLock()
	jit, names, checkSNI := a.jit, a.sni, a.checkSNI
	a.mu.RUnlock()
	if jit == nil || c.Certificate == nil {
		return nil
	}
	id := certID(c)
	status, known := jit.CertificateStatus(id)
	if known && status != string(types.CertificateStatusPendingActivation) {
		return nil
	}
	// what names the certificate's state in the refusals
	what := fmt.Sprintf("certificate %s is not registered in %s", id, a.region)
	if known {
		what = fmt.Sprintf("certificate %s is PENDING_ACTIVATION in %s", id, a.region)
	}
	ca, ok := jit.SigningCA(c.Certificate)
	if !ok {
		return nil
	}
	refuse := func(format string, args ...any) error {
		return &Error{Action: iotpolicy.ActionConnect, Reason: fmt.Sprintf(format, args...)}
	}
	// AWS finds the account of an unknown certificate by the SNI, or without it by the
	// CA certificate presented with the device's; an SNI_ONLY CA can be registered by
	// several accounts, so only the SNI tells them apart.
	if checkSNI {
		switch {
		case c.ServerName == "" && ca.Mode == string(types.CertificateModeSniOnly):
			return refuse("%s and its CA %s is in SNI_ONLY mode: it registers just in time only with SNI (TLS server name)", what, ca.ID)
		case c.ServerName == "" && !presented(c.Chain, ca.ID):
			return refuse("%s and the client sent no SNI: without SNI it registers just in time only if it presents its CA's certificate (%s) with its own", what, ca.ID)
		case c.ServerName != "" && !sniAllowed(names, c.ServerName):
			return refuse("%s and SNI %q names neither %s's endpoint nor a configured domain", what, c.ServerName, a.region)
		}
	}
	if ca.Status != string(types.CACertificateStatusActive) {
		return refuse("%s and its CA %s is %s: no just-in-time registration", what, ca.ID, ca.Status)
	}
	if !ca.AutoRegistration {
		return refuse("%s and its CA %s has auto-registration disabled", what, ca.ID)
	}
	if _, err := jit.AutoRegisterCertificate(c.Certificate, ca.ID); err != nil {
		return refuse("certificate %s could not be registered just in time under CA %s: %v", id, ca.ID, err)
	}
	if ca.TemplateBody == "" && ca.TemplateName != "" {
		return refuse("JITP: the registration config of CA %s names the provisioning template %s, which does not exist", ca.ID, ca.TemplateName)
	}
	if ca.TemplateBody == "" {
		return &Error{Action: iotpolicy.ActionConnect, disconnect: true, Reason: fmt.Sprintf(
			"JITR: certificate %s is registered PENDING_ACTIVATION under CA %s and the connection closed; it connects once activated", id, ca.ID)}
	}
	params, err := registry.JITPParameters(c.Certificate, id, ca.TemplateBody)
	if err == nil {
		_, err = jit.RegisterThing(context.Background(), &iot.RegisterThingInput{TemplateBody: aws.String(ca.TemplateBody), Parameters: params})
	}
	if err != nil {
		return refuse("JITP: the provisioning template of CA %s failed for certificate %s: %v", ca.ID, id, err)
	}
	if cert, ok := a.reg.CertificateByFingerprint(id); !ok || cert.Status != string(types.CertificateStatusActive) {
		return refuse("JITP: the provisioning template of CA %s left certificate %s %s (it must set the certificate ACTIVE)", ca.ID, id, cert.Status)
	}
	return &Error{Action: iotpolicy.ActionConnect, disconnect: true, Reason: fmt.Sprintf(
		"JITP: certificate %s provisioned by the template of CA %s and the first connection closed; it connects on its next attempt", id, ca.ID)}
}

// presented reports whether the chain a client sent holds the CA certificate caID.
func presented(chain []*x509.Certificate, caID string) bool {
	for _, c := range chain {
		if pki.Fingerprint(c.Raw) == caID {
			return true
		}
	}
	return false
}
