package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strconv"
)

// AWS IoT limits modelled by the service.
const (
	maxStateBytes       = 8 * 1024   // desired + reported, without metadata
	maxRequestBytes     = 128 * 1024 // an MQTT message or HTTP body
	maxDepth            = 6          // nesting levels inside desired or reported
	maxClientTokenBytes = 64
)

var thingNameRE = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)

// shadowNameRE is AWS's shadow name: 1 to 64 characters of [$a-zA-Z0-9:_-]
// (ListNamedShadowsForThing's results pattern in the IoT data-plane API reference).
var shadowNameRE = regexp.MustCompile(`^[$a-zA-Z0-9:_-]{1,64}$`)

// shadowError is a rejection with the HTTP-style code AWS puts in the error
// response document.
type shadowError struct {
	code int
	msg  string
}

func (e *shadowError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.msg) }

func badRequest(msg string) *shadowError { return &shadowError{code: 400, msg: msg} }

var (
	errVersionConflict = &shadowError{code: 409, msg: "Version conflict"}
	errTooLarge        = &shadowError{code: 413, msg: "The payload exceeds the maximum size allowed"}
	errUnavailable     = &shadowError{code: 500, msg: "Internal service failure"}
)

func errNotFound(k key) *shadowError {
	name := k.thing
	if k.shadow != "" {
		name += "~" + k.shadow
	}
	return &shadowError{code: 404, msg: fmt.Sprintf("No shadow exists with name: '%s'", name)}
}

// updateRequest is a validated request state document.
type updateRequest struct {
	state       map[string]any // as sent, nulls included (echoed in update/accepted)
	clientToken string
	version     *int64
}

// section returns the request's value for "desired" or "reported": present
// reports whether the key was sent, and patch is nil when it was sent as null.
func (r *updateRequest) section(name string) (patch map[string]any, present bool) {
	v, ok := r.state[name]
	if !ok {
		return nil, false
	}
	m, _ := v.(map[string]any)
	return m, true
}

// decodeJSON parses one JSON value, keeping numbers exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	// More would accept a stray closing bracket; only the end of input may follow.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// clientTokenOf extracts a usable clientToken from a request payload, or "".
func clientTokenOf(payload []byte) string {
	v, err := decodeJSON(payload)
	if err != nil {
		return ""
	}
	m, _ := v.(map[string]any)
	tok, _ := m["clientToken"].(string)
	if len(tok) > maxClientTokenBytes {
		return ""
	}
	return tok
}

// parseUpdate validates a request state document. The clientToken is returned
// even on error when it could be read, so rejections can echo it.
func parseUpdate(payload []byte) (*updateRequest, *shadowError) {
	if len(payload) > maxRequestBytes {
		return nil, errTooLarge
	}
	v, err := decodeJSON(payload)
	if err != nil {
		return nil, badRequest("Invalid JSON")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("Invalid JSON")
	}
	req := &updateRequest{}
	if tv, ok := doc["clientToken"]; ok {
		tok, isStr := tv.(string)
		if !isStr || len(tok) > maxClientTokenBytes {
			return req, badRequest("Invalid clientToken")
		}
		req.clientToken = tok
	}
	if vv, ok := doc["version"]; ok {
		n, isNum := vv.(json.Number)
		ver, err := strconv.ParseInt(string(n), 10, 64)
		if !isNum || err != nil || ver < 0 {
			return req, badRequest("Invalid version")
		}
		req.version = &ver
	}
	sv, ok := doc["state"]
	if !ok {
		return req, badRequest("Missing required node: state")
	}
	state, ok := sv.(map[string]any)
	if !ok {
		return req, badRequest("State node must be an object")
	}
	for key, val := range state {
		var label string
		switch key {
		case "desired":
			label = "Desired"
		case "reported":
			label = "Reported"
		default:
			return req, badRequest(fmt.Sprintf("State contains an invalid node: '%s'", key))
		}
		if val == nil {
			continue
		}
		m, isObj := val.(map[string]any)
		if !isObj {
			return req, badRequest(label + " node must be an object")
		}
		if depth(m) > maxDepth {
			return req, badRequest(fmt.Sprintf("JSON contains too many levels of nesting; maximum is %d", maxDepth))
		}
		if hasNullInArray(m) {
			return req, badRequest("Arrays cannot contain null values")
		}
	}
	req.state = state
	return req, nil
}

// depth counts nesting levels: an object or array is one level more than its
// deepest child; scalars are level 0.
func depth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			d = max(d, depth(c))
		}
	case []any:
		for _, c := range x {
			d = max(d, depth(c))
		}
	default:
		return 0
	}
	return d + 1
}

func hasNullInArray(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			if hasNullInArray(c) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if c == nil || hasNullInArray(c) {
				return true
			}
		}
	}
	return false
}

// merge applies patch to an object and its metadata without modifying either
// (stored documents are shared with earlier snapshots). A null removes a key,
// objects merge recursively, anything else (arrays included) replaces. Objects
// left empty are removed, so a section whose keys are all removed disappears.
func merge(state, meta, patch map[string]any, ts int64) (map[string]any, map[string]any) {
	ns := make(map[string]any, len(state)+len(patch))
	nm := make(map[string]any, len(meta)+len(patch))
	for k, v := range state {
		ns[k] = v
	}
	for k, v := range meta {
		nm[k] = v
	}
	for k, pv := range patch {
		if pv == nil {
			delete(ns, k)
			delete(nm, k)
			continue
		}
		if pobj, ok := pv.(map[string]any); ok {
			sobj, isObj := ns[k].(map[string]any)
			var mobj map[string]any
			if isObj {
				mobj, _ = nm[k].(map[string]any)
			} else {
				sobj = nil
			}
			cs, cm := merge(sobj, mobj, pobj, ts)
			if len(cs) == 0 {
				delete(ns, k)
				delete(nm, k)
			} else {
				ns[k], nm[k] = cs, cm
			}
			continue
		}
		ns[k] = pv
		nm[k] = metadataFor(pv, ts)
	}
	return ns, nm
}

// metadataFor mirrors v with {"timestamp": ts} at every leaf; arrays get one
// entry per element. A null leaf also gets a timestamp (update/accepted echoes
// deletions with the time they happened).
func metadataFor(v any, ts int64) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = metadataFor(c, ts)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, c := range x {
			a[i] = metadataFor(c, ts)
		}
		return a
	default:
		return map[string]any{"timestamp": ts}
	}
}

// delta returns the desired keys whose values differ from reported, recursing
// into objects present on both sides; nil when there is no difference.
func delta(desired, reported map[string]any) map[string]any {
	var d map[string]any
	for k, dv := range desired {
		rv, ok := reported[k]
		var diff any
		switch {
		case !ok:
			diff = dv
		default:
			dobj, dIsObj := dv.(map[string]any)
			robj, rIsObj := rv.(map[string]any)
			if dIsObj && rIsObj {
				if sub := delta(dobj, robj); sub != nil {
					diff = sub
				}
			} else if !jsonEqual(dv, rv) {
				diff = dv
			}
		}
		if diff != nil {
			if d == nil {
				d = make(map[string]any)
			}
			d[k] = diff
		}
	}
	return d
}

// deltaMetadata picks the desired metadata of the keys in a delta.
func deltaMetadata(d, desiredMeta map[string]any) map[string]any {
	if d == nil {
		return nil
	}
	out := make(map[string]any, len(d))
	for k, v := range d {
		sub, isObj := v.(map[string]any)
		mobj, metaIsObj := desiredMeta[k].(map[string]any)
		if isObj && metaIsObj {
			out[k] = deltaMetadata(sub, mobj)
		} else {
			out[k] = desiredMeta[k]
		}
	}
	return out
}

// jsonEqual compares decoded JSON values; numbers compare by value, so 1 and
// 1.0 are equal.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		xf, _, errX := big.ParseFloat(string(x), 10, 256, big.ToNearestEven)
		yf, _, errY := big.ParseFloat(string(y), 10, 256, big.ToNearestEven)
		return errX == nil && errY == nil && xf.Cmp(yf) == 0
	default: // string, bool, nil
		return a == b
	}
}

// stateSize is the size AWS counts against the 8 KB limit: desired and
// reported as compact JSON, metadata excluded.
func stateSize(desired, reported map[string]any) (int, error) {
	b, err := json.Marshal(stateDoc{Desired: desired, Reported: reported})
	if err != nil {
		return 0, fmt.Errorf("measure state: %w", err)
	}
	return len(b), nil
}

// Wire documents. Maps marshal with sorted keys, so output is deterministic.

type stateDoc struct {
	Desired  map[string]any `json:"desired,omitempty"`
	Reported map[string]any `json:"reported,omitempty"`
	Delta    map[string]any `json:"delta,omitempty"`
}

type metaDoc struct {
	Desired  map[string]any `json:"desired,omitempty"`
	Reported map[string]any `json:"reported,omitempty"`
}

// fullDoc is the get/accepted and GetThingShadow document.
type fullDoc struct {
	State       stateDoc `json:"state"`
	Metadata    metaDoc  `json:"metadata"`
	Version     int64    `json:"version"`
	Timestamp   int64    `json:"timestamp"`
	ClientToken string   `json:"clientToken,omitempty"`
}

// acceptedDoc is the update/accepted document: the request state as sent.
type acceptedDoc struct {
	State       map[string]any `json:"state"`
	Metadata    map[string]any `json:"metadata"`
	Version     int64          `json:"version"`
	Timestamp   int64          `json:"timestamp"`
	ClientToken string         `json:"clientToken,omitempty"`
}

// snapshotDoc is one side of update/documents.
type snapshotDoc struct {
	State    stateDoc `json:"state"`
	Metadata metaDoc  `json:"metadata"`
	Version  int64    `json:"version"`
}

type documentsDoc struct {
	Previous    *snapshotDoc `json:"previous"`
	Current     snapshotDoc  `json:"current"`
	Timestamp   int64        `json:"timestamp"`
	ClientToken string       `json:"clientToken,omitempty"`
}

type deltaDoc struct {
	Version     int64          `json:"version"`
	Timestamp   int64          `json:"timestamp"`
	State       map[string]any `json:"state"`
	Metadata    map[string]any `json:"metadata"`
	ClientToken string         `json:"clientToken,omitempty"`
}

type deleteDoc struct {
	Version     int64  `json:"version"`
	Timestamp   int64  `json:"timestamp"`
	ClientToken string `json:"clientToken,omitempty"`
}

type errorDoc struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	Timestamp   int64  `json:"timestamp"`
	ClientToken string `json:"clientToken,omitempty"`
}
