package fleetsync

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DefaultRates are AWS's default per-account, per-Region request-rate quotas
// (transactions per second) for the APIs that sync and verify call. Every Region has
// its own buckets, so the source and the target are limited separately.
//
// Sources: "AWS IoT Core endpoints and quotas" in the AWS General Reference (section
// "AWS IoT Core throttling quotas"; thing, thing type and thing group APIs are also
// listed with these defaults in Service Quotas under service code iotcore, e.g.
// L-64CBACAC "CreateThing API TPS" = 100, L-FC3EF4D9 "ListThingPrincipals API TPS" =
// 10) and the same page's Device Shadow service and message broker (retained
// messages) quotas for the data plane. Accounts
// can have raised quotas; pass --rate API=TPS for those. The values matter: a rate
// above the account's quota only produces ThrottlingExceptions and back-off.
var DefaultRates = map[string]float64{
	// Things.
	"ListThings":    10,
	"DescribeThing": 350,
	"CreateThing":   100,
	"UpdateThing":   100,
	"DeleteThing":   100,
	"SearchIndex":   15,
	// Principals.
	"ListThingPrincipals":  10,
	"ListPrincipalThings":  10,
	"AttachThingPrincipal": 100,
	"DetachThingPrincipal": 100,
	// Certificates.
	"DescribeCertificate":          10,
	"RegisterCertificateWithoutCA": 10,
	"UpdateCertificate":            10,
	"DeleteCertificate":            10,
	// Policies.
	"GetPolicy":            10,
	"CreatePolicy":         10,
	"CreatePolicyVersion":  10,
	"ListPolicyVersions":   10,
	"DeletePolicyVersion":  10,
	"DeletePolicy":         10,
	"AttachPolicy":         15,
	"DetachPolicy":         15,
	"ListAttachedPolicies": 15,
	"ListTargetsForPolicy": 10,
	// Thing types.
	"ListThingTypes":     10,
	"DescribeThingType":  100,
	"CreateThingType":    15,
	"DeprecateThingType": 15,
	// UpdateThingType has no published default; the other thing type writes' rate.
	"UpdateThingType": 15,
	"DeleteThingType": 15,
	// Thing groups.
	"ListThingGroups":           10,
	"DescribeThingGroup":        100,
	"CreateThingGroup":          25,
	"UpdateThingGroup":          15,
	"DeleteThingGroup":          15,
	"ListThingGroupsForThing":   100,
	"ListThingsInThingGroup":    25,
	"AddThingToThingGroup":      100,
	"RemoveThingFromThingGroup": 100,
	// Dynamic thing groups and fleet indexing: defaults not verified against the AWS
	// General Reference; kept low (5 TPS for the dynamic-group writes, 1 for the
	// indexing configuration, which sync reads once and writes at most once per
	// dynamic group) until they are. --rate overrides them.
	"CreateDynamicThingGroup":     5,
	"UpdateDynamicThingGroup":     5,
	"DeleteDynamicThingGroup":     5,
	"GetIndexingConfiguration":    1,
	"UpdateIndexingConfiguration": 1,
	// Device Shadow service (data plane).
	"GetThingShadow":    4000,
	"UpdateThingShadow": 4000,
	"DeleteThingShadow": 4000,
	// Per account, not per thing: one call per thing with named shadows.
	"ListNamedShadowsForThing": 10,
	// Retained messages (message broker quotas, per account): ListRetainedMessages
	// 10 TPS, GetRetainedMessage 500 TPS, retained-message publishes 500 per second
	// (and 1 per second per topic, which a sync publishing each topic once does not
	// reach). Sync's only Publish calls are retained publishes.
	"ListRetainedMessages": 10,
	"GetRetainedMessage":   500,
	"Publish":              500,
}

// Rates maps an API name (the SDK operation name, e.g. "CreateThing") to the
// transactions per second allowed for it. An API without an entry is not limited.
type Rates map[string]float64

// DefaultRatesCopy returns a fresh copy of DefaultRates, for overriding.
func DefaultRatesCopy() Rates { return maps.Clone(Rates(DefaultRates)) }

// Scaled returns a copy of r with every rate multiplied by f. Tests use it to run the
// quota table faster: scaling both a fake's enforced rates and the limiter by the same
// factor is equivalent to a faster clock.
func (r Rates) Scaled(f float64) Rates {
	out := make(Rates, len(r))
	for api, tps := range r {
		out[api] = tps * f
	}
	return out
}

// Set parses one override "API=TPS" (e.g. "CreateThing=50") and applies it. The API
// must be one of the table's (a typo would otherwise silently do nothing) and TPS a
// positive number.
func (r Rates) Set(spec string) error {
	api, val, ok := strings.Cut(spec, "=")
	api, val = strings.TrimSpace(api), strings.TrimSpace(val)
	if !ok || api == "" || val == "" {
		return fmt.Errorf("rate %q: want API=TPS, e.g. CreateThing=50", spec)
	}
	if _, known := DefaultRates[api]; !known {
		return fmt.Errorf("rate %q: unknown API %q (see --list-rates)", spec, api)
	}
	tps, err := strconv.ParseFloat(val, 64)
	if err != nil || math.IsNaN(tps) || tps <= 0 || tps > 1e6 {
		return fmt.Errorf("rate %q: TPS must be a positive number", spec)
	}
	r[api] = tps
	return nil
}

// APIs returns the table's API names, sorted.
func (r Rates) APIs() []string { return slices.Sorted(maps.Keys(r)) }
