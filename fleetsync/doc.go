// Package fleetsync copies an existing fleet from the primary Region to the secondary:
// every thing type, the static thing group tree, the billing groups (when the clients
// have their calls), and then every selected thing with its type, attributes, group
// memberships, billing group, certificates (RegisterCertificateWithoutCA),
// policies (Region rewritten) and attachments, and optionally its classic shadow;
// with Options.SourceProvisioning also role aliases, provisioning templates and CA
// certificates (their calls unpaced: AWS publishes no default rates for them, and a
// throttled call is retried). It
// is the engine of `iotdr sync`, for teams that adopt iot-dr with devices already
// registered: the event pipeline only sees changes made from then on.
//
// Every resource is converged with the replication package's Replicator, the logic
// the apply workers run, so a copied device is exactly what the pipeline would have
// produced. Converging is idempotent, which makes a sync resumable by construction:
// an interrupted run is simply run again, and resources that already match are
// reported "in sync" without writes. A dry run compares instead (package verify) and
// writes nothing.
//
// Throughput is bounded by the account's per-API request quotas, separately in each
// Region. LimitedIoT and LimitedShadows wrap the clients with a token bucket per API
// (DefaultRates, AWS's default quotas, overridable) and retry ThrottlingException and
// other transient failures with jittered exponential back-off; a device whose calls
// keep failing is retried as a whole a few times and then reported failed with the
// reason, and the run goes on.
//
// What it is NOT: it does not delete anything the secondary has and the primary does
// not (`iotdr verify` shows such extras), it does not copy what replication does not
// (see the replication package), and it does not write the state table: the pipeline's
// sweep seeds that from inside the primary. Both converge the secondary to the
// primary's current state, so running them at the same time is safe but spends the
// same quotas twice.
package fleetsync
