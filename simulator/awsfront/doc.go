// Package awsfront puts the AWS API surface that `iotdr drill --aws` uses in front of a
// running simulator: the Route 53 calls that read the failover deployment (hosted zone,
// failover records, health checks and their per-checker status, TestDNSAnswer) and the
// SSM parameter calls that flip a Region's probe force-fail switch. The methods have the
// exact aws-sdk-go-v2 client signatures and return the SDK's own error types, so the
// AWS drill's logic (package awsdrill) runs unchanged against the simulator in tests.
//
// It is for tests and drills, never production, and it is not a general Route 53 or SSM
// fake: it models only the one deployment StartEdge builds, as the Pulumi stacks would
// describe it.
//
// # What it presents
//
//   - One public hosted zone (HostedZoneID) named after the custom domain's parent
//     (iotdr.test. for iot.iotdr.test), holding the pair of failover CNAME records for the
//     custom domain, as infra/dns.go deploys them: PRIMARY points to
//     simulator.Endpoint(primary) with the primary's health check, SECONDARY to
//     simulator.Endpoint(secondary) with the secondary's. No SOA or NS records are listed.
//   - Two HTTP health checks, one per Region, with UUID-shaped ids (HealthCheckID).
//     GetHealthCheck reports the simulator check's settings rounded UP to whole seconds
//     (Route 53's unit), so a scaled drill's 100 ms interval reads as 1 s; the probe's
//     shared secret is left out of ResourcePath.
//   - GetHealthCheckStatus returns one observation per simulated checker that has
//     probed at least once: the checker's LATEST probe result (not its threshold-damped
//     verdict), as Route 53 does, labelled with Route 53's eight checker Regions in turn
//     and a made-up checker IP. Status texts follow Route 53's ("Success: HTTP Status
//     Code 200, OK", "Failure: HTTP Status Code 503, Service Unavailable").
//   - TestDNSAnswer answers the custom domain from the simulated zone's current failover
//     choice: the chosen record's CNAME target for type CNAME or A (an authoritative
//     server does not chase an out-of-zone CNAME), NOERROR with no data for other
//     types, NXDOMAIN for other names in the zone. The answer changes the instant the
//     simulated health check flips (Route 53's propagation delay is not modelled).
//   - Per Region, an SSM parameter store holding the probe's force-fail switch
//     (Front.ForceFailParameter). PutParameter on it drives Edge.SetProbeFailing with the
//     probe's own parsing (strconv.ParseBool; anything else is off). Other parameters
//     can be created and read but do nothing.
//
// Not modelled: pagination beyond one page (the zone and the store are tiny), IAM,
// throttling, SecureString encryption, parameter history, labels and policies, health
// check regions other than the default eight, and any write to Route 53.
package awsfront
