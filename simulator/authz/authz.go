package authz

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/iotpolicy"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

// Registry is the part of a Region's registry the authoriser reads.
// *registry.Registry implements it.
type Registry interface {
	// CertificateByFingerprint returns the certificate with the given ID.
	CertificateByFingerprint(certID string) (registry.CertInfo, bool)
	// PolicyDocument returns the default version of the named policy.
	PolicyDocument(name string) (string, bool)
	// DescribeThing returns a thing's type and attributes; it is called only
	// for policies that use the thing type or attribute variables.
	DescribeThing(ctx context.Context, in *iot.DescribeThingInput, optFns ...func(*iot.Options)) (*iot.DescribeThingOutput, error)
}

// Error is a refusal. Its message is the reason the broker records.
type Error struct {
	// Action is the IoT action refused, e.g. "iot:Publish".
	Action string
	// Resource is the ARN evaluated; empty when the certificate itself was
	// refused.
	Resource string
	// Reason says why, e.g. "no attached policy allows it".
	Reason string
	// disconnect makes the error match broker.ErrDisconnect: the connection is closed
	// rather than refused (a just-in-time registration).
	disconnect bool
}

// Is makes an Error that closes the connection match broker.ErrDisconnect.
func (e *Error) Is(target error) bool { return e.disconnect && target == broker.ErrDisconnect }

// Error returns "<action> on <resource>: <reason>", or only the reason when
// the certificate was refused before any policy was evaluated.
func (e *Error) Error() string {
	if e.Resource == "" {
		return e.Reason
	}
	return e.Action + " on " + e.Resource + ": " + e.Reason
}

// Authorizer decides client actions for one Region's broker as AWS IoT Core
// would. It is safe for concurrent use. Create it with New.
type Authorizer struct {
	reg             Registry
	region, account string
	log             *slog.Logger

	mu       sync.RWMutex
	policies map[string]*cachedPolicy // by policy name
	sni      []string                 // names an SNI_ONLY certificate may connect with
	checkSNI bool                     // RequireSNI was called
	jit      JITRegistry              // JustInTime was called
}

// cachedPolicy is one parsed policy document.
type cachedPolicy struct {
	doc string
	pol *iotpolicy.Policy
	err error // parse error: the policy cannot be evaluated
	// needsThing is true when the document uses thing type or attribute
	// variables, so the thing must be described to build the variables.
	needsThing bool
}

var _ broker.Authorizer = (*Authorizer)(nil)

// New returns an authoriser for the broker of region, reading certificates
// and policies from reg. account is the AWS account ID used in resource ARNs.
// A nil logger discards logs.
func New(reg Registry, region, account string, logger *slog.Logger) *Authorizer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Authorizer{
		reg:      reg,
		region:   region,
		account:  account,
		log:      logger.With("component", "authz", "region", region),
		policies: make(map[string]*cachedPolicy),
	}
}

// Connect admits the client if its certificate is registered and ACTIVE in
// this Region and iot:Connect on its client ID is allowed.
//
// A certificate in SNI_ONLY mode (what RegisterCertificateWithoutCA creates) is admitted
// only with an SNI naming the Region's endpoint or one of its domain configurations
// (RequireSNI); without SNI or with another name it is refused, as AWS IoT Core refuses
// it. DEFAULT certificates need no SNI.
func (a *Authorizer) Connect(c broker.ClientInfo) error {
	if err := a.justInTime(c); err != nil {
		return err
	}
	if err := a.decide(c, iotpolicy.ActionConnect, iotpolicy.ClientARN(a.region, a.account, c.ClientID)); err != nil {
		return err
	}
	a.mu.RLock()
	names, checkSNI := a.sni, a.checkSNI
	a.mu.RUnlock()
	if !checkSNI {
		return nil
	}
	cert, ok := a.reg.CertificateByFingerprint(certID(c))
	if !ok || cert.Mode != string(types.CertificateModeSniOnly) {
		return nil
	}
	if c.ServerName == "" {
		return &Error{Action: iotpolicy.ActionConnect, Reason: fmt.Sprintf("certificate %s is in SNI_ONLY mode and the client sent no SNI (TLS server name)", cert.ID)}
	}
	if !sniAllowed(names, c.ServerName) {
		return &Error{Action: iotpolicy.ActionConnect, Reason: fmt.Sprintf("certificate %s is in SNI_ONLY mode and SNI %q names neither %s's endpoint nor a configured domain", cert.ID, c.ServerName, a.region)}
	}
	return nil
}

// RequireSNI switches on AWS's rule for SNI_ONLY certificates: they connect only with
// an SNI naming one of names (the Region's endpoint and its custom domains; none: any
// SNI). Until it is called the authoriser ignores SNI, for servers whose clients connect
// by IP address (TLS sends no SNI for an address).
func (a *Authorizer) RequireSNI(names ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sni = slices.Clone(names)
	a.checkSNI = true
}

// sniAllowed reports whether serverName is one of names (any name when there are none).
func sniAllowed(names []string, serverName string) bool {
	return len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, serverName) })
}

func certID(c broker.ClientInfo) string {
	if c.CertificateID != "" || c.Certificate == nil {
		return c.CertificateID
	}
	return pki.Fingerprint(c.Certificate.Raw)
}

// Publish decides iot:Publish on topic.
func (a *Authorizer) Publish(c broker.ClientInfo, topic string) error {
	return a.decide(c, iotpolicy.ActionPublish, iotpolicy.TopicARN(a.region, a.account, topic))
}

// RetainPublish decides iot:RetainPublish on topic, which AWS requires (with
// iot:Publish) to publish a retained message.
func (a *Authorizer) RetainPublish(c broker.ClientInfo, topic string) error {
	return a.decide(c, iotpolicy.ActionRetainPublish, iotpolicy.TopicARN(a.region, a.account, topic))
}

// Subscribe decides iot:Subscribe on the topic filter.
func (a *Authorizer) Subscribe(c broker.ClientInfo, filter string) error {
	return a.decide(c, iotpolicy.ActionSubscribe, iotpolicy.TopicFilterARN(a.region, a.account, filter))
}

// Receive decides iot:Receive on topic, before a message is delivered.
func (a *Authorizer) Receive(c broker.ClientInfo, topic string) error {
	return a.decide(c, iotpolicy.ActionReceive, iotpolicy.TopicARN(a.region, a.account, topic))
}

// decide authenticates the certificate and evaluates action on resource.
func (a *Authorizer) decide(c broker.ClientInfo, action, resource string) error {
	if c.Certificate == nil {
		return &Error{Action: action, Reason: "no client certificate presented"}
	}
	certID := certID(c) // derived here for a ClientInfo not built by the broker
	cert, ok := a.reg.CertificateByFingerprint(certID)
	if !ok {
		return &Error{Action: action, Reason: fmt.Sprintf("certificate %s not registered in %s", certID, a.region)}
	}
	if cert.Status != string(types.CertificateStatusActive) {
		return &Error{Action: action, Reason: fmt.Sprintf("certificate %s is %s", certID, cert.Status)}
	}
	if len(cert.Policies) == 0 {
		return &Error{Action: action, Resource: resource, Reason: "no policy attached to certificate " + certID}
	}

	policies := make(map[string]*iotpolicy.Policy, len(cert.Policies))
	needsThing := false
	for _, name := range cert.Policies {
		doc, ok := a.reg.PolicyDocument(name)
		if !ok {
			continue // deleted between the two reads: it grants nothing
		}
		cp := a.policy(name, doc)
		if cp.err != nil {
			return &Error{Action: action, Resource: resource, Reason: fmt.Sprintf("policy %q cannot be evaluated: %v", name, cp.err)}
		}
		policies[name] = cp.pol
		needsThing = needsThing || cp.needsThing
	}

	var attached []iotpolicy.Thing
	if slices.Contains(cert.Things, c.ClientID) {
		// Only the thing named like the client ID can be associated with the
		// connection (iotpolicy.NewVars), so only it needs describing.
		thing := iotpolicy.Thing{Name: c.ClientID}
		if needsThing {
			out, err := a.reg.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String(c.ClientID)})
			if err != nil {
				return &Error{Action: action, Resource: resource, Reason: fmt.Sprintf("describe thing %s: %v", c.ClientID, err)}
			}
			thing.TypeName = aws.ToString(out.ThingTypeName)
			thing.Attributes = out.Attributes
		}
		attached = []iotpolicy.Thing{thing}
	}

	vars := iotpolicy.NewVars(c.ClientID, certID, c.Certificate.Subject.CommonName, attached)
	dec := iotpolicy.Evaluate(policies, iotpolicy.Request{Action: action, Resource: resource, Vars: vars})
	if dec.Allowed {
		return nil
	}
	reason := dec.Reason
	if dec.ImplicitDeny {
		// iotpolicy repeats the action and resource, which Error already names.
		reason = "no attached policy allows it"
	}
	return &Error{Action: action, Resource: resource, Reason: reason}
}

// policy returns the parsed form of the named policy's document, parsing it
// only when the document changed since the last call.
func (a *Authorizer) policy(name, doc string) *cachedPolicy {
	a.mu.RLock()
	cp := a.policies[name]
	a.mu.RUnlock()
	if cp != nil && cp.doc == doc {
		return cp
	}
	cp = &cachedPolicy{doc: doc}
	cp.pol, cp.err = iotpolicy.Parse(doc)
	if cp.err != nil {
		a.log.Warn("policy cannot be evaluated; actions of certificates carrying it are refused", "policy", name, "error", cp.err)
	} else {
		cp.needsThing = cp.pol.UsesThingDetails()
	}
	a.mu.Lock()
	a.policies[name] = cp
	a.mu.Unlock()
	return cp
}
