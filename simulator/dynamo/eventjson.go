package dynamo

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The stream's JSON encoder writes a record straight from the table's items, as
// encoding/json writes the aws-lambda-go events form (DynamoDBAttributeValue's
// MarshalJSON, compacted; map keys sorted; strings escaped as encoding/json escapes
// them, HTML characters included): a stream mapping's batch costs one pass over its
// records instead of a conversion and a reflective encoding of each.

// checkItem reports an attribute value the events form has no representation for.
func checkItem(it Item) error {
	for k, v := range it {
		if err := checkValue(v); err != nil {
			return fmt.Errorf("attribute %q: %w", k, err)
		}
	}
	return nil
}

func checkValue(v types.AttributeValue) error {
	switch v := v.(type) {
	case *types.AttributeValueMemberS, *types.AttributeValueMemberN, *types.AttributeValueMemberB,
		*types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL, *types.AttributeValueMemberSS,
		*types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
		return nil
	case *types.AttributeValueMemberL:
		for i, e := range v.Value {
			if err := checkValue(e); err != nil {
				return fmt.Errorf("list element %d: %w", i, err)
			}
		}
		return nil
	case *types.AttributeValueMemberM:
		return checkItem(v.Value)
	default:
		return fmt.Errorf("unsupported attribute value type %T", v)
	}
}

// appendJSONImage appends an image (a JSON object of attribute values, keys sorted).
func appendJSONImage(b []byte, it Item) []byte {
	keys := make([]string, 0, len(it))
	for k := range it {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONValue(b, it[k])
	}
	return append(b, '}')
}

// appendJSONValue appends one attribute value ({"S":"..."} and the like).
func appendJSONValue(b []byte, v types.AttributeValue) []byte {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		b = appendJSONString(append(b, `{"S":`...), v.Value)
	case *types.AttributeValueMemberN:
		b = appendJSONString(append(b, `{"N":`...), v.Value)
	case *types.AttributeValueMemberB:
		b = appendJSONBytes(append(b, `{"B":`...), v.Value)
	case *types.AttributeValueMemberBOOL:
		b = append(b, `{"BOOL":`...)
		if v.Value {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
	case *types.AttributeValueMemberNULL:
		return append(b, `{"NULL":true}`...)
	case *types.AttributeValueMemberSS:
		b = appendJSONStrings(append(b, `{"SS":`...), v.Value)
	case *types.AttributeValueMemberNS:
		b = appendJSONStrings(append(b, `{"NS":`...), v.Value)
	case *types.AttributeValueMemberBS:
		// The events form makes a fresh slice of every list and set: never null.
		b = append(b, `{"BS":[`...)
		for i, e := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONBytes(b, e)
		}
		b = append(b, ']')
	case *types.AttributeValueMemberL:
		b = append(b, `{"L":[`...)
		for i, e := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, e)
		}
		b = append(b, ']')
	case *types.AttributeValueMemberM:
		b = appendJSONImage(append(b, `{"M":`...), v.Value)
	default: // checkItem refused it at append
		panic(fmt.Sprintf("dynamo: unsupported attribute value type %T", v))
	}
	return append(b, '}')
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONBytes appends bytes as encoding/json does: a base64 string, null for nil.
func appendJSONBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes it (HTML escaping on,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	if !strings.ContainsFunc(s, needsEscape) {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if !needsEscape(rune(c)) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// needsEscape reports a rune appendJSONString cannot copy as it is: quotes,
// backslashes, control and HTML characters, and everything beyond ASCII (checked
// rune by rune for invalid UTF-8 and the line separators).
func needsEscape(r rune) bool {
	return r < 0x20 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r >= utf8.RuneSelf
}
