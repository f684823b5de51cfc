// Package iotpolicy evaluates AWS IoT Core policies the way the IoT Core message
// broker does, so that the simulator's brokers admit and refuse devices exactly
// where AWS would.
//
// What is modelled:
//
//   - Policy documents with Version "2012-10-17" and one or more statements
//     (Statement as an object or an array), each with Effect ("Allow"/"Deny"),
//     Action and Resource (a string or an array of strings), and an optional Sid.
//   - Action matching as in IAM: case-insensitive, with the glob wildcards "*"
//     and "?" (so "iot:*" and "iot:Pub*" work).
//   - Resource matching: case-sensitive globs where "*" matches any run of
//     characters (including "/") and "?" exactly one character. The MQTT
//     wildcards "+" and "#" are ordinary characters in a policy, so a
//     topicfilter resource ending in "/#" allows subscribing to that literal
//     filter and nothing else.
//   - Resources per action: client/<clientId> for iot:Connect, topic/<topic> for
//     iot:Publish and iot:Receive, topicfilter/<filter> for iot:Subscribe (see
//     ClientARN, TopicARN, TopicFilterARN).
//   - Policy variables in Resource: ${iot:ClientId}, ${iot:CertificateId},
//     ${iot:Certificate.Subject.CommonName}, ${iot:Connection.Thing.ThingName},
//     ${iot:Connection.Thing.ThingTypeName}, ${iot:Connection.Thing.IsAttached}
//     and ${iot:Connection.Thing.Attributes[name]}, plus the IAM escapes ${*},
//     ${?} and ${$} for a literal "*", "?" and "$". Substituted values are
//     literal text: a client ID containing "*" is not a wildcard. A resource
//     whose variable cannot be resolved (no thing associated with the
//     connection, attribute absent, empty value) does not match, for Allow and
//     Deny statements alike, as in AWS ("this variable won't be resolved and
//     will result in an access denied error").
//   - Thing variables resolve only for a connection associated with a thing: the
//     certificate is attached to a thing whose name equals the MQTT client ID
//     (AWS's non-exclusive association; see NewVars).
//   - The decision across all policies attached to a principal: an explicit Deny
//     wins, otherwise any Allow, otherwise the implicit deny.
//
// What is NOT modelled, and refused by Parse with an error rather than ignored
// (the evaluator must never allow more than AWS would): Condition, NotAction,
// NotResource, Principal/NotPrincipal, policy versions other than 2012-10-17,
// and any policy variable not listed above (for example ${aws:SourceIp},
// ${iot:DomainName} or other certificate attributes). Not modelled and not
// needed by the simulator: exclusive thing association, thing groups and
// other principals than X.509 certificates, the policy size quotas, and
// actions other than the four MQTT ones (other actions parse but only match a
// Request that names them).
//
// This package is for the simulator and tests; it is not an authorisation
// component for production traffic.
package iotpolicy
