package trigger

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// ImageJSON converts a stream image back to the JSON object the capture rule wrote:
// DynamoDBv2 stores each top-level field as an attribute, so this is its inverse. Numbers
// keep their exact decimal text.
func ImageJSON(img map[string]events.DynamoDBAttributeValue) ([]byte, error) {
	m := make(map[string]any, len(img))
	for k, v := range img {
		x, err := plain(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		m[k] = x
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode image: %w", err)
	}
	return b, nil
}

func plain(v events.DynamoDBAttributeValue) (any, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return v.String(), nil
	case events.DataTypeNumber:
		return json.Number(v.Number()), nil
	case events.DataTypeBoolean:
		return v.Boolean(), nil
	case events.DataTypeNull:
		return nil, nil
	case events.DataTypeBinary:
		return base64.StdEncoding.EncodeToString(v.Binary()), nil
	case events.DataTypeStringSet:
		return v.StringSet(), nil
	case events.DataTypeNumberSet:
		ns := v.NumberSet()
		out := make([]json.Number, len(ns))
		for i, n := range ns {
			out[i] = json.Number(n)
		}
		return out, nil
	case events.DataTypeBinarySet:
		bs := v.BinarySet()
		out := make([]string, len(bs))
		for i, b := range bs {
			out[i] = base64.StdEncoding.EncodeToString(b)
		}
		return out, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]any, len(l))
		for i, e := range l {
			x, err := plain(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	case events.DataTypeMap:
		mm := v.Map()
		out := make(map[string]any, len(mm))
		for k, e := range mm {
			x, err := plain(e)
			if err != nil {
				return nil, fmt.Errorf(".%s: %w", k, err)
			}
			out[k] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported attribute type %d", v.DataType())
}
