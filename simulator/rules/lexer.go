package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError reports SQL that Parse refuses: malformed input or a construct
// outside the supported subset. Pos is the 1-based byte offset of the
// offending token in the statement.
type SyntaxError struct {
	Pos int
	Msg string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("iot sql: %s at position %d", e.Msg, e.Pos)
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokComma
	tokLParen
	tokRParen
	tokDot
	tokStar
	tokPlus
	tokMinus
	tokSlash
	tokEQ
	tokNEQ
	tokLT
	tokGT
	tokLE
	tokGE
)

type token struct {
	kind tokKind
	text string // identifier or number as written; string literal unescaped
	pos  int    // 0-based byte offset
}

// describe renders a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of statement"
	case tokIdent:
		return fmt.Sprintf("%q", t.text)
	case tokString:
		return "string literal"
	case tokNumber:
		return "number " + t.text
	default:
		return fmt.Sprintf("%q", punctText[t.kind])
	}
}

var punctText = map[tokKind]string{
	tokComma: ",", tokLParen: "(", tokRParen: ")", tokDot: ".", tokStar: "*",
	tokPlus: "+", tokMinus: "-", tokSlash: "/", tokEQ: "=", tokNEQ: "<>",
	tokLT: "<", tokGT: ">", tokLE: "<=", tokGE: ">=",
}

// unsupportedChars explains characters that belong to AWS IoT SQL features
// this package deliberately does not implement.
var unsupportedChars = map[byte]string{
	'"': `double-quoted string (use single quotes)`,
	'%': `modulo operator "%"`,
	'[': `array literal or index "["`,
	']': `array literal or index "]"`,
	'{': `object literal "{"`,
	'}': `object literal "}"`,
	'`': "backtick-quoted identifier",
	'$': `"$" outside a string literal`,
	'|': `operator "|"`,
	'&': `operator "&"`,
	'^': `operator "^"`,
	'~': `operator "~"`,
	';': `statement separator ";"`,
	':': `":"`,
	'?': `placeholder "?"`,
	'@': `variable "@"`,
}

// lex splits sql into tokens. It fails on the first character that cannot
// start a supported token.
func lex(sql string) ([]token, error) {
	toks := make([]token, 0, 32)
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: sql[i:j], pos: i})
			i = j
		case c >= '0' && c <= '9':
			j, err := scanNumber(sql, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokNumber, text: sql[i:j], pos: i})
			i = j
		case c == '\'':
			s, j, err := scanString(sql, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i})
			i = j
		default:
			t, n, err := scanPunct(sql, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(sql)}), nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// scanNumber reads digits [. digits] [e [+-] digits] starting at i.
func scanNumber(sql string, i int) (int, error) {
	start := i
	digits := func() int {
		n := 0
		for i < len(sql) && sql[i] >= '0' && sql[i] <= '9' {
			i++
			n++
		}
		return n
	}
	digits()
	if i < len(sql) && sql[i] == '.' {
		i++
		if digits() == 0 {
			return 0, &SyntaxError{Pos: start + 1, Msg: fmt.Sprintf("malformed number %q", sql[start:i])}
		}
	}
	if i < len(sql) && (sql[i] == 'e' || sql[i] == 'E') {
		i++
		if i < len(sql) && (sql[i] == '+' || sql[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, &SyntaxError{Pos: start + 1, Msg: fmt.Sprintf("malformed number %q", sql[start:i])}
		}
	}
	if i < len(sql) && (isIdentPart(sql[i]) || sql[i] == '.') {
		return 0, &SyntaxError{Pos: start + 1, Msg: fmt.Sprintf("malformed number %q", sql[start:i+1])}
	}
	return i, nil
}

// scanString reads a single-quoted literal starting at i; a doubled single quote stands for one.
func scanString(sql string, i int) (string, int, error) {
	start := i
	i++
	var b strings.Builder
	for i < len(sql) {
		c := sql[i]
		if c == '\'' {
			if i+1 < len(sql) && sql[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			return b.String(), i + 1, nil
		}
		b.WriteByte(c)
		i++
	}
	return "", 0, &SyntaxError{Pos: start + 1, Msg: "unterminated string literal"}
}

func scanPunct(sql string, i int) (token, int, error) {
	c := sql[i]
	next := byte(0)
	if i+1 < len(sql) {
		next = sql[i+1]
	}
	one := func(k tokKind) (token, int, error) { return token{kind: k, pos: i}, 1, nil }
	two := func(k tokKind) (token, int, error) { return token{kind: k, pos: i}, 2, nil }
	switch c {
	case ',':
		return one(tokComma)
	case '(':
		return one(tokLParen)
	case ')':
		return one(tokRParen)
	case '.':
		return one(tokDot)
	case '*':
		return one(tokStar)
	case '+':
		return one(tokPlus)
	case '-':
		if next == '-' {
			return token{}, 0, &SyntaxError{Pos: i + 1, Msg: "unsupported construct: comment \"--\""}
		}
		return one(tokMinus)
	case '/':
		if next == '*' {
			return token{}, 0, &SyntaxError{Pos: i + 1, Msg: "unsupported construct: comment \"/*\""}
		}
		return one(tokSlash)
	case '=':
		if next == '=' {
			return token{}, 0, &SyntaxError{Pos: i + 1, Msg: `unsupported construct: operator "==" (use "=")`}
		}
		return one(tokEQ)
	case '<':
		switch next {
		case '>':
			return two(tokNEQ)
		case '=':
			return two(tokLE)
		}
		return one(tokLT)
	case '>':
		if next == '=' {
			return two(tokGE)
		}
		return one(tokGT)
	case '!':
		if next == '=' {
			return token{}, 0, &SyntaxError{Pos: i + 1, Msg: `unsupported construct: operator "!=" (use "<>")`}
		}
	}
	if what, ok := unsupportedChars[c]; ok {
		return token{}, 0, &SyntaxError{Pos: i + 1, Msg: "unsupported construct: " + what}
	}
	r, _ := utf8.DecodeRuneInString(sql[i:])
	return token{}, 0, &SyntaxError{Pos: i + 1, Msg: fmt.Sprintf("unexpected character %q", r)}
}
