package dynamo

import (
	"bytes"
	"fmt"
	"math/big"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is one DynamoDB item as the SDK represents it.
type Item = map[string]types.AttributeValue

// copyItem deep-copies an item so that neither the caller nor the table can
// mutate the other's data.
func copyItem(in Item) Item {
	if in == nil {
		return nil
	}
	out := make(Item, len(in))
	for k, v := range in {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: bytes.Clone(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberBS:
		out := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			out[i] = bytes.Clone(b)
		}
		return &types.AttributeValueMemberBS{Value: out}
	case *types.AttributeValueMemberL:
		out := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			out[i] = copyValue(e)
		}
		return &types.AttributeValueMemberL{Value: out}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: copyItem(v.Value)}
	default:
		return v
	}
}

// validateValue rejects values DynamoDB would reject and the simulator cannot
// represent, so bad items fail at write time rather than in a stream reader.
func validateValue(v types.AttributeValue) error {
	switch v := v.(type) {
	case nil:
		return fmt.Errorf("nil attribute value")
	case *types.AttributeValueMemberS, *types.AttributeValueMemberB,
		*types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberN:
		if _, ok := new(big.Rat).SetString(v.Value); !ok {
			return fmt.Errorf("invalid number %q", v.Value)
		}
		return nil
	case *types.AttributeValueMemberSS:
		if len(v.Value) == 0 {
			return fmt.Errorf("empty string set")
		}
		return nil
	case *types.AttributeValueMemberNS:
		if len(v.Value) == 0 {
			return fmt.Errorf("empty number set")
		}
		return nil
	case *types.AttributeValueMemberBS:
		if len(v.Value) == 0 {
			return fmt.Errorf("empty binary set")
		}
		return nil
	case *types.AttributeValueMemberL:
		for i, e := range v.Value {
			if err := validateValue(e); err != nil {
				return fmt.Errorf("list element %d: %w", i, err)
			}
		}
		return nil
	case *types.AttributeValueMemberM:
		for k, e := range v.Value {
			if err := validateValue(e); err != nil {
				return fmt.Errorf("map key %q: %w", k, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("unsupported attribute value type %T", v)
	}
}

// keyString maps a hash-key value to the string the table indexes by. Numbers
// are canonicalised ("1" and "1.0" are the same key in DynamoDB).
func keyString(v types.AttributeValue) (string, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		if v.Value == "" {
			return "", fmt.Errorf("empty string key")
		}
		return "S:" + v.Value, nil
	case *types.AttributeValueMemberN:
		r, ok := new(big.Rat).SetString(v.Value)
		if !ok {
			return "", fmt.Errorf("invalid number key %q", v.Value)
		}
		return "N:" + r.RatString(), nil
	case *types.AttributeValueMemberB:
		if len(v.Value) == 0 {
			return "", fmt.Errorf("empty binary key")
		}
		return "B:" + string(v.Value), nil
	default:
		return "", fmt.Errorf("key must be S, N or B, got %T", v)
	}
}

// itemSize approximates DynamoDB's item size: attribute names plus values,
// with numbers at roughly one byte per two digits.
func itemSize(it Item) int64 {
	var n int64
	for k, v := range it {
		n += int64(len(k)) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int64 {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return int64(len(v.Value))
	case *types.AttributeValueMemberN:
		return int64(len(v.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return int64(len(v.Value))
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		var n int64
		for _, s := range v.Value {
			n += int64(len(s))
		}
		return n
	case *types.AttributeValueMemberNS:
		var n int64
		for _, s := range v.Value {
			n += int64(len(s)+1)/2 + 1
		}
		return n
	case *types.AttributeValueMemberBS:
		var n int64
		for _, b := range v.Value {
			n += int64(len(b))
		}
		return n
	case *types.AttributeValueMemberL:
		n := int64(3)
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + itemSize(v.Value) + int64(len(v.Value))
	default:
		return 0
	}
}

// equalItems reports whether two items hold the same data; DynamoDB Streams
// writes no record for a write that changes nothing.
func equalItems(a, b Item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !equalValues(av, bv) {
			return false
		}
	}
	return true
}

func equalValues(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		if !ok {
			return false
		}
		ka, erra := keyString(a)
		kb, errb := keyString(b)
		return erra == nil && errb == nil && ka == kb
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return ok && bytes.Equal(a.Value, b.Value)
	case *types.AttributeValueMemberBOOL:
		b, ok := b.(*types.AttributeValueMemberBOOL)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberNULL:
		_, ok := b.(*types.AttributeValueMemberNULL)
		return ok
	case *types.AttributeValueMemberSS:
		b, ok := b.(*types.AttributeValueMemberSS)
		return ok && sameSet(a.Value, b.Value)
	case *types.AttributeValueMemberNS:
		b, ok := b.(*types.AttributeValueMemberNS)
		return ok && sameSet(a.Value, b.Value)
	case *types.AttributeValueMemberBS:
		b, ok := b.(*types.AttributeValueMemberBS)
		if !ok || len(a.Value) != len(b.Value) {
			return false
		}
		as := make([]string, len(a.Value))
		bs := make([]string, len(b.Value))
		for i := range a.Value {
			as[i], bs[i] = string(a.Value[i]), string(b.Value[i])
		}
		return sameSet(as, bs)
	case *types.AttributeValueMemberL:
		b, ok := b.(*types.AttributeValueMemberL)
		return ok && slices.EqualFunc(a.Value, b.Value, equalValues)
	case *types.AttributeValueMemberM:
		b, ok := b.(*types.AttributeValueMemberM)
		return ok && equalItems(a.Value, b.Value)
	default:
		return false
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	as, bs := slices.Clone(a), slices.Clone(b)
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// ToEventImage converts an SDK item into the attribute map that DynamoDB
// Streams delivers to Lambda (events.DynamoDBStreamRecord.NewImage/OldImage).
// A nil item converts to a nil image.
func ToEventImage(item map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if item == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		ev, err := ToEventValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = ev
	}
	return out, nil
}

// ToEventValue converts one SDK attribute value into its aws-lambda-go events
// representation.
func ToEventValue(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(bytes.Clone(v.Value)), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(slices.Clone(v.Value)), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(slices.Clone(v.Value)), nil
	case *types.AttributeValueMemberBS:
		out := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			out[i] = bytes.Clone(b)
		}
		return events.NewBinarySetAttribute(out), nil
	case *types.AttributeValueMemberL:
		out := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			ev, err := ToEventValue(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, fmt.Errorf("list element %d: %w", i, err)
			}
			out[i] = ev
		}
		return events.NewListAttribute(out), nil
	case *types.AttributeValueMemberM:
		m, err := ToEventImage(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		if m == nil {
			m = map[string]events.DynamoDBAttributeValue{}
		}
		return events.NewMapAttribute(m), nil
	default:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value type %T", v)
	}
}

// FromEventImage converts a stream image (as received by a Lambda handler)
// back into an SDK item. A nil image converts to a nil item.
func FromEventImage(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if img == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := FromEventValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// FromEventValue converts one aws-lambda-go events attribute value into the
// SDK representation. The zero events.DynamoDBAttributeValue (which claims to
// be Binary but holds nothing) is rejected rather than turned into garbage.
func FromEventValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		if v.IsNull() {
			return nil, fmt.Errorf("zero or empty binary attribute value")
		}
		return &types.AttributeValueMemberB{Value: bytes.Clone(v.Binary())}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: slices.Clone(v.StringSet())}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: slices.Clone(v.NumberSet())}, nil
	case events.DataTypeBinarySet:
		in := v.BinarySet()
		out := make([][]byte, len(in))
		for i, b := range in {
			out[i] = bytes.Clone(b)
		}
		return &types.AttributeValueMemberBS{Value: out}, nil
	case events.DataTypeList:
		in := v.List()
		out := make([]types.AttributeValue, len(in))
		for i, e := range in {
			av, err := FromEventValue(e)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := FromEventImage(v.Map())
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = Item{}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	default:
		return nil, fmt.Errorf("unsupported events attribute data type %d", v.DataType())
	}
}
