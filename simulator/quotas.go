package simulator

import (
	"hash/fnv"
	"time"

	"github.com/iot-dr/iot-dr/simulator/billing"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
	"github.com/iot-dr/iot-dr/simulator/lambdart"
	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/rules"
	"github.com/iot-dr/iot-dr/simulator/shadow"
	"github.com/iot-dr/iot-dr/simulator/stepfn"
)

// Fidelity says how strictly the simulated Regions follow AWS: the delivery
// model of registry events and rule actions, AWS's quotas, and the billing
// meter. The zero value is the kind simulator (exactly-once, ordered
// delivery; no quotas but Lambda's account concurrency, which lambdart
// always applies; no meter); StrictFidelity is what e2e and drills should
// run. Its methods turn it into each fake's options, so a Region is wired
// with one value.
//
// The quotas modelled, with AWS's defaults (per account and Region) and
// their sources:
//
//	Quota                                Default (us-east-1, us-west-2, eu-west-1 / others)  Fake      Source
//	Step Functions StartExecution        bucket 1,300 refill 300/s / 800, 150/s              stepfn    Step Functions service quotas, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
//	Step Functions StateTransition       bucket 5,000 refill 5,000/s / 800, 800/s            stepfn    (same page)
//	Lambda concurrent executions         1,000                                               lambdart  Lambda quotas, https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
//	UpdateThingShadow requests/s         4,000 / 400                                         shadow    AWS IoT Core endpoints and quotas (Device Shadow), https://docs.aws.amazon.com/general/latest/gr/iot-core.html
//	GetThingShadow requests/s            4,000 / 400                                         shadow    (same page)
//	DeleteThingShadow requests/s         4,000 / 400                                         shadow    (same page)
//	ListNamedShadowsForThing requests/s  10                                                  shadow    (same page)
//	Shadow requests per thing            20/s, all APIs                                      shadow    (same page)
//	IoT registry API rates               registry.DefaultRates(), e.g. CreateThing 100/s     registry  (same page, API throttling quotas); RegistryRates
//
// Throttled calls fail with the SDK's error (a ThrottlingException for Step
// Functions and the data plane, TooManyRequestsException for Lambda, 429 on
// .../rejected for MQTT shadow requests); throttled state transitions wait.
// The price table of the meter is in the billing package.
type Fidelity struct {
	// DuplicateRate, ReorderWindow and Seed are the delivery model of
	// registry events and rule actions (see registry.Options and
	// rules.Delivery). Each Region and fake draws from its own seed derived
	// from Seed, so Regions do not mirror each other.
	DuplicateRate float64
	ReorderWindow time.Duration
	Seed          uint64
	// Quotas turns on AWS's default Step Functions and Device Shadow quotas
	// for each Region's name.
	Quotas bool
	// RegistryRates adds registry.DefaultRates under Options.APIRates. It is
	// separate from Quotas because the fakes are called without the SDK's
	// retryer, which would retry a throttled call three times with backoff:
	// at AWS's 10 TPS for ListThingPrincipals, a diff of 100 things fails
	// outright here while it only slows down against AWS. Turn it on for
	// callers that retry throttling themselves.
	RegistryRates bool
	// Meter, when set, counts every Region's billable operations.
	Meter *billing.Meter
}

// StrictFidelity is the fidelity e2e scenarios and drills run at: 10% of
// registry events and rule actions duplicated, each delayed by up to 20 ms,
// AWS's default Step Functions and Device Shadow quotas, and a fresh meter.
// Registry API rates stay off (see RegistryRates).
func StrictFidelity(seed uint64) Fidelity {
	return Fidelity{DuplicateRate: 0.1, ReorderWindow: 20 * time.Millisecond, Seed: seed, Quotas: true, Meter: billing.NewMeter(nil)}
}

// seed derives the seed of one fake in one Region.
func (f Fidelity) seed(region, fake string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(region + "/" + fake))
	return f.Seed ^ h.Sum64()
}

// Registry sets o's delivery model and meter for region, and with
// RegistryRates the registry's default API rates under the ones o.Rates
// already names.
func (f Fidelity) Registry(region string, o registry.Options) registry.Options {
	o.DuplicateRate, o.ReorderWindow, o.Seed = f.DuplicateRate, f.ReorderWindow, f.seed(region, "registry")
	if f.RegistryRates {
		rates := registry.DefaultRates()
		for api, tps := range o.Rates {
			rates[api] = tps
		}
		o.Rates = rates
	}
	if f.Meter != nil {
		o.Meter = f.Meter.ForRegion(region)
	}
	return o
}

// Rules returns the rules engine options for region.
func (f Fidelity) Rules(region string) []rules.Option {
	opts := []rules.Option{rules.WithDelivery(rules.Delivery{DuplicateRate: f.DuplicateRate, ReorderWindow: f.ReorderWindow, Seed: f.seed(region, "rules")})}
	if f.Meter != nil {
		opts = append(opts, rules.WithMeter(f.Meter.ForRegion(region)))
	}
	return opts
}

// Shadow returns the shadow service options for region.
func (f Fidelity) Shadow(region string) []shadow.Option {
	var opts []shadow.Option
	if f.Quotas {
		opts = append(opts, shadow.WithQuotas(shadow.DefaultQuotas(region)))
	}
	if f.Meter != nil {
		opts = append(opts, shadow.WithMeter(f.Meter.ForRegion(region)))
	}
	return opts
}

// StepFunctions sets o's quotas and meter for region.
func (f Fidelity) StepFunctions(region string, o stepfn.Options) stepfn.Options {
	if f.Quotas {
		o.Quotas = stepfn.DefaultQuotas(region)
	}
	if f.Meter != nil {
		o.Meter = f.Meter.ForRegion(region)
	}
	return o
}

// Lambda returns the Lambda runtime options for region.
func (f Fidelity) Lambda(region string) []lambdart.Option {
	var opts []lambdart.Option
	if f.Meter != nil {
		opts = append(opts, lambdart.WithMeter(f.Meter.ForRegion(region)))
	}
	return opts
}

// Dynamo returns the table options for region.
func (f Fidelity) Dynamo(region string) []dynamo.Option {
	var opts []dynamo.Option
	if f.Meter != nil {
		opts = append(opts, dynamo.WithMeter(f.Meter.ForRegion(region)))
	}
	return opts
}
