package stepfn

import (
	"fmt"
	"sort"
	"strings"
)

// tmpl is a compiled payload template (Parameters, ResultSelector).
type tmpl interface {
	eval(input any, c *ctxObj) (any, error)
}

// constTmpl is a subtree without any ".$" key: shared, never copied (all
// writers copy on write, see refPath.set).
type constTmpl struct{ v any }

func (t constTmpl) eval(any, *ctxObj) (any, error) { return t.v, nil }

type objTmpl struct {
	keys []string
	vals []tmpl
	// srcKeys are the keys as written, for error messages ("id.$").
	srcKeys []string
}

func (t *objTmpl) eval(input any, c *ctxObj) (any, error) {
	out := make(map[string]any, len(t.keys))
	for i, k := range t.keys {
		v, err := t.vals[i].eval(input, c)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", t.srcKeys[i], err)
		}
		out[k] = v
	}
	return out, nil
}

type arrTmpl []tmpl

func (t arrTmpl) eval(input any, c *ctxObj) (any, error) {
	out := make([]any, len(t))
	for i, e := range t {
		v, err := e.eval(input, c)
		if err != nil {
			return nil, fmt.Errorf("index %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

type exprTmpl struct{ e expr }

func (t exprTmpl) eval(input any, c *ctxObj) (any, error) { return t.e.eval(input, c) }

// compileTemplate compiles a payload template. Keys ending in ".$" take a
// path, a context path or an intrinsic function call; where names the
// field for error messages.
func compileTemplate(v any, where string) (tmpl, error) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t := &objTmpl{}
		dynamic := false
		seen := make(map[string]string, len(keys))
		for _, k := range keys {
			name := k
			var sub tmpl
			if base, ok := strings.CutSuffix(k, ".$"); ok {
				name = base
				s, ok := x[k].(string)
				if !ok {
					return nil, fmt.Errorf("%s/%s: the value of a field ending in .$ must be a string", where, k)
				}
				e, err := compileExpr(s)
				if err != nil {
					return nil, fmt.Errorf("%s/%s: %w", where, k, err)
				}
				sub = exprTmpl{e: e}
				dynamic = true
			} else {
				var err error
				if sub, err = compileTemplate(x[k], where+"/"+k); err != nil {
					return nil, err
				}
				if _, ok := sub.(constTmpl); !ok {
					dynamic = true
				}
			}
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("%s: fields %q and %q both produce %q", where, prev, k, name)
			}
			seen[name] = k
			t.keys = append(t.keys, name)
			t.vals = append(t.vals, sub)
			t.srcKeys = append(t.srcKeys, k)
		}
		if !dynamic {
			return constTmpl{v: v}, nil
		}
		return t, nil
	case []any:
		t := make(arrTmpl, len(x))
		dynamic := false
		for i, e := range x {
			sub, err := compileTemplate(e, fmt.Sprintf("%s/%d", where, i))
			if err != nil {
				return nil, err
			}
			if _, ok := sub.(constTmpl); !ok {
				dynamic = true
			}
			t[i] = sub
		}
		if !dynamic {
			return constTmpl{v: v}, nil
		}
		return t, nil
	default:
		return constTmpl{v: v}, nil
	}
}

// compileExpr compiles the string value of a ".$" field.
func compileExpr(s string) (expr, error) {
	switch {
	case strings.HasPrefix(s, "$"):
		p, err := parsePath(s, true)
		if err != nil {
			return nil, err
		}
		return pathExpr{p: p}, nil
	case strings.HasPrefix(s, "States."):
		return parseIntrinsic(s)
	default:
		return nil, fmt.Errorf("%q is neither a path nor an intrinsic function call", s)
	}
}
