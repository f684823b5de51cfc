// Package awsfront puts AWS's own API surface in front of a running simulator: Go
// values with the exact aws-sdk-go-v2 client signatures for the Route 53 and SSM calls
// that `iotdr drill --aws` uses, and an HTTP endpoint (Front.Handler) that speaks
// AWS's wire protocols for both simulated Regions, so the aws CLI, boto3 and the AWS
// SDKs work against the simulator unmodified.
//
// It is for tests, drills and `iotdr sim`, never production, and it is not a general
// Route 53 or SSM fake: it models only the one deployment StartEdge builds, as the
// Pulumi stacks would describe it.
//
// # The HTTP endpoint
//
// One endpoint serves every service and both Regions, as moto does:
//
//   - The Region and the service come from the request's SigV4 credential scope
//     (Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/REGION/SERVICE/aws4_request,
//     or a presigned URL's X-Amz-Credential). Signatures are parsed, never verified:
//     any access key and secret work. No signature is 403
//     MissingAuthenticationTokenException; a malformed one, or a scope without a
//     Region or service, 400 IncompleteSignatureException; a Region the World does
//     not have, 403 InvalidSignatureException naming the Regions it has; a service it
//     does not serve, 400 UnknownOperationException.
//   - iot: the AWS IoT control plane in REST-JSON, for every SDK-shaped operation of
//     the Region's registry (package registry), answered by that registry. The
//     operations' methods, paths, path labels, query parameters, headers and JSON
//     member names are generated from the SDK's own serializers and deserializers
//     (iotwire_gen.go, `go generate`), so the endpoint is the inverse of the client.
//     Timestamps are epoch seconds and absent members are left out, as AWS does.
//   - iotdata (or iot, for that path): GetThingShadow, UpdateThingShadow and
//     DeleteThingShadow on /things/{thingName}/shadow, answered by the Region's
//     shadow service (package shadow) with the document as the raw body, ?name=
//     selecting a named shadow; ListNamedShadowsForThing on
//     /api/things/shadow/ListNamedShadowsForThing/{thingName}; and, from the Region's
//     broker (broker.DataPlane), Publish on POST /topics/{topic} (?qos, ?retain),
//     ListRetainedMessages on /retainedMessage and GetRetainedMessage on
//     /retainedMessage/{topic}, in REST-JSON with the payload in base64.
//   - route53: the read calls listed below, in REST-XML, for the whole World (Route 53
//     is global: any Region in the scope).
//   - ssm: GetParameter and PutParameter in JSON 1.1 (X-Amz-Target: AmazonSSM.*), on
//     the scope's Region's parameter store.
//   - dynamodb: DescribeTable, GetItem and PutItem in JSON 1.0 (X-Amz-Target:
//     DynamoDB_20120810.*, the body's CRC32 in X-Amz-Crc32), on the Region's state,
//     error and apply-mark tables (Region.Tables).
//   - monitoring (CloudWatch): DescribeAlarms in Smithy RPC v2 CBOR (POST
//     /service/GraniteServiceVersion20100801/operation/DescribeAlarms), what the
//     pinned cloudwatch client speaks, on the Region's alarms (Front.Alarms: the
//     error-table alarm, evaluated from the error table at each call).
//
// Errors are AWS's: the code in X-Amzn-Errortype (and __type), the message and the
// exception's other members (resourceId, resourceArn, ...) in the JSON body, Route 53's
// in an XML ErrorResponse, with the HTTP status of AWS's models (ResourceNotFound 404,
// InvalidRequest 400, ResourceAlreadyExists, VersionConflict and DeleteConflict 409,
// CertificateState 406, Throttling 429, ServiceUnavailable 503, ...). A fake's
// client-side validation error (a missing required member) answers 400
// InvalidRequestException, as AWS's server-side validation does. Bad requests answer
// 4xx with a message naming what was wrong: an unknown path 404
// UnknownOperationException, a known path with another method 405
// MethodNotAllowedException with Allow, malformed JSON, a body that is not an object,
// a member of the wrong type or an unparsable query parameter 400
// InvalidRequestException, a body over MaxRequestBytes 413
// RequestEntityTooLargeException. Unknown JSON members are ignored, as AWS does.
//
// A Region that is down (World.SetRegionDown) answers its IoT control-plane and
// data-plane calls with 503 ServiceUnavailableException, what AWS's endpoints answer
// when the service is unavailable (rather than refusing connections, which the
// endpoint shared by both Regions cannot do per Region). Its SSM store stays up: the
// force-fail switch must stay reachable, and the simulator's outage verb does not
// take SSM down. Throttling is the registries' own per-operation token buckets
// (registry.Options.Rates, SetRate) for the control plane, and HandlerOptions.Rates
// for the shadow operations, both answering 429 ThrottlingException.
//
// # What the Route 53 and SSM fronts present
//
//   - One public hosted zone (HostedZoneID) named after the custom domain's parent
//     (iotdr.test. for iot.iotdr.test), holding the pair of failover CNAME records for the
//     custom domain, as infra/deploy/dns.go deploys them: PRIMARY points to
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
// Not modelled: SigV4 signature verification and IAM, pagination beyond one page in
// Route 53 and SSM (the zone and the store are tiny), their throttling, SecureString
// encryption, parameter history, labels and policies, health check regions other than
// the default eight, any write to Route 53, the IoT operations the registry does not
// implement (UnknownOperationException), and Publish's MQTT 5 headers (user
// properties, content type, response topic, correlation data, message expiry).
package awsfront
