package awsfront

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// wireBinding ties one wire location (a path label, query parameter or header) to an
// input member's Go field.
type wireBinding struct{ Wire, Field string }

// wireOperation is one REST-JSON operation's HTTP binding, as the SDK serialises it.
type wireOperation struct {
	Name, Method, Path     string
	Labels, Query, Headers []wireBinding
}

// route is a wireOperation ready to match requests.
type route struct {
	op       wireOperation
	segs     []string // literal segments, or "{label}"
	literals int
}

// router finds the operation for a method and path, a literal segment winning over a
// label (so /thing-groups/addThingToThingGroup is not a group named that).
type router struct {
	byMethod map[string][]route
	paths    map[string][]string // path template -> methods, for 405 answers
}

func newRouter(ops []wireOperation) *router {
	rt := &router{byMethod: map[string][]route{}, paths: map[string][]string{}}
	for _, op := range ops {
		r := route{op: op, segs: splitPath(op.Path)}
		for _, s := range r.segs {
			if !isLabel(s) {
				r.literals++
			}
		}
		rt.byMethod[op.Method] = append(rt.byMethod[op.Method], r)
	}
	for m := range rt.byMethod {
		routes := rt.byMethod[m]
		sort.SliceStable(routes, func(i, j int) bool { return routes[i].literals > routes[j].literals })
	}
	return rt
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func isLabel(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// match returns the operation and its decoded path labels. allowed lists the methods
// the path is served with when the method is not (nil when the path is unknown).
func (rt *router) match(method, escapedPath string) (op *wireOperation, labels map[string]string, allowed []string, err error) {
	raw := splitPath(escapedPath)
	segs := make([]string, len(raw))
	for i, s := range raw {
		if segs[i], err = url.PathUnescape(s); err != nil {
			return nil, nil, nil, fmt.Errorf("path segment %q: %w", s, err)
		}
	}
	if r, l := matchRoutes(rt.byMethod[method], segs); r != nil {
		return &r.op, l, nil, nil
	}
	for m, routes := range rt.byMethod {
		if r, _ := matchRoutes(routes, segs); r != nil {
			allowed = append(allowed, m)
		}
	}
	sort.Strings(allowed)
	return nil, nil, allowed, nil
}

func matchRoutes(routes []route, segs []string) (*route, map[string]string) {
next:
	for i := range routes {
		r := &routes[i]
		if len(r.segs) != len(segs) {
			continue
		}
		var labels map[string]string
		for j, s := range r.segs {
			switch {
			case isLabel(s):
				if segs[j] == "" {
					continue next
				}
				if labels == nil {
					labels = map[string]string{}
				}
				labels[s[1:len(s)-1]] = segs[j]
			case s != segs[j]:
				continue next
			}
		}
		return r, labels
	}
	return nil, nil
}

// badInput is a request the operation cannot be decoded from: an
// InvalidRequestException naming what was wrong.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badInput{msg: fmt.Sprintf(format, args...)} }

// decodeInput fills a new input structure of type t (a struct type) from the request's
// path labels, query parameters, headers and JSON body, as op binds them.
func decodeInput(t reflect.Type, op *wireOperation, labels map[string]string, q url.Values, h http.Header, body []byte) (reflect.Value, error) {
	in := reflect.New(t)
	v := in.Elem()
	for _, b := range op.Labels {
		if s, ok := labels[b.Wire]; ok {
			if err := setScalar(v.FieldByName(b.Field), s); err != nil {
				return in, badf("path label %s: %v", b.Wire, err)
			}
		}
	}
	for _, b := range op.Query {
		vals, ok := q[b.Wire]
		if !ok {
			continue
		}
		f := v.FieldByName(b.Field)
		if f.Kind() == reflect.Slice {
			for _, s := range vals {
				e := reflect.New(f.Type().Elem()).Elem()
				if err := setScalar(e, s); err != nil {
					return in, badf("query parameter %s: %v", b.Wire, err)
				}
				f.Set(reflect.Append(f, e))
			}
			continue
		}
		if err := setScalar(f, vals[0]); err != nil {
			return in, badf("query parameter %s: %v", b.Wire, err)
		}
	}
	for _, b := range op.Headers {
		if s := h.Get(b.Wire); s != "" {
			if err := setScalar(v.FieldByName(b.Field), s); err != nil {
				return in, badf("header %s: %v", b.Wire, err)
			}
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return in, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return in, badf("request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return in, badf("request body has data after its JSON object")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return in, badf("request body must be a JSON object, got %s", jsonKind(doc))
	}
	if err := fromJSONStruct(v, obj, ""); err != nil {
		return in, err
	}
	return in, nil
}

// setScalar parses a path, query or header value into a string, enum, number or
// boolean member (or a pointer to one).
func setScalar(f reflect.Value, s string) error {
	if !f.IsValid() {
		return fmt.Errorf("no such member")
	}
	if f.Kind() == reflect.Pointer {
		p := reflect.New(f.Type().Elem())
		if err := setScalar(p.Elem(), s); err != nil {
			return err
		}
		f.Set(p)
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		f.SetBool(b)
	case reflect.Int32, reflect.Int64, reflect.Int:
		n, err := strconv.ParseInt(s, 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		f.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(n)
	default:
		return fmt.Errorf("unsupported member type %s", f.Type())
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// shapeOf is the iotShapes key of a structure type.
func shapeOf(t reflect.Type) string {
	if strings.HasSuffix(t.PkgPath(), "/types") {
		return "types." + t.Name()
	}
	return t.Name()
}

func fromJSONStruct(v reflect.Value, obj map[string]any, path string) error {
	members := iotShapes[shapeOf(v.Type())]
	for field, name := range members {
		raw, ok := obj[name]
		if !ok || raw == nil {
			continue
		}
		f := v.FieldByName(field)
		if !f.IsValid() {
			continue
		}
		if err := fromJSON(f, raw, join(path, name)); err != nil {
			return err
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fromJSON decodes one JSON value into v, naming the member in errors. Timestamps are
// epoch seconds and blobs base64, as REST-JSON encodes them.
func fromJSON(v reflect.Value, raw any, path string) error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := fromJSON(p.Elem(), raw, path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	mismatch := func(want string) error { return badf("%s: expected %s, got %s", path, want, jsonKind(raw)) }
	switch {
	case v.Type() == timeType:
		n, ok := raw.(json.Number)
		if !ok {
			return mismatch("a timestamp (epoch seconds)")
		}
		f, err := n.Float64()
		if err != nil {
			return mismatch("a timestamp (epoch seconds)")
		}
		sec, frac := math.Modf(f)
		v.Set(reflect.ValueOf(time.Unix(int64(sec), int64(frac*1e9)).UTC()))
		return nil
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		s, ok := raw.(string)
		if !ok {
			return mismatch("a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return badf("%s: not base64: %v", path, err)
		}
		v.SetBytes(b)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return mismatch("a string")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return mismatch("a boolean")
		}
		v.SetBool(b)
	case reflect.Int32, reflect.Int64, reflect.Int:
		n, ok := raw.(json.Number)
		if !ok {
			return mismatch("an integer")
		}
		i, err := strconv.ParseInt(n.String(), 10, v.Type().Bits())
		if err != nil {
			return badf("%s: %s is not an integer in range", path, n)
		}
		v.SetInt(i)
	case reflect.Float64, reflect.Float32:
		n, ok := raw.(json.Number)
		if !ok {
			return mismatch("a number")
		}
		f, err := n.Float64()
		if err != nil {
			return badf("%s: %s is not a number", path, n)
		}
		v.SetFloat(f)
	case reflect.Slice:
		arr, ok := raw.([]any)
		if !ok {
			return mismatch("an array")
		}
		out := reflect.MakeSlice(v.Type(), len(arr), len(arr))
		for i, e := range arr {
			if e == nil {
				continue
			}
			if err := fromJSON(out.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(out)
	case reflect.Map:
		obj, ok := raw.(map[string]any)
		if !ok {
			return mismatch("an object")
		}
		out := reflect.MakeMapWithSize(v.Type(), len(obj))
		for k, e := range obj {
			ev := reflect.New(v.Type().Elem()).Elem()
			if e != nil {
				if err := fromJSON(ev, e, path+"."+k); err != nil {
					return err
				}
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(out)
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return mismatch("an object")
		}
		return fromJSONStruct(v, obj, path)
	default:
		return badf("%s: members of type %s are not supported by the simulator", path, v.Type())
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// toJSON encodes an output or exception structure as REST-JSON: members under their
// wire names, nil pointers, slices and maps and empty enums left out, timestamps as
// epoch seconds.
func toJSON(v reflect.Value) any {
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		return toJSON(v.Elem())
	}
	switch {
	case v.Type() == timeType:
		return epochSeconds(v.Interface().(time.Time))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		for field, name := range iotShapes[shapeOf(v.Type())] {
			f := v.FieldByName(field)
			if !f.IsValid() || omit(f) {
				continue
			}
			out[name] = toJSON(f)
		}
		return out
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toJSON(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[it.Key().String()] = toJSON(it.Value())
		}
		return out
	case reflect.String:
		return v.String()
	default:
		return v.Interface()
	}
}

func omit(f reflect.Value) bool {
	switch f.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return f.IsNil()
	case reflect.String:
		return f.Len() == 0
	}
	return false
}

// epochSeconds is a REST-JSON and JSON 1.1 timestamp, to the millisecond.
func epochSeconds(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
}
