package registry

// RatesSource names where DefaultRates' figures come from.
const RatesSource = "AWS IoT Core endpoints and quotas (API throttling quotas), https://docs.aws.amazon.com/general/latest/gr/iot-core.html; the same defaults as Service Quotas' iotcore \"<API> API TPS\" quotas"

// DefaultRates returns AWS's default per-account requests-per-second quotas
// for the registry APIs this package implements that have a published
// default, for Options.Rates:
//
//	API                                   TPS
//	CreateThing, UpdateThing, DeleteThing 100
//	DescribeThing                         350
//	ListThings, ListThingTypes            10
//	ListThingGroups, ListThingPrincipals  10
//	ListPrincipalThings                   10
//	ListThingsInThingGroup                25
//	ListThingGroupsForThing               100
//	AttachThingPrincipal                  100
//	DetachThingPrincipal                  100
//	AddThingToThingGroup                  100
//	RemoveThingFromThingGroup             100
//	CreateThingGroup                      25
//	UpdateThingGroup, DeleteThingGroup    15
//	DescribeThingGroup                    100
//	CreateThingType, DeleteThingType      15
//	DeprecateThingType                    15
//	DescribeThingType                     100
//
// Source: RatesSource. Certificate and policy APIs are left unlimited: their
// defaults were not verified for this table. The rates apply per Region, as
// AWS's do.
func DefaultRates() map[string]float64 {
	return map[string]float64{
		"CreateThing": 100, "UpdateThing": 100, "DeleteThing": 100, "DescribeThing": 350,
		"ListThings": 10, "ListThingTypes": 10, "ListThingGroups": 10, "ListThingPrincipals": 10,
		"ListPrincipalThings": 10, "ListThingsInThingGroup": 25, "ListThingGroupsForThing": 100,
		"AttachThingPrincipal": 100, "DetachThingPrincipal": 100,
		"AddThingToThingGroup": 100, "RemoveThingFromThingGroup": 100,
		"CreateThingGroup": 25, "UpdateThingGroup": 15, "DeleteThingGroup": 15, "DescribeThingGroup": 100,
		"CreateThingType": 15, "DeleteThingType": 15, "DeprecateThingType": 15, "DescribeThingType": 100,
	}
}
