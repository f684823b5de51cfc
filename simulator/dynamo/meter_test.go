package dynamo

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

type meterRec struct {
	mu sync.Mutex
	m  map[string]float64
}

func (r *meterRec) Add(op string, n float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]float64{}
	}
	r.m[op] += n
}

func (r *meterRec) get(op string) float64 { r.mu.Lock(); defer r.mu.Unlock(); return r.m[op] }

func TestMeteredRequestUnits(t *testing.T) {
	ctx := context.Background()
	big := s(strings.Repeat("x", 3000))   // about 3 KB
	huge := s(strings.Repeat("y", 10000)) // about 10 KB
	tests := []struct {
		name     string
		run      func(t *testing.T, tb *Table)
		wru, rru float64
	}{
		{"small put", func(t *testing.T, tb *Table) { put(t, tb, Item{"id": s("a")}) }, 1, 0},
		{"3 KB put", func(t *testing.T, tb *Table) { put(t, tb, Item{"id": s("a"), "v": big}) }, 3, 0},
		{"small put replacing 3 KB", func(t *testing.T, tb *Table) {
			put(t, tb, Item{"id": s("a"), "v": big})
			put(t, tb, Item{"id": s("a")})
		}, 6, 0},
		{"failed condition is billed", func(t *testing.T, tb *Table) {
			put(t, tb, Item{"id": s("a")})
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a")}, ConditionExpression: aws.String("attribute_not_exists(id)")})
			if err == nil {
				t.Fatal("condition held")
			}
		}, 2, 0},
		{"eventually consistent read", func(t *testing.T, tb *Table) { get(t, tb, "missing") }, 0, 0.5},
		{"strongly consistent 10 KB read", func(t *testing.T, tb *Table) {
			put(t, tb, Item{"id": s("a"), "v": huge})
			if _, err := tb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(testTable), Key: Item{"id": s("a")}, ConsistentRead: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
		}, 10, 3},
		{"delete of a missing item", func(t *testing.T, tb *Table) {
			if _, err := tb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(testTable), Key: Item{"id": s("a")}}); err != nil {
				t.Fatal(err)
			}
		}, 1, 0},
		{"unavailable table bills nothing", func(t *testing.T, tb *Table) {
			tb.SetAvailable(false)
			_, _ = tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a")}})
		}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &meterRec{}
			tb := NewTable(primary, "123456789012", Schema{Name: testTable, HashKey: "id"}, WithMeter(rec))
			tt.run(t, tb)
			if got := rec.get(MeterWriteRequestUnits); got != tt.wru {
				t.Errorf("WRU = %g, want %g", got, tt.wru)
			}
			if got := rec.get(MeterReadRequestUnits); got != tt.rru {
				t.Errorf("RRU = %g, want %g", got, tt.rru)
			}
		})
	}
}

func TestMeteredReplicatedWrites(t *testing.T) {
	recA, recB := &meterRec{}, &meterRec{}
	a := NewTable(primary, "123456789012", Schema{Name: testTable, HashKey: "id", StreamView: ViewNewImage}, WithMeter(recA))
	b := NewTable(secondary, "123456789012", Schema{Name: testTable, HashKey: "id", StreamView: ViewNewImage}, WithMeter(recB))
	r := Replicate(a, b, ReplicationOptions{})
	t.Cleanup(r.Close)
	put(t, a, Item{"id": s("x"), "v": s(strings.Repeat("z", 2000))})
	put(t, a, Item{"id": s("y")})
	waitFor(t, "replication", func() bool { return r.Pending() == 0 && b.Len() == 2 })
	if got := recA.get(MeterWriteRequestUnits); got != 3 {
		t.Errorf("primary WRU = %g, want 3", got)
	}
	if got := recB.get(MeterReplicatedWriteRequestUnits); got != 3 {
		t.Errorf("secondary replicated WRU = %g, want 3", got)
	}
	if got := recA.get(MeterReplicatedWriteRequestUnits) + recB.get(MeterWriteRequestUnits); got != 0 {
		t.Errorf("replicated writes billed as local or back in the source: %g", got)
	}
}
