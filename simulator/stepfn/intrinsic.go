package stepfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// expr is a compiled ".$" value: a path or an intrinsic function call.
type expr interface {
	eval(input any, c *ctxObj) (any, error)
}

type litExpr struct{ v any }

func (l litExpr) eval(any, *ctxObj) (any, error) { return l.v, nil }

type pathExpr struct{ p *refPath }

func (e pathExpr) eval(input any, c *ctxObj) (any, error) {
	v, ok := e.p.get(input, c)
	if !ok {
		return nil, fmt.Errorf("the JSONPath %q could not be found in the input", e.p.raw)
	}
	return v, nil
}

// formatExpr is States.Format: parts has one more element than args; each
// unescaped "{}" of the template sits between two parts.
type formatExpr struct {
	parts []string
	args  []expr
}

func (f formatExpr) eval(input any, c *ctxObj) (any, error) {
	var b strings.Builder
	for i, a := range f.args {
		b.WriteString(f.parts[i])
		v, err := a.eval(input, c)
		if err != nil {
			return nil, fmt.Errorf("States.Format: %w", err)
		}
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case json.Number:
			b.WriteString(x.String())
		case bool:
			fmt.Fprint(&b, x)
		case nil:
			b.WriteString("null")
		default:
			return nil, fmt.Errorf("States.Format: argument %d is %s; only strings, numbers, booleans and null can be formatted", i+2, jsonKind(v))
		}
	}
	b.WriteString(f.parts[len(f.args)])
	return b.String(), nil
}

type jsonToStringExpr struct{ arg expr }

func (j jsonToStringExpr) eval(input any, c *ctxObj) (any, error) {
	v, err := j.arg.eval(input, c)
	if err != nil {
		return nil, fmt.Errorf("States.JsonToString: %w", err)
	}
	s, err := encodeJSON(v)
	if err != nil {
		return nil, fmt.Errorf("States.JsonToString: %w", err)
	}
	return s, nil
}

type stringToJSONExpr struct{ arg expr }

func (j stringToJSONExpr) eval(input any, c *ctxObj) (any, error) {
	v, err := j.arg.eval(input, c)
	if err != nil {
		return nil, fmt.Errorf("States.StringToJson: %w", err)
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("States.StringToJson: argument is %s, not a string", jsonKind(v))
	}
	out, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("States.StringToJson: %w", err)
	}
	return out, nil
}

// parseIntrinsic compiles an intrinsic function call such as
// States.Format('id {}', $.id). Only States.Format, States.JsonToString and
// States.StringToJson are supported.
func parseIntrinsic(s string) (expr, error) {
	p := &intrinsicParser{src: s}
	e, err := p.call()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("unexpected %q after intrinsic function call in %q", p.src[p.pos:], s)
	}
	return e, nil
}

type intrinsicParser struct {
	src string
	pos int
}

// strLit is a parsed string literal; parts splits it at unescaped "{}" so
// that States.Format can tell placeholders from escaped braces.
type strLit struct {
	value string
	parts []string
}

func (p *intrinsicParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *intrinsicParser) errorf(format string, args ...any) error {
	return fmt.Errorf("intrinsic %q at offset %d: %s", p.src, p.pos, fmt.Sprintf(format, args...))
}

func (p *intrinsicParser) call() (expr, error) {
	p.skipSpace()
	open := strings.IndexByte(p.src[p.pos:], '(')
	if open < 0 {
		return nil, p.errorf("expected a function call")
	}
	name := strings.TrimSpace(p.src[p.pos : p.pos+open])
	switch name {
	case "States.Format", "States.JsonToString", "States.StringToJson":
	default:
		return nil, fmt.Errorf("intrinsic function %q is not supported (only States.Format, States.JsonToString and States.StringToJson are)", name)
	}
	p.pos += open + 1
	var args []expr
	var lits []*strLit // parallel to args; non-nil for string literals
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			a, lit, err := p.arg()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			lits = append(lits, lit)
			p.skipSpace()
			if p.pos >= len(p.src) {
				return nil, p.errorf("missing ')'")
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return nil, p.errorf("expected ',' or ')'")
			}
			p.pos++
		}
	}
	switch name {
	case "States.Format":
		if len(args) == 0 || lits[0] == nil {
			return nil, fmt.Errorf("%s: the first argument must be a string literal template", name)
		}
		tpl := lits[0]
		if len(tpl.parts)-1 != len(args)-1 {
			return nil, fmt.Errorf("%s: template has %d placeholders but %d arguments follow it", name, len(tpl.parts)-1, len(args)-1)
		}
		return formatExpr{parts: tpl.parts, args: args[1:]}, nil
	case "States.JsonToString":
		if len(args) != 1 {
			return nil, fmt.Errorf("%s takes exactly 1 argument, got %d", name, len(args))
		}
		if _, ok := args[0].(pathExpr); !ok {
			return nil, fmt.Errorf("%s: the argument must be a path", name)
		}
		return jsonToStringExpr{arg: args[0]}, nil
	default: // States.StringToJson
		if len(args) != 1 {
			return nil, fmt.Errorf("%s takes exactly 1 argument, got %d", name, len(args))
		}
		return stringToJSONExpr{arg: args[0]}, nil
	}
}

func (p *intrinsicParser) arg() (expr, *strLit, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, nil, p.errorf("missing argument")
	}
	c := p.src[p.pos]
	switch {
	case c == '\'':
		lit, err := p.stringLit()
		if err != nil {
			return nil, nil, err
		}
		return litExpr{v: lit.value}, lit, nil
	case c == '$':
		start := p.pos
		inQuote := false
		for p.pos < len(p.src) {
			ch := p.src[p.pos]
			if ch == '\'' {
				inQuote = !inQuote
			} else if !inQuote && (ch == ',' || ch == ')') {
				break
			}
			p.pos++
		}
		raw := strings.TrimSpace(p.src[start:p.pos])
		rp, err := parsePath(raw, true)
		if err != nil {
			return nil, nil, err
		}
		return pathExpr{p: rp}, nil, nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		for p.pos < len(p.src) && strings.IndexByte("+-.eE0123456789", p.src[p.pos]) >= 0 {
			p.pos++
		}
		n := json.Number(p.src[start:p.pos])
		if _, err := n.Float64(); err != nil {
			return nil, nil, p.errorf("invalid number %q", string(n))
		}
		return litExpr{v: n}, nil, nil
	case strings.HasPrefix(p.src[p.pos:], "States."):
		e, err := p.call()
		return e, nil, err
	default:
		return nil, nil, p.errorf("unsupported argument (expected a 'string', a number, a path or States.* call)")
	}
}

// stringLit parses '...' where \' \{ \} and \\ are escapes.
func (p *intrinsicParser) stringLit() (*strLit, error) {
	p.pos++ // opening quote
	var val, cur strings.Builder
	var parts []string
	for p.pos < len(p.src) {
		ch := p.src[p.pos]
		switch ch {
		case '\\':
			if p.pos+1 >= len(p.src) || strings.IndexByte(`'{}\`, p.src[p.pos+1]) < 0 {
				return nil, p.errorf("invalid escape in string literal")
			}
			val.WriteByte(p.src[p.pos+1])
			cur.WriteByte(p.src[p.pos+1])
			p.pos += 2
			continue
		case '\'':
			p.pos++
			return &strLit{value: val.String(), parts: append(parts, cur.String())}, nil
		case '{':
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == '}' {
				val.WriteString("{}")
				parts = append(parts, cur.String())
				cur.Reset()
				p.pos += 2
				continue
			}
			return nil, p.errorf("unescaped '{' in string literal")
		case '}':
			return nil, p.errorf("unescaped '}' in string literal")
		}
		val.WriteByte(ch)
		cur.WriteByte(ch)
		p.pos++
	}
	return nil, p.errorf("unterminated string literal")
}

// encodeJSON serialises v compactly without HTML escaping, as AWS does.
func encodeJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode JSON: %w", err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte{'\n'})), nil
}

// decodeJSON parses one JSON document, keeping numbers exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: trailing data after the document")
	}
	return v, nil
}
