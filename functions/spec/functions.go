package spec

// Function names: one folder under functions/cmd per Lambda, deployed with this name
// prefixed by the stack's resource prefix.
const (
	FunctionTrigger     = "trigger"
	FunctionThing       = "thing-worker"
	FunctionThingType   = "thing-type-worker"
	FunctionThingGroup  = "thing-group-worker"
	FunctionShadow      = "shadow-worker"
	FunctionReconciler  = "reconciler"
	FunctionHealthProbe = "probe"
)

// ApplyFunctions are the Lambdas of the secondary's apply pipeline.
var ApplyFunctions = []string{
	FunctionTrigger, FunctionThing, FunctionThingType, FunctionThingGroup, FunctionShadow, FunctionReconciler,
}

// Environment variables the stacks set and the mains read. Handlers never read them.
const (
	// EnvSourceRegion names the Region replicated from (the primary).
	EnvSourceRegion = "IOTDR_SOURCE_REGION"
	// EnvStateMachineARN is the apply state machine the trigger starts.
	EnvStateMachineARN = "IOTDR_STATE_MACHINE_ARN"
	// EnvErrorTable is the error table's name.
	EnvErrorTable = "IOTDR_ERROR_TABLE"
	// EnvRecheckSeconds is how long the thing worker waits between attachment re-checks.
	EnvRecheckSeconds = "IOTDR_RECHECK_SECONDS"
	// EnvRecheckCount is how many times the thing worker re-checks after a thing event.
	EnvRecheckCount = "IOTDR_RECHECK_COUNT"
	// EnvMetricNamespace is the CloudWatch namespace of the replication-lag metric.
	EnvMetricNamespace = "IOTDR_METRIC_NAMESPACE"
	// EnvProbeEndpoint is the IoT data endpoint (ATS) the probe connects to.
	EnvProbeEndpoint = "IOTDR_PROBE_ENDPOINT"
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
)

// Defaults of the thing worker's attachment re-checks (EnvRecheckSeconds,
// EnvRecheckCount): waits of 5, 10, 20, 40, 80 and 160 s, about five minutes in all.
const (
	DefaultRecheckSeconds = 5
	DefaultRecheckCount   = 6
)

// MetricReplicationLag is the CloudWatch metric (milliseconds from the primary's event
// timestamp to the secondary converged) that the workers publish.
const MetricReplicationLag = "ReplicationLag"

// DefaultMetricNamespace is the namespace of iot-dr's metrics.
const DefaultMetricNamespace = "IoTDR"
