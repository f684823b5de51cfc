package stepfn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

const (
	errRuntime        = "States.Runtime"
	errTaskFailed     = "States.TaskFailed"
	errTimeout        = "States.Timeout"
	errNoChoice       = "States.NoChoiceMatched"
	errDataLimit      = "States.DataLimitExceeded"
	enteredTimeLayout = "2006-01-02T15:04:05.000Z"
)

type execution struct {
	svc   *Service
	sm    *stateMachine
	arn   string
	name  string
	input string
	seq   uint64
	start time.Time

	mu      sync.Mutex
	status  types.ExecutionStatus
	stop    time.Time
	output  *string
	errName *string
	cause   *string
	events  []types.HistoryEvent
}

// record appends a history event and returns its id.
func (e *execution) record(t types.HistoryEventType, fill func(*types.HistoryEvent)) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := int64(len(e.events) + 1)
	h := types.HistoryEvent{Id: id, PreviousEventId: id - 1, Timestamp: aws.Time(e.svc.now()), Type: t}
	if fill != nil {
		fill(&h)
	}
	e.events = append(e.events, h)
	return id
}

// outcome is how an execution ended.
type outcome struct {
	status       types.ExecutionStatus
	output       string
	errName      string
	cause        string
	abortedCause string
}

// stateError is an error raised by a state: name is the ASL error name.
type stateError struct {
	name, cause string
}

// runtimeError builds the uncatchable States.Runtime error, with the cause
// in AWS's wording.
func runtimeError(st *state, enteredID int64, err error) *stateError {
	return &stateError{name: errRuntime, cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %v", st.name, enteredID, err)}
}

var errAborted = errors.New("execution aborted")

func (e *execution) run(ctx context.Context, input any) {
	defer e.svc.wg.Done()
	defer e.svc.finished()
	def := e.sm.def
	name := def.startAt
	var res outcome
	for {
		st := def.states[name]
		next, out, serr, err := e.runState(ctx, st, input)
		if err != nil { // aborted
			res = outcome{status: types.ExecutionStatusAborted, abortedCause: err.Error()}
			break
		}
		if serr != nil {
			res = outcome{status: types.ExecutionStatusFailed, errName: serr.name, cause: serr.cause}
			break
		}
		if next == "" {
			s, encErr := encodeJSON(out)
			if encErr != nil {
				res = outcome{status: types.ExecutionStatusFailed, errName: errRuntime, cause: encErr.Error()}
				break
			}
			res = outcome{status: types.ExecutionStatusSucceeded, output: s}
			break
		}
		name, input = next, out
	}
	e.finish(res)
}

func (e *execution) finish(res outcome) {
	switch res.status {
	case types.ExecutionStatusSucceeded:
		e.record(types.HistoryEventTypeExecutionSucceeded, func(h *types.HistoryEvent) {
			h.ExecutionSucceededEventDetails = &types.ExecutionSucceededEventDetails{Output: aws.String(res.output), OutputDetails: notTruncated()}
		})
	case types.ExecutionStatusFailed:
		e.record(types.HistoryEventTypeExecutionFailed, func(h *types.HistoryEvent) {
			h.ExecutionFailedEventDetails = &types.ExecutionFailedEventDetails{Error: optString(res.errName), Cause: optString(res.cause)}
		})
		e.svc.log.Info("stepfn: execution failed", "execution", e.name, "stateMachine", e.sm.name, "error", res.errName)
	default:
		e.record(types.HistoryEventTypeExecutionAborted, func(h *types.HistoryEvent) {
			h.ExecutionAbortedEventDetails = &types.ExecutionAbortedEventDetails{Cause: optString(res.abortedCause)}
		})
		e.svc.log.Info("stepfn: execution aborted", "execution", e.name, "stateMachine", e.sm.name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status = res.status
	e.stop = e.svc.now()
	if res.status == types.ExecutionStatusSucceeded {
		e.output = aws.String(res.output)
	}
	e.errName, e.cause = optString(res.errName), optString(res.cause)
}

var enteredTypes = map[stateType][2]types.HistoryEventType{
	stTask:    {types.HistoryEventTypeTaskStateEntered, types.HistoryEventTypeTaskStateExited},
	stPass:    {types.HistoryEventTypePassStateEntered, types.HistoryEventTypePassStateExited},
	stChoice:  {types.HistoryEventTypeChoiceStateEntered, types.HistoryEventTypeChoiceStateExited},
	stWait:    {types.HistoryEventTypeWaitStateEntered, types.HistoryEventTypeWaitStateExited},
	stSucceed: {types.HistoryEventTypeSucceedStateEntered, types.HistoryEventTypeSucceedStateExited},
	stFail:    {types.HistoryEventTypeFailStateEntered, ""},
}

// runState runs one state. It returns the next state ("" when the
// execution succeeds here) and the state's output, or the error that fails
// the execution, or (as err) the abort.
func (e *execution) runState(ctx context.Context, st *state, raw any) (next string, out any, serr *stateError, err error) {
	if err := e.svc.transition(ctx); err != nil {
		return "", nil, nil, errAborted
	}
	enteredAt := e.svc.now()
	inStr, encErr := encodeJSON(raw)
	if encErr != nil {
		return "", nil, &stateError{name: errRuntime, cause: encErr.Error()}, nil
	}
	evTypes := enteredTypes[st.typ]
	enteredID := e.record(evTypes[0], func(h *types.HistoryEvent) {
		h.StateEnteredEventDetails = &types.StateEnteredEventDetails{Name: aws.String(st.name), Input: aws.String(inStr), InputDetails: notTruncated()}
	})
	c := &ctxObj{execName: e.name, execID: e.arn, smID: e.sm.arn, stateName: st.name, entered: enteredAt.UTC().Format(enteredTimeLayout)}
	rtErr := func(err error) *stateError { return runtimeError(st, enteredID, err) }

	if st.typ == stFail {
		return "", nil, &stateError{name: st.failError, cause: st.failCause}, nil
	}
	eff, err := applyInputPath(st.inputPath, raw)
	if err != nil {
		return "", nil, rtErr(fmt.Errorf("in InputPath: %w", err)), nil
	}
	next = st.next
	switch st.typ {
	case stPass:
		result := eff
		if st.parameters != nil {
			if result, err = st.parameters.eval(eff, c); err != nil {
				return "", nil, rtErr(fmt.Errorf("in Parameters: %w", err)), nil
			}
		}
		if st.hasResult {
			result = st.result
		}
		if out, err = applyResultPath(st.resultPath, raw, result); err != nil {
			return "", nil, rtErr(err), nil
		}
	case stTask:
		var caught bool
		out, next, caught, serr, err = e.runTask(ctx, st, raw, eff, c, rtErr)
		if err != nil || serr != nil {
			return "", nil, serr, err
		}
		if caught {
			e.exited(evTypes[1], st.name, out)
			return next, out, nil, nil
		}
	case stChoice:
		next = st.defaultNext
		for _, r := range st.choices {
			ok, err := r.eval(eff, c)
			if err != nil {
				return "", nil, rtErr(err), nil
			}
			if ok {
				next = r.next
				break
			}
		}
		if next == "" {
			return "", nil, &stateError{name: errNoChoice, cause: fmt.Sprintf("No Choice rule matched and no Default is specified in state '%s'", st.name)}, nil
		}
		out = eff
	case stWait:
		d, err := e.waitDuration(st, eff, c)
		if err != nil {
			return "", nil, rtErr(err), nil
		}
		if err := e.svc.sleep(ctx, d); err != nil {
			return "", nil, nil, errAborted
		}
		out = eff
	case stSucceed:
		out = eff
	}
	if out, err = applyOutputPath(st.outputPath, out); err != nil {
		return "", nil, rtErr(fmt.Errorf("in OutputPath: %w", err)), nil
	}
	e.exited(evTypes[1], st.name, out)
	if st.end || st.typ == stSucceed {
		next = ""
	}
	return next, out, nil, nil
}

func (e *execution) exited(t types.HistoryEventType, name string, out any) {
	s, _ := encodeJSON(out) // out was decoded from JSON or built from such values
	e.record(t, func(h *types.HistoryEvent) {
		h.StateExitedEventDetails = &types.StateExitedEventDetails{Name: aws.String(name), Output: aws.String(s), OutputDetails: notTruncated()}
	})
}

func (e *execution) waitDuration(st *state, eff any, c *ctxObj) (time.Duration, error) {
	switch {
	case st.waitSecondsPath != nil:
		v, ok := st.waitSecondsPath.get(eff, c)
		if !ok {
			return 0, fmt.Errorf("the SecondsPath %q could not be found in the input", st.waitSecondsPath.raw)
		}
		n, ok := intValue(v)
		if !ok || n < 0 {
			return 0, fmt.Errorf("the SecondsPath %q must resolve to a non-negative integer, got %s", st.waitSecondsPath.raw, jsonKind(v))
		}
		return time.Duration(n) * time.Second, nil
	case st.hasWaitTimestamp:
		return max(0, st.waitTimestamp.Sub(e.svc.now())), nil
	case st.waitTimestampPath != nil:
		v, ok := st.waitTimestampPath.get(eff, c)
		if !ok {
			return 0, fmt.Errorf("the TimestampPath %q could not be found in the input", st.waitTimestampPath.raw)
		}
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("the TimestampPath %q must resolve to an RFC 3339 timestamp", st.waitTimestampPath.raw)
		}
		return max(0, t.Sub(e.svc.now())), nil
	default:
		return time.Duration(st.waitSeconds) * time.Second, nil
	}
}

// runTask runs a Task state with its retriers and catchers. On success it
// returns the output (OutputPath not yet applied); when a catcher handles
// the error it returns the catcher's output and Next with caught set.
func (e *execution) runTask(ctx context.Context, st *state, raw, eff any, c *ctxObj, rtErr func(error) *stateError) (out any, next string, caught bool, serr *stateError, err error) {
	if st.parameters != nil {
		if eff, err = st.parameters.eval(eff, c); err != nil {
			return nil, "", false, rtErr(fmt.Errorf("in Parameters: %w", err)), nil
		}
	}
	payload, err := encodeJSON(eff)
	if err != nil {
		return nil, "", false, rtErr(err), nil
	}
	var counts []int
	if len(st.retry) > 0 {
		counts = make([]int, len(st.retry))
	}
	for {
		result, terr, err := e.invoke(ctx, st, payload)
		if err != nil {
			return nil, "", false, nil, err
		}
		if terr == nil {
			if st.resultSelector != nil {
				if result, err = st.resultSelector.eval(result, c); err != nil {
					return nil, "", false, rtErr(fmt.Errorf("in ResultSelector: %w", err)), nil
				}
			}
			if out, err = applyResultPath(st.resultPath, raw, result); err != nil {
				return nil, "", false, rtErr(err), nil
			}
			return out, st.next, false, nil, nil
		}
		if i := matchRetrier(st.retry, terr.name); i >= 0 && counts[i] < st.retry[i].maxAttempts {
			r := &st.retry[i]
			d := r.delay(counts[i])
			if r.jitterFull {
				d = time.Duration(e.svc.jitter() * float64(d))
			}
			counts[i]++
			e.svc.log.Debug("stepfn: retrying task", "execution", e.name, "state", st.name, "error", terr.name, "retry", counts[i], "delay", d)
			if err := e.svc.sleep(ctx, d); err != nil {
				return nil, "", false, nil, errAborted
			}
			if err := e.svc.transition(ctx); err != nil { // a retry attempt is billed as a transition
				return nil, "", false, nil, errAborted
			}
			continue
		}
		for _, ct := range st.catch {
			if !errorMatches(ct.errors, terr.name) {
				continue
			}
			errOut := map[string]any{"Error": terr.name, "Cause": terr.cause}
			if out, err = applyResultPath(ct.resultPath, raw, errOut); err != nil {
				return nil, "", false, rtErr(fmt.Errorf("in Catch ResultPath: %w", err)), nil
			}
			return out, ct.next, true, nil, nil
		}
		return nil, "", false, terr, nil
	}
}

func matchRetrier(rs []retrier, name string) int {
	for i := range rs {
		if errorMatches(rs[i].errors, name) {
			return i
		}
	}
	return -1
}

// errorMatches applies the ASL matching rules: exact names, States.ALL
// (any error), States.TaskFailed (any error but States.Timeout).
// States.Runtime and States.DataLimitExceeded are terminal and never match.
func errorMatches(list []string, name string) bool {
	if name == errRuntime || name == errDataLimit {
		return false
	}
	for _, e := range list {
		if e == name || e == "States.ALL" || (e == errTaskFailed && name != errTimeout) {
			return true
		}
	}
	return false
}

// invoke runs one attempt of a task and records its history events. It
// returns the decoded result, or the task's error, or (as err) the abort.
func (e *execution) invoke(ctx context.Context, st *state, payload string) (any, *stateError, error) {
	var timeout *int64
	if st.timeout > 0 {
		timeout = aws.Int64(st.timeout)
	}
	if st.lambda {
		e.record(types.HistoryEventTypeLambdaFunctionScheduled, func(h *types.HistoryEvent) {
			h.LambdaFunctionScheduledEventDetails = &types.LambdaFunctionScheduledEventDetails{
				Resource: aws.String(st.resource), Input: aws.String(payload), InputDetails: notTruncated(), TimeoutInSeconds: timeout,
			}
		})
		e.record(types.HistoryEventTypeLambdaFunctionStarted, nil)
	} else {
		e.record(types.HistoryEventTypeTaskScheduled, func(h *types.HistoryEvent) {
			h.TaskScheduledEventDetails = &types.TaskScheduledEventDetails{
				Resource: aws.String(st.resourceName), ResourceType: aws.String(st.resourceType),
				Region: aws.String(e.svc.region), Parameters: aws.String(payload), TimeoutInSeconds: timeout,
			}
		})
		e.record(types.HistoryEventTypeTaskStarted, func(h *types.HistoryEvent) {
			h.TaskStartedEventDetails = &types.TaskStartedEventDetails{Resource: aws.String(st.resourceName), ResourceType: aws.String(st.resourceType)}
		})
	}

	outBytes, timedOut, callErr := e.call(ctx, st, []byte(payload))
	if ctx.Err() != nil {
		return nil, nil, errAborted
	}
	var serr *stateError
	var result any
	switch {
	case timedOut:
		serr = &stateError{name: errTimeout, cause: fmt.Sprintf("Task timed out after %d seconds", st.timeout)}
	case callErr != nil:
		if te, ok := TaskErrorOf(callErr); ok && te.Error != "" {
			serr = &stateError{name: te.Error, cause: te.Cause}
		} else {
			serr = &stateError{name: errTaskFailed, cause: callErr.Error()}
		}
	default:
		var err error
		if len(strings.TrimSpace(string(outBytes))) == 0 {
			outBytes = []byte("null")
		}
		if result, err = decodeJSON(outBytes); err != nil {
			serr = &stateError{name: errRuntime, cause: fmt.Sprintf("An error occurred while executing the state '%s': the task returned %d bytes that are not valid JSON: %v", st.name, len(outBytes), err)}
		}
	}
	switch {
	case serr != nil && timedOut && st.lambda:
		e.record(types.HistoryEventTypeLambdaFunctionTimedOut, func(h *types.HistoryEvent) {
			h.LambdaFunctionTimedOutEventDetails = &types.LambdaFunctionTimedOutEventDetails{Error: aws.String(serr.name), Cause: aws.String(serr.cause)}
		})
	case serr != nil && timedOut:
		e.record(types.HistoryEventTypeTaskTimedOut, func(h *types.HistoryEvent) {
			h.TaskTimedOutEventDetails = &types.TaskTimedOutEventDetails{Error: aws.String(serr.name), Cause: aws.String(serr.cause), Resource: aws.String(st.resourceName), ResourceType: aws.String(st.resourceType)}
		})
	case serr != nil && st.lambda:
		e.record(types.HistoryEventTypeLambdaFunctionFailed, func(h *types.HistoryEvent) {
			h.LambdaFunctionFailedEventDetails = &types.LambdaFunctionFailedEventDetails{Error: aws.String(serr.name), Cause: optString(serr.cause)}
		})
	case serr != nil:
		e.record(types.HistoryEventTypeTaskFailed, func(h *types.HistoryEvent) {
			h.TaskFailedEventDetails = &types.TaskFailedEventDetails{Error: aws.String(serr.name), Cause: optString(serr.cause), Resource: aws.String(st.resourceName), ResourceType: aws.String(st.resourceType)}
		})
	case st.lambda:
		e.record(types.HistoryEventTypeLambdaFunctionSucceeded, func(h *types.HistoryEvent) {
			h.LambdaFunctionSucceededEventDetails = &types.LambdaFunctionSucceededEventDetails{Output: aws.String(string(outBytes)), OutputDetails: notTruncated()}
		})
	default:
		e.record(types.HistoryEventTypeTaskSucceeded, func(h *types.HistoryEvent) {
			h.TaskSucceededEventDetails = &types.TaskSucceededEventDetails{Output: aws.String(string(outBytes)), OutputDetails: notTruncated(), Resource: aws.String(st.resourceName), ResourceType: aws.String(st.resourceType)}
		})
	}
	return result, serr, nil
}

// call runs the invoker, enforcing TimeoutSeconds in real time. With a
// timeout the call runs in its own goroutine so that an invoker ignoring
// its context cannot hold the execution past the deadline; Close still
// waits for that goroutine.
func (e *execution) call(ctx context.Context, st *state, payload []byte) (out []byte, timedOut bool, err error) {
	inv := e.svc.invoker
	if inv == nil {
		return nil, false, errors.New("stepfn: no TaskInvoker configured")
	}
	if st.timeout == 0 {
		out, err = inv.InvokeTask(ctx, st.resource, payload)
		return out, false, err
	}
	tctx, cancel := context.WithTimeout(ctx, time.Duration(st.timeout)*time.Second)
	defer cancel()
	type result struct {
		out []byte
		err error
	}
	ch := make(chan result, 1)
	e.svc.wg.Add(1)
	go func() {
		defer e.svc.wg.Done()
		o, err := inv.InvokeTask(tctx, st.resource, payload)
		ch <- result{o, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, true, nil
		}
		return r.out, false, r.err
	case <-tctx.Done():
		return nil, ctx.Err() == nil, nil
	}
}

func applyInputPath(p ioPath, v any) (any, error) {
	if p.null {
		return map[string]any{}, nil
	}
	out, ok := p.p.get(v, nil)
	if !ok {
		return nil, fmt.Errorf("invalid path %q: the path could not be found in the input", p.p.raw)
	}
	return out, nil
}

func applyOutputPath(p ioPath, v any) (any, error) { return applyInputPath(p, v) }

func applyResultPath(p ioPath, raw, result any) (any, error) {
	if p.null {
		return raw, nil
	}
	out, err := p.p.set(raw, result)
	if err != nil {
		return nil, fmt.Errorf("in ResultPath: %w", err)
	}
	return out, nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func notTruncated() *types.HistoryEventExecutionDataDetails {
	return &types.HistoryEventExecutionDataDetails{Truncated: false}
}

// stripData removes inputs and outputs from a copied event
// (IncludeExecutionData false). Details are copied, not mutated, because
// they are shared with the stored history.
func stripData(h *types.HistoryEvent) {
	if d := h.ExecutionStartedEventDetails; d != nil {
		c := *d
		c.Input = nil
		h.ExecutionStartedEventDetails = &c
	}
	if d := h.ExecutionSucceededEventDetails; d != nil {
		c := *d
		c.Output = nil
		h.ExecutionSucceededEventDetails = &c
	}
	if d := h.StateEnteredEventDetails; d != nil {
		c := *d
		c.Input = nil
		h.StateEnteredEventDetails = &c
	}
	if d := h.StateExitedEventDetails; d != nil {
		c := *d
		c.Output = nil
		h.StateExitedEventDetails = &c
	}
	if d := h.TaskScheduledEventDetails; d != nil {
		c := *d
		c.Parameters = nil
		h.TaskScheduledEventDetails = &c
	}
	if d := h.TaskSucceededEventDetails; d != nil {
		c := *d
		c.Output = nil
		h.TaskSucceededEventDetails = &c
	}
	if d := h.LambdaFunctionScheduledEventDetails; d != nil {
		c := *d
		c.Input = nil
		h.LambdaFunctionScheduledEventDetails = &c
	}
	if d := h.LambdaFunctionSucceededEventDetails; d != nil {
		c := *d
		c.Output = nil
		h.LambdaFunctionSucceededEventDetails = &c
	}
}
