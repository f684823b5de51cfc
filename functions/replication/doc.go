// Package replication converges the target (secondary) Region's IoT registry and
// classic shadows to the source (primary) Region's current state. It is the logic the
// apply workers and the reconciler Lambdas run, and that the CLI's sync command uses.
//
// Every operation re-reads the source instead of trusting an event payload, compares
// before it writes and treats AlreadyExists/NotFound races as success where that is
// safe, so applying an event twice, late or out of order leaves the target equal to the
// source. The logic depends only on the narrow IoT and Shadows interfaces, whose
// methods have exactly the aws-sdk-go-v2 client signatures: production passes
// *iot.Client and *iotdataplane.Client, the simulator passes its fakes.
//
// What is replicated: things (type, attributes), thing types (properties, deprecation),
// static thing groups (hierarchy, description, attributes, memberships), the X.509
// certificates attached to things (registered with RegisterCertificateWithoutCA, status
// mirrored), the IoT policies attached to those certificates (Region in ARNs rewritten)
// and classic shadows (desired and reported state).
//
// What it is NOT: it does not parse events (the handlers map an event to a resource
// name), it does not retry (the state machine does; see PermanentError), and it does
// not replicate dynamic thing groups, billing groups, tags, named shadows, CA
// certificates, non-certificate principals, exclusive thing-principal associations, or
// certificates and policies that are not reachable from a thing. Thing type
// properties are immutable in AWS; a target type whose properties differ is logged,
// not recreated. Source and target are assumed to be the same AWS account.
//
// Deletes are conservative: a certificate is removed from the target only when no
// target thing uses it and the source no longer has it attached to any thing, and a
// policy only when nothing in the target is attached to it and the source no longer has
// it. A failure between detaching a certificate from a deleted thing and deleting the
// certificate leaves it orphaned in the target, already INACTIVE and without policies.
package replication
