// Package simserver runs iot-dr's two-Region simulator as a standalone server for
// people and ordinary MQTT clients (mosquitto_pub/sub, MQTT Explorer): it is the
// logic behind `iotdr sim`.
//
// Start builds a simulator.World with its Edge (probes, Route 53 health checks, the
// failover DNS), provisions devices in the primary and waits until the pipeline has
// replicated them, writes the CA certificate and every device's certificate and key to
// a directory, and serves a small JSON control API on loopback that applies the
// simulator's chaos verbs (Region outage, broker outage, failing or flapping probe,
// paused replication) and reports each Region's state. It also serves the AWS API
// endpoint of both Regions (simulator/awsfront: the IoT control and data planes,
// Route 53 and SSM in AWS's wire protocols, the Region taken from each request's
// signature) on a second loopback port, so the aws CLI, boto3 and the AWS SDKs
// provision and read the simulator unmodified; its address is Info.AWSEndpointURL
// (aws_endpoint_url in endpoints.json). Config.APIRates, by default AWS's quotas
// (DefaultAPIRates), throttle both Regions' APIs once the devices are provisioned.
//
// # The unreplicated device
//
// Besides the replicated fleet, Start provisions one device, UnreplicatedThing, whose
// certificate is registered only in the primary. It is produced the way it happens in
// AWS, not by editing the secondary: the thing is created in the primary, its thing
// event replicates (the secondary gets the thing, without principals), and only after
// the pipeline has settled (the thing's bounded re-checks included) is the
// certificate registered, the device policy attached to it and the certificate
// attached to the thing. AWS publishes no registry event for RegisterCertificate,
// AttachPolicy or AttachThingPrincipal, so nothing carries them to the secondary; only
// the capture sweep would, and the server runs it only when asked (POST /sweep). The secondary therefore
// refuses that device's certificate at CONNECT ("certificate ... not registered"),
// exactly as a real secondary would, while its thing shows up in both registries.
// Start verifies this before it returns.
//
// # Not modelled / not for
//
// Neither the control API nor the AWS endpoint authenticates (signatures are parsed,
// not verified): both listen on loopback only and anyone on the machine can drive
// them. The MQTT port is chosen by the OS (AWS uses 8883). Nothing persists: every run
// has a new CA, new certificates and empty registries. This is a test and demo tool,
// never production.
package simserver
