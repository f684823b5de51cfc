package billing

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// Operation names: AWS's billing units, as the fakes report them.
const (
	OpIoTRulesTriggered           = "IoT-RulesTriggered"
	OpIoTActionsExecuted          = "IoT-ActionsExecuted"
	OpIoTMessages                 = "IoT-Messages"
	OpIoTShadowOperations         = "IoT-ShadowOperations"
	OpIoTRegistryOperations       = "IoT-RegistryOperations"
	OpDynamoDBWriteRequestUnits   = "DynamoDB-WriteRequestUnits"
	OpDynamoDBReadRequestUnits    = "DynamoDB-ReadRequestUnits"
	OpDynamoDBReplicatedWriteUnit = "DynamoDB-ReplicatedWriteRequestUnits"
	OpLambdaRequests              = "Lambda-Requests"
	OpLambdaGBSeconds             = "Lambda-GB-Second"
	OpStepFunctionsTransitions    = "StepFunctions-StateTransitions"
)

// Source pages of the price table.
const (
	SourceIoTCore       = "AWS IoT Core pricing, https://aws.amazon.com/iot-core/pricing/"
	SourceDynamoDB      = "Amazon DynamoDB pricing for on-demand capacity, https://aws.amazon.com/dynamodb/pricing/on-demand/"
	SourceLambda        = "AWS Lambda pricing, https://aws.amazon.com/lambda/pricing/"
	SourceStepFunctions = "AWS Step Functions pricing, https://aws.amazon.com/step-functions/pricing/"
)

// Lambda duration prices per GB-second in us-east-1 (first 6 billion
// GB-seconds a month for x86, 7.5 billion for arm64). The stacks deploy
// arm64 functions (infra/deploy/lambda.go), so USEast1 uses the arm64 price.
const (
	LambdaArmGBSecondUSD = 0.0000133334
	LambdaX86GBSecondUSD = 0.0000166667
)

// Price is the list price of one unit of an operation.
type Price struct {
	// USD is the price of one unit.
	USD float64
	// Unit describes the unit, e.g. "rule triggered".
	Unit string
	// Source names the page the price comes from (title and URL).
	Source string
}

// Prices maps operation names to prices.
type Prices map[string]Price

// USEast1 returns AWS's us-east-1 list prices (2025, after DynamoDB's
// November 2024 on-demand price cut) for every operation this package knows;
// see the package doc for the table.
func USEast1() Prices {
	const million = 1e6
	return Prices{
		OpIoTRulesTriggered:           {0.15 / million, "rule triggered", SourceIoTCore},
		OpIoTActionsExecuted:          {0.15 / million, "action executed", SourceIoTCore},
		OpIoTMessages:                 {1.00 / million, "message (5 KB)", SourceIoTCore},
		OpIoTShadowOperations:         {1.25 / million, "shadow operation (1 KB)", SourceIoTCore},
		OpIoTRegistryOperations:       {1.25 / million, "registry operation (1 KB)", SourceIoTCore},
		OpDynamoDBWriteRequestUnits:   {0.625 / million, "write request unit", SourceDynamoDB},
		OpDynamoDBReadRequestUnits:    {0.125 / million, "read request unit", SourceDynamoDB},
		OpDynamoDBReplicatedWriteUnit: {0.625 / million, "replicated write request unit", SourceDynamoDB},
		OpLambdaRequests:              {0.20 / million, "request", SourceLambda},
		OpLambdaGBSeconds:             {LambdaArmGBSecondUSD, "GB-second (arm64)", SourceLambda},
		OpStepFunctionsTransitions:    {0.025 / 1000, "state transition (Standard)", SourceStepFunctions},
	}
}

// Meter counts billable quantities per Region and operation. The zero value
// is not usable; create it with NewMeter. It is safe for concurrent use.
type Meter struct {
	prices Prices

	mu     sync.Mutex
	counts map[string]map[string]float64 // region -> op -> quantity
}

// NewMeter returns an empty Meter that prices with prices (USEast1 when nil).
func NewMeter(prices Prices) *Meter {
	if prices == nil {
		prices = USEast1()
	}
	return &Meter{prices: prices, counts: map[string]map[string]float64{}}
}

// Add counts quantity units of op in region. Non-positive quantities and NaN
// are ignored, so a fake's rounding mistake cannot make a bill cheaper.
func (m *Meter) Add(region, op string, quantity float64) {
	if !(quantity > 0) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.counts[region]
	if r == nil {
		r = map[string]float64{}
		m.counts[region] = r
	}
	r[op] += quantity
}

// Reset forgets every count, e.g. after a benchmark's setup.
func (m *Meter) Reset() {
	m.mu.Lock()
	m.counts = map[string]map[string]float64{}
	m.mu.Unlock()
}

// Usage is a snapshot of a Meter: Region -> operation -> quantity.
type Usage map[string]map[string]float64

// Total returns the quantity of op summed over Regions.
func (u Usage) Total(op string) float64 {
	var t float64
	for _, ops := range u {
		t += ops[op]
	}
	return t
}

// Snapshot returns a copy of the counts so far.
func (m *Meter) Snapshot() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(Usage, len(m.counts))
	for region, ops := range m.counts {
		c := make(map[string]float64, len(ops))
		for op, q := range ops {
			c[op] = q
		}
		out[region] = c
	}
	return out
}

// Line is one line of a Bill: the cost of one operation in one Region.
type Line struct {
	Region, Op string
	Quantity   float64
	// UnitUSD is the price per unit; 0 with Unpriced set when the price table
	// has no entry for Op.
	UnitUSD  float64
	USD      float64
	Unpriced bool
	Source   string
}

// Bill is the cost of a Usage, line by line, sorted by Region and operation.
type Bill struct {
	Lines []Line
	// TotalUSD is the sum of the lines.
	TotalUSD float64
}

// Cost prices the counts so far. Operations missing from the price table
// appear as unpriced lines costing 0, so they are visible rather than lost.
func (m *Meter) Cost() Bill { return m.prices.Bill(m.Snapshot()) }

// Bill prices u.
func (p Prices) Bill(u Usage) Bill {
	var b Bill
	for region, ops := range u {
		for op, q := range ops {
			l := Line{Region: region, Op: op, Quantity: q}
			if pr, ok := p[op]; ok {
				l.UnitUSD, l.USD, l.Source = pr.USD, q*pr.USD, pr.Source
			} else {
				l.Unpriced = true
			}
			b.Lines = append(b.Lines, l)
			b.TotalUSD += l.USD
		}
	}
	sort.Slice(b.Lines, func(i, j int) bool {
		if b.Lines[i].Region != b.Lines[j].Region {
			return b.Lines[i].Region < b.Lines[j].Region
		}
		return b.Lines[i].Op < b.Lines[j].Op
	})
	return b
}

// ByOp returns the cost per operation summed over Regions.
func (b Bill) ByOp() map[string]float64 {
	out := map[string]float64{}
	for _, l := range b.Lines {
		out[l.Op] += l.USD
	}
	return out
}

// Table renders the bill as an aligned text table with a total line.
func (b Bill) Table() string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "Region\tOperation\tQuantity\tUSD/unit\tUSD\t")
	for _, l := range b.Lines {
		unit := fmt.Sprintf("%.10g", l.UnitUSD)
		if l.Unpriced {
			unit = "unpriced"
		}
		fmt.Fprintf(w, "%s\t%s\t%.6g\t%s\t%.6f\t\n", l.Region, l.Op, l.Quantity, unit, l.USD)
	}
	fmt.Fprintf(w, "\ttotal\t\t\t%.6f\t\n", b.TotalUSD)
	_ = w.Flush() // writes to a strings.Builder cannot fail
	return sb.String()
}

// String returns the current bill as a table.
func (m *Meter) String() string { return m.Cost().Table() }

// RegionMeter is a Meter bound to one Region. It satisfies the one-method
// Meter interfaces the simulator's fakes define (Add(op string, n float64)).
type RegionMeter struct {
	m      *Meter
	region string
}

// ForRegion returns m bound to region.
func (m *Meter) ForRegion(region string) RegionMeter { return RegionMeter{m: m, region: region} }

// Add counts n units of op in the bound Region.
func (r RegionMeter) Add(op string, n float64) { r.m.Add(r.region, op, n) }

// Unit arithmetic, as AWS rounds.

// WriteUnits returns the DynamoDB write request units of writing an item of
// size bytes: one per started KB, at least one.
func WriteUnits(size int) float64 { return increments(size, 1024) }

// ReadUnits returns the DynamoDB read request units of reading an item of
// size bytes: one per started 4 KB (at least one) when strongly consistent,
// half that when eventually consistent. A read that finds nothing still
// costs the minimum.
func ReadUnits(size int, strong bool) float64 {
	u := increments(size, 4096)
	if !strong {
		u /= 2
	}
	return u
}

// ShadowUnits returns the billed Device Shadow or registry operations of one
// request whose metered payload is size bytes: one per started KB, at least
// one.
func ShadowUnits(size int) float64 { return increments(size, 1024) }

// MessageUnits returns the billed IoT Core messages of one message of size
// bytes: one per started 5 KB, at least one.
func MessageUnits(size int) float64 { return increments(size, 5*1024) }

// GBSeconds returns the Lambda GB-seconds of an invocation that ran for
// durationMS milliseconds (already rounded up to a whole millisecond) with
// memoryMB of memory.
func GBSeconds(durationMS int64, memoryMB int) float64 {
	return float64(durationMS) / 1000 * float64(memoryMB) / 1024
}

func increments(size, unit int) float64 {
	if size <= unit {
		return 1
	}
	return math.Ceil(float64(size) / float64(unit))
}
