package state

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

func newStore(t *testing.T) (*Store, *dynamo.Table) {
	t.Helper()
	st := spec.StateTable()
	tbl := dynamo.NewTable("us-east-1", "123456789012", dynamo.Schema{Name: "state", HashKey: st.HashKey, TTLAttribute: st.TTLAttribute, StreamView: st.StreamView})
	return &Store{Table: tbl, Name: "state"}, tbl
}

func thingItem(t *testing.T, seq int64, attrs map[string]string) Item {
	t.Helper()
	it, err := NewItem(spec.KindThing, "dev-1", Thing{Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	it.Origin, it.Seq, it.CapturedAt, it.ChangedAt = "us-east-1", seq, 1000+seq, 900+seq
	return it
}

// TestPut walks the outcomes of a sequence of captures of one resource: what is
// written, what is skipped as unchanged (no replicated write) and what is refused as
// older than the stored capture.
func TestPut(t *testing.T) {
	ctx := context.Background()
	s, tbl := newStore(t)
	steps := []struct {
		name string
		it   Item
		want Outcome
		// stored is the seq the table holds afterwards.
		stored int64
	}{
		{"first capture", thingItem(t, 10, map[string]string{"a": "1"}), Written, 10},
		{"duplicate", thingItem(t, 11, map[string]string{"a": "1"}), Unchanged, 10},
		{"newer content", thingItem(t, 20, map[string]string{"a": "2"}), Written, 20},
		{"late older capture", thingItem(t, 15, map[string]string{"a": "1"}), Stale, 20},
		{"same seq, other content", thingItem(t, 20, map[string]string{"a": "3"}), Stale, 20},
		{"tombstone", func() Item { it := Tombstone(spec.KindThing, "dev-1"); it.Origin, it.Seq = "us-east-1", 30; return it }(), Written, 30},
		// A newer tombstone moves the seq, so that the live resource between two deletes
		// cannot come back.
		{"tombstone again", func() Item { it := Tombstone(spec.KindThing, "dev-1"); it.Origin, it.Seq = "us-east-1", 31; return it }(), Written, 31},
		{"older tombstone", func() Item { it := Tombstone(spec.KindThing, "dev-1"); it.Origin, it.Seq = "us-east-1", 29; return it }(), Unchanged, 31},
		{"re-created", thingItem(t, 40, nil), Written, 40},
		{"unchanged, later read", thingItem(t, 50, nil), Unchanged, 40},
	}
	for _, st := range steps {
		got, err := s.Put(ctx, st.it)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Errorf("%s: Put = %s, want %s", st.name, got, st.want)
		}
		cur, ok, err := s.Get(ctx, spec.KindThing, "dev-1")
		if err != nil || !ok {
			t.Fatalf("%s: Get = %v, %v", st.name, ok, err)
		}
		if cur.Seq != st.stored {
			t.Errorf("%s: stored seq %d, want %d", st.name, cur.Seq, st.stored)
		}
	}
	// One stream record per write, none for the skipped captures.
	if n := tbl.Stream().Len(); n != 5 {
		t.Errorf("stream has %d records, want 5 (one per write)", n)
	}
}

// TestSwap: a read-modify-write (a shadow capture merging the stored item) writes
// only over the item it read; an item that moved meanwhile is Stale, and the basis
// names the item replaced.
func TestSwap(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	shadowAt := func(seq int64, a int) Item {
		it, err := NewItem(spec.KindShadow, "dev-1", Shadow{Reported: json.RawMessage(fmt.Sprintf(`{"a":%d}`, a))})
		if err != nil {
			t.Fatal(err)
		}
		it.Origin, it.Seq = "us-east-1", seq
		return it
	}
	if o, err := s.Swap(ctx, Item{}, false, shadowAt(10, 1)); err != nil || o != Written {
		t.Fatalf("first Swap = %s, %v; want written", o, err)
	}
	if o, err := s.Swap(ctx, Item{}, false, shadowAt(11, 2)); err != nil || o != Stale {
		t.Errorf("Swap over no item while one exists = %s, %v; want stale", o, err)
	}
	read, _, _ := s.Get(ctx, spec.KindShadow, "dev-1")
	if o, err := s.Swap(ctx, read, true, shadowAt(12, 3)); err != nil || o != Written {
		t.Fatalf("Swap over the item read = %s, %v; want written", o, err)
	}
	if o, err := s.Swap(ctx, read, true, shadowAt(13, 4)); err != nil || o != Stale {
		t.Errorf("Swap over an item that moved = %s, %v; want stale", o, err)
	}
	cur, _, _ := s.Get(ctx, spec.KindShadow, "dev-1")
	var sh Shadow
	if err := cur.Decode(&sh); err != nil || string(sh.Reported) != `{"a":3}` || cur.Seq != 12 || cur.Basis != "us-east-1/10" {
		t.Errorf("stored %s at seq %d basis %q (%v), want {\"a\":3} at 12 on us-east-1/10", sh.Reported, cur.Seq, cur.Basis, err)
	}
}

// TestPutRaceKeepsLater: a capture that read earlier but writes later (its Get saw
// no item yet) is refused by the conditional write, and compares again.
func TestPutRaceKeepsLater(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	later := thingItem(t, 20, map[string]string{"a": "new"})
	earlier := thingItem(t, 10, map[string]string{"a": "old"})
	// Write the later one directly, as if it landed between the earlier capture's Get
	// and its PutItem.
	if _, err := s.Put(ctx, later); err != nil {
		t.Fatal(err)
	}
	racing := &Store{Table: &staleGetTable{Table: s.Table, first: &dynamodb.GetItemOutput{}}, Name: s.Name}
	got, err := racing.Put(ctx, earlier)
	if err != nil || got != Stale {
		t.Fatalf("racing Put = %s, %v; want stale", got, err)
	}
	cur, _, _ := s.Get(ctx, spec.KindThing, "dev-1")
	var b Thing
	if err := cur.Decode(&b); err != nil || b.Attributes["a"] != "new" {
		t.Errorf("stored %+v (%v), want the later capture", b, err)
	}
}

// TestPutRaceWritesOnce: two captures of one change (a duplicated event) both read
// the item before either wrote; the second finds, when its swap is refused, that the
// table already holds its content, and writes nothing: one replicated write, not two.
func TestPutRaceWritesOnce(t *testing.T) {
	ctx := context.Background()
	s, tbl := newStore(t)
	if _, err := s.Put(ctx, thingItem(t, 10, map[string]string{"a": "1"})); err != nil {
		t.Fatal(err)
	}
	old, err := tbl.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: map[string]types.AttributeValue{
		spec.StateAttrKey: &types.AttributeValueMemberS{Value: spec.StateKey(spec.KindThing, "dev-1")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Put(ctx, thingItem(t, 20, map[string]string{"a": "2"})); err != nil || got != Written {
		t.Fatalf("first capture = %s, %v; want written", got, err)
	}
	before := tbl.Stream().Appended()
	racing := &Store{Table: &staleGetTable{Table: s.Table, first: old}, Name: s.Name}
	if got, err := racing.Put(ctx, thingItem(t, 21, map[string]string{"a": "2"})); err != nil || got != Unchanged {
		t.Fatalf("duplicate capture = %s, %v; want unchanged", got, err)
	}
	if n := tbl.Stream().Appended() - before; n != 0 {
		t.Errorf("the duplicate capture wrote %d times; want 0", n)
	}
}

// staleGetTable answers its first GetItem with first, as a read that raced a write,
// and then reads the table.
type staleGetTable struct {
	Table
	first *dynamodb.GetItemOutput
}

func (s *staleGetTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f := s.first; f != nil {
		s.first = nil
		return f, nil
	}
	return s.Table.GetItem(ctx, in, opts...)
}

func TestItemRoundTrip(t *testing.T) {
	bodies := map[string]any{
		spec.KindThing:           Thing{ThingTypeName: "sensor", Attributes: map[string]string{"b": "2", "a": "1"}},
		spec.KindThingPrincipals: Principals{Principals: []string{"arn:b", "arn:a", "arn:a"}},
		spec.KindCertificate:     Certificate{ARN: "arn:aws:iot:us-east-1:1:cert/abc", PEM: "pem", Status: "ACTIVE", Policies: []string{"p2", "p1"}},
		spec.KindShadow:          Shadow{Desired: json.RawMessage(`{"b":1,"a":{"y":2,"x":1}}`), Version: 3},
	}
	for kind, body := range bodies {
		it, err := NewItem(kind, "n1", body)
		if err != nil {
			t.Fatal(err)
		}
		it.Origin, it.Seq = "us-east-1", 7
		back, err := FromAttributes(it.Attributes())
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if back.Key() != it.Key() || back.Hash != it.Hash || string(back.Body) != string(it.Body) || back.Seq != 7 {
			t.Errorf("%s: round trip %+v, want %+v", kind, back, it)
		}
		img := map[string]events.DynamoDBAttributeValue{}
		for k, v := range it.Attributes() {
			ev, err := dynamo.ToEventValue(v)
			if err != nil {
				t.Fatal(err)
			}
			img[k] = ev
		}
		fromImg, err := FromImage(img)
		if err != nil || fromImg.Hash != it.Hash {
			t.Errorf("%s: FromImage = %+v, %v", kind, fromImg, err)
		}
	}
	// Equal content in another order hashes the same: captures compare by hash.
	a, _ := NewItem(spec.KindShadow, "n", Shadow{Desired: json.RawMessage(`{"x":1,"y":[1,2]}`)})
	b, _ := NewItem(spec.KindShadow, "n", Shadow{Desired: json.RawMessage(`{"y":[1,2],"x":1}`)})
	if !a.Same(b) {
		t.Errorf("equal shadows hash differently: %s vs %s", a.Body, b.Body)
	}
}

func TestFromAttributesRefusesBadItems(t *testing.T) {
	good := thingItem(t, 1, nil).Attributes()
	for _, tc := range []struct {
		name, drop, want string
	}{
		{"no key", spec.StateAttrKey, "missing pk"},
		{"no origin", spec.StateAttrOrigin, "missing origin"},
		{"no body", spec.StateAttrBody, "missing body"},
	} {
		item := maps.Clone(good)
		delete(item, tc.drop)
		_, err := FromAttributes(item)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestFromAttributesRefusesMalformedValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]types.AttributeValue
		want string
	}{
		{"unknown kind", map[string]types.AttributeValue{spec.StateAttrKey: &types.AttributeValueMemberS{Value: "job#j1"}}, "known kind"},
		{"key without name", map[string]types.AttributeValue{spec.StateAttrKey: &types.AttributeValueMemberS{Value: "thing#"}}, "<kind>#<name>"},
		{"seq not a number", map[string]types.AttributeValue{spec.StateAttrSeq: &types.AttributeValueMemberS{Value: "7"}}, "seq is not a number"},
		{"seq overflows", map[string]types.AttributeValue{spec.StateAttrSeq: &types.AttributeValueMemberN{Value: "1e30"}}, "not a 64-bit integer"},
		{"body not JSON", map[string]types.AttributeValue{spec.StateAttrBody: &types.AttributeValueMemberS{Value: "{nope"}}, "body is not JSON"},
		{"deleted not a boolean", map[string]types.AttributeValue{spec.StateAttrDeleted: &types.AttributeValueMemberS{Value: "yes"}}, "not a boolean"},
	} {
		item := maps.Clone(thingItem(t, 1, nil).Attributes())
		maps.Copy(item, tc.set)
		_, err := FromAttributes(item)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
