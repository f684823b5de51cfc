package stepfn

import (
	"fmt"
	"strings"
)

// ctxField identifies one supported leaf of the context object ("$$.").
type ctxField uint8

const (
	ctxNone ctxField = iota
	ctxExecutionName
	ctxExecutionID
	ctxStateEnteredTime
	ctxStateName
	ctxStateMachineID
)

// contextPaths are the only "$$." paths the interpreter resolves; anything
// else is refused at definition time rather than guessed.
var contextPaths = map[string]ctxField{
	"$$.Execution.Name":    ctxExecutionName,
	"$$.Execution.Id":      ctxExecutionID,
	"$$.State.EnteredTime": ctxStateEnteredTime,
	"$$.State.Name":        ctxStateName,
	"$$.StateMachine.Id":   ctxStateMachineID,
}

// ctxObj is the context object of one state entry. Values are plain strings
// so that resolving a context path never allocates a JSON tree.
type ctxObj struct {
	execName, execID, smID, stateName, entered string
}

// refPath is a compiled reference path: either "$" followed by field names,
// or one of contextPaths.
type refPath struct {
	raw  string
	ctx  ctxField
	segs []string
}

// rootPath is "$": the identity path.
var rootPath = &refPath{raw: "$"}

// parsePath compiles the reference-path subset: $, $.a.b, $['a'] and (when
// allowContext) the context paths listed in contextPaths.
func parsePath(s string, allowContext bool) (*refPath, error) {
	if strings.HasPrefix(s, "$$") {
		if !allowContext {
			return nil, fmt.Errorf("context path %q is not allowed here", s)
		}
		f, ok := contextPaths[s]
		if !ok {
			return nil, fmt.Errorf("context path %q is not supported (supported: $$.Execution.Name, $$.Execution.Id, $$.State.EnteredTime, $$.State.Name, $$.StateMachine.Id)", s)
		}
		return &refPath{raw: s, ctx: f}, nil
	}
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("path %q must start with $", s)
	}
	p := &refPath{raw: s}
	rest := s[1:]
	for rest != "" {
		switch {
		case rest[0] == '.':
			i := 1
			for i < len(rest) && isIdentByte(rest[i]) {
				i++
			}
			if i == 1 {
				return nil, unsupportedPath(s)
			}
			p.segs = append(p.segs, rest[1:i])
			rest = rest[i:]
		case strings.HasPrefix(rest, "['"):
			end := strings.Index(rest[2:], "']")
			if end < 0 {
				return nil, unsupportedPath(s)
			}
			name := rest[2 : 2+end]
			if name == "" || strings.ContainsAny(name, "'\\") {
				return nil, unsupportedPath(s)
			}
			p.segs = append(p.segs, name)
			rest = rest[2+end+2:]
		default:
			return nil, unsupportedPath(s)
		}
	}
	return p, nil
}

func unsupportedPath(s string) error {
	return fmt.Errorf("JSONPath %q is not supported (only $, $.field.field and $['field'] are)", s)
}

// isIdentByte reports whether b may appear in a dot-notation field name.
// JSONPath operators are excluded so that "$.a[0]" or "$..a" are refused.
func isIdentByte(b byte) bool {
	switch b {
	case '.', '[', ']', '(', ')', ',', '\'', '"', '*', '@', '?', '$', ' ', '\t', '\n', '\r':
		return false
	}
	return true
}

// get resolves the path against input (or the context object).
func (p *refPath) get(input any, c *ctxObj) (any, bool) {
	switch p.ctx {
	case ctxExecutionName:
		return c.execName, true
	case ctxExecutionID:
		return c.execID, true
	case ctxStateEnteredTime:
		return c.entered, true
	case ctxStateName:
		return c.stateName, true
	case ctxStateMachineID:
		return c.smID, true
	}
	v := input
	for _, seg := range p.segs {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

// set returns root with value placed at the path. Maps along the path are
// copied, never mutated, because subtrees are shared between states and
// with literal templates of the definition.
func (p *refPath) set(root, value any) (any, error) {
	return setSegs(root, p.segs, value, p.raw)
}

func setSegs(root any, segs []string, value any, raw string) (any, error) {
	if len(segs) == 0 {
		return value, nil
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("unable to apply ReferencePath %s: the value at %q is %s, not an object", raw, segs[0], jsonKind(root))
	}
	cp := make(map[string]any, len(m)+1)
	for k, v := range m {
		cp[k] = v
	}
	child, exists := m[segs[0]]
	if !exists && len(segs) > 1 {
		child = map[string]any{}
	}
	nv, err := setSegs(child, segs[1:], value, raw)
	if err != nil {
		return nil, err
	}
	cp[segs[0]] = nv
	return cp, nil
}

// jsonKind names the JSON type of v for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
