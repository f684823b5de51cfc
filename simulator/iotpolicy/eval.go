package iotpolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Vars are the values of the policy variables for one connection.
//
// Empty strings are unresolved: a resource that uses an unresolved variable does
// not match. The thing variables (ThingName, ThingTypeName, Attributes) resolve
// only when ThingName is set and IsAttached is true; build Vars with NewVars to
// get AWS's rule for when a connection is associated with a thing. Setting the
// fields directly is possible (for example to model an exclusive thing
// association) but then the caller owns that rule.
type Vars struct {
	// ClientID is the MQTT client ID (${iot:ClientId}).
	ClientID string
	// ThingName is the thing associated with the connection
	// (${iot:Connection.Thing.ThingName}).
	ThingName string
	// ThingTypeName is that thing's type (${iot:Connection.Thing.ThingTypeName}).
	ThingTypeName string
	// CertificateID is the certificate's ID, the lower-hex SHA-256 of its DER
	// (${iot:CertificateId}).
	CertificateID string
	// CommonName is the certificate subject's CN
	// (${iot:Certificate.Subject.CommonName}).
	CommonName string
	// IsAttached is true when the certificate is attached to ThingName
	// (${iot:Connection.Thing.IsAttached}).
	IsAttached bool
	// Attributes are the thing's attributes
	// (${iot:Connection.Thing.Attributes[name]}).
	Attributes map[string]string
}

// Thing is the registry view of a thing attached to a certificate, as NewVars
// needs it.
type Thing struct {
	// Name is the thing name.
	Name string
	// TypeName is the thing type, empty if the thing has none.
	TypeName string
	// Attributes are the thing's attributes.
	Attributes map[string]string
}

// NewVars returns the variables for a connection with the given client ID whose
// certificate (ID and subject CN) is attached to the things in attached. As in
// AWS IoT Core with non-exclusive thing association, the connection is
// associated with a thing only when the client ID exactly equals the name of a
// thing attached to the certificate; otherwise the thing variables stay
// unresolved and IsAttached is false.
func NewVars(clientID, certificateID, commonName string, attached []Thing) Vars {
	v := Vars{ClientID: clientID, CertificateID: certificateID, CommonName: commonName}
	for _, t := range attached {
		if t.Name != "" && t.Name == clientID {
			v.ThingName = t.Name
			v.ThingTypeName = t.TypeName
			v.Attributes = t.Attributes
			v.IsAttached = true
			break
		}
	}
	return v
}

// lookup resolves one variable; ok is false when it has no value.
func (v *Vars) lookup(p part) (string, bool) {
	thing := v.IsAttached && v.ThingName != ""
	var val string
	switch p.kind {
	case varClientID:
		val = v.ClientID
	case varCertificateID:
		val = v.CertificateID
	case varCommonName:
		val = v.CommonName
	case varIsAttached:
		if v.IsAttached {
			return "true", true
		}
		return "false", true
	case varThingName:
		if thing {
			val = v.ThingName
		}
	case varThingTypeName:
		if thing {
			val = v.ThingTypeName
		}
	case varAttribute:
		if thing {
			val = v.Attributes[p.attr]
		}
	}
	return val, val != ""
}

// Request is one authorisation question: may the connection described by Vars
// perform Action on Resource?
type Request struct {
	// Action is the IoT action, e.g. ActionPublish ("iot:Publish").
	Action string
	// Resource is the full ARN, e.g. from TopicARN.
	Resource string
	// Vars resolve the policy variables.
	Vars Vars
}

// Decision is the outcome of Evaluate.
type Decision struct {
	// Allowed is true only when some statement allows the request and none
	// denies it.
	Allowed bool
	// ImplicitDeny is true when the request is refused because no statement
	// allows it (rather than by an explicit Deny).
	ImplicitDeny bool
	// Reason names the deciding policy and statement, or says that no policy
	// allows the request. It is meant for logs and test failures.
	Reason string
}

// Evaluate decides req against every policy attached to the principal (policy
// name -> policy): an explicit Deny in any policy wins, otherwise any Allow
// grants, otherwise the request is implicitly denied. Nil policies are
// skipped. Policies are visited in name order so that Reason is deterministic.
func Evaluate(policies map[string]*Policy, req Request) Decision {
	names := make([]string, 0, len(policies))
	for name, p := range policies {
		if p != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	action := strings.ToLower(req.Action)
	var buf globPattern
	allowedBy := ""
	for _, name := range names {
		for i := range policies[name].statements {
			st := &policies[name].statements[i]
			if allowedBy != "" && !st.deny {
				// An Allow is already known; only a Deny can change the outcome.
				continue
			}
			var hit bool
			if hit, buf = st.matches(action, req.Resource, req.Vars, buf); !hit {
				continue
			}
			if st.deny {
				return Decision{Reason: fmt.Sprintf("explicit deny in policy %q %s", name, st.label())}
			}
			allowedBy = fmt.Sprintf("allowed by policy %q %s", name, st.label())
		}
	}
	if allowedBy != "" {
		return Decision{Allowed: true, Reason: allowedBy}
	}
	return Decision{ImplicitDeny: true, Reason: fmt.Sprintf("no policy allows %s on %s", req.Action, req.Resource)}
}

// matches reports whether the statement applies to the (lower-cased) action and
// resource. buf is scratch space for expanding variables, returned for reuse.
func (st *statement) matches(action, resource string, vars Vars, buf globPattern) (bool, globPattern) {
	actionHit := false
	for _, a := range st.actions {
		if a.match(action) {
			actionHit = true
			break
		}
	}
	if !actionHit {
		return false, buf
	}
	for i := range st.resources {
		rp := &st.resources[i]
		pat := rp.static
		if pat == nil {
			pat = rp.expand(buf, vars)
			if pat == nil {
				continue // unresolved variable: this resource does not match
			}
			buf = pat
		}
		if pat.match(resource) {
			return true, buf
		}
	}
	return false, buf
}

// ClientARN is the iot:Connect resource for a client ID.
func ClientARN(region, account, clientID string) string {
	return arn(region, account, "client/", clientID)
}

// TopicARN is the iot:Publish and iot:Receive resource for a topic name.
func TopicARN(region, account, topic string) string {
	return arn(region, account, "topic/", topic)
}

// TopicFilterARN is the iot:Subscribe resource for a topic filter; MQTT
// wildcards in the filter appear verbatim.
func TopicFilterARN(region, account, filter string) string {
	return arn(region, account, "topicfilter/", filter)
}

func arn(region, account, kind, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":" + kind + name
}
