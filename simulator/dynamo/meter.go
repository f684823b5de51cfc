package dynamo

import (
	"errors"
	"math"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Meter receives billable quantities; billing.RegionMeter satisfies it. It
// is defined here so that dynamo does not depend on the billing package.
type Meter interface {
	Add(op string, n float64)
}

// Metered operation names (billing.OpDynamoDBWriteRequestUnits, ...).
const (
	MeterWriteRequestUnits           = "DynamoDB-WriteRequestUnits"
	MeterReadRequestUnits            = "DynamoDB-ReadRequestUnits"
	MeterReplicatedWriteRequestUnits = "DynamoDB-ReplicatedWriteRequestUnits"
)

// WithMeter feeds the table's on-demand request units to m, as DynamoDB
// bills them: PutItem one write request unit per started KB of the larger of
// the old and new item, DeleteItem per started KB of the deleted item (one
// when there is none), both also when the condition fails; GetItem one read
// request unit per started 4 KB of the item (one when there is none), half
// that unless ConsistentRead; every change applied from a global-table peer
// one replicated write request unit per started KB. Item sizes are the
// table's approximation (see the package doc).
func WithMeter(m Meter) Option {
	return func(o *options) { o.meter = m }
}

// chargeWrite meters a PutItem or DeleteItem that reached the item: it
// succeeded or its condition failed (which DynamoDB bills too).
func (t *Table) chargeWrite(err error, items ...Item) {
	var ccf *types.ConditionalCheckFailedException
	if t.meter == nil || (err != nil && !errors.As(err, &ccf)) {
		return
	}
	t.meter.Add(MeterWriteRequestUnits, units(maxSize(items), 1024))
}

func (t *Table) chargeRead(it Item, consistent bool) {
	if t.meter == nil {
		return
	}
	u := units(itemSize(it), 4096)
	if !consistent {
		u /= 2
	}
	t.meter.Add(MeterReadRequestUnits, u)
}

func (t *Table) chargeReplicated(items ...Item) {
	if t.meter != nil {
		t.meter.Add(MeterReplicatedWriteRequestUnits, units(maxSize(items), 1024))
	}
}

func maxSize(items []Item) int64 {
	var m int64
	for _, it := range items {
		if it != nil {
			m = max(m, itemSize(it))
		}
	}
	return m
}

func units(size, unit int64) float64 {
	if size <= unit {
		return 1
	}
	return math.Ceil(float64(size) / float64(unit))
}

// entryItem is e's item, nil for no entry.
func entryItem(e *entry) Item {
	if e == nil {
		return nil
	}
	return e.item
}
