// Package awsdrill is `iotdr drill --aws`: a failover drill against a real iot-dr
// deployment. It flips the primary Region's probe force-fail switch (an SSM parameter),
// watches the Route 53 health check and the failover record's answer until the custom
// domain points to the secondary, restores the switch, watches the failback, and
// reports detection, switch (RTO) and failback times against the bound the deployment's
// settings imply.
//
// The logic runs against two narrow interfaces (SSMAPI, Route53API) whose methods have
// the exact aws-sdk-go-v2 signatures: production passes *ssm.Client and *route53.Client,
// tests pass the simulator's simulator/awsfront. It only reads Route 53 and only writes
// the one force-fail parameter.
//
// Safety: it refuses to start without Config.Yes (`--yes`), refuses when the deployment
// is not healthy to begin with (both health checks healthy, switch off, the domain
// answering PRIMARY), and once it has touched the switch it always sets it back to
// "false" — on success, on error and on cancellation (Ctrl-C) — with a fresh context so
// that a cancelled drill still restores. If even that fails, the error says how to
// restore by hand.
//
// What it measures and how precisely: detection is the Route 53 checker observation
// (GetHealthCheckStatus CheckedTime, AWS's clock) of the first failure after the fault;
// "unhealthy" is the first poll at which 18% or fewer of the checkers' latest
// observations report success (Route 53's rule); the switch is the first poll at which
// TestDNSAnswer returns the SECONDARY record's value. Poll-based times are accurate to
// one poll interval, and Route 53's own propagation delay is part of what is measured.
// The RTO reported is that switch time; devices still cache the old answer for up to
// the record's TTL, which the bound (request interval x failure threshold + TTL)
// includes. The probe Lambda caches the switch for a few seconds, which also counts.
//
// It does not drive a device fleet, so it reports no lost messages, registry changes or
// refused devices (the simulator drill does); it is not a load test.
package awsdrill
