package spec

import "time"

// Function names: one folder under functions/cmd per Lambda, deployed with this name
// prefixed by the stack's resource prefix.
const (
	// FunctionCapture is invoked by the capture rules (registry events, shadow
	// documents) and by the re-check state machine; it writes the state table.
	FunctionCapture = "capture"
	// FunctionRecheck is the capture function's re-check entry point.
	FunctionRecheck = "recheck"
	// FunctionSweep is the capture sweep, one page per invocation.
	FunctionSweep = "sweep"
	// FunctionApply reads the state table's replica stream and converges this Region.
	FunctionApply = "apply"
	// FunctionRedrive re-runs what the error table holds.
	FunctionRedrive     = "redrive"
	FunctionHealthProbe = "probe"
)

// PipelineFunctions are the Lambdas of the replication pipeline; every Region runs
// them all, since capture and apply run where changes happen and where they land.
var PipelineFunctions = []string{
	FunctionCapture, FunctionRecheck, FunctionSweep, FunctionApply, FunctionRedrive,
}

// FunctionMemoryMB is each Lambda's memory size, as the stacks deploy it and the
// simulator bills it.
var FunctionMemoryMB = map[string]int{
	FunctionCapture: 256, FunctionRecheck: 256, FunctionSweep: 512,
	FunctionApply: 512, FunctionRedrive: 512, FunctionHealthProbe: 512,
}

// ApplyTimeout and RedriveTimeout are the timeouts of the two functions that apply,
// as the stacks deploy them: an apply of a resource still marked running after the
// longer of them has crashed or timed out (applymark).
const (
	ApplyTimeout   = 300 * time.Second
	RedriveTimeout = 900 * time.Second
)

// Environment variables the stacks set and the mains read. Handlers never read them.
const (
	// EnvPeerRegion is the other Region of the pair: policy ARNs naming it are
	// rewritten to this Region when applied.
	EnvPeerRegion = "IOTDR_PEER_REGION"
	// EnvStateTable is the state (global) table's name.
	EnvStateTable = "IOTDR_STATE_TABLE"
	// EnvErrorTable is this Region's error table's name.
	EnvErrorTable = "IOTDR_ERROR_TABLE"
	// EnvMarkTable is this Region's apply-mark table's name (MarkTable): the apply
	// marks the registry writes it makes, the capture skips the events they raise.
	EnvMarkTable = "IOTDR_MARK_TABLE"
	// EnvRecheckMachineARN is the re-check state machine the capture function starts.
	EnvRecheckMachineARN = "IOTDR_RECHECK_MACHINE_ARN"
	// EnvRecheckSeconds is the first wait of a new thing's attachment re-checks.
	EnvRecheckSeconds = "IOTDR_RECHECK_SECONDS"
	// EnvRecheckCount is how many times a new thing's attachments are re-checked.
	EnvRecheckCount = "IOTDR_RECHECK_COUNT"
	// EnvMetricNamespace is the CloudWatch namespace of the replication-lag metric.
	EnvMetricNamespace = "IOTDR_METRIC_NAMESPACE"
	// EnvProbeEndpoint is the IoT data endpoint (ATS) the probe dials: this Region's
	// address, whatever the custom domain's failover records say.
	EnvProbeEndpoint = "IOTDR_PROBE_ENDPOINT"
	// EnvProbeDomain is the custom domain the probe names in SNI and verifies the
	// served certificate against, so it takes the devices' path through this Region's
	// domain configuration.
	EnvProbeDomain = "IOTDR_PROBE_DOMAIN"
	// EnvProbeSecretParam names the SSM SecureString holding the probe's shared secret.
	EnvProbeSecretParam = "IOTDR_PROBE_SECRET_PARAM"
	// EnvProbeCertParam names the SSM SecureString holding the probe's certificate and key (PEM).
	EnvProbeCertParam = "IOTDR_PROBE_CERT_PARAM"
	// EnvProbeForceFailParam names the SSM parameter that, when "true", makes the probe fail.
	EnvProbeForceFailParam = "IOTDR_PROBE_FORCE_FAIL_PARAM"
	// EnvProbeMessages is how many messages one probe round-trips.
	EnvProbeMessages = "IOTDR_PROBE_MESSAGES"
	// EnvProbeTimeoutMS bounds one probe run.
	EnvProbeTimeoutMS = "IOTDR_PROBE_TIMEOUT_MS"
	// EnvProbeMarkTable is this Region's apply-mark table, where the probe's catch-up
	// gate reads the apply's progress and records its answers; unset: no gate (a
	// Region without an apply).
	EnvProbeMarkTable = "IOTDR_PROBE_MARK_TABLE"
	// EnvProbeCatchUpHoldMS is the health checks' failure threshold times their
	// interval: how long the probe must have answered only healthy for its Region to
	// count as serving (and no longer gated).
	EnvProbeCatchUpHoldMS = "IOTDR_PROBE_CATCHUP_HOLD_MS"
	// EnvProbeCatchUpMaxAgeMS is the age of a change from the other Region above which
	// an apply holding it is behind (default probe.DefaultCatchUpMaxAge).
	EnvProbeCatchUpMaxAgeMS = "IOTDR_PROBE_CATCHUP_MAX_AGE_MS"
)

// Defaults of a new thing's attachment re-checks (EnvRecheckSeconds,
// EnvRecheckCount): waits of 5, 10, 20, 40, 80 and 160 s, about five minutes in all.
const (
	DefaultRecheckSeconds = 5
	DefaultRecheckCount   = 6
)

// ApplyClientToken is the clientToken of every shadow write the apply function makes;
// the capture function does not capture documents that carry it, so an apply never
// comes back as a change.
const ApplyClientToken = "iotdr-apply"

// MetricReplicationLag is the CloudWatch metric (milliseconds from the change in its
// origin Region to this Region converged) that the apply function publishes.
const MetricReplicationLag = "ReplicationLag"

// DefaultMetricNamespace is the namespace of iot-dr's metrics.
const DefaultMetricNamespace = "IoTDR"
