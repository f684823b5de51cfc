package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestStreamRecords(t *testing.T) {
	tests := []struct {
		view              string
		wantNew, wantOld  []bool // per record: INSERT, MODIFY, REMOVE
		wantRecordsLength int
	}{
		{ViewNewImage, []bool{true, true, false}, []bool{false, false, false}, 3},
		{ViewNewAndOldImages, []bool{true, true, false}, []bool{false, true, true}, 3},
		{ViewOldImage, []bool{false, false, false}, []bool{false, true, true}, 3},
		{ViewKeysOnly, []bool{false, false, false}, []bool{false, false, false}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.view, func(t *testing.T) {
			clk := newFakeClock()
			tb := newTestTable(t, "eu-central-1", tc.view, clk)
			put(t, tb, Item{"id": s("a"), "v": n("1")})
			put(t, tb, Item{"id": s("a"), "v": n("1")}) // no change: no record
			clk.Advance(time.Second)
			put(t, tb, Item{"id": s("a"), "v": n("2")})
			del(t, tb, "a")
			del(t, tb, "a") // already gone: no record

			recs := tb.Stream().Read("", 0)
			if len(recs) != tc.wantRecordsLength {
				t.Fatalf("got %d records, want %d", len(recs), tc.wantRecordsLength)
			}
			wantNames := []string{"INSERT", "MODIFY", "REMOVE"}
			for i, r := range recs {
				if r.EventName != wantNames[i] {
					t.Errorf("record %d: EventName %s, want %s", i, r.EventName, wantNames[i])
				}
				if r.EventVersion != "1.1" || r.EventSource != "aws:dynamodb" || r.AWSRegion != "eu-central-1" {
					t.Errorf("record %d header: %+v", i, r)
				}
				if r.EventSourceArn != tb.StreamARN() || !strings.HasPrefix(r.EventSourceArn, tb.ARN()+"/stream/") {
					t.Errorf("record %d: EventSourceArn %q (table %q)", i, r.EventSourceArn, tb.ARN())
				}
				if len(r.EventID) != 32 {
					t.Errorf("record %d: EventID %q", i, r.EventID)
				}
				if r.Change.StreamViewType != tc.view || r.Change.SizeBytes <= 0 {
					t.Errorf("record %d: view %q size %d", i, r.Change.StreamViewType, r.Change.SizeBytes)
				}
				if len(r.Change.Keys) != 1 || r.Change.Keys["id"].String() != "a" {
					t.Errorf("record %d: Keys %v", i, r.Change.Keys)
				}
				if (r.Change.NewImage != nil) != tc.wantNew[i] || (r.Change.OldImage != nil) != tc.wantOld[i] {
					t.Errorf("record %d: NewImage %v OldImage %v, want new=%v old=%v", i, r.Change.NewImage, r.Change.OldImage, tc.wantNew[i], tc.wantOld[i])
				}
				if i > 0 && recs[i-1].Change.SequenceNumber >= r.Change.SequenceNumber {
					t.Errorf("sequence numbers not increasing: %s then %s", recs[i-1].Change.SequenceNumber, r.Change.SequenceNumber)
				}
			}
			if tc.wantNew[1] {
				if v := recs[1].Change.NewImage["v"].Number(); v != "2" {
					t.Errorf("MODIFY new image v = %s", v)
				}
			}
			if tc.wantOld[1] {
				if v := recs[1].Change.OldImage["v"].Number(); v != "1" {
					t.Errorf("MODIFY old image v = %s", v)
				}
			}
			if got := recs[1].Change.ApproximateCreationDateTime.Time; !got.Equal(clk.Now()) {
				t.Errorf("ApproximateCreationDateTime = %v, want %v", got, clk.Now())
			}
		})
	}
}

func TestNoStream(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", "", nil)
	put(t, tb, Item{"id": s("a")})
	if tb.Stream() != nil || tb.StreamARN() != "" {
		t.Fatal("table without StreamView has a stream")
	}
}

func TestSequenceNumbersSortAsStrings(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", ViewKeysOnly, nil)
	for i := range 120 {
		put(t, tb, Item{"id": s(fmt.Sprint(i))})
	}
	recs := tb.Stream().Read("", 0)
	seqs := make([]string, len(recs))
	for i, r := range recs {
		seqs[i] = r.Change.SequenceNumber
	}
	if !sort.StringsAreSorted(seqs) || len(seqs) != 120 {
		t.Fatalf("sequence numbers do not sort as strings: %v", seqs[:12])
	}
}

func TestStreamReadPaging(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", ViewNewImage, nil)
	for i := range 10 {
		put(t, tb, Item{"id": s(fmt.Sprint(i))})
	}
	st := tb.Stream()
	var got []string
	after := ""
	for {
		recs := st.Read(after, 3)
		if len(recs) == 0 {
			break
		}
		if len(recs) > 3 {
			t.Fatalf("Read returned %d records, max 3", len(recs))
		}
		for _, r := range recs {
			got = append(got, r.Change.Keys["id"].String())
		}
		after = recs[len(recs)-1].Change.SequenceNumber
	}
	if strings.Join(got, ",") != "0,1,2,3,4,5,6,7,8,9" {
		t.Fatalf("read order = %v", got)
	}
	if st.Latest() != after {
		t.Fatalf("Latest = %s, want %s", st.Latest(), after)
	}
}

func TestStreamWait(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", ViewNewImage, nil)
	st := tb.Stream()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := st.Wait(ctx, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on empty stream: want DeadlineExceeded, got %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- st.Wait(context.Background(), "") }()
	put(t, tb, Item{"id": s("a")})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after a write")
	}

	// Waiting after the newest record blocks until the next one.
	latest := st.Latest()
	go func() { done <- st.Wait(context.Background(), latest) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned before a new record: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	put(t, tb, Item{"id": s("b")})
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestStreamRetention(t *testing.T) {
	clk := newFakeClock()
	tb := newTestTable(t, "eu-west-1", ViewNewImage, clk)
	put(t, tb, Item{"id": s("old")})
	clk.Advance(23 * time.Hour)
	put(t, tb, Item{"id": s("mid")})
	if tb.Stream().Len() != 2 {
		t.Fatalf("Len = %d before retention expiry", tb.Stream().Len())
	}
	clk.Advance(2 * time.Hour)
	recs := tb.Stream().Read("", 0)
	if len(recs) != 1 || recs[0].Change.Keys["id"].String() != "mid" {
		t.Fatalf("after 25h: %d records", len(recs))
	}
}

func TestConvertersRoundTrip(t *testing.T) {
	item := Item{
		"s":    s("text"),
		"n":    n("-12.5"),
		"b":    &types.AttributeValueMemberB{Value: []byte{1, 2, 3}},
		"bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{9}, {8, 7}}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{s("a"), n("1")}},
		"m":    &types.AttributeValueMemberM{Value: Item{"inner": &types.AttributeValueMemberM{Value: Item{}}}},
	}
	img, err := ToEventImage(item)
	if err != nil {
		t.Fatalf("ToEventImage: %v", err)
	}
	// Through JSON, as a Lambda handler would receive it.
	raw, err := json.Marshal(img)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var decoded map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatalf("unmarshal %s: %v", raw, err)
	}
	back, err := FromEventImage(decoded)
	if err != nil {
		t.Fatalf("FromEventImage: %v", err)
	}
	if !equalItems(item, back) {
		t.Fatalf("round trip changed the item:\n%#v\n%#v", item, back)
	}
	if _, err := FromEventImage(map[string]events.DynamoDBAttributeValue{"zero": {}}); err == nil {
		t.Fatal("zero events value accepted")
	}
	if img, err := ToEventImage(nil); img != nil || err != nil {
		t.Fatalf("nil item: %v %v", img, err)
	}
}

func TestStreamRecordJSON(t *testing.T) {
	tb := newTestTable(t, "eu-west-1", ViewNewImage, nil)
	put(t, tb, Item{"id": s("a"), "n": n("3")})
	raw, err := json.Marshal(events.DynamoDBEvent{Records: tb.Stream().Read("", 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"eventName":"INSERT"`, `"eventSource":"aws:dynamodb"`, `"NewImage":{`, `"Keys":{"id":{"S":"a"}}`, `"StreamViewType":"NEW_IMAGE"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("event JSON lacks %s: %s", want, raw)
		}
	}
}
