// Package simulator is iot-dr's in-process cloud: a World of two AWS Regions (primary
// and secondary) wired as the Pulumi program wires the real ones, running the real
// handlers, the spec's rule SQL and the spec's state-machine definition.
//
// Each Region has a registry, an MQTT broker with classic shadows, a rules engine, the
// event and error tables, a Lambda runtime and a Step Functions interpreter; between
// the Regions sits global-table replication. The pieces live in the sub-packages, each
// documenting the semantics of its fake; this package only assembles them and offers
// the waits and verbs that tests, drills and the CLI need.
//
// Each broker chooses its server certificate by SNI, as AWS IoT chooses a domain
// configuration: the custom domain gets the domain configuration's certificate
// (Region.SetDomainCertificate swaps it, to serve an expired or wrong-name one), any
// other name or none the Region's own. The health probe dials its Region's broker
// naming the domain, so a bad domain certificate fails that Region's health check.
//
// Each broker's authoriser registers devices just in time (authz.JustInTime): a
// certificate signed by a CA registered in the Region with auto-registration is
// registered on its first CONNECT (JITR), and provisioned by the CA's JITP template
// when its registration config has one, the first connection closed as AWS closes it.
//
// What is not modelled: IAM, CloudWatch, multiple stream shards, Lambda cold starts and
// timeouts, and any AWS API the functions do not call. The simulator is for tests and
// drills, never production.
package simulator
