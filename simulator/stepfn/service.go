package stepfn

import (
	"context"
	"errors"
	"fmt"
	"github.com/iot-dr/iot-dr/simulator/internal/uuid"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"
)

// TaskInvoker runs Task resources: Lambda function ARNs and
// arn:aws:states:::dynamodb:putItem. input is the state's effective input
// (after InputPath and Parameters) as JSON; output must be JSON.
type TaskInvoker interface {
	InvokeTask(ctx context.Context, resource string, input []byte) (output []byte, err error)
}

// TaskError is what an invoker returns for a failed task. Error is the ASL
// error name matched by Retry and Catch (for Lambda: the function's
// errorType); Cause is the message. Because a field named Error rules out
// an Error method, invokers return it through NewTaskError. Any other error
// from an invoker is reported as States.TaskFailed with the error text as
// cause.
type TaskError struct {
	Error, Cause string
}

// NewTaskError returns the error value an invoker returns for a failed
// task with the given ASL error name and cause. It may be wrapped with %w.
func NewTaskError(name, cause string) error {
	return &taskError{te: TaskError{Error: name, Cause: cause}}
}

// TaskErrorOf extracts the TaskError carried by err (see NewTaskError).
func TaskErrorOf(err error) (TaskError, bool) {
	var t *taskError
	if errors.As(err, &t) {
		return t.te, true
	}
	return TaskError{}, false
}

type taskError struct{ te TaskError }

func (e *taskError) Error() string { return e.te.Error + ": " + e.te.Cause }

// Options configures a Service.
type Options struct {
	Region, AccountID string
	// Invoker runs Task states; without one every task fails with
	// States.TaskFailed.
	Invoker TaskInvoker
	// TimeScale multiplies every Wait and Retry delay: 1 is real time, 0.01
	// runs them 100x faster. Zero or negative means 1. Task TimeoutSeconds
	// is not scaled, because tasks run in real time.
	TimeScale float64
	// Logger receives execution outcomes; nil discards.
	Logger *slog.Logger
	// Now is the clock for timestamps and Timestamp waits, and for the
	// StartExecution bucket's refills; nil is time.Now.
	Now func() time.Time
	// Quotas throttles StartExecution and state transitions; the zero value
	// is unlimited, DefaultQuotas(region) is AWS's default.
	Quotas Quotas
	// Meter, when set, receives the state transitions
	// (MeterStateTransitions) as they happen.
	Meter Meter
}

// Service is an in-process AWS Step Functions for one Region and account.
type Service struct {
	region, account string
	invoker         TaskInvoker
	scale           float64
	log             *slog.Logger
	now             func() time.Time
	// sleep waits for an unscaled ASL delay (Wait state or retry backoff);
	// tests replace it to record the computed delays.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a number in [0,1) for JitterStrategy FULL.
	jitter func() float64

	startLimiter, transLimiter *rate.Limiter
	meter                      Meter
	transitions                atomic.Int64
	throttledStarts            atomic.Int64
	throttledTransitions       atomic.Int64

	down   atomic.Bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	machines map[string]*stateMachine // by ARN
	execs    map[string]*execution    // by ARN
	running  int
	idle     chan struct{} // closed whenever running is 0
	seq      uint64
}

type stateMachine struct {
	arn, name, definition, roleArn string
	def                            *definition
	created                        time.Time
	execs                          []*execution // in start order
}

// New returns a Service. Close it to stop its executions.
func New(opts Options) *Service {
	s := &Service{
		region:   opts.Region,
		account:  opts.AccountID,
		invoker:  opts.Invoker,
		scale:    opts.TimeScale,
		log:      opts.Logger,
		now:      opts.Now,
		jitter:   mrand.Float64,
		machines: map[string]*stateMachine{},
		execs:    map[string]*execution{},
		idle:     make(chan struct{}),

		startLimiter: opts.Quotas.StartExecution.limiter(),
		transLimiter: opts.Quotas.StateTransition.limiter(),
		meter:        opts.Meter,
	}
	if s.scale <= 0 {
		s.scale = 1
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "123456789012"
	}
	close(s.idle)
	s.sleep = s.scaledSleep
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

func (s *Service) scaledSleep(ctx context.Context, d time.Duration) error {
	d = time.Duration(float64(d) * s.scale)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetAvailable takes the API up or down (chaos). While down every API call
// fails with a ServiceUnavailable server error; executions already running
// carry on.
func (s *Service) SetAvailable(up bool) { s.down.Store(!up) }

// Running reports how many executions are running.
func (s *Service) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Wait blocks until no execution is running or ctx is done.
func (s *Service) Wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.running == 0 {
			s.mu.Unlock()
			return nil
		}
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("stepfn: waiting for %d running executions: %w", s.Running(), ctx.Err())
		}
	}
}

// Close aborts every running execution and waits for their goroutines.
// API calls after Close fail.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

func (s *Service) check() error {
	if s.down.Load() {
		return &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "stepfn: service unavailable (chaos)", Fault: smithy.FaultServer}
	}
	return nil
}

func missingParam(op string, fields ...string) error {
	e := smithy.InvalidParamsError{Context: op + "Input"}
	for _, f := range fields {
		e.Add(smithy.NewErrParamRequired(f))
	}
	return e
}

// validName applies AWS's rules for state machine and execution names.
func validName(n string) error {
	if n == "" || len([]rune(n)) > 80 {
		return fmt.Errorf("name %q must be 1 to 80 characters long", n)
	}
	for _, r := range n {
		switch {
		case r <= 0x20, r >= 0x7f && r <= 0x9f, r >= 0xfffe && r <= 0xffff, r >= 0xd800 && r <= 0xdfff, r == 0xfffd:
			return fmt.Errorf("name %q contains white space or a control character", n)
		case strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r):
			return fmt.Errorf("name %q contains the forbidden character %q", n, r)
		}
	}
	return nil
}

// CreateStateMachine validates the definition and registers a STANDARD
// state machine. Repeating the call with the same name and definition is
// idempotent; the same name with another definition is
// StateMachineAlreadyExists.
func (s *Service) CreateStateMachine(ctx context.Context, in *sfn.CreateStateMachineInput, _ ...func(*sfn.Options)) (*sfn.CreateStateMachineOutput, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if in == nil || in.Definition == nil || in.Name == nil || in.RoleArn == nil {
		var miss []string
		if in == nil || in.Definition == nil {
			miss = append(miss, "Definition")
		}
		if in == nil || in.Name == nil {
			miss = append(miss, "Name")
		}
		if in == nil || in.RoleArn == nil {
			miss = append(miss, "RoleArn")
		}
		return nil, missingParam("CreateStateMachine", miss...)
	}
	if err := validName(*in.Name); err != nil {
		return nil, &types.InvalidName{Message: aws.String("Invalid Name: " + err.Error())}
	}
	if in.Type != "" && in.Type != types.StateMachineTypeStandard {
		return nil, &types.ValidationException{Message: aws.String(fmt.Sprintf("state machine type %s is not modelled by the simulator (STANDARD only)", in.Type))}
	}
	if in.Publish || in.VersionDescription != nil {
		return nil, &types.ValidationException{Message: aws.String("state machine versions (Publish, VersionDescription) are not modelled by the simulator")}
	}
	def, err := parseDefinition(*in.Definition)
	if err != nil {
		return nil, &types.InvalidDefinition{Message: aws.String("Invalid State Machine Definition: " + err.Error())}
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.region, s.account, *in.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if sm, ok := s.machines[arn]; ok {
		if sm.definition != *in.Definition {
			return nil, &types.StateMachineAlreadyExists{Message: aws.String("State Machine Already Exists: '" + arn + "'")}
		}
		return &sfn.CreateStateMachineOutput{StateMachineArn: aws.String(arn), CreationDate: aws.Time(sm.created)}, nil
	}
	sm := &stateMachine{arn: arn, name: *in.Name, definition: *in.Definition, roleArn: *in.RoleArn, def: def, created: s.now()}
	s.machines[arn] = sm
	return &sfn.CreateStateMachineOutput{StateMachineArn: aws.String(arn), CreationDate: aws.Time(sm.created)}, nil
}

var errClosed = &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "stepfn: service closed", Fault: smithy.FaultServer}

// StartExecution starts an execution. Name is optional (a UUID is
// generated). As for AWS standard workflows, a second call with the name
// and input of a RUNNING execution returns that execution; the same name
// with another input, or of an execution that has finished, is
// ExecutionAlreadyExists. Names are never released (AWS keeps them 90 days).
func (s *Service) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := s.admitStart(); err != nil {
		return nil, err
	}
	if in == nil || in.StateMachineArn == nil {
		return nil, missingParam("StartExecution", "StateMachineArn")
	}
	smArn := *in.StateMachineArn
	if err := checkARN(smArn, "stateMachine"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if in.Name == nil {
		name = newUUID()
	}
	if err := validName(name); err != nil {
		return nil, &types.InvalidName{Message: aws.String("Invalid Name: " + err.Error())}
	}
	inputStr := "{}"
	if in.Input != nil {
		inputStr = *in.Input
	}
	input, err := decodeJSON([]byte(inputStr))
	if err != nil {
		return nil, &types.InvalidExecutionInput{Message: aws.String("Invalid State Machine Execution Input: " + err.Error())}
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	sm, ok := s.machines[smArn]
	if !ok {
		s.mu.Unlock()
		return nil, &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + smArn + "'")}
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", s.region, s.account, sm.name, name)
	if old, ok := s.execs[arn]; ok {
		s.mu.Unlock()
		old.mu.Lock()
		defer old.mu.Unlock()
		if old.status == types.ExecutionStatusRunning && old.input == inputStr {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(old.start)}, nil
		}
		return nil, &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + arn + "'")}
	}
	s.seq++
	e := &execution{
		svc: s, sm: sm, arn: arn, name: name, input: inputStr, seq: s.seq,
		start: s.now(), status: types.ExecutionStatusRunning,
	}
	e.record(types.HistoryEventTypeExecutionStarted, func(h *types.HistoryEvent) {
		h.ExecutionStartedEventDetails = &types.ExecutionStartedEventDetails{
			Input: aws.String(inputStr), InputDetails: notTruncated(), RoleArn: aws.String(sm.roleArn),
		}
	})
	s.execs[arn] = e
	sm.execs = append(sm.execs, e)
	if s.running == 0 {
		s.idle = make(chan struct{})
	}
	s.running++
	s.wg.Add(1)
	s.mu.Unlock()

	go e.run(s.ctx, input)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(e.start)}, nil
}

// finished is called once by each execution when it stops.
func (s *Service) finished() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	if s.running == 0 {
		close(s.idle)
	}
}

func checkARN(arn, kind string) error {
	prefix := "arn:aws:states:"
	parts := strings.Split(arn, ":")
	if !strings.HasPrefix(arn, prefix) || len(parts) < 7 || parts[5] != kind {
		return &types.InvalidArn{Message: aws.String(fmt.Sprintf("Invalid Arn: '%s' is not a %s ARN", arn, kind))}
	}
	return nil
}

func (s *Service) execution(arn *string, op string) (*execution, error) {
	if arn == nil {
		return nil, missingParam(op, "ExecutionArn")
	}
	if err := checkARN(*arn, "execution"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	e, ok := s.execs[*arn]
	s.mu.Unlock()
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + *arn + "'")}
	}
	return e, nil
}

// DescribeExecution reports an execution's status, and its output (when
// SUCCEEDED) or error and cause (when FAILED).
func (s *Service) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if in == nil {
		in = &sfn.DescribeExecutionInput{}
	}
	e, err := s.execution(in.ExecutionArn, "DescribeExecution")
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &sfn.DescribeExecutionOutput{
		ExecutionArn:    aws.String(e.arn),
		StateMachineArn: aws.String(e.sm.arn),
		Name:            aws.String(e.name),
		Status:          e.status,
		StartDate:       aws.Time(e.start),
		Input:           aws.String(e.input),
		InputDetails:    &types.CloudWatchEventsExecutionDataDetails{Included: true},
		Output:          e.output,
		Error:           e.errName,
		Cause:           e.cause,
	}
	if e.output != nil {
		out.OutputDetails = &types.CloudWatchEventsExecutionDataDetails{Included: true}
	}
	if e.status != types.ExecutionStatusRunning {
		out.StopDate = aws.Time(e.stop)
	}
	return out, nil
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, &types.ValidationException{Message: aws.String("maxResults must be between 0 and 1000")}
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

// GetExecutionHistory returns an execution's events, oldest first unless
// ReverseOrder, paginated with NextToken.
func (s *Service) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if in == nil {
		in = &sfn.GetExecutionHistoryInput{}
	}
	e, err := s.execution(in.ExecutionArn, "GetExecutionHistory")
	if err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	start := 0
	if in.NextToken != nil {
		start, err = strconv.Atoi(*in.NextToken)
		if err != nil || start < 0 {
			return nil, &types.InvalidToken{Message: aws.String("Invalid Token: '" + *in.NextToken + "'")}
		}
	}
	e.mu.Lock()
	events := make([]types.HistoryEvent, len(e.events))
	copy(events, e.events)
	e.mu.Unlock()
	if in.ReverseOrder {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	if start > len(events) {
		return nil, &types.InvalidToken{Message: aws.String("Invalid Token: '" + *in.NextToken + "'")}
	}
	end := min(start+size, len(events))
	out := &sfn.GetExecutionHistoryOutput{Events: events[start:end]}
	if end < len(events) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	if in.IncludeExecutionData != nil && !*in.IncludeExecutionData {
		for i := range out.Events {
			stripData(&out.Events[i])
		}
	}
	return out, nil
}

// ListExecutions lists a state machine's executions, newest first,
// optionally filtered by status, paginated with NextToken.
func (s *Service) ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if in == nil {
		in = &sfn.ListExecutionsInput{}
	}
	if in.MapRunArn != nil {
		return nil, &types.ValidationException{Message: aws.String("map runs are not modelled by the simulator")}
	}
	if in.StateMachineArn == nil {
		return nil, &types.ValidationException{Message: aws.String("stateMachineArn is required")}
	}
	if in.StatusFilter == types.ExecutionStatusPendingRedrive {
		return nil, &types.ValidationException{Message: aws.String("statusFilter PENDING_REDRIVE requires mapRunArn")}
	}
	if err := checkARN(*in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	// The token is the sequence number of the last execution returned, so
	// that executions started meanwhile do not shift the pages.
	after := uint64(0)
	if in.NextToken != nil {
		after, err = strconv.ParseUint(*in.NextToken, 10, 64)
		if err != nil || after == 0 {
			return nil, &types.InvalidToken{Message: aws.String("Invalid Token: '" + *in.NextToken + "'")}
		}
	}
	s.mu.Lock()
	sm, ok := s.machines[*in.StateMachineArn]
	var execs []*execution
	if ok {
		execs = sm.execs
	}
	s.mu.Unlock()
	if !ok {
		return nil, &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + *in.StateMachineArn + "'")}
	}
	out := &sfn.ListExecutionsOutput{Executions: []types.ExecutionListItem{}}
	var last uint64
	for i := len(execs) - 1; i >= 0; i-- {
		e := execs[i]
		if after != 0 && e.seq >= after {
			continue
		}
		e.mu.Lock()
		item := types.ExecutionListItem{
			ExecutionArn: aws.String(e.arn), Name: aws.String(e.name), StateMachineArn: aws.String(e.sm.arn),
			Status: e.status, StartDate: aws.Time(e.start),
		}
		if e.status != types.ExecutionStatusRunning {
			item.StopDate = aws.Time(e.stop)
		}
		e.mu.Unlock()
		if in.StatusFilter != "" && item.Status != in.StatusFilter {
			continue
		}
		if len(out.Executions) == size {
			out.NextToken = aws.String(strconv.FormatUint(last, 10))
			break
		}
		out.Executions = append(out.Executions, item)
		last = e.seq
	}
	return out, nil
}

// newUUID returns a random (version 4) UUID, the form AWS uses for
// generated execution names.
func newUUID() string { return uuid.New() }
