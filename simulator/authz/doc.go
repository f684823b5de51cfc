// Package authz is the simulator's AWS IoT Core authoriser: it implements
// broker.Authorizer for one Region from that Region's registry fake, so the
// simulated broker admits and refuses devices exactly where AWS IoT Core would.
//
// # Semantics
//
//   - Authentication: the client must present an X.509 certificate whose ID
//     (lower-case hex SHA-256 of its DER, pki.Fingerprint) is registered in
//     this Region's registry with status ACTIVE. A certificate registered only
//     in the other Region is refused ("certificate <id> not registered in
//     <region>"), as is one that is INACTIVE, REVOKED or in any other state.
//     The certificate's issuer is not checked: AWS admits certificates
//     registered without a CA, and the replication path relies on that.
//   - SNI: a certificate in SNI_ONLY mode (RegisterCertificateWithoutCA; the
//     registry reports the mode in DescribeCertificate) connects only with a TLS
//     Server Name Indication naming the Region's endpoint or a configured custom
//     domain (RequireSNI, which the simulated Regions call and `iotdr sim` may
//     not: its clients connect by IP address); without SNI, or with another name, CONNECT is
//     refused with the reason. DEFAULT certificates (created by the Region or
//     registered with their CA) need none. AWS refuses such clients too; the
//     simulator refuses at CONNECT, after the handshake, so the refusal and its
//     reason are recorded like any other.
//   - Just in time (JustInTime, which the simulated Regions call): a certificate the
//     Region does not know, or holds in PENDING_ACTIVATION, that a CA registered in
//     the Region signed is registered on CONNECT as AWS IoT does. The CA must be
//     ACTIVE with auto-registration ENABLE, and (under RequireSNI) an SNI_ONLY CA's
//     device must send SNI naming the Region, a DEFAULT CA's device either SNI or
//     its CA's certificate after its own; otherwise CONNECT is refused with the
//     reason. The certificate is then registered PENDING_ACTIVATION in the CA's
//     mode and announced on $aws/events/certificates/registered/<caId>. Without a
//     template (JITR) the connection is closed (broker.ErrDisconnect: no CONNACK,
//     AWS disconnects the client) until something activates the certificate. With
//     a JITP template in the CA's registration config the template runs through
//     the registry's RegisterThing with the certificate's subject as parameters
//     (registry.JITPParameters); a failure refuses CONNECT with the reason, success
//     closes the first connection too (AWS: "the TLS handshake will fail at the
//     first connection") and the next is admitted as usual. Both closes are
//     recorded in the broker's refusals with a reason starting "JITR:" or "JITP:".
//   - Authorisation: every CONNECT (iot:Connect on client/<clientId>),
//     PUBLISH (iot:Publish on topic/<topic>), SUBSCRIBE (iot:Subscribe on
//     topicfilter/<filter>) and delivery (iot:Receive on topic/<topic>) is
//     evaluated with iotpolicy against the default version of every policy
//     attached to the certificate. An explicit Deny wins, otherwise any Allow,
//     otherwise the implicit deny. Policy variables come from iotpolicy.NewVars:
//     the connection is associated with a thing when the client ID equals the
//     name of a thing attached to the certificate (non-exclusive association).
//   - Freshness: the certificate, its attachments and the policy documents are
//     read from the registry on every call, so a detached policy, a new
//     policy version or a deactivated certificate takes effect on the next
//     action of an already connected client. AWS IoT Core caches these
//     decisions and applies such changes with a short, undocumented delay;
//     the simulator is therefore at least as strict as AWS, never looser.
//     Connections are not closed when the certificate is deactivated; their
//     next action is refused instead.
//   - Cost: certificate lookup is a map lookup in the registry; parsed
//     policies are cached per policy name and document text, so a policy is
//     parsed once per version, not per call. The thing's type and attributes
//     are looked up (DescribeThing) only when an attached policy uses the
//     ${iot:Connection.Thing.ThingTypeName} or
//     ${iot:Connection.Thing.Attributes[...]} variables.
//   - Conservative failures: a policy document that iotpolicy cannot parse (it
//     uses a feature iotpolicy does not model, such as Condition), or a failed
//     DescribeThing when one is needed, refuses the action rather than
//     ignoring the policy, because ignoring a Deny could allow more than AWS.
//
// Refusal reasons are short and say what was refused and why: "certificate
// <id> is INACTIVE", "iot:Publish on <arn>: no attached policy allows it",
// "iot:Connect on <arn>: explicit deny in policy ...". They are returned as
// *Error values so callers can inspect the action and resource.
//
// # Not modelled
//
// Custom authorisers, thing-group policies, exclusive thing association
// beyond what iotpolicy models, the $aws reserved-topic restrictions that AWS
// enforces independently of policies, policy conditions, and AWS's decision
// cache. This package is for the simulator and tests, never production.
package authz
