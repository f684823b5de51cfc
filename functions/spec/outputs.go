package spec

// Stack outputs: the keys `pulumi stack output --json` prints for the primary and the
// secondary stack. The secondary stack reads the primary's through a stack reference and
// `iotdr drill --aws` reads both, so renaming one here renames it for every reader.
const (
	// OutputRole is the stack's role, RolePrimary or RoleSecondary.
	OutputRole = "role"
	// OutputRegion is the Region the stack deploys to.
	OutputRegion = "region"
	// OutputPrimaryRegion is the Region replicated from.
	OutputPrimaryRegion = "primaryRegion"
	// OutputSecondaryRegion is the Region replicated to.
	OutputSecondaryRegion = "secondaryRegion"
	// OutputIoTEndpoint is the stack's Region's iot:Data-ATS endpoint.
	OutputIoTEndpoint = "iotEndpoint"
	// OutputDomain is the device-facing custom domain.
	OutputDomain = "domain"
	// OutputDomainConfiguration is the name of the Region's IoT domain configuration
	// (DomainConfigurationName).
	OutputDomainConfiguration = "domainConfigurationName"
	// OutputCertificateValidationRecord is the FQDN of the ACM validation CNAME of the
	// domain's certificates (primary only, when it requests one). ACM gives every
	// certificate for one name in one account the same record, so the primary owns it
	// and the secondary's certificate validates through it.
	OutputCertificateValidationRecord = "certificateValidationRecord"
	// OutputHostedZoneID is the Route 53 hosted zone holding the domain's failover
	// records (HostedZoneId).
	OutputHostedZoneID = "hostedZoneId"
	// OutputHealthCheckID is the Route 53 health check calling this Region's probe.
	OutputHealthCheckID = "healthCheckId"
	// OutputHealthCheckInterval is the request interval of the stack's health check
	// (primary only): the primary reads its own last value to refuse an unannounced
	// change, which replaces the check the secondary's failover record names.
	OutputHealthCheckInterval = "healthCheckInterval"
	// OutputPrimaryHealthCheckID is the primary's health check, as the secondary's
	// PRIMARY failover record uses it (secondary only).
	OutputPrimaryHealthCheckID = "primaryHealthCheckId"
	// OutputProbeURL is the probe's URL, without its secret.
	OutputProbeURL = "probeUrl"
	// OutputProbeForceFailParameter is the SSM parameter that makes this Region's probe
	// fail (ForceFailParameter).
	OutputProbeForceFailParameter = "probeForceFailParameter"
	// OutputStateTableName is the state (global) table's name, the same in every
	// Region.
	OutputStateTableName = "stateTableName"
	// OutputStateTableArn is the state table's ARN in the stack's Region.
	OutputStateTableArn = "stateTableArn"
	// OutputReplicaArn is the state table's replica in the secondary.
	OutputReplicaArn = "stateTableReplicaArn"
	// OutputReplicaStreamArn is the secondary replica's stream, which feeds the
	// secondary's apply function.
	OutputReplicaStreamArn = "stateTableReplicaStreamArn"
	// OutputCaptureRules lists the capture rules' names.
	OutputCaptureRules = "captureRuleNames"
	// OutputDevicePolicy is the device policy's name.
	OutputDevicePolicy = "devicePolicyName"
	// OutputRecheckMachineArn is the re-check state machine's ARN.
	OutputRecheckMachineArn = "recheckStateMachineArn"
	// OutputSweepMachineArn is the sweep state machine's ARN.
	OutputSweepMachineArn = "sweepStateMachineArn"
	// OutputErrorTableName is the stack's own error table's name.
	OutputErrorTableName = "errorTableName"
	// OutputMarkTableName is the stack's own apply-mark table's name (MarkTable).
	OutputMarkTableName = "markTableName"
	// OutputStreamFailureQueueURL is the queue of the metadata of stream batches
	// given up on.
	OutputStreamFailureQueueURL = "streamFailureQueueUrl"
	// OutputFunctionNames maps the Function* names the stack deploys to deployed
	// Lambda names.
	OutputFunctionNames = "functionNames"
	// OutputAlarmNames lists the stack's CloudWatch alarms.
	OutputAlarmNames = "alarmNames"
	// OutputAlarmRegions maps each of the stack's alarms to the Region it lives in
	// (the health alarms live in us-east-1, where Route 53 publishes its metrics).
	OutputAlarmRegions = "alarmRegions"
)

// Stack roles, the values of OutputRole; each is also the stack's default name.
const (
	RolePrimary   = "primary"
	RoleSecondary = "secondary"
)

// Failover record kinds: the Route 53 failover routing policy types of the domain's
// two records, the primary stack's endpoint behind FailoverPrimary.
const (
	FailoverPrimary   = "PRIMARY"
	FailoverSecondary = "SECONDARY"
)

// DefaultPrefix is the physical-name prefix of named resources when the stack
// configuration sets none (iotdr:prefix).
const DefaultPrefix = "iotdr"

// ProbeParameter names the probe's SSM parameter leaf ("secret", "certificate",
// "force-fail") in a stack deployed with prefix.
func ProbeParameter(prefix, leaf string) string { return "/" + prefix + "/probe/" + leaf }

// ForceFailParameter names the SSM parameter that, set to "true", makes the health
// probe of a stack deployed with prefix fail: what drills flip.
func ForceFailParameter(prefix string) string { return ProbeParameter(prefix, "force-fail") }

// DomainConfigurationName names the IoT domain configuration serving the custom domain
// in a stack deployed with prefix.
func DomainConfigurationName(prefix string) string { return prefix + "-devices" }
