package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/iot-dr/iot-dr/simulator/internal/uuid"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ErrPayloadNotJSONObject is returned (wrapped) by Evaluate when the statement
// needs the payload but the payload is not a JSON object.
var ErrPayloadNotJSONObject = errors.New("payload is not a JSON object")

// Env supplies the non-deterministic inputs of an evaluation. The zero value
// uses the wall clock and random version-4 UUIDs. The functions must be safe
// for concurrent use when evaluations run concurrently (as Engine.Handle may).
type Env struct {
	// Now backs timestamp(); it is read at most once per message.
	Now func() time.Time
	// NewUUID backs newuuid(); it is called once per call site and message.
	NewUUID func() string
}

// Evaluate runs the statement on one message with the wall clock and random
// UUIDs. See EvaluateEnv.
func (s *Statement) Evaluate(topic string, payload []byte) (out map[string]any, matched bool, err error) {
	return s.EvaluateEnv(topic, payload, Env{})
}

// EvaluateEnv runs WHERE and then SELECT on one message. matched is false,
// with a nil error, when the topic does not match the FROM filter or WHERE is
// not true. out holds JSON-shaped values: string, bool, nil, json.Number,
// map[string]any and []any; Undefined results are omitted. An error (only
// possible for a topic that matches) means the message could not be
// evaluated, e.g. ErrPayloadNotJSONObject; out is then nil and matched false.
func (s *Statement) EvaluateEnv(topic string, payload []byte, env Env) (out map[string]any, matched bool, err error) {
	if !s.filter.match(topic) {
		return nil, false, nil
	}
	c := evalCtx{topic: topic, payload: payload, env: env}
	if s.where != nil {
		v := s.where.eval(&c)
		if c.err != nil {
			return nil, false, c.err
		}
		if b, ok := v.(bool); !ok || !b {
			return nil, false, nil
		}
	}
	size := len(s.cols)
	var doc map[string]any
	if s.star {
		if doc = c.document(); c.err != nil {
			return nil, false, c.err
		}
		size += len(doc)
	}
	out = make(map[string]any, size)
	for k, v := range doc {
		out[k] = v
	}
	for _, col := range s.cols {
		v := col.e.eval(&c)
		if c.err != nil {
			return nil, false, c.err
		}
		if _, undef := v.(undefined); undef {
			continue
		}
		out[col.name] = outputValue(v)
	}
	return out, true, nil
}

// evalCtx is the per-message state of one evaluation. The payload is decoded
// lazily so that a WHERE clause on topic() alone rejects messages cheaply.
type evalCtx struct {
	topic   string
	payload []byte
	env     Env
	decoded bool
	doc     map[string]any
	err     error // first payload error; aborts the evaluation
	haveNow bool
	now     int64
}

func (c *evalCtx) document() map[string]any {
	if c.decoded {
		return c.doc
	}
	c.decoded = true
	doc, err := decodeObject(c.payload)
	if err != nil {
		c.err = fmt.Errorf("evaluating topic %q: %w", c.topic, err)
		return nil
	}
	c.doc = doc
	return doc
}

func (c *evalCtx) timestamp() int64 {
	if !c.haveNow {
		now := time.Now
		if c.env.Now != nil {
			now = c.env.Now
		}
		c.now, c.haveNow = now().UnixMilli(), true
	}
	return c.now
}

// decodeObject decodes a payload that must be one JSON object (or empty),
// keeping numbers as json.Number so their text survives exactly.
func decodeObject(payload []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %d-byte payload: %v", ErrPayloadNotJSONObject, len(payload), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: %d-byte payload has data after the JSON value", ErrPayloadNotJSONObject, len(payload))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %d-byte payload is a JSON %s", ErrPayloadNotJSONObject, len(payload), jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	default:
		return "null"
	}
}

// Values during evaluation are plain Go values, told apart by type switches:
// undefined{} (Undefined), nil (Null), bool, string, int64 (Int), float64
// (Decimal), json.Number (a payload number, Int or Decimal by its text),
// map[string]any (Object) and []any (Array).
type undefined struct{}

type expr interface {
	eval(c *evalCtx) any
}

type literal struct{ v any }

func (e *literal) eval(*evalCtx) any { return e.v }

type fieldExpr struct{ path []string }

func (e *fieldExpr) eval(c *evalCtx) any {
	var cur any = c.document()
	if c.err != nil {
		return undefined{}
	}
	for _, k := range e.path {
		m, ok := cur.(map[string]any)
		if !ok {
			return undefined{}
		}
		if cur, ok = m[k]; !ok {
			return undefined{}
		}
	}
	return cur
}

type newUUIDExpr struct{}

func (*newUUIDExpr) eval(c *evalCtx) any {
	if c.env.NewUUID != nil {
		return c.env.NewUUID()
	}
	return uuid.New()
}

type timestampExpr struct{}

func (*timestampExpr) eval(c *evalCtx) any { return c.timestamp() }

type topicExpr struct{ index expr } // index nil: whole topic

func (e *topicExpr) eval(c *evalCtx) any {
	if e.index == nil {
		return c.topic
	}
	n, ok := toIntFloor(e.index.eval(c))
	if !ok {
		return undefined{}
	}
	s, ok := topicLevel(c.topic, n)
	if !ok {
		return undefined{}
	}
	return s
}

type floorExpr struct{ e expr }

func (e *floorExpr) eval(c *evalCtx) any {
	v := e.e.eval(c)
	if i, ok := v.(int64); ok {
		return i
	}
	if n, ok := toNumber(v, true); ok {
		if n.isInt {
			return n.i
		}
		return floatToInt(math.Floor(n.f))
	}
	return undefined{}
}

type caseExpr struct {
	upper bool
	e     expr
}

func (e *caseExpr) eval(c *evalCtx) any {
	s, ok := toString(e.e.eval(c))
	if !ok {
		return undefined{}
	}
	if e.upper {
		return strings.ToUpper(s)
	}
	return strings.ToLower(s)
}

type notExpr struct{ e expr }

func (e *notExpr) eval(c *evalCtx) any {
	b, ok := toBool(e.e.eval(c))
	if !ok {
		return undefined{}
	}
	return !b
}

// andExpr and orExpr evaluate both sides: per the AWS operator tables a
// non-Boolean operand makes the result Undefined, even next to a false/true.
type andExpr struct{ l, r expr }

func (e *andExpr) eval(c *evalCtx) any {
	l, lok := toBool(e.l.eval(c))
	r, rok := toBool(e.r.eval(c))
	if !lok || !rok {
		return undefined{}
	}
	return l && r
}

type orExpr struct{ l, r expr }

func (e *orExpr) eval(c *evalCtx) any {
	l, lok := toBool(e.l.eval(c))
	r, rok := toBool(e.r.eval(c))
	if !lok || !rok {
		return undefined{}
	}
	return l || r
}

type negExpr struct{ e expr }

func (e *negExpr) eval(c *evalCtx) any {
	n, ok := toNumber(e.e.eval(c), true)
	switch {
	case !ok:
		return undefined{}
	case n.isInt && n.i != math.MinInt64:
		return -n.i
	case n.isInt:
		return -float64(n.i)
	default:
		return -n.f
	}
}

type cmpOp uint8

const (
	opEQ cmpOp = iota + 1
	opNEQ
	opLT
	opGT
	opLE
	opGE
)

type cmpExpr struct {
	op   cmpOp
	l, r expr
}

func (e *cmpExpr) eval(c *evalCtx) any {
	l, r := e.l.eval(c), e.r.eval(c)
	if isUndefined(l) || isUndefined(r) {
		return undefined{}
	}
	switch e.op {
	case opEQ:
		return equal(l, r)
	case opNEQ:
		return !equal(l, r)
	}
	// Ordering converts both sides to numbers; strings must parse.
	a, aok := toNumber(l, true)
	b, bok := toNumber(r, true)
	if !aok || !bok {
		return undefined{}
	}
	cmp := compareNumbers(a, b)
	switch e.op {
	case opLT:
		return cmp < 0
	case opGT:
		return cmp > 0
	case opLE:
		return cmp <= 0
	default:
		return cmp >= 0
	}
}

type arithOp uint8

const (
	opAdd arithOp = iota + 1
	opSub
	opMul
	opDiv
)

type arithExpr struct {
	op   arithOp
	l, r expr
}

func (e *arithExpr) eval(c *evalCtx) any {
	l, r := e.l.eval(c), e.r.eval(c)
	if isUndefined(l) || isUndefined(r) {
		return undefined{}
	}
	if e.op == opAdd {
		_, ls := l.(string)
		_, rs := r.(string)
		if ls || rs {
			a, aok := toString(l)
			b, bok := toString(r)
			if !aok || !bok {
				return undefined{}
			}
			return a + b
		}
	}
	// + accepts only numbers; - * / also accept numeric strings.
	a, aok := toNumber(l, e.op != opAdd)
	b, bok := toNumber(r, e.op != opAdd)
	if !aok || !bok {
		return undefined{}
	}
	if a.isInt && b.isInt {
		if v, ok := intArith(e.op, a.i, b.i); ok {
			return v
		}
		if e.op == opDiv && b.i == 0 {
			return undefined{}
		}
	}
	x, y := a.float(), b.float()
	var f float64
	switch e.op {
	case opAdd:
		f = x + y
	case opSub:
		f = x - y
	case opMul:
		f = x * y
	default:
		if y == 0 {
			return undefined{}
		}
		f = x / y
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return undefined{}
	}
	return f
}

// intArith does Int op Int; ok is false on overflow or division by zero.
func intArith(op arithOp, a, b int64) (int64, bool) {
	switch op {
	case opAdd:
		s := a + b
		return s, (a >= 0) != (b >= 0) || (s >= 0) == (a >= 0)
	case opSub:
		d := a - b
		return d, (a >= 0) == (b >= 0) || (d >= 0) == (a >= 0)
	case opMul:
		if a == 0 || b == 0 {
			return 0, true
		}
		neg := (a < 0) != (b < 0)
		hi, lo := bits.Mul64(absU(a), absU(b))
		if hi != 0 || (!neg && lo > math.MaxInt64) || (neg && lo > 1<<63) {
			return 0, false
		}
		if neg {
			return int64(-lo), true
		}
		return int64(lo), true
	default:
		if b == 0 || (a == math.MinInt64 && b == -1) {
			return 0, false
		}
		return a / b, true // truncates toward zero
	}
}

func absU(a int64) uint64 {
	if a < 0 {
		return uint64(-(a + 1)) + 1
	}
	return uint64(a)
}

func isUndefined(v any) bool {
	_, ok := v.(undefined)
	return ok
}

// number is an Int or a Decimal.
type number struct {
	isInt bool
	i     int64
	f     float64
}

func (n number) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}

// toNumber converts Int, Decimal and payload numbers; with strs, also
// strings in AWS's decimal syntax (^-?\d+(\.\d+)?([eE]-?\d+)?$), which
// become Decimal.
func toNumber(v any, strs bool) (number, bool) {
	switch x := v.(type) {
	case int64:
		return number{isInt: true, i: x}, true
	case float64:
		return number{f: x}, true
	case json.Number:
		return parseNumber(string(x))
	case string:
		if !strs || !isDecimalString(x) {
			return number{}, false
		}
		f, err := strconv.ParseFloat(x, 64)
		if err != nil || math.IsInf(f, 0) {
			return number{}, false
		}
		return number{f: f}, true
	}
	return number{}, false
}

func parseNumber(s string) (number, bool) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return number{isInt: true, i: i}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return number{}, false
	}
	return number{f: f}, true
}

func isDecimalString(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && s[i] == '-' {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// toIntFloor converts a number (or numeric string) to an Int, rounding down.
func toIntFloor(v any) (int64, bool) {
	n, ok := toNumber(v, true)
	if !ok {
		return 0, false
	}
	if n.isInt {
		return n.i, true
	}
	f := math.Floor(n.f)
	if f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// floatToInt turns an integral float into an Int when it fits, else keeps
// it as a Decimal.
func floatToInt(f float64) any {
	if f >= math.MinInt64 && f < math.MaxInt64 {
		return int64(f)
	}
	return f
}

func compareNumbers(a, b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.float(), b.float()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// equal implements = for defined values: numbers compare by value (Int is
// widened to Decimal), arrays in order, objects by keys and values, and
// mismatched types are simply unequal.
func equal(a, b any) bool {
	if an, ok := toNumber(a, false); ok {
		bn, ok := toNumber(b, false)
		return ok && compareNumbers(an, bn) == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// toBool accepts Booleans and the strings "true"/"false" in any case.
func toBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch {
		case strings.EqualFold(x, "true"):
			return true, true
		case strings.EqualFold(x, "false"):
			return false, true
		}
	}
	return false, false
}

// toString applies AWS's standard string conversion; Null and Undefined do
// not convert.
func toString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return formatDecimal(x), true
	case json.Number:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	return "", false
}

// formatDecimal prints a Decimal as JSON number text: integral values
// without fraction or exponent, others in their shortest exact form.
func formatDecimal(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// outputValue converts an evaluation result to the JSON-shaped value handed
// to actions.
func outputValue(v any) any {
	switch x := v.(type) {
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float64:
		return json.Number(formatDecimal(x))
	}
	return v
}
