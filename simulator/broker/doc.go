// Package broker is the simulator's stand-in for one Region's AWS IoT Core
// message broker: an in-process MQTT 3.1.1/5 server (mochi-mqtt) on a loopback
// listener, plain TCP or TLS with client certificates, that asks an Authorizer
// before every CONNECT, PUBLISH, SUBSCRIBE and delivery (RECEIVE), the way AWS IoT
// policies are evaluated.
//
// Semantics, as far as they matter to the simulator:
//   - Clients may publish and subscribe to $aws/... topics; only $SYS topics are
//     reserved by the broker. Top-level wildcards (# and +/...) do not match $
//     topics, as in MQTT and AWS IoT.
//   - Handle registers an in-process subscriber (rules engine, shadow service).
//     Its callback runs synchronously on the publishing goroutine, so messages
//     from one publisher reach it in publish order; messages from different
//     publishers may interleave. Broker.Publish reaches both Handle callbacks and
//     client subscribers, bypassing authorisation for the sender but not the
//     RECEIVE check for each recipient.
//   - Delivery to clients is at most the lower of the publish and subscription
//     QoS, capped at QoS 1 (AWS IoT does not support QoS 2). QoS 1 messages for
//     offline persistent sessions are queued; sessions expire after an hour.
//   - A refused CONNECT gets the "not authorized" CONNACK code (0x05 in 3.1.1,
//     0x87 in 5). A refused SUBSCRIBE gets a failure code in the SUBACK. A refused
//     QoS 1 PUBLISH disconnects a 3.1.1 client (a v5 client gets a PUBACK with
//     0x87); a refused QoS 0 PUBLISH is dropped silently. A refused RECEIVE drops
//     that message for that recipient only. Every refusal is recorded (Refusals)
//     and logged once, at Info, with client id, action, topic and reason.
//   - Logs never carry a payload or credentials: mochi-mqtt's own lines that would
//     dump a whole packet log a summary instead (type, topic, QoS, payload size),
//     and its line for a packet the broker refused is dropped, as the refusal is
//     already logged.
//   - SetDown(true) simulates the loss of the Region's endpoint: every TCP
//     connection is cut without an MQTT DISCONNECT and new connections are
//     accepted and closed at once; the listening socket stays bound so the
//     address survives SetDown(false). Handle and Publish keep working while
//     down: only the device-facing endpoint is lost.
//   - Retained messages as AWS IoT Core keeps them: a PUBLISH with the retain flag
//     replaces the topic's retained message and an empty payload deletes it; a new
//     subscription gets the retained messages its filter matches (each passing the
//     RECEIVE check). A retained PUBLISH needs iot:RetainPublish besides iot:Publish
//     when the Authorizer implements RetainAuthorizer. At most
//     RetainedQuotas.MaxTopics topics (AWS: 500,000 retained messages per account)
//     hold one: a retained PUBLISH that would add another is throttled (refused,
//     recorded with Throttled set; replacing or deleting stays possible). DataPlane
//     serves Publish, ListRetainedMessages and GetRetainedMessage with the
//     aws-sdk-go-v2 iotdataplane signatures and errors. Concurrent retained publishes
//     may overshoot the count by the number in flight.
//   - A client PUBLISH payload over 128 KB (AWS's message size limit) is refused,
//     as an unauthorised one is; a data-plane Publish answers
//     RequestEntityTooLargeException.
//   - The Authorizer sees the TLS Server Name Indication (ClientInfo.ServerName), so
//     it can refuse certificates in SNI_ONLY mode that connect without it, and the
//     certificates a client sent after its own (ClientInfo.Chain: a device's CA for
//     just-in-time registration without SNI). A Connect error matching
//     ErrDisconnect closes the connection without a CONNACK instead of refusing it
//     (AWS disconnects a device whose certificate it registered just in time); it is
//     recorded in Refusals like a refusal.
//
// # Quotas
//
// Options.Quotas are AWS IoT Core's message-broker limits, enforced with token
// buckets, as rates per wall-clock second (a drill compressing time multiplies AWS's
// rates by its scale):
//   - CONNECT requests per second per account (AWS: 500, adjustable, lower in some
//     Regions): one bucket for the broker, holding one AWS second's worth.
//   - CONNECT requests per second per client ID (AWS: 1): a client's next CONNECT is
//     admitted only a second after its previous admitted one. Checked first, so a
//     client throttled for its own rate spends none of the account's.
//   - PUBLISH requests per second per connection (AWS: 100), per connection bucket.
//
// What AWS does when throttled, and so the broker: AWS IoT Core's lifecycle events
// and logs give THROTTLED as the reason a client was disconnected "for exceeding a
// throttling limit"; the connection is closed, not answered with a refusing CONNACK
// (MQTT 3.1.1 has no return code for it). A throttled CONNECT therefore gets no
// CONNACK: the connection is closed, and the client sees it end during its connect,
// retries with its backoff. A PUBLISH over the rate is dropped and the connection
// closed. Every throttling is recorded in Refusals with Throttled set and a reason
// starting with THROTTLED. The broker's own publishes (Publish, Handle) are exempt.
//
// Not modelled: subscriptions per SUBSCRIBE (8) and per connection
// (50), the account's inbound and outbound message rates, and concurrent connections
// per account (they do not bind for devices that subscribe once and publish every
// few seconds); keep-alive limits, the $aws reserved-topic publish restrictions (left
// to the Authorizer), persistent-session limits, lifecycle events
// ($aws/events/presence/...), MQTT over WebSocket, and the three-year expiry of
// retained messages not updated or read. This package is for tests and
// drills, never production.
package broker
