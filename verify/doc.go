// Package verify compares the replicated state of two AWS IoT Regions (the primary,
// "source", and the secondary, "target") and reports every difference: things (type,
// attributes), thing types (deprecation, properties), static thing groups (parent,
// description, attributes), billing groups (description, when both clients have the
// billing-group calls) and each thing's billing group, the tags of thing types, thing
// groups, billing groups, policies and the onboarding kinds (aws: tags left out), group memberships, the
// certificates attached to things
// (by certificate id, which is the SHA-256 fingerprint of the DER and therefore the
// same in both Regions; status), the policies attached to those certificates (default
// document, compared after rewriting the source's Region in ARNs to the target's, as
// replication does), the attachments between them, optionally classic and named
// shadows (desired and reported state), and, with Comparer.SourceProvisioning, role
// aliases (role, credential duration), provisioning templates (type, default body,
// description, enabled, role, pre-provisioning hook with its Lambda's Region
// rewritten) and CA certificates (status, auto-registration, registration config,
// mode: a DEFAULT-mode CA that the replication had to register in SNI_ONLY mode is a
// difference whose target side says why, replication.ErrCAModeUnavailable), and, with
// Comparer.Retained, retained messages (payload and QoS).
//
// It is the engine of `iotdr verify` and of `iotdr sync --dry-run`, which uses the
// per-thing comparison (Comparer.Thing) to tell what a sync would change without
// writing anything.
//
// Memory is bounded by the concurrency and the list page size, not the fleet: Run
// pages through the source's things and describes each in the target, then pages
// through the target's things and checks that each exists in the source; no full list
// of either Region is held. The only per-run state is the set of policy names whose
// documents were already compared (policies are few and shared by whole fleets).
// Differences are streamed to a callback as they are found.
//
// What it is NOT: it never writes, and it does not compare what replication does not
// copy (dynamic thing groups' memberships, tags of other resources, certificates and policies not
// reachable from a thing, a provisioning template's non-default versions,
// non-certificate principals), nor retained messages' MQTT 5 user properties (with
// Comparer.Retained it compares their payload and QoS, in a phase after the things).
// A certificate shared by several things is compared once per thing. The comparison
// is not a snapshot: a Region that changes while Run pages through it can yield
// differences that no longer exist (run it again) or miss ones that appear meanwhile.
package verify
