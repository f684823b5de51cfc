package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/iot-dr/iot-dr/simulator/internal/uuid"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/iot-dr/iot-dr/simulator/internal/delivery"
)

// Publisher receives registry events. The simulator wires it to the Region's
// MQTT broker.
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// Options configures a Registry.
type Options struct {
	// Region and AccountID appear in ARNs and event payloads.
	Region, AccountID string
	// Publisher receives registry events; nil drops them.
	Publisher Publisher
	// Rates limits each operation (keyed by its name, e.g. "CreateThing") to
	// that many calls per second; 0 or missing means unlimited.
	Rates map[string]float64
	// Now is the Region's clock; nil means time.Now.
	Now func() time.Time

	// The delivery model of registry events. The zero values publish every
	// event exactly once, in commit order, before the mutating call returns.
	// AWS promises neither (at least once, unordered), so the simulator's
	// e2e runs set them.
	//
	// DuplicateRate is the probability (0 to 1) that an event is published
	// twice, both copies with the same eventId.
	DuplicateRate float64
	// ReorderWindow delays each published copy by a random duration in
	// [0, ReorderWindow) on a timer owned by the registry, so later events
	// may overtake earlier ones and mutating calls return before their
	// events are out. Pending and Flush wait for them; Close stops them.
	ReorderWindow time.Duration
	// Seed seeds the model's random draws, which are made in commit order:
	// the same seed and the same sequence of changes give the same
	// duplicates and delays.
	Seed uint64

	// Meter, when set, receives one registry operation
	// (MeterRegistryOperations) per call of a billed API (see
	// BilledRegistryAPIs) that passes the availability and throttling
	// checks, succeeded or not. AWS bills them in 1 KB increments of the
	// record; the simulator's thing, type and group records are under 1 KB,
	// so each call is one.
	Meter Meter

	// Issuer signs the certificates CreateKeysAndCertificate and
	// CreateCertificateFromCsr create; nil makes them fail with an
	// InternalFailureException.
	Issuer Issuer
	// DataEndpoint is the address DescribeEndpoint answers for iot:Data-ATS (the
	// Region's MQTT broker); empty makes it fail with an InternalFailureException.
	DataEndpoint string
}

// BilledRegistryAPIs are the APIs AWS IoT Core charges a registry operation
// for, as "AWS IoT Core additional metering details"
// (https://aws.amazon.com/iot-core/pricing/additional-details/) lists them,
// restricted to the ones this registry implements. Certificate, policy,
// delete, remove and detach calls are not on the list and are not billed.
var BilledRegistryAPIs = map[string]bool{
	"AddThingToThingGroup": true, "AttachThingPrincipal": true,
	"CreateThing": true, "CreateThingGroup": true, "CreateThingType": true,
	"DescribeThing": true, "DescribeThingGroup": true, "DescribeThingType": true,
	"ListPrincipalThings": true, "ListThingGroups": true, "ListThingGroupsForThing": true,
	"ListThingPrincipals": true, "ListThings": true, "ListThingsInThingGroup": true,
	"ListThingTypes": true, "UpdateThing": true, "UpdateThingGroup": true,
	"UpdateThingGroupsForThing": true,
}

// Meter receives billable quantities; billing.RegionMeter satisfies it. It
// is defined here so that registry does not depend on the billing package.
type Meter interface {
	Add(op string, n float64)
}

// MeterRegistryOperations is the metered operation name
// (billing.OpIoTRegistryOperations).
const MeterRegistryOperations = "IoT-RegistryOperations"

// Registry is an in-memory AWS IoT registry for one Region. It is safe for
// concurrent use. Create it with New.
type Registry struct {
	region, account, partition string
	now                        func() time.Time
	pub                        Publisher
	issuer                     Issuer
	dataEndpoint               string

	available atomic.Bool
	calls     atomic.Int64

	rateMu   sync.RWMutex
	limiters map[string]*rate.Limiter

	mu         sync.RWMutex
	things     map[string]*thing
	certs      map[string]*certificate // by certificate id
	policies   map[string]*policy
	thingTypes map[string]*thingType
	groups     map[string]*thingGroup
	// billingGroups are few per account; their lists sort on every call.
	billingGroups map[string]*billingGroup
	certSeq       uint64
	// prov holds role aliases, provisioning templates and CA certificates
	// (credentials.go, templates.go, cacertificates.go).
	prov provisioning
	// tags are the taggable resources' tags, by ARN (tags.go).
	tags map[string]map[string]string

	thingKeys, certKeys, policyKeys, typeKeys, groupKeys sortedKeys

	// Events are queued under mu (so the queue order is the commit order) and
	// published by whoever holds pubMu, outside mu.
	qMu    sync.Mutex
	queue  []event
	queued atomic.Uint64 // events ever queued; tells call whether to flush
	pubMu  sync.Mutex
	deliv  *delivery.Scheduler
	meter  Meter
	model  delivery.Model

	settings settings
	// index supplies shadows and connectivity to dynamic groups' queries
	// (dynamicgroups.go); nil when not wired.
	index IndexSource
}

// New returns an empty registry.
func New(opts Options) *Registry {
	r := &Registry{
		region:        opts.Region,
		account:       opts.AccountID,
		partition:     partitionOf(opts.Region),
		now:           opts.Now,
		pub:           opts.Publisher,
		limiters:      make(map[string]*rate.Limiter),
		things:        make(map[string]*thing),
		certs:         make(map[string]*certificate),
		policies:      make(map[string]*policy),
		thingTypes:    make(map[string]*thingType),
		groups:        make(map[string]*thingGroup),
		billingGroups: make(map[string]*billingGroup),
		tags:          make(map[string]map[string]string),
		meter:         opts.Meter,
		model:         delivery.Model{DuplicateRate: opts.DuplicateRate, ReorderWindow: opts.ReorderWindow, Seed: opts.Seed},
		issuer:        opts.Issuer,
		dataEndpoint:  opts.DataEndpoint,
	}
	r.deliv = delivery.New(r.model)
	r.settings = settings{eventsOff: map[types.EventType]bool{}, indexing: defaultIndexing(), domains: map[string]*domainConfiguration{}}
	if r.now == nil {
		r.now = time.Now
	}
	r.available.Store(true)
	for api, tps := range opts.Rates {
		r.SetRate(api, tps)
	}
	return r
}

// SetRate limits the operation api (e.g. "CreateThing") to tps calls per
// second with a burst of max(1, tps); calls beyond it fail with
// *types.ThrottlingException. 0 (or less) removes the limit.
func (r *Registry) SetRate(api string, tps float64) {
	r.rateMu.Lock()
	defer r.rateMu.Unlock()
	if tps <= 0 {
		delete(r.limiters, api)
		return
	}
	// The bucket starts full; refills follow Options.Now (see admit).
	r.limiters[api] = rate.NewLimiter(rate.Limit(tps), max(1, int(tps)))
}

// SetAvailable takes the Region's control plane down (false) or back up
// (true). While down every call fails with *types.ServiceUnavailableException
// and nothing changes.
func (r *Registry) SetAvailable(up bool) { r.available.Store(up) }

// Calls counts the API calls made so far, refused ones included: a test asserts with
// it that a path makes no call at all on a Region.
func (r *Registry) Calls() int64 { return r.calls.Load() }

// CertInfo is what the broker's authoriser needs to know about a certificate.
type CertInfo struct {
	ID, ARN, PEM, Status string
	// Mode is DEFAULT or SNI_ONLY (types.CertificateMode).
	Mode string
	// Things are the names of the things the certificate is attached to, sorted.
	Things []string
	// Policies are the names of the policies attached to it, sorted.
	Policies []string
}

// CertificateByFingerprint returns the certificate whose id (AWS's
// certificateId: the lower-case hex SHA-256 of its DER) is certID.
func (r *Registry) CertificateByFingerprint(certID string) (CertInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.certs[strings.ToLower(certID)]
	if !ok {
		return CertInfo{}, false
	}
	return CertInfo{
		ID: c.id, ARN: c.arn, PEM: c.pem, Status: string(c.status), Mode: string(c.mode),
		Things: sortedSet(c.things), Policies: sortedSet(c.policies),
	}, true
}

// PolicyDocument returns the default version's document of the named policy.
func (r *Registry) PolicyDocument(name string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.policies[name]
	if !ok {
		return "", false
	}
	return p.versions[p.defaultVersion].document, true
}

// call runs one API operation: context, availability and throttling checks,
// the operation itself, error wrapping as the SDK does, and publishing the
// events the operation queued.
func call[I, O any](ctx context.Context, r *Registry, op string, in *I, fn func(*I) (*O, error)) (*O, error) {
	if err := r.admit(ctx, op); err != nil {
		return nil, &smithy.OperationError{ServiceID: "IoT", OperationName: op, Err: err}
	}
	if in == nil {
		in = new(I) // the SDK substitutes an empty input too
	}
	if r.meter != nil && BilledRegistryAPIs[op] {
		r.meter.Add(MeterRegistryOperations, 1)
	}
	before := r.queued.Load()
	out, err := fn(in)
	if r.queued.Load() != before {
		r.flush() // this or a concurrent call queued events
	}
	if err != nil {
		return nil, &smithy.OperationError{ServiceID: "IoT", OperationName: op, Err: err}
	}
	return out, nil
}

func (r *Registry) admit(ctx context.Context, op string) error {
	r.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: %s: %w", op, err)
	}
	if !r.available.Load() {
		return &types.ServiceUnavailableException{Message: aws.String("Service is unavailable, please try again later")}
	}
	r.rateMu.RLock()
	l := r.limiters[op]
	r.rateMu.RUnlock()
	if l != nil && !l.AllowN(r.now(), 1) {
		return &types.ThrottlingException{Message: aws.String("Rate exceeded for " + op)}
	}
	return nil
}

// Error constructors for the SDK's modelled exceptions.

func invalid(format string, args ...any) error {
	return &types.InvalidRequestException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func notFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func alreadyExists(id, arn, format string, args ...any) error {
	return &types.ResourceAlreadyExistsException{
		Message: aws.String(fmt.Sprintf(format, args...)), ResourceId: aws.String(id), ResourceArn: aws.String(arn),
	}
}

func versionConflict(kind, name string, expected, actual int64) error {
	return &types.VersionConflictException{Message: aws.String(fmt.Sprintf(
		"The version for %s %s does not match the expected version (expected %d, current %d)", kind, name, expected, actual))}
}

func deleteConflict(format string, args ...any) error {
	return &types.DeleteConflictException{Message: aws.String(fmt.Sprintf(format, args...))}
}

// unmodelled is an exception the operation's model does not list, as the SDK's
// deserializer returns it: a *smithy.GenericAPIError with its code and message,
// not the typed exception (which errors.As would then never find on a real client).
func unmodelled(err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return err
	}
	return &smithy.GenericAPIError{Code: api.ErrorCode(), Message: api.ErrorMessage(), Fault: api.ErrorFault()}
}

// required reports a missing required member the way the SDK's client-side
// validation does.
func required(input string, fields ...string) error {
	e := smithy.InvalidParamsError{Context: input}
	for _, f := range fields {
		e.Add(smithy.NewErrParamRequired(f))
	}
	return &e
}

// member is a required input member and whether the caller set it.
type member struct {
	name    string
	present bool
}

// need reports the required members that are missing, nil if none.
func need(input string, members ...member) error {
	var miss []string
	for _, m := range members {
		if !m.present {
			miss = append(miss, m.name)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return required(input, miss...)
}

// Identifiers and ARNs.

func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	default:
		return "aws"
	}
}

func (r *Registry) arn(resource, name string) string {
	return "arn:" + r.partition + ":iot:" + r.region + ":" + r.account + ":" + resource + "/" + name
}

// newUUID returns a random RFC 4122 version 4 UUID string.
func newUUID() string { return uuid.New() }

// newHexID returns n random bytes in lower-case hex (policy generation ids).
func newHexID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("registry: crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// Small collection helpers.

func sortedSet[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func timePtr(t time.Time) *time.Time { return &t }

// sortedKeys caches the sorted keys of one of the registry's maps so that
// list calls do not sort on every page. Writers (holding mu for writing)
// invalidate it; readers (holding mu for reading) rebuild it under its own
// lock.
type sortedKeys struct {
	mu    sync.Mutex
	keys  []string
	valid bool
}

func (s *sortedKeys) invalidate() { s.valid = false }

func (s *sortedKeys) get(build func() []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.valid {
		s.keys = build()
		s.valid = true
	}
	return s.keys
}

func keysOf[V any](m map[string]V) func() []string {
	return func() []string { return sortedSet(m) }
}
