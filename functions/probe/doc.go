// Package probe is the health probe that Route 53 calls in each Region, through
// an API Gateway HTTP API: it connects to that Region's AWS IoT Core broker as
// a device, subscribes to a probe topic unique to the run, publishes N QoS 1
// messages and waits for all N to come back.
//
// It takes the devices' path: it dials its own Region's endpoint but names the
// custom domain in SNI and verifies the served certificate's chain and name
// against it (VerifyServer), so a broken domain configuration or an expired
// server certificate fails the probe, and it reports the certificate's expiry.
//
// Prober does the MQTT round trip (paho, MQTT 3.1.1, clean session, no
// reconnect). Handler is the Lambda handler for the HTTP API (payload format
// 2.0): it demands the shared secret (header or query parameter, compared in
// constant time; RotatingSecret accepts the old and the new secret during a
// rotation) before it connects anything, honours a force-fail switch for
// drills, and answers 200 with timings or 503 with a short reason. Parameter
// reads SSM parameters with a short cache, for the Lambda's main.
//
// The secret never appears in a response or a log line: Handler logs only the
// outcome, the step that failed and the caller's address. The package is NOT
// a general MQTT client, and it does not decide failover: Route 53 does, from
// many probe results (failure threshold, share of healthy checkers).
package probe
