package rules

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fakeTable records PutItem calls and fails with err when set.
type fakeTable struct {
	puts []*dynamodb.PutItemInput
	err  error
}

func (f *fakeTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.puts = append(f.puts, in)
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.PutItemOutput{}, nil
}

func TestDynamoDBv2ActionConverts(t *testing.T) {
	table := &fakeTable{}
	a := DynamoDBv2Action{Table: table, TableName: "events"}
	msg := map[string]any{
		"uuid":    "u1",
		"version": json.Number("9007199254740993"),
		"temp":    json.Number("21.50"),
		"neg":     json.Number("-1e-7"),
		"i64":     int64(42),
		"f64":     2.5,
		"on":      true,
		"none":    nil,
		"empty":   "",
		"state":   map[string]any{"reported": map[string]any{"t": json.Number("1"), "tags": []any{"a", json.Number("2"), false, nil}}},
		"list":    []any{map[string]any{"k": "v"}},
	}
	if err := a.Run(context.Background(), msg); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(table.puts) != 1 {
		t.Fatalf("PutItem calls = %d, want 1", len(table.puts))
	}
	in := table.puts[0]
	if aws.ToString(in.TableName) != "events" {
		t.Errorf("TableName = %q, want events", aws.ToString(in.TableName))
	}
	want := map[string]types.AttributeValue{
		"uuid":    &types.AttributeValueMemberS{Value: "u1"},
		"version": &types.AttributeValueMemberN{Value: "9007199254740993"},
		"temp":    &types.AttributeValueMemberN{Value: "21.50"},
		"neg":     &types.AttributeValueMemberN{Value: "-1e-7"},
		"i64":     &types.AttributeValueMemberN{Value: "42"},
		"f64":     &types.AttributeValueMemberN{Value: "2.5"},
		"on":      &types.AttributeValueMemberBOOL{Value: true},
		"none":    &types.AttributeValueMemberNULL{Value: true},
		"empty":   &types.AttributeValueMemberS{Value: ""},
		"state": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"reported": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"t": &types.AttributeValueMemberN{Value: "1"},
				"tags": &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberS{Value: "a"},
					&types.AttributeValueMemberN{Value: "2"},
					&types.AttributeValueMemberBOOL{Value: false},
					&types.AttributeValueMemberNULL{Value: true},
				}},
			}},
		}},
		"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}},
		}},
	}
	if got, exp := renderItem(in.Item), renderItem(want); got != exp {
		t.Errorf("item =\n%s\nwant\n%s", got, exp)
	}
}

// renderItem prints an item deterministically for comparison.
func renderItem(item map[string]types.AttributeValue) string {
	var b strings.Builder
	var walk func(v types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			b.WriteString("S:" + x.Value)
		case *types.AttributeValueMemberN:
			b.WriteString("N:" + x.Value)
		case *types.AttributeValueMemberBOOL:
			if x.Value {
				b.WriteString("BOOL:true")
			} else {
				b.WriteString("BOOL:false")
			}
		case *types.AttributeValueMemberNULL:
			b.WriteString("NULL")
		case *types.AttributeValueMemberL:
			b.WriteString("L[")
			for _, e := range x.Value {
				walk(e)
				b.WriteString(",")
			}
			b.WriteString("]")
		case *types.AttributeValueMemberM:
			b.WriteString("M{")
			b.WriteString(renderItem(x.Value))
			b.WriteString("}")
		default:
			b.WriteString("?")
		}
	}
	keys := make([]string, 0, len(item))
	for k := range item {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(k + "=")
		walk(item[k])
		b.WriteString(";")
	}
	return b.String()
}

func TestDynamoDBv2ActionErrors(t *testing.T) {
	notFound := &types.ResourceNotFoundException{Message: aws.String("no table")}
	tests := []struct {
		name    string
		action  DynamoDBv2Action
		msg     map[string]any
		wantErr string
	}{
		{"no client", DynamoDBv2Action{TableName: "t"}, map[string]any{"a": "b"}, "no table client"},
		{"empty message", DynamoDBv2Action{Table: &fakeTable{}, TableName: "t"}, map[string]any{}, "empty message"},
		{"unsupported type", DynamoDBv2Action{Table: &fakeTable{}, TableName: "t"}, map[string]any{"a": struct{}{}}, `field "a": unsupported value type struct {}`},
		{"nested bad number", DynamoDBv2Action{Table: &fakeTable{}, TableName: "t"}, map[string]any{"a": []any{json.Number("x1")}}, `field "a": [0]: invalid number "x1"`},
		{"table error", DynamoDBv2Action{Table: &fakeTable{err: notFound}, TableName: "t"}, map[string]any{"a": "b"}, `put item into table "t"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.action.Run(context.Background(), tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	err := DynamoDBv2Action{Table: &fakeTable{err: notFound}, TableName: "t"}.Run(context.Background(), map[string]any{"a": "b"})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("table error %v does not wrap the SDK error", err)
	}
}
