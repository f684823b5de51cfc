package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PutItemAPI is the DynamoDB call the DynamoDBv2 action makes; *dynamodb.Client
// and the simulator's table fake both satisfy it.
type PutItemAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// DynamoDBv2Action is AWS IoT's DynamoDBv2 rule action: it writes each
// top-level field of the SELECT result as one attribute of a new item
// (replacing any item with the same key), converting JSON values as
// string->S, number->N (exact text), bool->BOOL, null->NULL, object->M,
// array->L. Key attributes must be among the fields; the table enforces it.
type DynamoDBv2Action struct {
	Table     PutItemAPI
	TableName string
}

// ActionName implements Describer with AWS's failedAction name.
func (a DynamoDBv2Action) ActionName() string { return "DynamoDBv2Action" }

// ActionResource implements Describer: the table name.
func (a DynamoDBv2Action) ActionResource() string { return a.TableName }

// Run writes msg as one item.
func (a DynamoDBv2Action) Run(ctx context.Context, msg map[string]any) error {
	if a.Table == nil {
		return fmt.Errorf("dynamodbv2 action on table %q: no table client", a.TableName)
	}
	item, err := ItemFromMessage(msg)
	if err != nil {
		return fmt.Errorf("dynamodbv2 action on table %q: %w", a.TableName, err)
	}
	if _, err := a.Table.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(a.TableName),
		Item:      item,
	}); err != nil {
		return fmt.Errorf("dynamodbv2 action: put item into table %q: %w", a.TableName, err)
	}
	return nil
}

// ItemFromMessage converts a SELECT result to a DynamoDB item, one attribute
// per top-level field.
func ItemFromMessage(msg map[string]any) (map[string]types.AttributeValue, error) {
	if len(msg) == 0 {
		return nil, errors.New("empty message: nothing to write")
	}
	item := make(map[string]types.AttributeValue, len(msg))
	for k, v := range msg {
		av, err := attributeValue(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		item[k] = av
	}
	return item, nil
}

func attributeValue(v any) (types.AttributeValue, error) {
	switch x := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return &types.AttributeValueMemberS{Value: x}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}, nil
	case json.Number:
		if _, ok := parseNumber(string(x)); !ok {
			return nil, fmt.Errorf("invalid number %q", string(x))
		}
		return &types.AttributeValueMemberN{Value: string(x)}, nil
	case int64:
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(x, 10)}, nil
	case int:
		return &types.AttributeValueMemberN{Value: strconv.Itoa(x)}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("number %v cannot be stored", x)
		}
		return &types.AttributeValueMemberN{Value: formatDecimal(x)}, nil
	case map[string]any:
		m := make(map[string]types.AttributeValue, len(x))
		for k, e := range x {
			av, err := attributeValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case []any:
		l := make([]types.AttributeValue, len(x))
		for i, e := range x {
			av, err := attributeValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}
