// Package conformance holds the suite that keeps the simulator honest: one
// table of AWS IoT registry and Device Shadow behaviours (not-found and
// already-exists errors, pagination, attribute merge, certificates and
// principals, policy versions, the thing group tree, thing types, shadow
// versions) that runs against the simulator's fakes (simulator/registry,
// simulator/shadow), against the same fakes behind the simulator's AWS endpoint
// (simulator/awsfront), and against moto_server, the last two through the real
// aws-sdk-go-v2 *iot.Client and *iotdataplane.Client.
//
// Each case asserts what the AWS documentation says. Where moto is known to
// differ from AWS, the case carries a motoDiffers note citing the AWS page and
// is skipped against moto only; the fakes must always pass every case. Without
// moto_server the moto half is skipped (see internal/motoserver).
//
// The package has no production code; it is not an API test of moto.
package conformance
