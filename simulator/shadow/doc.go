// Package shadow is the simulator's stand-in for one Region's AWS IoT Device
// Shadow service: classic (unnamed) shadows served over MQTT on
// $aws/things/<thing>/shadow/{update,get,delete}, named shadows on
// $aws/things/<thing>/shadow/name/<shadow>/{update,get,delete}, and both over
// the data-plane API (shadowName selects a named shadow; ListNamedShadowsForThing
// lists them, in name order, paged) with the exact aws-sdk-go-v2 iotdataplane
// signatures and error types, so code written against *iotdataplane.Client runs
// unchanged against it. A named shadow behaves as a classic one in every way
// below, with its own document, version and topics; a shadow name is 1 to 64 of
// [$a-zA-Z0-9:_-], and a not-found message names it '<thing>~<shadow>'.
//
// Semantics follow the AWS documentation ("Device Shadow service documents",
// "Device Shadow MQTT topics"):
//   - desired and reported merge per update: null removes a key, objects merge
//     recursively, arrays and scalars replace; a section set to null is
//     removed. Objects left empty by removals are pruned.
//   - version increments by one per accepted update; a request "version" that
//     differs from the current one is rejected with 409. Deleting a shadow keeps
//     its version, so the next update continues from it.
//   - metadata holds a timestamp (Unix seconds) per leaf, one per element for
//     arrays. update/accepted echoes the request state (nulls included) with
//     metadata for it; update/documents carries previous (null for a new
//     shadow) and current; update/delta is published when the request touched
//     desired and desired still differs from reported; get/accepted and
//     GetThingShadow include the delta. clientToken (at most 64 bytes) is
//     echoed on every response.
//   - errors: 400 (bad JSON or document structure, nesting deeper than 6, null
//     in an array), 404 "No shadow exists with name: '<thing>'", 409 version
//     conflict, 413 state over 8 KB (desired + reported, metadata excluded) or
//     request over 128 KB. Over MQTT they are published on .../rejected; the
//     data plane returns InvalidRequestException, ResourceNotFoundException,
//     ConflictException or RequestEntityTooLargeException and publishes
//     nothing, as AWS does. Successful data-plane updates and deletes publish
//     the same notifications as MQTT requests.
//   - Notifications are published at QoS 1, in version order per thing, outside
//     the service's lock. A call may return before its notifications are out
//     when another goroutine is already publishing for the same thing.
//   - SetAvailable(false) makes data-plane calls fail with
//     ServiceUnavailableException and answers MQTT requests on .../rejected
//     with code 500.
//
// Quotas (WithQuotas; none by default, DefaultQuotas(region) gives AWS's)
// are token buckets that hold one second's worth and start full, refilled by
// the service clock. They apply to data-plane calls and to MQTT requests
// alike, the account bucket of the API first, then the thing's:
//
//	Quota (requests per second)     us-east-1, us-west-2, eu-west-1  Other Regions
//	UpdateThingShadow per account   4,000                            400
//	GetThingShadow per account      4,000                            400
//	DeleteThingShadow per account   4,000                            400
//	ListNamedShadowsForThing        10                               10
//	Requests per thing (all APIs)   20                               20
//
// Source: "AWS IoT Device Shadow service quotas" in "AWS IoT Core endpoints
// and quotas", https://docs.aws.amazon.com/general/latest/gr/iot-core.html.
// A throttled data-plane call returns *types.ThrottlingException (HTTP 429);
// a throttled MQTT request is answered on .../rejected with code 429 "Too
// Many Requests". Usage counts requests and throttles per API and the billed
// operations (one per started KB of the request document for updates and of
// the response otherwise, at least one, failures included); WithMeter feeds
// the billed operations to a billing meter as MeterShadowOperations.
// The per-thing quota is shared by a thing's classic and named shadows.
//
// Not modelled: the Publish and retained-message APIs (the broker serves
// retained messages), the thing's existence in the registry (AWS also
// serves shadows for unregistered names), the 10 in-flight unacknowledged
// messages per thing, per-account limits other than the request rates,
// document size and depth, and persistence across restarts. This package is for tests and drills, never
// production.
package shadow
