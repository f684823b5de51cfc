package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// fakeClock is a settable clock for deterministic times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testTable = "events"

func newTestTable(t *testing.T, region, view string, clk *fakeClock) *Table {
	t.Helper()
	opts := []Option{}
	if clk != nil {
		opts = append(opts, WithClock(clk.Now))
	}
	return NewTable(region, "123456789012", Schema{Name: testTable, HashKey: "id", TTLAttribute: "expires", StreamView: view}, opts...)
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func put(t *testing.T, tb *Table, item Item) {
	t.Helper()
	if _, err := tb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
}

func get(t *testing.T, tb *Table, id string) Item {
	t.Helper()
	out, err := tb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(testTable), Key: Item{"id": s(id)}})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	return out.Item
}

func del(t *testing.T, tb *Table, id string) {
	t.Helper()
	if _, err := tb.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(testTable), Key: Item{"id": s(id)}}); err != nil {
		t.Fatalf("DeleteItem: %v", err)
	}
}

func strAttr(t *testing.T, it Item, name string) string {
	t.Helper()
	v, ok := it[name].(*types.AttributeValueMemberS)
	if !ok {
		t.Fatalf("attribute %q: want S, got %#v", name, it[name])
	}
	return v.Value
}

func wantAPIErrorCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want error code %s, got %s (%v)", code, ae.ErrorCode(), err)
	}
}

func TestPutGetDelete(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", "", nil)
	ctx := context.Background()

	put(t, tb, Item{"id": s("a"), "v": n("1"), "nested": &types.AttributeValueMemberM{Value: Item{"x": s("y")}}})
	got := get(t, tb, "a")
	if strAttr(t, got, "id") != "a" || got["v"].(*types.AttributeValueMemberN).Value != "1" {
		t.Fatalf("GetItem returned %#v", got)
	}
	// Mutating what GetItem returned must not change the table.
	got["nested"].(*types.AttributeValueMemberM).Value["x"] = s("mutated")
	if v := strAttr(t, get(t, tb, "a")["nested"].(*types.AttributeValueMemberM).Value, "x"); v != "y" {
		t.Fatalf("table shares memory with caller: nested.x = %q", v)
	}

	out, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a"), "v": n("2")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	if out.Attributes["v"].(*types.AttributeValueMemberN).Value != "1" {
		t.Fatalf("ALL_OLD returned %#v", out.Attributes)
	}
	if tb.Len() != 1 {
		t.Fatalf("Len = %d, want 1", tb.Len())
	}

	dout, err := tb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tb.ARN()), Key: Item{"id": s("a")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatalf("DeleteItem: %v", err)
	}
	if dout.Attributes["v"].(*types.AttributeValueMemberN).Value != "2" {
		t.Fatalf("delete ALL_OLD returned %#v", dout.Attributes)
	}
	if got := get(t, tb, "a"); got != nil {
		t.Fatalf("item still present after delete: %#v", got)
	}
	del(t, tb, "missing") // deleting a missing item succeeds
	if tb.Len() != 0 {
		t.Fatalf("Len = %d, want 0", tb.Len())
	}
}

func TestNumberKeysAreCanonical(t *testing.T) {
	tb := NewTable("eu-west-1", "1", Schema{Name: testTable, HashKey: "id"})
	put(t, tb, Item{"id": n("1.0"), "v": s("x")})
	out, err := tb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(testTable), Key: Item{"id": n("1")}})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem by equal number: item %v, err %v", out, err)
	}
}

func TestValidationErrors(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", "", nil)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"wrong table", func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("other"), Item: Item{"id": s("a")}})
			return err
		}, "ResourceNotFoundException"},
		{"missing key", func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"x": s("a")}})
			return err
		}, "ValidationException"},
		{"bool key", func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": &types.AttributeValueMemberBOOL{Value: true}}})
			return err
		}, "ValidationException"},
		{"empty set", func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a"), "ss": &types.AttributeValueMemberSS{}}})
			return err
		}, "ValidationException"},
		{"get with extra key attribute", func() error {
			_, err := tb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(testTable), Key: Item{"id": s("a"), "x": s("b")}})
			return err
		}, "ValidationException"},
		{"unsupported condition", func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a")}, ConditionExpression: aws.String("v > :x")})
			return err
		}, "ValidationException"},
		{"condition on non-key attribute", func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a")}, ConditionExpression: aws.String("attribute_not_exists(v)")})
			return err
		}, "ValidationException"},
		{"unsupported return values", func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a")}, ReturnValues: types.ReturnValueAllNew})
			return err
		}, "ValidationException"},
		{"scan filter", func() error {
			_, err := tb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(testTable), FilterExpression: aws.String("v = :x")})
			return err
		}, "ValidationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIErrorCode(t, tc.call(), tc.code)
		})
	}
	if tb.Len() != 0 {
		t.Fatalf("a refused request wrote an item: Len = %d", tb.Len())
	}
}

func TestConditionExpression(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		expr    string
		names   map[string]string
		exists  bool
		wantErr bool
	}{
		{"not exists on new item", "attribute_not_exists(id)", nil, false, false},
		{"not exists on existing item", "attribute_not_exists(id)", nil, true, true},
		{"not exists with name placeholder", " attribute_not_exists( #k ) ", map[string]string{"#k": "id"}, true, true},
		{"exists on existing item", "attribute_exists(id)", nil, true, false},
		{"exists on new item", "attribute_exists(id)", nil, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestTable(t, "eu-west-1", ViewNewImage, nil)
			if tc.exists {
				put(t, tb, Item{"id": s("a"), "v": s("old")})
			}
			before := tb.Stream().Len()
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(testTable), Item: Item{"id": s("a"), "v": s("new")},
				ConditionExpression: aws.String(tc.expr), ExpressionAttributeNames: tc.names,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			})
			var ccf *types.ConditionalCheckFailedException
			if tc.wantErr {
				if !errors.As(err, &ccf) {
					t.Fatalf("want ConditionalCheckFailedException, got %v", err)
				}
				if tc.exists && strAttr(t, ccf.Item, "v") != "old" {
					t.Fatalf("ReturnValuesOnConditionCheckFailure item = %#v", ccf.Item)
				}
				if tb.Stream().Len() != before {
					t.Fatal("failed condition wrote a stream record")
				}
				return
			}
			if err != nil {
				t.Fatalf("PutItem: %v", err)
			}
			if strAttr(t, get(t, tb, "a"), "v") != "new" {
				t.Fatal("item not written")
			}
		})
	}
}

func TestScanPagination(t *testing.T) {
	tests := []struct {
		items, limit int
		wantPages    []int
	}{
		{25, 10, []int{10, 10, 5}},
		{20, 10, []int{10, 10, 0}}, // DynamoDB reports LastEvaluatedKey when it stops at Limit
		{3, 0, []int{3}},
		{0, 5, []int{0}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d items limit %d", tc.items, tc.limit), func(t *testing.T) {
			tb := newTestTable(t, "eu-west-1", "", nil)
			for i := range tc.items {
				put(t, tb, Item{"id": s(fmt.Sprintf("item-%03d", i))})
			}
			seen := map[string]bool{}
			var pages []int
			var start Item
			for {
				in := &dynamodb.ScanInput{TableName: aws.String(testTable), ExclusiveStartKey: start}
				if tc.limit > 0 {
					in.Limit = aws.Int32(int32(tc.limit))
				}
				out, err := tb.Scan(context.Background(), in)
				if err != nil {
					t.Fatalf("Scan: %v", err)
				}
				pages = append(pages, len(out.Items))
				if int(out.Count) != len(out.Items) {
					t.Fatalf("Count %d != len(Items) %d", out.Count, len(out.Items))
				}
				for _, it := range out.Items {
					id := strAttr(t, it, "id")
					if seen[id] {
						t.Fatalf("item %s returned twice", id)
					}
					seen[id] = true
				}
				if out.LastEvaluatedKey == nil {
					break
				}
				start = out.LastEvaluatedKey
				if len(pages) > tc.items+2 {
					t.Fatal("pagination does not terminate")
				}
			}
			if fmt.Sprint(pages) != fmt.Sprint(tc.wantPages) {
				t.Fatalf("pages = %v, want %v", pages, tc.wantPages)
			}
			if len(seen) != tc.items {
				t.Fatalf("saw %d items, want %d", len(seen), tc.items)
			}
		})
	}
}

func TestScanResumesAfterDeletedStartKey(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", "", nil)
	for _, id := range []string{"a", "b", "c", "d"} {
		put(t, tb, Item{"id": s(id)})
	}
	out, err := tb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(testTable), Limit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	del(t, tb, strAttr(t, out.LastEvaluatedKey, "id"))
	out, err = tb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(testTable), ExclusiveStartKey: out.LastEvaluatedKey})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 2 || strAttr(t, out.Items[0], "id") != "c" {
		t.Fatalf("second page = %v", out.Items)
	}
}

func TestSetAvailable(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", "", nil)
	put(t, tb, Item{"id": s("a")})
	tb.SetAvailable(false)
	ctx := context.Background()
	calls := map[string]func() error{
		"PutItem": func() error {
			_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("b")}})
			return err
		},
		"GetItem": func() error {
			_, err := tb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(testTable), Key: Item{"id": s("a")}})
			return err
		},
		"DeleteItem": func() error {
			_, err := tb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(testTable), Key: Item{"id": s("a")}})
			return err
		},
		"Scan": func() error {
			_, err := tb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(testTable)})
			return err
		},
	}
	for name, call := range calls {
		var ise *types.InternalServerError
		if err := call(); !errors.As(err, &ise) {
			t.Errorf("%s while down: want InternalServerError, got %v", name, err)
		}
	}
	tb.SetAvailable(true)
	if get(t, tb, "a") == nil || tb.Len() != 1 {
		t.Fatal("table state changed while down")
	}
}

func TestCanceledContext(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testTable), Item: Item{"id": s("a")}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestExpireNow(t *testing.T) {
	clk := newFakeClock()
	tb := newTestTable(t, "eu-west-1", ViewNewAndOldImages, clk)
	now := clk.Now().Unix()
	put(t, tb, Item{"id": s("past"), "expires": n(strconv.FormatInt(now-10, 10))})
	put(t, tb, Item{"id": s("future"), "expires": n(strconv.FormatInt(now+10, 10))})
	put(t, tb, Item{"id": s("none")})
	put(t, tb, Item{"id": s("string-ttl"), "expires": s("1")})
	after := tb.Stream().Latest()

	if got := tb.ExpireNow(); got != 1 {
		t.Fatalf("ExpireNow = %d, want 1", got)
	}
	if get(t, tb, "past") != nil || get(t, tb, "future") == nil || get(t, tb, "none") == nil || get(t, tb, "string-ttl") == nil {
		t.Fatal("wrong items expired")
	}
	recs := tb.Stream().Read(after, 0)
	if len(recs) != 1 {
		t.Fatalf("want 1 TTL record, got %d", len(recs))
	}
	r := recs[0]
	if r.EventName != "REMOVE" || r.UserIdentity == nil || r.UserIdentity.Type != "Service" || r.UserIdentity.PrincipalID != "dynamodb.amazonaws.com" {
		t.Fatalf("TTL record = %+v identity %+v", r, r.UserIdentity)
	}
	if r.Change.OldImage["id"].String() != "past" || r.Change.NewImage != nil {
		t.Fatalf("TTL record images: old %v new %v", r.Change.OldImage, r.Change.NewImage)
	}

	clk.Advance(time.Minute)
	if got := tb.ExpireNow(); got != 1 {
		t.Fatalf("second ExpireNow = %d, want 1", got)
	}
	// A user delete carries no TTL identity.
	after = tb.Stream().Latest()
	del(t, tb, "none")
	if recs := tb.Stream().Read(after, 0); len(recs) != 1 || recs[0].UserIdentity != nil {
		t.Fatalf("user delete record = %+v", recs)
	}
}
