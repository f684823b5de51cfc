package dynamo

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestEventJSONIsEncodingJSON: the JSON a stream mapping sends is byte for byte what
// encoding/json makes of the aws-lambda-go records, for every attribute type, strings
// that need escaping (quotes, control and HTML characters, invalid UTF-8, line
// separators), inserts, modifies, removes and TTL deletes, in every view.
func TestEventJSONIsEncodingJSON(t *testing.T) {
	odd := "q\"b\\s/<a>&\b\f\n\r\t\x01\x1f é \u2028\u2029 \xff end"
	item := func(v string) Item {
		return Item{
			"id": s("a"), "s": s(odd + v), "n": n("-1.5e3"), "b": &types.AttributeValueMemberB{Value: []byte("\x00\xffbin")},
			"b0":      &types.AttributeValueMemberB{Value: []byte{}},
			"t":       &types.AttributeValueMemberBOOL{Value: true},
			"f":       &types.AttributeValueMemberBOOL{Value: false},
			"null":    &types.AttributeValueMemberNULL{Value: true},
			"ss":      &types.AttributeValueMemberSS{Value: []string{"x", odd}},
			"ns":      &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
			"bs":      &types.AttributeValueMemberBS{Value: [][]byte{[]byte("a"), {}}},
			"l":       &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x"), n("1"), &types.AttributeValueMemberM{Value: Item{"k": s(odd)}}}},
			"l0":      &types.AttributeValueMemberL{},
			"m":       &types.AttributeValueMemberM{Value: Item{"z": s("1"), "a": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}, odd: n("2")}},
			"m0":      &types.AttributeValueMemberM{},
			"expires": n("1"),
		}
	}
	for _, view := range []string{ViewNewImage, ViewNewAndOldImages, ViewOldImage, ViewKeysOnly} {
		clk := newFakeClock()
		clk.Advance(1234567 * time.Microsecond)
		tb := newTestTable(t, "eu-west-1", view, clk)
		put(t, tb, item("1"))
		put(t, tb, item("2"))
		put(t, tb, Item{"id": s("b"), "expires": n("1")})
		del(t, tb, "a")
		clk.Advance(time.Hour)
		if tb.ExpireNow() != 1 {
			t.Fatal("the expired item was not deleted")
		}
		recs, _ := tb.Stream().ReadShardRecords(-1, "", 0)
		if len(recs) != 5 {
			t.Fatalf("%s: %d records, want 5", view, len(recs))
		}
		want, err := json.Marshal(events.DynamoDBEvent{Records: tb.Stream().Read("", 0)})
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendEventJSON(nil, recs); !bytes.Equal(got, want) {
			t.Errorf("%s: event JSON differs from encoding/json's\n got %s\nwant %s", view, got, want)
		}
	}
	if got := string(AppendEventJSON(nil, nil)); got != `{"Records":null}` {
		t.Errorf("no records: %s", got)
	}
}
