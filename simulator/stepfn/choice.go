package stepfn

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

type ruleOp uint8

const (
	opAnd ruleOp = iota + 1
	opOr
	opNot
	opStringEquals
	opStringMatches
	opNumericEquals
	opNumericLessThan
	opNumericGreaterThan
	opNumericLessThanEquals
	opNumericGreaterThanEquals
	opBooleanEquals
	opIsPresent
	opIsNull
)

var comparators = map[string]ruleOp{
	"StringEquals":             opStringEquals,
	"StringMatches":            opStringMatches,
	"NumericEquals":            opNumericEquals,
	"NumericLessThan":          opNumericLessThan,
	"NumericGreaterThan":       opNumericGreaterThan,
	"NumericLessThanEquals":    opNumericLessThanEquals,
	"NumericGreaterThanEquals": opNumericGreaterThanEquals,
	"BooleanEquals":            opBooleanEquals,
	"IsPresent":                opIsPresent,
	"IsNull":                   opIsNull,
}

// unsupportedComparators are valid ASL that the simulator does not model;
// they are named explicitly so the refusal is precise.
var unsupportedComparators = []string{
	"StringEqualsPath", "StringLessThan", "StringLessThanPath", "StringGreaterThan",
	"StringGreaterThanPath", "StringLessThanEquals", "StringLessThanEqualsPath",
	"StringGreaterThanEquals", "StringGreaterThanEqualsPath", "NumericEqualsPath",
	"NumericLessThanPath", "NumericGreaterThanPath", "NumericLessThanEqualsPath",
	"NumericGreaterThanEqualsPath", "BooleanEqualsPath", "TimestampEquals",
	"TimestampEqualsPath", "TimestampLessThan", "TimestampLessThanPath",
	"TimestampGreaterThan", "TimestampGreaterThanPath", "TimestampLessThanEquals",
	"TimestampLessThanEqualsPath", "TimestampGreaterThanEquals",
	"TimestampGreaterThanEqualsPath", "IsNumeric", "IsString", "IsBoolean",
	"IsTimestamp", "Condition", "Assign",
}

// rule is a compiled Choice rule.
type rule struct {
	op   ruleOp
	path *refPath
	str  string
	num  float64
	b    bool
	glob []globTok
	sub  []*rule
	next string // top-level rules only
}

// compileRule compiles a Choice rule; top says whether it is a top-level
// rule (which must have Next) or nested in And/Or/Not (which must not).
func compileRule(v any, where string, top bool) (*rule, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a choice rule must be an object", where)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := &rule{}
	var opKey string
	for _, k := range keys {
		switch k {
		case "Next", "Variable", "Comment":
			continue
		case "And", "Or", "Not":
		default:
			if _, ok := comparators[k]; !ok {
				for _, u := range unsupportedComparators {
					if u == k {
						return nil, fmt.Errorf("%s/%s: choice operator %q is not supported by the simulator", where, k, k)
					}
				}
				return nil, fmt.Errorf("%s/%s: unknown field %q in choice rule", where, k, k)
			}
		}
		if opKey != "" {
			return nil, fmt.Errorf("%s: choice rule has both %q and %q; exactly one operator is allowed", where, opKey, k)
		}
		opKey = k
	}
	if opKey == "" {
		return nil, fmt.Errorf("%s: choice rule has no operator", where)
	}
	if next, ok := m["Next"]; ok {
		if !top {
			return nil, fmt.Errorf("%s/Next: nested choice rules must not have Next", where)
		}
		s, ok := next.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s/Next: must be a non-empty string", where)
		}
		r.next = s
	} else if top {
		return nil, fmt.Errorf("%s: top-level choice rule is missing Next", where)
	}
	if c, ok := m["Comment"]; ok {
		if _, ok := c.(string); !ok {
			return nil, fmt.Errorf("%s/Comment: must be a string", where)
		}
	}
	val := m[opKey]
	switch opKey {
	case "And", "Or":
		if _, ok := m["Variable"]; ok {
			return nil, fmt.Errorf("%s/Variable: not allowed with %s", where, opKey)
		}
		arr, ok := val.([]any)
		if !ok || len(arr) == 0 {
			return nil, fmt.Errorf("%s/%s: must be a non-empty array of rules", where, opKey)
		}
		r.op = opAnd
		if opKey == "Or" {
			r.op = opOr
		}
		for i, e := range arr {
			sub, err := compileRule(e, fmt.Sprintf("%s/%s/%d", where, opKey, i), false)
			if err != nil {
				return nil, err
			}
			r.sub = append(r.sub, sub)
		}
		return r, nil
	case "Not":
		if _, ok := m["Variable"]; ok {
			return nil, fmt.Errorf("%s/Variable: not allowed with Not", where)
		}
		sub, err := compileRule(val, where+"/Not", false)
		if err != nil {
			return nil, err
		}
		r.op, r.sub = opNot, []*rule{sub}
		return r, nil
	}
	vs, ok := m["Variable"].(string)
	if !ok {
		return nil, fmt.Errorf("%s/Variable: a %s rule needs a Variable path string", where, opKey)
	}
	p, err := parsePath(vs, true)
	if err != nil {
		return nil, fmt.Errorf("%s/Variable: %w", where, err)
	}
	r.path, r.op = p, comparators[opKey]
	switch r.op {
	case opStringEquals, opStringMatches:
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("%s/%s: must be a string", where, opKey)
		}
		r.str = s
		if r.op == opStringMatches {
			if r.glob, err = compileGlob(s); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", where, opKey, err)
			}
		}
	case opBooleanEquals, opIsPresent, opIsNull:
		b, ok := val.(bool)
		if !ok {
			return nil, fmt.Errorf("%s/%s: must be a boolean", where, opKey)
		}
		r.b = b
	default:
		n, ok := val.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s/%s: must be a number", where, opKey)
		}
		if r.num, err = n.Float64(); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", where, opKey, err)
		}
	}
	return r, nil
}

// eval evaluates the rule. A Variable that does not resolve is a runtime
// error (States.Runtime) except for IsPresent, as in AWS; And/Or
// short-circuit so an IsPresent guard protects the rules after it.
func (r *rule) eval(input any, c *ctxObj) (bool, error) {
	switch r.op {
	case opAnd:
		for _, s := range r.sub {
			ok, err := s.eval(input, c)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case opOr:
		for _, s := range r.sub {
			ok, err := s.eval(input, c)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case opNot:
		ok, err := r.sub[0].eval(input, c)
		return !ok, err
	}
	v, found := r.path.get(input, c)
	if r.op == opIsPresent {
		return found == r.b, nil
	}
	if !found {
		return false, fmt.Errorf("invalid path %q: the choice state's condition path references an invalid value", r.path.raw)
	}
	switch r.op {
	case opIsNull:
		return (v == nil) == r.b, nil
	case opStringEquals:
		s, ok := v.(string)
		return ok && s == r.str, nil
	case opStringMatches:
		s, ok := v.(string)
		return ok && matchGlob(r.glob, s), nil
	case opBooleanEquals:
		b, ok := v.(bool)
		return ok && b == r.b, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return false, nil // type mismatch: the rule is false, not an error
	}
	f, err := n.Float64()
	if err != nil {
		return false, nil
	}
	switch r.op {
	case opNumericEquals:
		return f == r.num, nil
	case opNumericLessThan:
		return f < r.num, nil
	case opNumericGreaterThan:
		return f > r.num, nil
	case opNumericLessThanEquals:
		return f <= r.num, nil
	default: // opNumericGreaterThanEquals
		return f >= r.num, nil
	}
}

// globTok is a literal run or a '*' wildcard (star with empty lit).
type globTok struct {
	star bool
	lit  string
}

// compileGlob compiles a StringMatches pattern: '*' matches any run of
// characters; "\*" is a literal star and "\\" a literal backslash.
func compileGlob(p string) ([]globTok, error) {
	var toks []globTok
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, globTok{lit: cur.String()})
			cur.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 >= len(p) || (p[i+1] != '*' && p[i+1] != '\\') {
				return nil, fmt.Errorf("invalid escape in pattern %q (only \\* and \\\\ are allowed)", p)
			}
			cur.WriteByte(p[i+1])
			i++
		case '*':
			flush()
			toks = append(toks, globTok{star: true})
		default:
			cur.WriteByte(p[i])
		}
	}
	flush()
	return toks, nil
}

// matchGlob matches s against toks; a star tries every split of s. Patterns
// in definitions are short, so the backtracking stays cheap.
func matchGlob(toks []globTok, s string) bool {
	if len(toks) == 0 {
		return s == ""
	}
	t := toks[0]
	if !t.star {
		rest, ok := strings.CutPrefix(s, t.lit)
		return ok && matchGlob(toks[1:], rest)
	}
	for len(toks) > 1 && toks[1].star {
		toks = toks[1:]
	}
	if len(toks) == 1 {
		return true
	}
	for i := 0; i <= len(s); i++ {
		if matchGlob(toks[1:], s[i:]) {
			return true
		}
	}
	return false
}
