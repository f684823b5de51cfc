package registry

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// CertificateRegisteredTopicPrefix is the topic, followed by the CA certificate's id,
// on which AWS IoT announces a certificate it registered just in time (JITR) or one in
// PENDING_ACTIVATION that connected again.
const CertificateRegisteredTopicPrefix = "$aws/events/certificates/registered/"

// certificateRegisteredEvent is that announcement's payload, as AWS documents it.
type certificateRegisteredEvent struct {
	CertificateID                    string `json:"certificateId"`
	CACertificateID                  string `json:"caCertificateId"`
	Timestamp                        int64  `json:"timestamp"`
	CertificateStatus                string `json:"certificateStatus"`
	AWSAccountID                     string `json:"awsAccountId"`
	CertificateRegistrationTimestamp string `json:"certificateRegistrationTimestamp"`
}

// SigningCA returns the CA certificate registered in this Region that signed leaf (its
// subject is leaf's issuer and its key verifies leaf's signature), as AWS IoT finds the
// CA of a certificate it does not know when a device connects with it.
func (r *Registry) SigningCA(leaf *x509.Certificate) (CAInfo, bool) {
	r.mu.RLock()
	var ids []string
	pems := map[string]string{}
	for id, c := range r.prov.cas {
		ids = append(ids, id)
		pems[id] = c.pem
	}
	r.mu.RUnlock()
	sort.Strings(ids) // the same answer every time should two registered CAs share a key
	for _, id := range ids {
		ca, err := parseCertificate(pems[id])
		if err != nil || !bytes.Equal(ca.RawSubject, leaf.RawIssuer) || leaf.CheckSignatureFrom(ca) != nil {
			continue
		}
		if info, ok := r.RegisteredCA(id); ok {
			return info, true
		}
	}
	return CAInfo{}, false
}

// CertificateStatus returns the status of the certificate whose id is certID, without
// the attachments CertificateByFingerprint copies: the broker asks it on every CONNECT.
func (r *Registry) CertificateStatus(certID string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.certs[strings.ToLower(certID)]
	if !ok {
		return "", false
	}
	return string(c.status), true
}

// AutoRegisterCertificate registers leaf, signed by the registered CA caID, in
// PENDING_ACTIVATION and in the CA's certificate mode, as AWS IoT does when a device
// first connects with a certificate signed by a CA with auto-registration enabled, and
// publishes the registration on $aws/events/certificates/registered/<caID>. A
// certificate already registered in PENDING_ACTIVATION is announced again (AWS does
// so each time one connects); one in another status is left alone and not announced.
// It is AWS IoT's own step, not an API call: no rate applies.
func (r *Registry) AutoRegisterCertificate(leaf *x509.Certificate, caID string) (CertInfo, error) {
	r.mu.RLock()
	ca := r.prov.cas[caID]
	var mode types.CertificateMode
	if ca != nil {
		mode = ca.mode
	}
	r.mu.RUnlock()
	if ca == nil {
		return CertInfo{}, caNotFound(caID)
	}
	if _, err := r.register(leaf, caID, types.CertificateStatusPendingActivation, mode); err != nil {
		var exists *types.ResourceAlreadyExistsException
		if !errors.As(err, &exists) {
			return CertInfo{}, err
		}
	}
	id := fingerprint(leaf.Raw)
	r.mu.Lock()
	c := r.certs[id]
	if c == nil { // deleted since: nothing to announce
		r.mu.Unlock()
		return CertInfo{}, notFound("The certificate %s does not exist", id)
	}
	if c.status == types.CertificateStatusPendingActivation {
		r.emitRegistered(c, caID)
	}
	r.mu.Unlock()
	r.flush()
	info, _ := r.CertificateByFingerprint(id)
	return info, nil
}

// emitRegistered queues the registration announcement of c (r.mu held). Unlike the
// registry events it is not governed by the event configurations.
func (r *Registry) emitRegistered(c *certificate, caID string) {
	if r.pub == nil {
		return
	}
	body := certificateRegisteredEvent{
		CertificateID: c.id, CACertificateID: caID, Timestamp: ms(r.now()), CertificateStatus: string(c.status),
		AWSAccountID: r.account, CertificateRegistrationTimestamp: strconv.FormatInt(ms(c.created), 10),
	}
	r.qMu.Lock()
	r.queue = append(r.queue, event{topic: CertificateRegisteredTopicPrefix + caID, body: body})
	r.qMu.Unlock()
	r.queued.Add(1)
}

// Certificate parameters a JITP template can declare, filled from the device
// certificate's subject (AWS::IoT::Certificate::Id is the certificate's id).
const certParamPrefix = "AWS::IoT::Certificate::"

// oidDNQualifier is the X.520 distinguishedNameQualifier attribute.
var oidDNQualifier = asn1.ObjectIdentifier{2, 5, 4, 46}

// JITPParameters returns the parameters AWS IoT gives a JITP template for the
// certificate leaf whose id is certID: AWS::IoT::Certificate::Id and, from leaf's
// subject, CommonName, Country, Organization, OrganizationalUnit,
// DistinguishedNameQualifier, StateName and SerialNumber (the subject's serialNumber
// attribute). As AWS requires, the certificate must carry a value for every one of
// them the template declares (an InvalidRequestException naming the first missing,
// unless the template gives it a Default, which RegisterThing then applies).
func JITPParameters(leaf *x509.Certificate, certID, templateBody string) (map[string]string, error) {
	var doc struct {
		Parameters map[string]struct{ Default json.RawMessage }
	}
	if err := json.Unmarshal([]byte(templateBody), &doc); err != nil {
		return nil, invalid("The template body does not parse: %v", err)
	}
	s := leaf.Subject
	first := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	var dnq string
	for _, n := range s.Names {
		if n.Type.Equal(oidDNQualifier) {
			dnq, _ = n.Value.(string)
			break
		}
	}
	all := map[string]string{
		"Id": certID, "CommonName": s.CommonName, "Country": first(s.Country), "Organization": first(s.Organization),
		"OrganizationalUnit": first(s.OrganizationalUnit), "DistinguishedNameQualifier": dnq, "StateName": first(s.Province),
		"SerialNumber": s.SerialNumber,
	}
	params := map[string]string{}
	for k, v := range all {
		if v != "" {
			params[certParamPrefix+k] = v
		}
	}
	names := make([]string, 0, len(doc.Parameters))
	for name := range doc.Parameters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, certParamPrefix) && params[name] == "" && doc.Parameters[name].Default == nil {
			return nil, invalid("The template declares %s, which the certificate's subject does not carry", excerpt(name))
		}
	}
	return params, nil
}
