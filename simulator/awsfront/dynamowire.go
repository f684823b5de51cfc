package awsfront

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// dynamoTargetPrefix is the X-Amz-Target prefix of DynamoDB's JSON 1.0 protocol.
const dynamoTargetPrefix = "DynamoDB_20120810."

// dynamoErrorNamespace prefixes DynamoDB's error __type.
const dynamoErrorNamespace = "com.amazonaws.dynamodb.v20120810#"

// serveDynamo answers DynamoDB's JSON 1.0 protocol (POST /, the operation in
// X-Amz-Target) for DescribeTable, GetItem and PutItem on the Region's tables (the
// state table's replica, the error and the apply-mark table).
func (h *handler) serveDynamo(w http.ResponseWriter, r *http.Request, b *backend, body []byte) string {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), dynamoTargetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeDynamoError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException",
			"DynamoDB requests are POST / with X-Amz-Target: %s<Operation>", dynamoTargetPrefix))
		return ""
	}
	var in struct {
		TableName                 string
		Key, Item                 map[string]json.RawMessage
		ConsistentRead            *bool
		ProjectionExpression      *string
		ConditionExpression       *string
		ExpressionAttributeNames  map[string]string
		ExpressionAttributeValues map[string]json.RawMessage
		ReturnValues              types.ReturnValue
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeDynamoError(w, newAPIError(http.StatusBadRequest, "SerializationException", "request body is not a valid %s input: %v", op, err))
		return op
	}
	t := b.table(in.TableName)
	if t == nil && (op == "DescribeTable" || op == "GetItem" || op == "PutItem") {
		writeDynamoError(w, newAPIError(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Table: %s not found", in.TableName))
		return op
	}
	ctx := r.Context()
	switch op {
	case "DescribeTable":
		out, err := t.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(in.TableName)})
		if err != nil {
			writeDynamoError(w, dynamoError(err))
			return op
		}
		writeDynamo(w, http.StatusOK, map[string]any{"Table": tableJSON(out.Table)})
	case "GetItem":
		key, err := itemFromJSON(in.Key)
		if err != nil {
			writeDynamoError(w, newAPIError(http.StatusBadRequest, "ValidationException", "Key: %v", err))
			return op
		}
		out, err := t.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(in.TableName), Key: key, ConsistentRead: in.ConsistentRead,
			ProjectionExpression: in.ProjectionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames})
		if err != nil {
			writeDynamoError(w, dynamoError(err))
			return op
		}
		ans := map[string]any{}
		if out.Item != nil {
			ans["Item"] = itemJSON(out.Item)
		}
		writeDynamo(w, http.StatusOK, ans)
	case "PutItem":
		item, err := itemFromJSON(in.Item)
		if err == nil && len(in.Item) == 0 {
			err = errors.New("missing")
		}
		if err != nil {
			writeDynamoError(w, newAPIError(http.StatusBadRequest, "ValidationException", "Item: %v", err))
			return op
		}
		values, err := itemFromJSON(in.ExpressionAttributeValues)
		if err != nil {
			writeDynamoError(w, newAPIError(http.StatusBadRequest, "ValidationException", "ExpressionAttributeValues: %v", err))
			return op
		}
		out, err := t.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(in.TableName), Item: item, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: values, ReturnValues: in.ReturnValues})
		if err != nil {
			writeDynamoError(w, dynamoError(err))
			return op
		}
		ans := map[string]any{}
		if out.Attributes != nil {
			ans["Attributes"] = itemJSON(out.Attributes)
		}
		writeDynamo(w, http.StatusOK, ans)
	default:
		writeDynamoError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException",
			"DynamoDB operation %q is not served by the simulator; it serves DescribeTable, GetItem and PutItem", op))
	}
	return op
}

// table finds one of the Region's tables by name or ARN.
func (b *backend) table(name string) *dynamo.Table {
	for _, t := range b.Tables {
		if t.Schema().Name == name || t.ARN() == name {
			return t
		}
	}
	return nil
}

// dynamoError is the wire error of a table call: DynamoDB answers client errors 400
// and its own faults 500, whatever the error.
func dynamoError(err error) *apiError {
	var api smithy.APIError
	if errors.As(err, &api) {
		status := http.StatusBadRequest
		if api.ErrorFault() == smithy.FaultServer || api.ErrorCode() == "InternalServerError" {
			status = http.StatusInternalServerError
		}
		return newAPIError(status, api.ErrorCode(), "%s", api.ErrorMessage())
	}
	return fromError(err)
}

func writeDynamoError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("X-Amzn-Errortype", e.code)
	writeDynamo(w, e.status, map[string]any{"__type": dynamoErrorNamespace + e.code, "message": e.msg})
}

// writeDynamo answers with v as JSON 1.0 and the body's CRC32 in X-Amz-Crc32, which
// the DynamoDB client checks on every response.
func writeDynamo(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]any{"__type": dynamoErrorNamespace + "InternalServerError", "message": "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// tableJSON is the wire form of the parts of a TableDescription the table reports.
func tableJSON(t *types.TableDescription) map[string]any {
	out := map[string]any{
		"TableName": aws.ToString(t.TableName), "TableArn": aws.ToString(t.TableArn), "TableStatus": string(t.TableStatus),
		"ItemCount": aws.ToInt64(t.ItemCount), "CreationDateTime": epochSeconds(aws.ToTime(t.CreationDateTime)),
	}
	var keys, attrs []map[string]string
	for _, k := range t.KeySchema {
		keys = append(keys, map[string]string{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
	}
	for _, a := range t.AttributeDefinitions {
		attrs = append(attrs, map[string]string{"AttributeName": aws.ToString(a.AttributeName), "AttributeType": string(a.AttributeType)})
	}
	out["KeySchema"], out["AttributeDefinitions"] = keys, attrs
	if t.BillingModeSummary != nil {
		out["BillingModeSummary"] = map[string]string{"BillingMode": string(t.BillingModeSummary.BillingMode)}
	}
	if s := t.StreamSpecification; s != nil {
		out["StreamSpecification"] = map[string]any{"StreamEnabled": aws.ToBool(s.StreamEnabled), "StreamViewType": string(s.StreamViewType)}
		out["LatestStreamArn"] = aws.ToString(t.LatestStreamArn)
	}
	if len(t.Replicas) > 0 {
		var reps []map[string]string
		for _, r := range t.Replicas {
			reps = append(reps, map[string]string{"RegionName": aws.ToString(r.RegionName), "ReplicaStatus": string(r.ReplicaStatus)})
		}
		out["Replicas"], out["GlobalTableVersion"] = reps, aws.ToString(t.GlobalTableVersion)
	}
	return out
}

// itemJSON is an item in DynamoDB's JSON ({"S": "..."} per value).
func itemJSON(item map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(item))
	for k, v := range item {
		out[k] = valueJSON(v)
	}
	return out
}

func valueJSON(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]string{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]string{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]string{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]bool{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]bool{"NULL": v.Value}
	case *types.AttributeValueMemberSS:
		return map[string][]string{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string][]string{"NS": v.Value}
	case *types.AttributeValueMemberBS:
		var bs []string
		for _, b := range v.Value {
			bs = append(bs, base64.StdEncoding.EncodeToString(b))
		}
		return map[string][]string{"BS": bs}
	case *types.AttributeValueMemberL:
		l := make([]any, 0, len(v.Value))
		for _, e := range v.Value {
			l = append(l, valueJSON(e))
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": itemJSON(v.Value)}
	}
	return map[string]any{}
}

// itemFromJSON decodes an item (or key, or expression values) from DynamoDB's JSON.
func itemFromJSON(raw map[string]json.RawMessage) (map[string]types.AttributeValue, error) {
	if raw == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(raw))
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names) // the first bad attribute named is the same every time
	for _, k := range names {
		v, err := valueFromJSON(raw[k])
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func valueFromJSON(raw json.RawMessage) (types.AttributeValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not an attribute value: %v", err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("an attribute value has exactly one type, got %d", len(m))
	}
	for typ, v := range m {
		switch typ {
		case "S", "N":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("%s: %v", typ, err)
			}
			if typ == "S" {
				return &types.AttributeValueMemberS{Value: s}, nil
			}
			return &types.AttributeValueMemberN{Value: s}, nil
		case "B":
			var b []byte // encoding/json decodes base64
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, fmt.Errorf("type B: %v", err)
			}
			return &types.AttributeValueMemberB{Value: b}, nil
		case "BOOL", "NULL":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, fmt.Errorf("%s: %v", typ, err)
			}
			if typ == "BOOL" {
				return &types.AttributeValueMemberBOOL{Value: b}, nil
			}
			return &types.AttributeValueMemberNULL{Value: b}, nil
		case "SS", "NS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, fmt.Errorf("%s: %v", typ, err)
			}
			if typ == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}, nil
			}
			return &types.AttributeValueMemberNS{Value: ss}, nil
		case "BS":
			var bs [][]byte
			if err := json.Unmarshal(v, &bs); err != nil {
				return nil, fmt.Errorf("type BS: %v", err)
			}
			return &types.AttributeValueMemberBS{Value: bs}, nil
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, fmt.Errorf("type L: %v", err)
			}
			out := make([]types.AttributeValue, 0, len(l))
			for i, e := range l {
				ev, err := valueFromJSON(e)
				if err != nil {
					return nil, fmt.Errorf("type L[%d]: %w", i, err)
				}
				out = append(out, ev)
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "M":
			var mm map[string]json.RawMessage
			if err := json.Unmarshal(v, &mm); err != nil {
				return nil, fmt.Errorf("type M: %v", err)
			}
			item, err := itemFromJSON(mm)
			if err != nil {
				return nil, fmt.Errorf("type M: %w", err)
			}
			if item == nil {
				item = map[string]types.AttributeValue{}
			}
			return &types.AttributeValueMemberM{Value: item}, nil
		default:
			return nil, fmt.Errorf("unknown attribute type %q", typ)
		}
	}
	return nil, errors.New("unreachable")
}
