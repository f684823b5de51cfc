// Package replication converges a target Region's IoT registry, shadows and retained
// messages to a source: the apply function's logic (the source is a state.View over the target
// Region's own replica of the state table) and the CLI's sync (the source is the other
// Region's API).
//
// Every operation reads the source's current state instead of trusting an event,
// compares before it writes and treats AlreadyExists/NotFound races as success where
// that is safe, so applying twice, late or out of order leaves the target equal to the
// source. The logic depends only on narrow interfaces whose methods have exactly the
// aws-sdk-go-v2 client signatures (Source, SourceShadows, IoT, Shadows): production
// passes *iot.Client and *iotdataplane.Client, the simulator passes its fakes, and the
// apply path passes a state.View, which never calls another Region.
//
// What is replicated: things (type, attributes), thing types (properties, updated in
// place with UpdateThingType: description, searchable attributes, MQTT 5 propagating
// attributes; deprecation),
// static thing groups (hierarchy, description, attributes, memberships), dynamic thing
// groups (query, description, attributes; the target's fleet indexing merged to what
// the query needs first, never lowered: DynamicGroups, GroupIndexing; their members
// are the target's own to derive), billing groups
// (description; a thing's billing group is converged with the thing, a thing being in
// at most one; BillingGroup, SourceBilling and TargetBilling), the tags of thing types,
// thing groups, billing groups, policies, role aliases, provisioning templates and CA
// certificates (Tags: exactly the source's, AWS's own aws: tags neither copied nor
// removed), the X.509
// certificates attached to things (registered with RegisterCertificateWithoutCA, status
// mirrored), the IoT policies attached to those certificates (Region in ARNs rewritten)
// classic and named shadows (desired and reported state; AllShadows lists a thing's
// named shadows in both Regions for the bulk passes), retained messages (payload and
// QoS, published retained; RetainedMessage), role aliases (IAM role and credential
// duration; RoleAlias), provisioning templates (default version's body, type,
// description, enabled, provisioning role, pre-provisioning hook with its Lambda's
// Region rewritten; ProvisioningTemplate) and CA certificates (status,
// auto-registration, registration config; registered in SNI_ONLY mode, since a
// DEFAULT registration needs a verification certificate signed by the CA's private
// key: ErrCAModeUnavailable, reported in the Outcome; CACertificate). A device
// provisioned just in time (JITP) in either Region replicates as any device does,
// from its thing; a certificate only registered just in time (JITR,
// PENDING_ACTIVATION, no thing yet) is reached once its handler attaches it.
//
// What it is NOT: it does not parse events (the handlers map an event to a resource
// name), it does not retry (the state machine does; see PermanentError), and it does
// not replicate dynamic groups' memberships (derived in each Region), tags of other
// resources, a CA certificate's DEFAULT
// mode (see above), the removal of a CA's registration config, a provisioning
// template's non-default versions, the pre-provisioning hook's Lambda function itself
// (deploy it in both Regions), non-certificate principals, exclusive
// thing-principal associations, retained messages' MQTT 5 user properties and expiry,
// or certificates and policies that are not reachable from a thing. Source and target are assumed to be the same AWS account.
//
// Deletes are conservative: a certificate is removed from the target only when no
// target thing uses it and the source no longer has it attached to any thing, and a
// policy only when nothing in the target is attached to it and the source no longer has
// it. A failure between detaching a certificate from a deleted thing and deleting the
// certificate leaves it orphaned in the target, already INACTIVE and without policies.
package replication
