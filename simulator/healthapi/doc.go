// Package healthapi is the simulator's stand-in for one Region's API Gateway
// HTTP API in front of the health-probe Lambda: a plain-HTTP server on a
// loopback port that turns each request into the payload format 2.0 event
// (events.APIGatewayV2HTTPRequest) API Gateway would send, invokes the function
// through an invoke callback (the simulator's Lambda runtime, lambdart), and
// writes the function's response back as API Gateway does.
//
// Semantics, as far as they matter to the simulator:
//   - Every method and path goes to the one integration (a "$default" route);
//     routeKey and stage are "$default".
//   - Request: header names are lower-cased and repeated headers joined with
//     commas; cookies move to the cookies array; query parameters are decoded
//     into queryStringParameters (repeated ones joined with commas) and kept
//     verbatim in rawQueryString; a body that is not valid UTF-8 is sent
//     base64-encoded. Bodies over 6 MB (Lambda's synchronous payload limit) get
//     413.
//   - Response: a JSON object with statusCode is used as is (headers, cookies,
//     body, isBase64Encoded); any other JSON becomes a 200 application/json
//     answer with that JSON as the body (a JSON string is unquoted), as API
//     Gateway infers for format 2.0. A function error, a throttled or missing
//     function, or a malformed response gives 500 {"message":"Internal Server
//     Error"}; an invocation that outlasts Timeout gives 503 {"message":"Service
//     Unavailable"}.
//   - SetDown(true) models the API's endpoint being unreachable: open
//     connections are cut and new ones are accepted and closed at once, so a
//     caller sees a connection error, not an HTTP status. The port stays bound,
//     so the URL survives SetDown(false).
//   - Query strings and headers are never logged, since the probe's shared
//     secret travels in them.
//
// Not modelled: TLS and custom domains, route matching and 404s, authorizers,
// CORS, throttling (stage rate and burst limits), access logs, payload format
// 1.0, and multiValueHeaders in responses (format 2.0 ignores them). This
// package is for tests and drills, never production.
package healthapi
