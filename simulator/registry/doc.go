// Package registry is the simulator's fake of the AWS IoT Core control plane
// (the registry) of one Region: things, thing types, static thing groups,
// billing groups (flat; a thing is in at most one, adding it to another moves it;
// no registry events, as in AWS), certificates, principals and IoT policies.
//
// *Registry implements the subset of *iot.Client (aws-sdk-go-v2/service/iot)
// that the replication functions use, with the SDK's exact method signatures,
// input/output structs and error types, so production code that depends on
// narrow interfaces runs against it unchanged. The SDK's own paginators
// (iot.NewListThingsPaginator, ...) work against it.
//
// It is for tests and drills, never production.
//
// # Semantics
//
//   - Errors are the SDK's modelled exceptions (*types.ResourceNotFoundException,
//     *types.InvalidRequestException, *types.ThrottlingException, ...) wrapped in a
//     *smithy.OperationError naming the operation, as the real client returns
//     them: use errors.As, never a type assertion. A missing required input
//     member yields *smithy.InvalidParamsError, as the SDK's client-side
//     validation does.
//   - Every call first checks the context, then availability (SetAvailable)
//     and then the per-operation token bucket (Options.Rates, SetRate), which
//     is driven by Options.Now so a fake clock controls refills. No rate is
//     set by default; DefaultRates returns AWS's published defaults for the
//     thing, thing type and thing group APIs (its doc has the table and the
//     source, "AWS IoT Core endpoints and quotas"). A call of
//     one of BilledRegistryAPIs that passes them is one billed registry
//     operation for Options.Meter.
//   - Lists are ordered by name, except ListCertificates (by creation) and
//     ListPolicyVersions (newest first); for ListCertificates and ListPolicies
//     AscendingOrder=false (the default) reverses the order. Pagination tokens
//     are opaque, bound to the operation, and resume after the last returned
//     key, so entries created or deleted between pages neither repeat nor
//     shift the rest. A bad token is an InvalidRequestException. Default page
//     size is 50, maximum 250.
//   - Registry events ($aws/events/...) are published in AWS's documented topic
//     and payload format after the state change, outside the registry lock.
//     With the zero delivery options they are published exactly once, in
//     exactly the order the changes were committed (one global order), and
//     before the mutating call returns (so a blocked Publisher stalls mutating
//     calls, never reads): convenient for the registry's own unit tests, and
//     kinder than AWS. AWS delivers registry events at least once and in no
//     particular order, which Options models: DuplicateRate publishes an event
//     twice (same eventId) with that probability, ReorderWindow delays every
//     copy by a random duration in [0, ReorderWindow) on a timer the registry
//     owns, so later events overtake earlier ones and mutating calls return
//     without waiting for their events. Seed fixes the draws, which are made
//     in commit order. Pending counts delayed copies not yet published, Flush
//     waits for them, Close stops the timers (dropping what they held).
//     Publish errors are ignored: a copy is lost, as a broker outage would
//     lose it in AWS too. Idempotent repeats and failed calls publish
//     nothing. Attaching/detaching principals and policies and certificate
//     changes publish nothing, as in AWS.
//   - Payload field names are AWS's documented ones, e.g. membership events
//     carry groupArn/groupId/thingArn/thingId/membershipId (names only in the
//     topic), hierarchy events thingGroupId/thingGroupName (the parent) and
//     childGroupId/childGroupName. A thingTypeAssociation event (ADDED or
//     REMOVED) follows the thing event when CreateThing sets a type or
//     UpdateThing sets, changes (REMOVED old, then ADDED new) or removes it;
//     DeleteThing publishes only thing/deleted. Thing type deprecationDate is
//     in epoch milliseconds.
//   - Certificates registered without a status are INACTIVE. A certificate is
//     deleted only when not ACTIVE (CertificateStateException) and not attached
//     to a thing, nor to a policy unless ForceDelete (DeleteConflictException).
//   - CreateKeysAndCertificate and CreateCertificateFromCsr issue certificates
//     signed by Options.Issuer (the simulator's CA, standing in for Amazon's),
//     in certificate mode DEFAULT, ACTIVE only with SetAsActive; the private key
//     (RSA 2048, PKCS #1 PEM) is returned once and never stored.
//     DescribeEndpoint answers Options.DataEndpoint for iot:Data-ATS, iot:Data
//     and an empty type; other endpoint types are an InvalidRequestException.
//   - A thing with attached principals cannot be deleted (InvalidRequestException);
//     deleting a missing thing or thing group succeeds. Deleting a thing (or a
//     group) drops its memberships without membership events. A missing thing
//     type on CreateThing/UpdateThing is a ResourceNotFoundException, a
//     deprecated one an InvalidRequestException.
//   - Account settings (settings.go): the registry event types start on and one
//     switched off (UpdateEventConfigurations) publishes nothing; domain configurations are created, described and enabled or
//     disabled, and DomainEnabled tells the broker whether to serve a domain.
//   - Role aliases, provisioning templates and CA certificates (credentials.go,
//     templates.go, cacertificates.go) raise no registry events, as in AWS. A role
//     alias's role and a template's provisioning role must be IAM role ARNs
//     (iam:PassRole is not modelled), credential durations 900 to 43200 s. A
//     template has at most 5 versions, a JITP template no pre-provisioning hook, a
//     fleet provisioning template's hook is a Lambda function of this Region. A CA
//     certificate in DEFAULT mode needs a verification certificate signed by the
//     CA's key with this account's registration code as its common name; one
//     another account holds in DEFAULT mode in the Region (SetCARegisteredElsewhere)
//     is refused in DEFAULT mode and accepted in SNI_ONLY. A registration config
//     names a JITP template or carries a body and role. RegisteredCA gives the
//     simulator what a JITP flow needs. RegisterThing provisions from a template
//     body (thing, certificate by id, policy by name; literal or Ref values, declared
//     parameters' defaults) by making the calls the template implies, each
//     rate-limited and raising its events.
//   - Just-in-time registration (autoregister.go), for the broker's authoriser:
//     SigningCA finds the registered CA that signed a certificate;
//     AutoRegisterCertificate registers it PENDING_ACTIVATION in the CA's mode (no
//     API rate: it is AWS IoT's own step) and publishes
//     $aws/events/certificates/registered/<caId>, whatever the event configurations
//     say; JITPParameters gives a JITP template the certificate's parameters.
//   - Fleet indexing (indexing.go): the full thing-indexing configuration (modes,
//     named-shadow filter, custom fields; managed fields listed per mode) and
//     thing-group indexing, validated as AWS documents; a Region starts with thing
//     indexing REGISTRY. A change that would leave an existing dynamic group's query
//     uncovered is refused. SearchIndex is not served.
//   - Dynamic thing groups (dynamicgroups.go): created only when indexing covers the
//     query (functions/fleetquery's subset of the query language), no parent, no
//     AddThingToThingGroup; members are evaluated from the registry (and, wired by
//     SetIndexSource, shadows and connections) on every read, so membership is
//     immediate where AWS's is eventual; no membership events; a dynamic group does
//     not count toward a thing's 10 groups.
//
// # Not modelled
//
// Billing group quotas (unverified defaults, left unlimited),
// tags on resources other than thing types, thing groups, billing groups and
// policies, AWS-managed (aws:) tags, fleet-indexing search and aggregation, a CA PEM passed to RegisterCertificate (only checked to have
// signed the device certificate, not to be registered), template intrinsic functions
// beyond Ref, pre-provisioning hook invocation, the MQTT fleet
// provisioning API, the credential provider's endpoint, certificate transfer, non-certificate principals and policy
// targets (Cognito identities, thing groups), policy document semantics beyond
// "a JSON object of at most 2048 non-space characters", the 5-minute wait
// before a deprecated thing type can be deleted, eventual consistency, and
// per-account quotas other than the ones named in the method docs.
package registry
