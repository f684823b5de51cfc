package stepfn

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

type stateType uint8

const (
	stTask stateType = iota + 1
	stPass
	stChoice
	stWait
	stSucceed
	stFail
)

var stateTypes = map[string]stateType{
	"Task": stTask, "Pass": stPass, "Choice": stChoice,
	"Wait": stWait, "Succeed": stSucceed, "Fail": stFail,
}

// allowedFields lists, per state type, every field the interpreter
// understands. Any other field is refused: silently ignoring one (say
// HeartbeatSeconds) would make the simulator behave unlike AWS.
var allowedFields = map[stateType][]string{
	stTask:    {"Resource", "Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "TimeoutSeconds"},
	stPass:    {"Next", "End", "InputPath", "OutputPath", "Parameters", "Result", "ResultPath"},
	stChoice:  {"Choices", "Default", "InputPath", "OutputPath"},
	stWait:    {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
	stSucceed: {"InputPath", "OutputPath"},
	stFail:    {"Error", "Cause"},
}

// reservedErrors are the States.* error names of the specification. A
// States.* name outside this list in ErrorEquals is a typo and is refused.
var reservedErrors = map[string]bool{
	"States.ALL": true, "States.DataLimitExceeded": true, "States.ExceedToleratedFailureThreshold": true,
	"States.HeartbeatTimeout": true, "States.Http.Socket": true, "States.IntrinsicFailure": true,
	"States.ItemReaderFailed": true, "States.NoChoiceMatched": true, "States.ParameterPathFailure": true,
	"States.Permissions": true, "States.ResultPathMatchFailure": true, "States.ResultWriterFailed": true,
	"States.Runtime": true, "States.TaskFailed": true, "States.Timeout": true, "States.BranchFailed": true,
	"States.QueryEvaluationError": true,
}

// ioPath is InputPath/OutputPath/ResultPath: absent means "$", JSON null
// means "discard" (null is true).
type ioPath struct {
	null bool
	p    *refPath
}

var defaultIOPath = ioPath{p: rootPath}

type retrier struct {
	errors      []string
	interval    float64 // seconds
	maxAttempts int
	backoff     float64
	maxDelay    float64 // seconds; 0 means uncapped
	jitterFull  bool
}

// delay is the wait before retry number attempt+1 (attempt counts retries
// already made by this retrier): IntervalSeconds * BackoffRate^attempt,
// capped at MaxDelaySeconds. Jitter is applied by the caller.
func (r *retrier) delay(attempt int) time.Duration {
	d := r.interval * math.Pow(r.backoff, float64(attempt))
	if r.maxDelay > 0 && d > r.maxDelay {
		d = r.maxDelay
	}
	return time.Duration(d * float64(time.Second))
}

type catcher struct {
	errors     []string
	next       string
	resultPath ioPath
}

type state struct {
	name       string
	typ        stateType
	next       string
	end        bool
	inputPath  ioPath
	outputPath ioPath
	resultPath ioPath

	parameters     tmpl
	resultSelector tmpl
	result         any
	hasResult      bool

	resource     string
	lambda       bool   // direct Lambda ARN: LambdaFunction* history events
	resourceType string // service integrations: "dynamodb"
	resourceName string // service integrations: "putItem"
	timeout      int64  // seconds; 0 means none
	retry        []retrier
	catch        []catcher

	choices     []*rule
	defaultNext string

	waitSeconds       int64
	waitSecondsPath   *refPath
	waitTimestamp     time.Time
	hasWaitTimestamp  bool
	waitTimestampPath *refPath

	failError, failCause string
}

type definition struct {
	startAt string
	states  map[string]*state
}

// defErrors collects every problem of a definition so that one
// CreateStateMachine call reports them all.
type defErrors []string

func (d *defErrors) add(state, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if state != "" {
		msg = fmt.Sprintf("State %q: %s", state, msg)
	}
	*d = append(*d, msg)
}

// parseDefinition parses and validates an ASL definition. The error text
// lists every problem found.
func parseDefinition(src string) (*definition, error) {
	raw, err := decodeJSON([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("definition is not valid JSON: %w", err)
	}
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("definition must be a JSON object")
	}
	var errs defErrors
	for _, k := range sortedKeys(top) {
		switch k {
		case "StartAt", "States", "Comment":
		case "Version":
			if top[k] != "1.0" {
				errs.add("", "field \"Version\" must be \"1.0\"")
			}
		case "QueryLanguage":
			checkQueryLanguage(&errs, "", top[k])
		default:
			errs.add("", "top-level field %q is not supported by the simulator", k)
		}
	}
	def := &definition{states: map[string]*state{}}
	def.startAt, _ = top["StartAt"].(string)
	if def.startAt == "" {
		errs.add("", "field \"StartAt\" is required and must be a state name")
	}
	states, ok := top["States"].(map[string]any)
	if !ok || len(states) == 0 {
		errs.add("", "field \"States\" is required and must be a non-empty object")
	}
	for _, name := range sortedKeys(states) {
		if len(name) == 0 || len(name) > 80 {
			errs.add(name, "state names must be 1 to 80 characters long")
		}
		if st := compileState(&errs, name, states[name]); st != nil {
			def.states[name] = st
		}
	}
	if len(errs) == 0 {
		checkGraph(&errs, def)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return def, nil
}

func checkQueryLanguage(errs *defErrors, st string, v any) {
	switch v {
	case "JSONPath":
	case "JSONata":
		errs.add(st, "field \"QueryLanguage\": JSONata is not supported by the simulator (JSONPath only)")
	default:
		errs.add(st, "field \"QueryLanguage\" must be \"JSONPath\" or \"JSONata\"")
	}
}

func compileState(errs *defErrors, name string, v any) *state {
	m, ok := v.(map[string]any)
	if !ok {
		errs.add(name, "must be a JSON object")
		return nil
	}
	typName, _ := m["Type"].(string)
	typ, ok := stateTypes[typName]
	if !ok {
		if typName == "" {
			errs.add(name, "field \"Type\" is required")
		} else {
			errs.add(name, "field \"Type\": state type %q is not supported by the simulator (supported: Task, Pass, Choice, Wait, Succeed, Fail)", typName)
		}
		return nil
	}
	n := len(*errs)
	allowed := allowedFields[typ]
	for _, k := range sortedKeys(m) {
		switch k {
		case "Type", "Comment":
			continue
		case "QueryLanguage":
			checkQueryLanguage(errs, name, m[k])
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			errs.add(name, "field %q is not supported by the simulator for %s states", k, typName)
		}
	}
	st := &state{name: name, typ: typ, inputPath: defaultIOPath, outputPath: defaultIOPath, resultPath: defaultIOPath}
	if c, ok := m["Comment"]; ok {
		if _, ok := c.(string); !ok {
			errs.add(name, "field \"Comment\" must be a string")
		}
	}

	// Transitions.
	switch typ {
	case stTask, stPass, stWait:
		next, hasNext := m["Next"]
		end, hasEnd := m["End"]
		switch {
		case hasNext && hasEnd:
			errs.add(name, "fields \"Next\" and \"End\" are mutually exclusive")
		case hasNext:
			s, ok := next.(string)
			if !ok || s == "" {
				errs.add(name, "field \"Next\" must be a state name")
			}
			st.next = s
		case hasEnd:
			if end != true {
				errs.add(name, "field \"End\" must be true when present")
			}
			st.end = true
		default:
			errs.add(name, "one of \"Next\" or \"End\" is required")
		}
	}

	// Paths.
	st.inputPath = compileIOPath(errs, name, m, "InputPath")
	st.outputPath = compileIOPath(errs, name, m, "OutputPath")
	st.resultPath = compileIOPath(errs, name, m, "ResultPath")
	if p, ok := m["Parameters"]; ok {
		if _, isObj := p.(map[string]any); !isObj {
			errs.add(name, "field \"Parameters\" must be an object")
		} else if t, err := compileTemplate(p, "Parameters"); err != nil {
			errs.add(name, "field %v", err)
		} else {
			st.parameters = t
		}
	}
	if p, ok := m["ResultSelector"]; ok {
		if _, isObj := p.(map[string]any); !isObj {
			errs.add(name, "field \"ResultSelector\" must be an object")
		} else if t, err := compileTemplate(p, "ResultSelector"); err != nil {
			errs.add(name, "field %v", err)
		} else {
			st.resultSelector = t
		}
	}

	switch typ {
	case stTask:
		compileTask(errs, st, m)
	case stPass:
		st.result, st.hasResult = m["Result"]
	case stChoice:
		compileChoice(errs, st, m)
	case stWait:
		compileWait(errs, st, m)
	case stFail:
		for _, k := range []string{"Error", "Cause"} {
			if v, ok := m[k]; ok {
				s, ok := v.(string)
				if !ok {
					errs.add(name, "field %q must be a string", k)
				}
				if k == "Error" {
					st.failError = s
				} else {
					st.failCause = s
				}
			}
		}
	}
	if len(*errs) > n {
		return nil
	}
	return st
}

func compileIOPath(errs *defErrors, name string, m map[string]any, field string) ioPath {
	v, ok := m[field]
	if !ok {
		return defaultIOPath
	}
	if v == nil {
		return ioPath{null: true}
	}
	s, ok := v.(string)
	if !ok {
		errs.add(name, "field %q must be a path string or null", field)
		return defaultIOPath
	}
	p, err := parsePath(s, false)
	if err != nil {
		errs.add(name, "field %q: %v", field, err)
		return defaultIOPath
	}
	return ioPath{p: p}
}

func compileTask(errs *defErrors, st *state, m map[string]any) {
	name := st.name
	res, _ := m["Resource"].(string)
	switch {
	case res == "":
		errs.add(name, "field \"Resource\" is required and must be an ARN string")
	case isLambdaFunctionARN(res):
		st.lambda = true
	case res == "arn:aws:states:::dynamodb:putItem":
		st.resourceType, st.resourceName = "dynamodb", "putItem"
	default:
		errs.add(name, "field \"Resource\": %q is not supported by the simulator (supported: Lambda function ARNs and arn:aws:states:::dynamodb:putItem)", res)
	}
	st.resource = res
	if v, ok := m["TimeoutSeconds"]; ok {
		n, ok := positiveInt(v)
		if !ok {
			errs.add(name, "field \"TimeoutSeconds\" must be a positive integer")
		}
		st.timeout = n
	}
	if v, ok := m["Retry"]; ok {
		arr, ok := v.([]any)
		if !ok {
			errs.add(name, "field \"Retry\" must be an array")
		}
		for i, e := range arr {
			r, ok := compileRetrier(errs, name, fmt.Sprintf("Retry/%d", i), e, i == len(arr)-1)
			if ok {
				st.retry = append(st.retry, r)
			}
		}
	}
	if v, ok := m["Catch"]; ok {
		arr, ok := v.([]any)
		if !ok {
			errs.add(name, "field \"Catch\" must be an array")
		}
		for i, e := range arr {
			c, ok := compileCatcher(errs, name, fmt.Sprintf("Catch/%d", i), e, i == len(arr)-1)
			if ok {
				st.catch = append(st.catch, c)
			}
		}
	}
}

// isLambdaFunctionARN matches arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
func isLambdaFunctionARN(s string) bool {
	f := strings.Split(s, ":")
	return (len(f) == 7 || len(f) == 8) && f[0] == "arn" && f[1] == "aws" && f[2] == "lambda" &&
		f[3] != "" && f[4] != "" && f[5] == "function" && f[6] != "" && (len(f) == 7 || f[7] != "")
}

// compileErrorEquals validates ErrorEquals; States.ALL must be alone and in
// the last retrier/catcher.
func compileErrorEquals(errs *defErrors, name, where string, m map[string]any, last bool) ([]string, bool) {
	arr, ok := m["ErrorEquals"].([]any)
	if !ok || len(arr) == 0 {
		errs.add(name, "%s/ErrorEquals: required non-empty array of error names", where)
		return nil, false
	}
	out := make([]string, 0, len(arr))
	good := true
	for _, e := range arr {
		s, ok := e.(string)
		if !ok || s == "" {
			errs.add(name, "%s/ErrorEquals: error names must be non-empty strings", where)
			good = false
			continue
		}
		if strings.HasPrefix(s, "States.") && !reservedErrors[s] {
			errs.add(name, "%s/ErrorEquals: %q is not a known States.* error name", where, s)
			good = false
		}
		if s == "States.ALL" {
			if len(arr) != 1 {
				errs.add(name, "%s/ErrorEquals: States.ALL must appear alone", where)
				good = false
			}
			if !last {
				errs.add(name, "%s/ErrorEquals: States.ALL must appear in the last element of its array", where)
				good = false
			}
		}
		out = append(out, s)
	}
	return out, good
}

func compileRetrier(errs *defErrors, name, where string, v any, last bool) (retrier, bool) {
	r := retrier{interval: 1, maxAttempts: 3, backoff: 2}
	m, ok := v.(map[string]any)
	if !ok {
		errs.add(name, "%s: must be an object", where)
		return r, false
	}
	n := len(*errs)
	for _, k := range sortedKeys(m) {
		switch k {
		case "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment":
		default:
			errs.add(name, "%s: field %q is not supported in a retrier", where, k)
		}
	}
	r.errors, _ = compileErrorEquals(errs, name, where, m, last)
	if v, ok := m["IntervalSeconds"]; ok {
		n, ok := positiveInt(v)
		if !ok {
			errs.add(name, "%s/IntervalSeconds: must be a positive integer", where)
		}
		r.interval = float64(n)
	}
	if v, ok := m["MaxAttempts"]; ok {
		n, ok := intValue(v)
		if !ok || n < 0 {
			errs.add(name, "%s/MaxAttempts: must be a non-negative integer", where)
		}
		r.maxAttempts = int(n)
	}
	if v, ok := m["BackoffRate"]; ok {
		f, ok := numValue(v)
		if !ok || f < 1 {
			errs.add(name, "%s/BackoffRate: must be a number >= 1.0", where)
		}
		r.backoff = f
	}
	if v, ok := m["MaxDelaySeconds"]; ok {
		n, ok := positiveInt(v)
		if !ok {
			errs.add(name, "%s/MaxDelaySeconds: must be a positive integer", where)
		}
		r.maxDelay = float64(n)
	}
	if v, ok := m["JitterStrategy"]; ok {
		switch v {
		case "FULL":
			r.jitterFull = true
		case "NONE":
		default:
			errs.add(name, "%s/JitterStrategy: must be \"FULL\" or \"NONE\"", where)
		}
	}
	return r, len(*errs) == n
}

func compileCatcher(errs *defErrors, name, where string, v any, last bool) (catcher, bool) {
	c := catcher{resultPath: defaultIOPath}
	m, ok := v.(map[string]any)
	if !ok {
		errs.add(name, "%s: must be an object", where)
		return c, false
	}
	n := len(*errs)
	for _, k := range sortedKeys(m) {
		switch k {
		case "ErrorEquals", "Next", "ResultPath", "Comment":
		default:
			errs.add(name, "%s: field %q is not supported in a catcher", where, k)
		}
	}
	c.errors, _ = compileErrorEquals(errs, name, where, m, last)
	c.next, _ = m["Next"].(string)
	if c.next == "" {
		errs.add(name, "%s/Next: required state name", where)
	}
	c.resultPath = compileIOPath(errs, name, m, "ResultPath")
	if len(*errs) > n {
		// compileIOPath names the field without the catcher's position.
		return c, false
	}
	return c, true
}

func compileChoice(errs *defErrors, st *state, m map[string]any) {
	arr, ok := m["Choices"].([]any)
	if !ok || len(arr) == 0 {
		errs.add(st.name, "field \"Choices\" is required and must be a non-empty array")
		return
	}
	for i, e := range arr {
		r, err := compileRule(e, fmt.Sprintf("Choices/%d", i), true)
		if err != nil {
			errs.add(st.name, "%v", err)
			continue
		}
		st.choices = append(st.choices, r)
	}
	if d, ok := m["Default"]; ok {
		s, ok := d.(string)
		if !ok || s == "" {
			errs.add(st.name, "field \"Default\" must be a state name")
		}
		st.defaultNext = s
	}
}

func compileWait(errs *defErrors, st *state, m map[string]any) {
	count := 0
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		count++
		switch k {
		case "Seconds":
			n, ok := intValue(v)
			if !ok || n < 0 {
				errs.add(st.name, "field \"Seconds\" must be a non-negative integer")
			}
			st.waitSeconds = n
		case "Timestamp":
			s, _ := v.(string)
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				errs.add(st.name, "field \"Timestamp\" must be an RFC 3339 timestamp")
			}
			st.waitTimestamp, st.hasWaitTimestamp = t, true
		default:
			s, _ := v.(string)
			p, err := parsePath(s, true)
			if err != nil {
				errs.add(st.name, "field %q: %v", k, err)
				continue
			}
			if k == "SecondsPath" {
				st.waitSecondsPath = p
			} else {
				st.waitTimestampPath = p
			}
		}
	}
	if count != 1 {
		errs.add(st.name, "exactly one of \"Seconds\", \"SecondsPath\", \"Timestamp\" or \"TimestampPath\" is required")
	}
}

// checkGraph checks transitions: every target exists, every state is
// reachable from StartAt, and some state ends the execution.
func checkGraph(errs *defErrors, def *definition) {
	if _, ok := def.states[def.startAt]; !ok {
		errs.add("", "StartAt %q does not name a state", def.startAt)
		return
	}
	terminal := false
	for _, name := range sortedKeys(def.states) {
		st := def.states[name]
		if st.end || st.typ == stSucceed || st.typ == stFail {
			terminal = true
		}
		for _, t := range st.targets() {
			if _, ok := def.states[t.to]; !ok {
				errs.add(name, "%s %q does not name a state", t.field, t.to)
			}
		}
	}
	if !terminal {
		errs.add("", "no terminal state: at least one state must be Succeed, Fail or have \"End\": true")
	}
	if len(*errs) > 0 {
		return
	}
	seen := map[string]bool{def.startAt: true}
	queue := []string{def.startAt}
	for len(queue) > 0 {
		st := def.states[queue[0]]
		queue = queue[1:]
		for _, t := range st.targets() {
			if !seen[t.to] {
				seen[t.to] = true
				queue = append(queue, t.to)
			}
		}
	}
	for _, name := range sortedKeys(def.states) {
		if !seen[name] {
			errs.add(name, "state is not reachable from StartAt %q", def.startAt)
		}
	}
}

type transition struct{ field, to string }

func (st *state) targets() []transition {
	var out []transition
	if st.next != "" {
		out = append(out, transition{"field \"Next\"", st.next})
	}
	for i, r := range st.choices {
		out = append(out, transition{fmt.Sprintf("Choices/%d/Next", i), r.next})
	}
	if st.defaultNext != "" {
		out = append(out, transition{"field \"Default\"", st.defaultNext})
	}
	for i, c := range st.catch {
		out = append(out, transition{fmt.Sprintf("Catch/%d/Next", i), c.next})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// intValue accepts a JSON integer (1 or 1.0, not 1.5).
func intValue(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt64/2 {
		return 0, false
	}
	return int64(f), true
}

func positiveInt(v any) (int64, bool) {
	n, ok := intValue(v)
	return n, ok && n > 0
}

func numValue(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}
