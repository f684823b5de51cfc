package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Statement is a parsed, compiled IoT SQL statement. It is immutable and safe
// for concurrent use.
type Statement struct {
	sql    string
	filter topicFilter
	star   bool
	cols   []column
	where  expr // nil when there is no WHERE clause
}

type column struct {
	name string
	e    expr
}

// reservedWords are keywords of the supported grammar; they cannot be used
// as field names or aliases.
var reservedWords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AS": true,
	"AND": true, "OR": true, "NOT": true, "TRUE": true, "FALSE": true,
}

// unsupportedWords are AWS IoT SQL keywords outside the supported subset;
// they are refused rather than read as field names.
var unsupportedWords = map[string]bool{
	"NULL": true, "CASE": true, "WHEN": true, "THEN": true, "ELSE": true,
	"END": true, "IN": true, "IS": true, "LIKE": true, "BETWEEN": true,
	"VALUE": true, "SET": true, "CAST": true, "DISTINCT": true, "GROUP": true,
	"ORDER": true, "LIMIT": true, "JOIN": true, "HAVING": true, "UNION": true,
}

// Parse parses and compiles one AWS IoT SQL statement. Anything outside the
// supported subset (see the package documentation) is refused with a
// *SyntaxError that names the construct and its position.
func Parse(sql string) (*Statement, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	st.sql = sql
	return st, nil
}

// SQL returns the statement text as given to Parse.
func (s *Statement) SQL() string { return s.sql }

// Filter returns the MQTT topic filter of the FROM clause.
func (s *Statement) Filter() string { return s.filter.raw }

// Matches reports whether topic matches the FROM topic filter, with MQTT
// semantics (wildcards at the first level do not match $-topics).
func (s *Statement) Matches(topic string) bool { return s.filter.match(topic) }

// maxDepth bounds expression nesting so hostile SQL cannot exhaust the stack.
const maxDepth = 100

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func errAt(t token, format string, args ...any) error {
	return &SyntaxError{Pos: t.pos + 1, Msg: fmt.Sprintf(format, args...)}
}

// isKeyword reports whether t is the (case-insensitive) keyword kw.
func isKeyword(t token, kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) expectKeyword(kw string) error {
	t := p.next()
	if !isKeyword(t, kw) {
		return errAt(t, "expected %s, found %s", kw, t.describe())
	}
	return nil
}

func (p *parser) statement() (*Statement, error) {
	if t := p.peek(); !isKeyword(t, "SELECT") {
		if t.kind == tokIdent && strings.EqualFold(t.text, "SET") {
			return nil, errAt(t, "unsupported construct: SET clause")
		}
		return nil, errAt(t, "expected SELECT, found %s", t.describe())
	}
	p.next()
	st := &Statement{}
	if err := p.selectList(st); err != nil {
		return nil, err
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	ft := p.next()
	if ft.kind != tokString {
		return nil, errAt(ft, "expected quoted topic filter after FROM, found %s", ft.describe())
	}
	f, err := parseTopicFilter(ft.text)
	if err != nil {
		return nil, errAt(ft, "invalid topic filter %q: %v", ft.text, err)
	}
	st.filter = f
	if isKeyword(p.peek(), "WHERE") {
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		st.where = e
	}
	if t := p.peek(); t.kind != tokEOF {
		if t.kind == tokIdent && unsupportedWords[strings.ToUpper(t.text)] {
			return nil, errAt(t, "unsupported construct: %s", strings.ToUpper(t.text))
		}
		return nil, errAt(t, "unexpected %s, expected end of statement", t.describe())
	}
	return st, nil
}

func (p *parser) selectList(st *Statement) error {
	names := map[string]bool{}
	for first := true; ; first = false {
		t := p.peek()
		if t.kind == tokStar {
			if !first {
				return errAt(t, "unsupported construct: \"*\" must be the first SELECT item")
			}
			p.next()
			st.star = true
		} else {
			if isKeyword(t, "VALUE") && first {
				return errAt(t, "unsupported construct: SELECT VALUE")
			}
			e, err := p.expr()
			if err != nil {
				return err
			}
			name, err := p.alias(t, e)
			if err != nil {
				return err
			}
			if names[name] {
				return errAt(t, "duplicate output name %q", name)
			}
			names[name] = true
			st.cols = append(st.cols, column{name: name, e: e})
		}
		if p.peek().kind != tokComma {
			return nil
		}
		p.next()
	}
}

// alias reads an optional "AS name". Without one, a plain field reference is
// output under its last path segment; other expressions must be named.
func (p *parser) alias(start token, e expr) (string, error) {
	if isKeyword(p.peek(), "AS") {
		p.next()
		t := p.next()
		if t.kind != tokIdent {
			return "", errAt(t, "expected alias name after AS, found %s", t.describe())
		}
		if up := strings.ToUpper(t.text); reservedWords[up] || unsupportedWords[up] {
			return "", errAt(t, "reserved word %s cannot be used as an alias", up)
		}
		if d := p.peek(); d.kind == tokDot {
			return "", errAt(d, "unsupported construct: nested alias (AS a.b)")
		}
		return t.text, nil
	}
	if t := p.peek(); t.kind == tokIdent && !isKeyword(t, "FROM") {
		return "", errAt(t, "unsupported construct: alias without AS (%s)", t.describe())
	}
	if f, ok := e.(*fieldExpr); ok {
		return f.path[len(f.path)-1], nil
	}
	return "", errAt(start, "expression needs an AS alias")
}

func (p *parser) expr() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errAt(p.peek(), "expression nested more than %d levels deep", maxDepth)
	}
	return p.orExpr()
}

// nested parses a prefix operator's operand, counting it toward maxDepth.
func (p *parser) nested(f func() (expr, error)) (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errAt(p.peek(), "expression nested more than %d levels deep", maxDepth)
	}
	return f()
}

func (p *parser) orExpr() (expr, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for isKeyword(p.peek(), "OR") {
		p.next()
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &orExpr{l: l, r: r}
	}
	return l, nil
}

func (p *parser) andExpr() (expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for isKeyword(p.peek(), "AND") {
		p.next()
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &andExpr{l: l, r: r}
	}
	return l, nil
}

func (p *parser) notExpr() (expr, error) {
	if isKeyword(p.peek(), "NOT") {
		p.next()
		e, err := p.nested(p.notExpr)
		if err != nil {
			return nil, err
		}
		return &notExpr{e: e}, nil
	}
	return p.cmpExpr()
}

var cmpOps = map[tokKind]cmpOp{
	tokEQ: opEQ, tokNEQ: opNEQ, tokLT: opLT, tokGT: opGT, tokLE: opLE, tokGE: opGE,
}

func (p *parser) cmpExpr() (expr, error) {
	l, err := p.addExpr()
	if err != nil {
		return nil, err
	}
	op, ok := cmpOps[p.peek().kind]
	if !ok {
		if t := p.peek(); t.kind == tokIdent && unsupportedWords[strings.ToUpper(t.text)] {
			return nil, errAt(t, "unsupported construct: %s", strings.ToUpper(t.text))
		}
		return l, nil
	}
	p.next()
	r, err := p.addExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); cmpOps[t.kind] != 0 {
		return nil, errAt(t, "unsupported construct: chained comparison (add parentheses)")
	}
	return &cmpExpr{op: op, l: l, r: r}, nil
}

func (p *parser) addExpr() (expr, error) {
	l, err := p.mulExpr()
	if err != nil {
		return nil, err
	}
	for {
		var op arithOp
		switch p.peek().kind {
		case tokPlus:
			op = opAdd
		case tokMinus:
			op = opSub
		default:
			return l, nil
		}
		p.next()
		r, err := p.mulExpr()
		if err != nil {
			return nil, err
		}
		l = &arithExpr{op: op, l: l, r: r}
	}
}

func (p *parser) mulExpr() (expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		var op arithOp
		switch p.peek().kind {
		case tokStar:
			op = opMul
		case tokSlash:
			op = opDiv
		default:
			return l, nil
		}
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &arithExpr{op: op, l: l, r: r}
	}
}

func (p *parser) unary() (expr, error) {
	if p.peek().kind == tokMinus {
		p.next()
		e, err := p.nested(p.unary)
		if err != nil {
			return nil, err
		}
		return &negExpr{e: e}, nil
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tokNumber:
		return numberLiteral(t)
	case tokString:
		return &literal{v: t.text}, nil
	case tokLParen:
		if isKeyword(p.peek(), "SELECT") {
			return nil, errAt(p.peek(), "unsupported construct: nested SELECT")
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, errAt(c, "expected \")\", found %s", c.describe())
		}
		if d := p.peek(); d.kind == tokDot {
			return nil, errAt(d, "unsupported construct: member access on a parenthesised expression")
		}
		return e, nil
	case tokIdent:
		up := strings.ToUpper(t.text)
		switch {
		case up == "TRUE":
			return &literal{v: true}, nil
		case up == "FALSE":
			return &literal{v: false}, nil
		case unsupportedWords[up]:
			return nil, errAt(t, "unsupported construct: %s", up)
		case reservedWords[up]:
			return nil, errAt(t, "unexpected keyword %s", up)
		}
		if p.peek().kind == tokLParen {
			return p.call(t)
		}
		return p.field(t)
	case tokEOF:
		return nil, errAt(t, "unexpected end of statement, expected an expression")
	default:
		return nil, errAt(t, "unexpected %s, expected an expression", t.describe())
	}
}

func numberLiteral(t token) (expr, error) {
	if !strings.ContainsAny(t.text, ".eE") {
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &literal{v: i}, nil
		}
	}
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, errAt(t, "number %s is out of range", t.text)
	}
	return &literal{v: f}, nil
}

func (p *parser) field(first token) (expr, error) {
	path := []string{first.text}
	for p.peek().kind == tokDot {
		p.next()
		t := p.next()
		if t.kind != tokIdent || reservedWords[strings.ToUpper(t.text)] {
			return nil, errAt(t, "expected field name after \".\", found %s", t.describe())
		}
		if p.peek().kind == tokLParen {
			return nil, errAt(p.peek(), "unsupported construct: method call %s()", t.text)
		}
		path = append(path, t.text)
	}
	return &fieldExpr{path: path}, nil
}

func (p *parser) call(name token) (expr, error) {
	p.next() // (
	var args []expr
	if p.peek().kind != tokRParen {
		for {
			if t := p.peek(); t.kind == tokStar {
				return nil, errAt(t, "unsupported construct: \"*\" as a function argument")
			}
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.peek().kind != tokComma {
				break
			}
			p.next()
		}
	}
	if c := p.next(); c.kind != tokRParen {
		return nil, errAt(c, "expected \")\" to close %s(, found %s", name.text, c.describe())
	}
	if d := p.peek(); d.kind == tokDot {
		return nil, errAt(d, "unsupported construct: member access on a function result")
	}
	fn := strings.ToLower(name.text)
	arity := func(allowed ...int) error {
		for _, n := range allowed {
			if len(args) == n {
				return nil
			}
		}
		return errAt(name, "%s() takes %s argument(s), got %d", fn, joinInts(allowed), len(args))
	}
	switch fn {
	case "newuuid":
		if err := arity(0); err != nil {
			return nil, err
		}
		return &newUUIDExpr{}, nil
	case "timestamp":
		if err := arity(0); err != nil {
			return nil, err
		}
		return &timestampExpr{}, nil
	case "topic":
		if err := arity(0, 1); err != nil {
			return nil, err
		}
		if len(args) == 0 {
			return &topicExpr{}, nil
		}
		return &topicExpr{index: args[0]}, nil
	case "floor":
		if err := arity(1); err != nil {
			return nil, err
		}
		return &floorExpr{e: args[0]}, nil
	case "upper", "lower":
		if err := arity(1); err != nil {
			return nil, err
		}
		return &caseExpr{upper: fn == "upper", e: args[0]}, nil
	}
	return nil, errAt(name, "unsupported function %s()", name.text)
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " or ")
}
