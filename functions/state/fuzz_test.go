package state

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// How a fuzzed attribute is presented: two bits per attribute of fuzzItem.shape, in
// the order of fuzzItem.fields.
const (
	attrAbsent  = iota
	attrNatural // S for text, N for numbers, BOOL for deleted
	attrSwapped // N for text, S for numbers and for deleted
	attrExotic  // a list, a map, binary or NULL
)

// Shapes of the seeds: every attribute in its own type, then without deleted (a live
// item) and without expires.
const (
	shapeNatural   = 0b01_01_01_01_01_01_01_01_01
	shapeNoDeleted = shapeNatural &^ (3 << 16)
	shapeLive      = shapeNoDeleted &^ (3 << 14)
	shapeTombstone = shapeNatural &^ (3 << 6) // no body
)

// fuzzItem is one fuzz input mapped onto a state item: the text of each attribute and
// how each is presented.
type fuzzItem struct {
	key, origin, hash, body, seq, capturedAt, changedAt, expires string
	deleted                                                      bool
	shape                                                        uint32
}

type fuzzField struct {
	name, text string
	number     bool
}

func (in fuzzItem) fields() []fuzzField {
	return []fuzzField{
		{spec.StateAttrKey, in.key, false}, {spec.StateAttrOrigin, in.origin, false},
		{spec.StateAttrHash, in.hash, false}, {spec.StateAttrBody, in.body, false},
		{spec.StateAttrSeq, in.seq, true}, {spec.StateAttrCapturedAt, in.capturedAt, true},
		{spec.StateAttrChangedAt, in.changedAt, true}, {spec.StateAttrExpires, in.expires, true},
		{spec.StateAttrDeleted, "", false},
	}
}

// attrs builds the item both as a DynamoDB item and as a stream image.
func (in fuzzItem) attrs() (map[string]types.AttributeValue, map[string]events.DynamoDBAttributeValue) {
	item := map[string]types.AttributeValue{}
	img := map[string]events.DynamoDBAttributeValue{}
	for i, f := range in.fields() {
		how := (in.shape >> (2 * i)) & 3
		isDeleted := f.name == spec.StateAttrDeleted
		switch {
		case how == attrAbsent:
		case how == attrExotic:
			switch i % 4 {
			case 0:
				item[f.name] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: f.text}}}
				img[f.name] = events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute(f.text)})
			case 1:
				item[f.name] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"v": &types.AttributeValueMemberS{Value: f.text}}}
				img[f.name] = events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"v": events.NewStringAttribute(f.text)})
			case 2:
				item[f.name] = &types.AttributeValueMemberB{Value: []byte(f.text)}
				img[f.name] = events.NewBinaryAttribute([]byte(f.text))
			default:
				item[f.name] = &types.AttributeValueMemberNULL{Value: true}
				img[f.name] = events.NewNullAttribute()
			}
		case isDeleted && how == attrNatural:
			item[f.name] = &types.AttributeValueMemberBOOL{Value: in.deleted}
			img[f.name] = events.NewBooleanAttribute(in.deleted)
		case isDeleted:
			s := "false"
			if in.deleted {
				s = "true"
			}
			item[f.name] = &types.AttributeValueMemberS{Value: s}
			img[f.name] = events.NewStringAttribute(s)
		case f.number == (how == attrNatural):
			item[f.name] = &types.AttributeValueMemberN{Value: f.text}
			img[f.name] = events.NewNumberAttribute(f.text)
		default:
			item[f.name] = &types.AttributeValueMemberS{Value: f.text}
			img[f.name] = events.NewStringAttribute(f.text)
		}
	}
	return item, img
}

func (in fuzzItem) add(f *testing.F) {
	f.Add(in.key, in.origin, in.hash, in.body, in.seq, in.capturedAt, in.changedAt, in.expires, in.deleted, in.shape)
}

// itemSeeds are state items as capture writes them, then broken ones.
func itemSeeds() []fuzzItem {
	thing := `{"attributes":{"a":"b"},"thingTypeName":"sensor"}`
	shadow := `{"desired":{"temp":22},"reported":{"on":true,"temp":19},"version":17}`
	live := func(key, body string) fuzzItem {
		return fuzzItem{key, "us-east-1", hashOf([]byte(body)), body, "1700000000000001", "1700000000001", "1700000000000", "", false, shapeLive}
	}
	tomb := fuzzItem{"shadow#dev-1", "eu-west-1", tombstoneHash, "", "18", "1700000000001", "1700000000000", "1701209600", true, shapeTombstone}
	with := func(in fuzzItem, change func(*fuzzItem)) fuzzItem { change(&in); return in }
	return []fuzzItem{
		live("thing#dev-1", thing),
		live("shadow#dev-1", shadow),
		live("certificate#"+strings.Repeat("ab", 32), `{"arn":"arn:aws:iot:us-east-1:123456789012:cert/abab","pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","policies":["p"],"status":"ACTIVE","things":["dev-1"]}`),
		live("policy#p#1", `{"arn":"arn:aws:iot:us-east-1:123456789012:policy/p","document":"{\"Version\":\"2012-10-17\"}"}`),
		live("thing-groups#dev-1", `{"groups":[]}`),
		tomb,
		with(tomb, func(in *fuzzItem) { in.shape = shapeNatural }), // a tombstone keeping a body
		with(tomb, func(in *fuzzItem) { in.expires = "0" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.deleted, in.shape = false, shapeLive|attrNatural<<16 }), // deleted: false
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.key = "thing" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.key = "thing#" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.key = "gadget#dev-1" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.key = "thing#" + strings.Repeat("x", 300) }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.seq = "9223372036854775808" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.seq = "1e3" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.seq = "-1" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.capturedAt = strings.Repeat("9", 100) }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.body = `{"attributes":` }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.body = "" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.body = "\xff\xfe" }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.body = `"` + strings.Repeat("b", MaxBodyBytes) + `"` }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.shape = 0 }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.shape = 0b10_10_10_10_10_10_10_10_10 }),
		with(live("thing#dev-1", thing), func(in *fuzzItem) { in.shape = 0b11_11_11_11_11_11_11_11_11 }),
		with(tomb, func(in *fuzzItem) { in.shape = shapeTombstone&^(3<<16) | 2<<16 }), // deleted as the string "true"
	}
}

// FuzzFromAttributes decodes state items given as DynamoDB items and as stream images.
// Whatever the input: no panic; both decoders agree; a refusal says what was wrong
// without echoing the body; an accepted item is well formed and survives
// Attributes -> FromAttributes unchanged.
func FuzzFromAttributes(f *testing.F) {
	for _, s := range itemSeeds() {
		s.add(f)
	}
	f.Fuzz(func(t *testing.T, key, origin, hash, body, seq, capturedAt, changedAt, expires string, deleted bool, shape uint32) {
		in := fuzzItem{key, origin, hash, body, seq, capturedAt, changedAt, expires, deleted, shape}
		item, img := in.attrs()
		it, err := FromAttributes(item)
		fromImg, imgErr := FromImage(img)
		if (err == nil) != (imgErr == nil) || !reflect.DeepEqual(it, fromImg) {
			t.Fatalf("decoders disagree:\nFromAttributes %+v, %v\nFromImage      %+v, %v", it, err, fromImg, imgErr)
		}
		if err != nil {
			wantClearError(t, err, key, body)
			if err.Error() != imgErr.Error() {
				t.Fatalf("decoders disagree on the error:\n%v\n%v", err, imgErr)
			}
			return
		}
		if !spec.KnownKind(it.Kind) || it.Name == "" || it.Key() != key {
			t.Fatalf("accepted item %q has kind %q, name %q", key, it.Kind, it.Name)
		}
		if it.Deleted && it.Body != nil || !it.Deleted && (string(it.Body) != body || !json.Valid(it.Body)) {
			t.Fatalf("accepted item body %q from %q (deleted %v)", it.Body, body, it.Deleted)
		}
		back, err := FromAttributes(it.Attributes())
		if err != nil {
			t.Fatalf("re-decode of an accepted item: %v", err)
		}
		if !reflect.DeepEqual(back, it) {
			t.Fatalf("round trip changed the item:\n got %+v\nwant %+v", back, it)
		}
	})
}

// wantClearError fails unless err is a non-empty message of bounded size that does
// not carry a long body or key whole.
func wantClearError(t *testing.T, err error, inputs ...string) {
	t.Helper()
	msg := err.Error()
	if strings.TrimSpace(msg) == "" {
		t.Fatal("empty error message")
	}
	if len(msg) > 4096 {
		t.Fatalf("error is %d bytes: bad input must be excerpted: %.200s", len(msg), msg)
	}
	for _, in := range inputs {
		if len(in) > 256 && strings.Contains(msg, in) {
			t.Fatalf("error carries a %d-byte input whole", len(in))
		}
	}
}

// FuzzKeyOfImage decodes the key of a stream record. Keys are fuzzed as a string
// attribute, as another type, or missing.
func FuzzKeyOfImage(f *testing.F) {
	for _, k := range stateKeySeeds {
		f.Add(k, uint8(0))
	}
	f.Add("thing#dev-1", uint8(1))
	f.Add("thing#dev-1", uint8(2))
	f.Add("thing#dev-1", uint8(3))
	f.Fuzz(func(t *testing.T, key string, how uint8) {
		keys := map[string]events.DynamoDBAttributeValue{}
		switch how % 4 {
		case 0:
			keys[spec.StateAttrKey] = events.NewStringAttribute(key)
		case 1:
			keys[spec.StateAttrKey] = events.NewNumberAttribute(key)
		case 2:
			keys["id"] = events.NewStringAttribute(key) // another table's key
		}
		got, err := KeyOfImage(keys)
		if err != nil {
			wantClearError(t, err, key)
			return
		}
		if how%4 != 0 || got != key {
			t.Fatalf("KeyOfImage(%v) = %q, want an error or %q", keys, got, key)
		}
		if _, _, err := spec.ParseStateKey(got); err != nil {
			t.Fatalf("KeyOfImage accepted %q, which ParseStateKey refuses: %v", got, err)
		}
	})
}

// stateKeySeeds are state keys of every kind, then broken ones.
var stateKeySeeds = []string{
	"thing#dev-1", "thing-principals#dev-1", "thing-groups#dev-1", "certificate#" + strings.Repeat("0f", 32),
	"policy#iotdr-device", "thing-type#sensor", "thing-group#floor-1", "shadow#dev-1",
	"thing#a#b", "", "#", "thing", "thing#", "#dev-1", "Thing#dev-1", "thing #dev-1", "thing\x00#dev-1",
	"shadow#\xff", "gadget#dev-1", "thing#" + strings.Repeat("n", 2048),
}

// FuzzParseStateKey splits state keys: an accepted key is a known kind and a non-empty
// name that StateKey joins back to the same key; any known kind with a non-empty name
// is accepted, a named shadow's only as <thing>/<shadow>.
func FuzzParseStateKey(f *testing.F) {
	for i, k := range stateKeySeeds {
		f.Add(k, uint8(i), "dev-1")
	}
	f.Fuzz(func(t *testing.T, key string, kindIndex uint8, name string) {
		kind, n, err := spec.ParseStateKey(key)
		if err != nil {
			wantClearError(t, err, key)
			if kind != "" || n != "" {
				t.Fatalf("ParseStateKey(%q) = %q, %q alongside an error", key, kind, n)
			}
		} else if !spec.KnownKind(kind) || n == "" || spec.StateKey(kind, n) != key {
			t.Fatalf("ParseStateKey(%q) = %q, %q", key, kind, n)
		}
		if name == "" {
			return
		}
		kind = spec.Kinds[int(kindIndex)%len(spec.Kinds)]
		gotKind, gotName, err := spec.ParseStateKey(spec.StateKey(kind, name))
		_, _, named := spec.SplitNamedShadowKey(name)
		_, _, tagged := spec.SplitTagsKey(name)
		if kind == spec.KindNamedShadow && !named || kind == spec.KindTags && !tagged {
			if err == nil {
				t.Fatalf("ParseStateKey(StateKey(%q, %q)) accepted a name without its kind's <a>/<b> form", kind, name)
			}
			wantClearError(t, err, spec.StateKey(kind, name))
			return
		}
		if err != nil || gotKind != kind || gotName != name {
			t.Fatalf("ParseStateKey(StateKey(%q, %q)) = %q, %q, %v", kind, name, gotKind, gotName, err)
		}
	})
}
