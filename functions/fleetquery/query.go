// Package fleetquery reads AWS IoT fleet-indexing queries (the query strings of
// dynamic thing groups and SearchIndex): Fields lists the fields a query names,
// which is what the replication needs to know to raise a Region's indexing to what
// a dynamic group's query needs; Parse and Query.Match evaluate a documented subset
// of the language over one thing, which is what the simulator's dynamic groups do.
//
// The subset (AWS: "Query syntax" in the AWS IoT Core developer guide): terms
// field:value with * and ? wildcards (case-insensitive, as AWS searches), quoted
// phrases, field:* (the field exists), ranges field:[a TO b] and field:{a TO b}
// (inclusive, exclusive), comparisons field<v, field<=v, field>v, field>=v (numeric
// when both sides are numbers, by string otherwise), AND, OR, NOT and - (exclude),
// the default operator AND, parentheses and field grouping (field:(a OR b)), and a
// bare term, which matches any of the thing's registry values. Not in the subset:
// geo queries, escapes, the 12-term and leading-wildcard limits. A query outside it
// is an error naming what was not understood, never a silent mismatch.
//
// What it is not: an index. The simulator evaluates the query over its registry on
// every read; AWS keeps an index that it updates eventually.
package fleetquery

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Record is what a query is evaluated against: the values of one thing's fields
// (attributes.<name>, thingName, shadow.reported.<path>, connectivity.connected,
// ...). A field may have several values (thingGroupNames).
type Record interface {
	// Values returns the field's values; ok is false when the thing lacks it.
	Values(field string) (vals []string, ok bool)
	// Any returns every value a bare term is matched against.
	Any() []string
}

// Query is a parsed query.
type Query struct{ root node }

// Match reports whether the record satisfies the query.
func (q *Query) Match(r Record) bool { return q.root.match(r) }

// fieldRe finds the fields a query names: a name followed by ':' or a comparison.
var fieldRe = regexp.MustCompile(`(?:^|[\s(\-])([A-Za-z][A-Za-z0-9_.\-]*)\s*(?::|<|>)`)

// Fields returns the distinct fields the query names, sorted. It is lexical, so it
// reads any query AWS accepts, including syntax that Parse does not evaluate.
func Fields(query string) []string {
	var out []string
	for _, m := range fieldRe.FindAllStringSubmatch(query, -1) {
		if m[1] == "AND" || m[1] == "OR" || m[1] == "NOT" || m[1] == "TO" {
			continue
		}
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Parse parses a query of the documented subset.
func Parse(query string) (*Query, error) {
	toks, err := lex(query)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty query")
	}
	p := &parser{toks: toks}
	n, err := p.or("")
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at position %d", p.toks[p.pos].text, p.toks[p.pos].at)
	}
	return &Query{root: n}, nil
}

type tokKind int

const (
	tWord tokKind = iota
	tPhrase
	tLParen
	tRParen
	tLBracket // [ or {
	tRBracket // ] or }
	tColon
	tCompare // < <= > >=
	tMinus
)

type token struct {
	kind tokKind
	text string
	at   int
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			k := tLParen
			if c == ')' {
				k = tRParen
			}
			out = append(out, token{k, string(c), i})
			i++
		case c == '[' || c == '{':
			out = append(out, token{tLBracket, string(c), i})
			i++
		case c == ']' || c == '}':
			out = append(out, token{tRBracket, string(c), i})
			i++
		case c == ':':
			out = append(out, token{tColon, ":", i})
			i++
		case c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			out = append(out, token{tCompare, op, i})
			i += len(op)
		case c == '-' && !negativeNumber(s, i, out):
			out = append(out, token{tMinus, "-", i})
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated phrase at position %d", i)
			}
			out = append(out, token{tPhrase, s[i+1 : i+1+j], i})
			i += j + 2
		case strings.IndexByte(special, c) >= 0:
			return nil, fmt.Errorf("special character %q at position %d is not supported", c, i)
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r()[]{}:<>\"", s[j]) < 0 {
				if strings.IndexByte(special, s[j]) >= 0 {
					return nil, fmt.Errorf("special character %q at position %d is not supported", s[j], j)
				}
				j++
			}
			out = append(out, token{tWord, s[i:j], i})
			i = j
		}
	}
	return out, nil
}

// negativeNumber says whether the '-' at s[i] starts a number that is a value (after
// a comparison, a colon or in a range) rather than an exclusion.
func negativeNumber(s string, i int, before []token) bool {
	if i+1 >= len(s) || s[i+1] < '0' || s[i+1] > '9' || len(before) == 0 {
		return false
	}
	switch before[len(before)-1].kind {
	case tCompare, tColon, tLBracket:
		return true
	}
	return before[len(before)-1].kind == tWord && before[len(before)-1].text == "TO"
}

// special are the characters AWS's query syntax does not support (',' is for geo
// queries only, which are not in the subset).
const special = "`@#%\\/';,"

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *parser) isWord(text string) bool {
	t := p.peek()
	return t != nil && t.kind == tWord && t.text == text
}

// or parses a disjunction; field is the default field inside a field group.
func (p *parser) or(field string) (node, error) {
	left, err := p.and(field)
	if err != nil {
		return nil, err
	}
	for p.isWord("OR") {
		p.pos++
		right, err := p.and(field)
		if err != nil {
			return nil, err
		}
		left = orNode{left, right}
	}
	return left, nil
}

func (p *parser) and(field string) (node, error) {
	left, err := p.not(field)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t == nil || t.kind == tRParen || p.isWord("OR") {
			return left, nil
		}
		if p.isWord("AND") {
			p.pos++
		}
		right, err := p.not(field)
		if err != nil {
			return nil, err
		}
		left = andNode{left, right}
	}
}

func (p *parser) not(field string) (node, error) {
	if t := p.peek(); t != nil && (t.kind == tMinus || p.isWord("NOT")) {
		p.pos++
		n, err := p.not(field)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.primary(field)
}

func (p *parser) primary(field string) (node, error) {
	t := p.peek()
	if t == nil {
		return nil, fmt.Errorf("query ends where a term was expected")
	}
	switch t.kind {
	case tLParen:
		p.pos++
		n, err := p.or(field)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c == nil || c.kind != tRParen {
			return nil, fmt.Errorf("missing ) for ( at position %d", t.at)
		}
		p.pos++
		return n, nil
	case tPhrase:
		p.pos++
		return termNode{field: field, pattern: strings.ToLower(t.text), exact: true}, nil
	case tWord:
		if t.text == "AND" || t.text == "OR" || t.text == "TO" {
			return nil, fmt.Errorf("operator %s at position %d where a term was expected", t.text, t.at)
		}
		p.pos++
		next := p.peek()
		if next != nil && next.kind == tColon {
			if field != "" {
				return nil, fmt.Errorf("field %s inside the group of field %s at position %d", t.text, field, t.at)
			}
			p.pos++
			return p.value(t.text)
		}
		if next != nil && next.kind == tCompare {
			p.pos++
			v := p.peek()
			if v == nil || (v.kind != tWord && v.kind != tPhrase) {
				return nil, fmt.Errorf("comparison %s%s needs a value", t.text, next.text)
			}
			p.pos++
			return compareNode{field: t.text, op: next.text, value: v.text}, nil
		}
		return termNode{field: field, pattern: strings.ToLower(t.text)}, nil
	default:
		return nil, fmt.Errorf("unexpected %q at position %d", t.text, t.at)
	}
}

// value parses what follows "field:".
func (p *parser) value(field string) (node, error) {
	t := p.peek()
	if t == nil {
		return nil, fmt.Errorf("field %s has no value", field)
	}
	switch t.kind {
	case tLParen:
		p.pos++
		n, err := p.or(field)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c == nil || c.kind != tRParen {
			return nil, fmt.Errorf("missing ) for the group of field %s", field)
		}
		p.pos++
		return n, nil
	case tLBracket:
		// [lo TO hi] inclusive, {lo TO hi} exclusive; * is unbounded.
		if p.pos+4 >= len(p.toks) || p.toks[p.pos+1].kind != tWord || !(p.toks[p.pos+2].kind == tWord && p.toks[p.pos+2].text == "TO") ||
			p.toks[p.pos+3].kind != tWord || p.toks[p.pos+4].kind != tRBracket {
			return nil, fmt.Errorf("range of field %s at position %d is not [a TO b] or {a TO b}", field, t.at)
		}
		n := rangeNode{field: field, lo: p.toks[p.pos+1].text, hi: p.toks[p.pos+3].text, loIncl: t.text == "[", hiIncl: p.toks[p.pos+4].text == "]"}
		p.pos += 5
		return n, nil
	case tWord, tPhrase:
		p.pos++
		return termNode{field: field, pattern: strings.ToLower(t.text), exact: t.kind == tPhrase}, nil
	default:
		return nil, fmt.Errorf("field %s: unexpected %q at position %d", field, t.text, t.at)
	}
}

type node interface{ match(Record) bool }

type (
	orNode  struct{ a, b node }
	andNode struct{ a, b node }
	notNode struct{ n node }
	// termNode matches a value against pattern (lower case; * and ? wildcards
	// unless exact); field "" is a bare term.
	termNode struct {
		field, pattern string
		exact          bool
	}
	rangeNode struct {
		field, lo, hi  string
		loIncl, hiIncl bool
	}
	compareNode struct{ field, op, value string }
)

func (n orNode) match(r Record) bool  { return n.a.match(r) || n.b.match(r) }
func (n andNode) match(r Record) bool { return n.a.match(r) && n.b.match(r) }
func (n notNode) match(r Record) bool { return !n.n.match(r) }

func (n termNode) match(r Record) bool {
	var vals []string
	if n.field == "" {
		vals = r.Any()
	} else {
		v, ok := r.Values(n.field)
		if !ok {
			return false
		}
		vals = v
	}
	for _, v := range vals {
		if n.exact {
			if strings.ToLower(v) == n.pattern {
				return true
			}
		} else if wildcard(n.pattern, strings.ToLower(v)) {
			return true
		}
	}
	return false
}

func (n rangeNode) match(r Record) bool {
	vals, _ := r.Values(n.field)
	for _, v := range vals {
		lo := n.lo == "*" || cmpOK(compare(v, n.lo), n.loIncl, true)
		hi := n.hi == "*" || cmpOK(compare(v, n.hi), n.hiIncl, false)
		if lo && hi {
			return true
		}
	}
	return false
}

// cmpOK says whether c (value compared to a bound) is within: above the lower bound
// or below the upper one, equal when inclusive.
func cmpOK(c int, incl, lower bool) bool {
	if c == 0 {
		return incl
	}
	return (c > 0) == lower
}

func (n compareNode) match(r Record) bool {
	vals, _ := r.Values(n.field)
	for _, v := range vals {
		c := compare(v, n.value)
		switch n.op {
		case "<":
			if c < 0 {
				return true
			}
		case "<=":
			if c <= 0 {
				return true
			}
		case ">":
			if c > 0 {
				return true
			}
		case ">=":
			if c >= 0 {
				return true
			}
		}
	}
	return false
}

// compare compares numerically when both are numbers, else as lower-case strings.
func compare(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

// wildcard matches s against a pattern of literal runes, * (any run) and ? (one).
func wildcard(pattern, s string) bool {
	p, str := []rune(pattern), []rune(s)
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == str[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
