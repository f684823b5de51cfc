// Package shadow is the simulator's stand-in for one Region's AWS IoT Device
// Shadow service: classic (unnamed) shadows served over MQTT on
// $aws/things/<thing>/shadow/{update,get,delete} and over the data-plane API
// with the exact aws-sdk-go-v2 iotdataplane signatures and error types, so code
// written against *iotdataplane.Client runs unchanged against it.
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
// Not modelled: named shadows (an update naming one is rejected as an invalid
// request; a get or delete answers 404, as AWS does for a named shadow that does
// not exist), the
// ListNamedShadowsForThing, Publish and retained-message APIs, the thing's
// existence in the registry (AWS also serves shadows for unregistered names),
// throttling, per-account limits other than document size and depth, and
// persistence across restarts. This package is for tests and drills, never
// production.
package shadow
