package shadow

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"golang.org/x/time/rate"
)

// Device Shadow API names, as quotas and metering key them.
const (
	APIUpdateThingShadow        = "UpdateThingShadow"
	APIGetThingShadow           = "GetThingShadow"
	APIDeleteThingShadow        = "DeleteThingShadow"
	APIListNamedShadowsForThing = "ListNamedShadowsForThing"
)

// QuotaSource names the page the default quotas come from.
const QuotaSource = "AWS IoT Core endpoints and quotas, AWS IoT Device Shadow service quotas, https://docs.aws.amazon.com/general/latest/gr/iot-core.html#device-shadow-limits"

// Quotas are the Device Shadow service's request-rate quotas. The zero
// value is unlimited (the behaviour before quotas were modelled);
// DefaultQuotas returns AWS's defaults.
type Quotas struct {
	// Account maps an API name (APIUpdateThingShadow, ...) to its requests
	// per second per account in the Region; 0 or missing is unlimited. The
	// bucket holds one second's worth (at least 1) and starts full.
	Account map[string]float64
	// PerThing is the requests per second one thing's shadow accepts,
	// across all APIs and MQTT (0 is unlimited).
	PerThing float64
}

// DefaultQuotas returns AWS's default Device Shadow quotas for region:
//
//	Quota (requests per second)     us-east-1, us-west-2, eu-west-1  Other Regions
//	UpdateThingShadow per account   4,000                            400
//	GetThingShadow per account      4,000                            400
//	DeleteThingShadow per account   4,000                            400
//	ListNamedShadowsForThing        10                               10
//	Requests per thing              20                               20
//
// Source: QuotaSource ("AWS IoT Device Shadow service quotas" in AWS IoT
// Core endpoints and quotas). The per-thing quota is per thing, not per API.
func DefaultQuotas(region string) Quotas {
	big := 400.0
	switch region {
	case "us-east-1", "us-west-2", "eu-west-1":
		big = 4000
	}
	return Quotas{
		Account: map[string]float64{
			APIUpdateThingShadow: big, APIGetThingShadow: big, APIDeleteThingShadow: big,
			APIListNamedShadowsForThing: 10,
		},
		PerThing: 20,
	}
}

// WithQuotas throttles requests at q (see Quotas). Throttled data-plane
// calls fail with *types.ThrottlingException; throttled MQTT requests are
// answered on .../rejected with code 429.
func WithQuotas(q Quotas) Option {
	return func(s *Service) {
		s.limits = map[string]*rate.Limiter{}
		for api, tps := range q.Account {
			if tps > 0 {
				s.limits[api] = rate.NewLimiter(rate.Limit(tps), max(1, int(tps)))
			}
		}
		s.perThing = q.PerThing
	}
}

// Meter receives billable quantities; billing.RegionMeter satisfies it. It
// is defined here so that shadow does not depend on the billing package.
type Meter interface {
	Add(op string, n float64)
}

// MeterShadowOperations is the metered operation name
// (billing.OpIoTShadowOperations).
const MeterShadowOperations = "IoT-ShadowOperations"

// WithMeter feeds billed shadow operations (1 KB increments) to m.
func WithMeter(m Meter) Option { return func(s *Service) { s.meter = m } }

// Usage counts the requests the service has served, per API.
type Usage struct {
	// Requests counts requests that passed throttling, per API (MQTT and
	// data plane together), whether or not they succeeded.
	Requests map[string]int64
	// Throttled counts requests refused by a quota, per API.
	Throttled map[string]int64
	// BilledOperations is what AWS bills: one operation per started KB of
	// each request's metered payload (the request document for updates,
	// the response document otherwise), at least one.
	BilledOperations float64
}

// usage holds the counters behind Usage and the per-thing buckets.
type usage struct {
	mu        sync.Mutex
	requests  map[string]int64
	throttled map[string]int64
	billed    float64
	things    map[string]*rate.Limiter
}

// Usage returns a snapshot of the request counters.
func (s *Service) Usage() Usage {
	s.use.mu.Lock()
	defer s.use.mu.Unlock()
	u := Usage{Requests: map[string]int64{}, Throttled: map[string]int64{}, BilledOperations: s.use.billed}
	for k, v := range s.use.requests {
		u.Requests[k] = v
	}
	for k, v := range s.use.throttled {
		u.Throttled[k] = v
	}
	return u
}

var errThrottled = &shadowError{code: 429, msg: "Too Many Requests"}

// admit applies the account bucket of api and the thing's bucket; refills
// follow the service clock.
func (s *Service) admit(api, thing string) *shadowError {
	now := s.now()
	ok := true
	if l := s.limits[api]; l != nil && !l.AllowN(now, 1) {
		ok = false
	}
	s.use.mu.Lock()
	defer s.use.mu.Unlock()
	if ok && s.perThing > 0 {
		l := s.use.things[thing]
		if l == nil {
			if s.use.things == nil {
				s.use.things = map[string]*rate.Limiter{}
			}
			l = rate.NewLimiter(rate.Limit(s.perThing), max(1, int(s.perThing)))
			s.use.things[thing] = l
		}
		ok = l.AllowN(now, 1)
	}
	if !ok {
		if s.use.throttled == nil {
			s.use.throttled = map[string]int64{}
		}
		s.use.throttled[api]++
		return errThrottled
	}
	if s.use.requests == nil {
		s.use.requests = map[string]int64{}
	}
	s.use.requests[api]++
	return nil
}

// bill meters one served request whose metered payload is size bytes.
func (s *Service) bill(size int) {
	units := 1.0
	if size > 1024 {
		units = math.Ceil(float64(size) / 1024)
	}
	s.use.mu.Lock()
	s.use.billed += units
	s.use.mu.Unlock()
	if s.meter != nil {
		s.meter.Add(MeterShadowOperations, units)
	}
}

// ListNamedShadowsForThing lists the names of the thing's existing named
// shadows in name order, at most pageSize (default and maximum
// maxNamedShadowPage) a page; nextToken is the last name of the previous page.
func (s *Service) ListNamedShadowsForThing(ctx context.Context, in *iotdataplane.ListNamedShadowsForThingInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error) {
	var name *string
	var after string
	page := int32(maxNamedShadowPage)
	if in != nil {
		name, after = in.ThingName, aws.ToString(in.NextToken)
		if in.PageSize != nil {
			if p := *in.PageSize; p < 1 || p > maxNamedShadowPage {
				return nil, &types.InvalidRequestException{Message: aws.String(fmt.Sprintf("pageSize %d is not between 1 and %d", p, maxNamedShadowPage))}
			}
			page = *in.PageSize
		}
	}
	k, err := s.checkCall(ctx, name, nil)
	if err != nil {
		return nil, err
	}
	if serr := s.admit(APIListNamedShadowsForThing, k.thing); serr != nil {
		return nil, apiError(serr)
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.named[k.thing]))
	for n := range s.named[k.thing] {
		if n > after {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	out := &iotdataplane.ListNamedShadowsForThingOutput{Timestamp: s.now().Unix()}
	if len(names) > int(page) {
		names = names[:page]
		out.NextToken = aws.String(names[len(names)-1])
	}
	out.Results = names
	s.bill(len(mustJSON(out)))
	return out, nil
}

// maxNamedShadowPage bounds a ListNamedShadowsForThing page. AWS documents no
// maximum pageSize; the simulator refuses larger pages so that callers page.
const maxNamedShadowPage = 100

// throttlingException is the data-plane error for a throttled request.
func throttlingException(msg string) error {
	return &types.ThrottlingException{Message: aws.String(msg)}
}
