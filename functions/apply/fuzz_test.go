package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

const (
	localRegion  = "eu-west-1"
	originRegion = "us-east-1"
)

// memTable is an in-memory DynamoDB table keyed by one string hash key: enough of
// GetItem, PutItem, Scan and DeleteItem for a state.Store and a failures.Recorder.
type memTable struct {
	hashKey string
	mu      sync.Mutex
	items   map[string]map[string]types.AttributeValue
	// putErr, when set, fails every PutItem.
	putErr error
}

func newMemTable(hashKey string) *memTable {
	return &memTable{hashKey: hashKey, items: map[string]map[string]types.AttributeValue{}}
}

func (m *memTable) keyOf(item map[string]types.AttributeValue) (string, error) {
	k, ok := item[m.hashKey].(*types.AttributeValueMemberS)
	if !ok {
		return "", fmt.Errorf("memTable: item lacks string key %s", m.hashKey)
	}
	return k.Value, nil
}

func (m *memTable) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	k, err := m.keyOf(in.Key)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: m.items[k]}, nil
}

// PutItem stores the item; it ignores conditions, which the apply path never sets.
func (m *memTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if m.putErr != nil {
		return nil, m.putErr
	}
	k, err := m.keyOf(in.Item)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[k] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (m *memTable) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &dynamodb.ScanOutput{}
	for _, it := range m.items {
		out.Items = append(out.Items, it)
	}
	return out, nil
}

func (m *memTable) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	k, err := m.keyOf(in.Key)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, k)
	return &dynamodb.DeleteItemOutput{}, nil
}

// applyRig is a Handler over in-memory state and error tables holding goodItems.
type applyRig struct {
	h         *Handler
	stateTab  *memTable
	errTab    *memTable
	converger *fakeConverger
}

// goodItems are what the other Region captured: every record naming one of them must
// be applied whatever else the batch holds.
var goodItems = []struct{ kind, name, body string }{
	{spec.KindThing, "dev-1", `{"attributes":{"a":"b"}}`},
	{spec.KindShadow, "dev-1", `{"reported":{"temp":19},"version":17}`},
	{spec.KindThingPrincipals, "dev-2", `{"principals":["arn:aws:iot:us-east-1:123456789012:cert/ab"]}`},
	{spec.KindPolicy, "iotdr-device", `{"arn":"arn:aws:iot:us-east-1:123456789012:policy/iotdr-device","document":"{}"}`},
}

func newApplyRig(t *testing.T) *applyRig {
	t.Helper()
	r := &applyRig{stateTab: newMemTable(spec.StateAttrKey), errTab: newMemTable(spec.ErrorAttrID), converger: &fakeConverger{}}
	store := &state.Store{Table: r.stateTab, Name: "iotdr-state"}
	for i, g := range goodItems {
		it, err := state.NewItem(g.kind, g.name, jsonRaw(g.body))
		if err != nil {
			t.Fatal(err)
		}
		it.Origin, it.Seq, it.CapturedAt, it.ChangedAt = originRegion, int64(i+1), 1700000000001, 1700000000000
		if _, err := r.stateTab.PutItem(context.Background(), &dynamodb.PutItemInput{Item: it.Attributes()}); err != nil {
			t.Fatal(err)
		}
	}
	r.h = &Handler{
		Applier:     &Applier{Region: localRegion, Store: store, Converger: r.converger},
		Failures:    &failures.Recorder{Table: r.errTab, Name: "iotdr-errors"},
		Concurrency: 2,
	}
	return r
}

// jsonRaw is a body already in canonical form, encoded as is.
type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }

// goodRecords are the stream records of goodItems, as the state table's stream carries
// them (NEW_AND_OLD_IMAGES).
func goodRecords(t *testing.T, r *applyRig) []events.DynamoDBEventRecord {
	t.Helper()
	var out []events.DynamoDBEventRecord
	for i, g := range goodItems {
		key := spec.StateKey(g.kind, g.name)
		out = append(out, events.DynamoDBEventRecord{
			EventName: "MODIFY",
			Change: events.DynamoDBStreamRecord{
				Keys:           map[string]events.DynamoDBAttributeValue{spec.StateAttrKey: events.NewStringAttribute(key)},
				NewImage:       streamImage(t, r.stateTab.items[key]),
				SequenceNumber: fmt.Sprintf("%021d", (i+1)*100),
				StreamViewType: "NEW_AND_OLD_IMAGES",
			},
		})
	}
	return out
}

// streamImage converts a DynamoDB item to a stream image, for the scalar types the
// state table uses.
func streamImage(t *testing.T, item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	img := map[string]events.DynamoDBAttributeValue{}
	for k, v := range item {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			img[k] = events.NewStringAttribute(x.Value)
		case *types.AttributeValueMemberN:
			img[k] = events.NewNumberAttribute(x.Value)
		case *types.AttributeValueMemberBOOL:
			img[k] = events.NewBooleanAttribute(x.Value)
		default:
			t.Fatalf("attribute %s has type %T", k, v)
		}
	}
	return img
}

// garbageRecord maps fuzz input onto one stream record: its event name, its key (a
// string, a number or missing) and its new image (key, origin, seq and body; missing,
// or given as another type, per shape's bits).
func garbageRecord(eventName, key, imgKey, origin, seq, body string, shape uint8) events.DynamoDBEventRecord {
	rec := events.DynamoDBEventRecord{EventName: eventName, Change: events.DynamoDBStreamRecord{SequenceNumber: "00000000000000000000050"}}
	switch shape & 3 {
	case 0:
		rec.Change.Keys = map[string]events.DynamoDBAttributeValue{spec.StateAttrKey: events.NewStringAttribute(key)}
	case 1:
		rec.Change.Keys = map[string]events.DynamoDBAttributeValue{spec.StateAttrKey: events.NewNumberAttribute(key)}
	case 2:
		rec.Change.Keys = map[string]events.DynamoDBAttributeValue{}
	}
	if shape&4 == 0 {
		img := map[string]events.DynamoDBAttributeValue{
			spec.StateAttrKey: events.NewStringAttribute(imgKey), spec.StateAttrOrigin: events.NewStringAttribute(origin),
			spec.StateAttrSeq: events.NewNumberAttribute(seq), spec.StateAttrHash: events.NewStringAttribute("h"),
			spec.StateAttrBody: events.NewStringAttribute(body),
		}
		if shape&8 != 0 {
			img[spec.StateAttrSeq] = events.NewStringAttribute(seq)
		}
		if shape&16 != 0 {
			delete(img, spec.StateAttrOrigin)
		}
		if shape&32 != 0 {
			img[spec.StateAttrDeleted] = events.NewBooleanAttribute(true)
		}
		rec.Change.NewImage = img
	}
	return rec
}

// FuzzHandle runs a batch of good records with one fuzzed record among them. Whatever
// that record holds: no panic, no batch failure; every good record's resource is
// applied exactly once; the fuzzed record is applied, skipped or recorded in the error
// table with a clear cause, never silently dropped.
func FuzzHandle(f *testing.F) {
	seeds := []struct {
		eventName, key, imgKey, origin, seq, body string
		shape, pos                                uint8
	}{
		{"MODIFY", "thing#dev-9", "thing#dev-9", originRegion, "5", `{"attributes":{}}`, 0, 0}, // valid, not in the table
		{"INSERT", "thing#dev-1", "thing#dev-1", originRegion, "1", `{"attributes":{"a":"b"}}`, 0, 1},
		{"MODIFY", "shadow#dev-1", "shadow#dev-1", localRegion, "1", `{}`, 0, 2}, // this Region's own capture
		{"REMOVE", "shadow#dev-1", "", "", "", "", 4, 3},                         // a tombstone expiring
		{"MODIFY", "shadow#dev-1", "shadow#dev-1", originRegion, "1", "", 32, 4}, // a tombstone
		{"MODIFY", "gadget#x", "gadget#x", originRegion, "1", `{}`, 0, 0},
		{"MODIFY", "thing", "thing", originRegion, "1", `{}`, 0, 1},
		{"MODIFY", "thing#dev-1", "thing#dev-1", originRegion, "1", `{}`, 1, 2},             // numeric key
		{"MODIFY", "thing#dev-1", "thing#dev-1", originRegion, "1", `{}`, 2, 3},             // no key
		{"MODIFY", "thing#dev-1", "shadow#dev-1", originRegion, "1", `{}`, 0, 4},            // image names another item
		{"MODIFY", "thing#dev-1", "thing#dev-1", originRegion, "1", `{"attributes":`, 0, 0}, // body not JSON
		{"MODIFY", "thing#dev-1", "thing#dev-1", originRegion, "x", `{}`, 8, 1},             // seq as a string
		{"MODIFY", "thing#dev-1", "thing#dev-1", originRegion, "1e3", `{}`, 0, 2},
		{"MODIFY", "thing#dev-1", "thing#dev-1", "", "1", `{}`, 16, 3}, // no origin
		{"MODIFY", "thing#dev-1", "thing#dev-1", originRegion, "1", "\xff", 0, 4},
		{"", "", "", "", "", "", 6, 0},
	}
	for _, s := range seeds {
		f.Add(s.eventName, s.key, s.imgKey, s.origin, s.seq, s.body, s.shape, s.pos)
	}
	f.Fuzz(func(t *testing.T, eventName, key, imgKey, origin, seq, body string, shape, pos uint8) {
		r := newApplyRig(t)
		batch := goodRecords(t, r)
		odd := garbageRecord(eventName, key, imgKey, origin, seq, body, shape)
		at := int(pos) % (len(batch) + 1)
		batch = slices.Insert(batch, at, odd)

		resp, err := r.h.Handle(context.Background(), events.DynamoDBEvent{Records: batch})
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch failures %v, want none: nothing here is transient", resp.BatchItemFailures)
		}

		// The fuzzed record is well formed when route accepts it.
		rt := r.h.route(context.Background(), &odd)
		routedKey, skip, routeErr := rt.key, rt.skip, rt.err
		applied := r.converger.got()
		for _, g := range goodItems {
			k := spec.StateKey(g.kind, g.name)
			if n := count(applied, k); n != 1 {
				t.Fatalf("%s applied %d times, want once; applied %v", k, n, applied)
			}
		}
		failuresList, err := r.h.Failures.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case routeErr != nil && routedKey != "":
			// Readable keys, unreadable image: the key is applied as any other.
			if len(failuresList) != 0 {
				t.Fatalf("record with key %q and an unreadable image: error records %+v", routedKey, failuresList)
			}
			if _, ok := r.stateTab.items[routedKey]; ok && count(applied, routedKey) != 1 {
				t.Fatalf("%s applied %d times, want once; applied %v", routedKey, count(applied, routedKey), applied)
			}
		case routeErr != nil:
			if len(failuresList) != 1 {
				t.Fatalf("undecodable record (%v): %d error records, want 1", routeErr, len(failuresList))
			}
			fl := failuresList[0]
			if fl.Stage != spec.StageApply || fl.Error != "InvalidRecord" || strings.TrimSpace(fl.Cause) == "" || fl.Cause != routeErr.Error() {
				t.Fatalf("error record %+v for %v", fl, routeErr)
			}
			if len(fl.Cause) > 4096 || len(body) > 256 && strings.Contains(fl.Cause, body) {
				t.Fatalf("error record cause is %d bytes: bad input must be excerpted", len(fl.Cause))
			}
			if len(applied) != len(goodItems) {
				t.Fatalf("applied %v: the undecodable record was applied", applied)
			}
		case skip:
			if len(failuresList) != 0 || len(applied) != len(goodItems) {
				t.Fatalf("skipped record: applied %v, error records %+v", applied, failuresList)
			}
		default:
			if len(failuresList) != 0 {
				t.Fatalf("well-formed record %q: error records %+v", routedKey, failuresList)
			}
			// Applied unless the table has nothing for it (Key skips a missing item).
			if _, ok := r.stateTab.items[routedKey]; ok && count(applied, routedKey) != 1 {
				t.Fatalf("%s applied %d times, want once (coalesced); applied %v", routedKey, count(applied, routedKey), applied)
			}
		}
	})
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestHandleErrorTableDown: when an undecodable record cannot be recorded either, the
// batch is retried from its first record rather than losing it.
func TestHandleErrorTableDown(t *testing.T) {
	r := newApplyRig(t)
	r.errTab.putErr = errors.New("error table unavailable")
	batch := goodRecords(t, r)
	batch = append(batch, garbageRecord("MODIFY", "gadget#x", "gadget#x", originRegion, "1", `{}`, 0))
	resp, err := r.h.Handle(context.Background(), events.DynamoDBEvent{Records: batch})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: batch[0].Change.SequenceNumber}}
	if !slices.Equal(resp.BatchItemFailures, want) {
		t.Fatalf("batch failures %v, want %v", resp.BatchItemFailures, want)
	}
}
