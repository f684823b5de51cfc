package lambdart

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// ErrThrottled matches (errors.Is) every *TooManyRequestsException: an
// invocation refused for the account's or the function's concurrency.
var ErrThrottled = errors.New("TooManyRequestsException: Rate Exceeded")

// ErrFunctionNotFound is returned (wrapped) for an unknown function name or
// ARN, like Lambda's ResourceNotFoundException.
var ErrFunctionNotFound = errors.New("ResourceNotFoundException: Function not found")

// FunctionError is a function error: what the Invoke API reports with
// X-Amz-Function-Error set, i.e. the handler returned an error, panicked, or
// its runtime crashed.
type FunctionError struct {
	// Type is the errorType the aws-lambda-go runtime reports, e.g.
	// "errorString", "wrapError", "Runtime.ExitError".
	Type string
	// Message is the errorMessage.
	Message string
}

// Error implements error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// FunctionOptions configures a registered function.
type FunctionOptions struct {
	// ReservedConcurrency caps concurrent invocations (0 = unlimited).
	ReservedConcurrency int
	// MemoryMB is the configured memory, used for GB-seconds (0 means
	// DefaultMemoryMB, Lambda's default).
	MemoryMB int
}

type function struct {
	name     string
	arn      string
	handler  any
	reserved int
	memoryMB int

	invocations atomic.Int64
	billedMS    atomic.Int64
	throttles   atomic.Int64

	mu       sync.Mutex
	inFlight int
	crashes  int
}

// Runtime hosts Lambda functions in process. It is safe for concurrent use.
type Runtime struct {
	async   async
	region  string
	account string
	logger  *slog.Logger

	accountLimit int
	meter        Meter
	concMu       sync.Mutex
	running      int // invocations in flight across all functions

	mu    sync.Mutex
	funcs map[string]*function
	stats map[string]*mappingCounters
}

// New returns an empty runtime for region/account. A nil logger discards.
// The account's concurrency is DefaultAccountConcurrency unless an Option
// says otherwise.
func New(region, account string, logger *slog.Logger, opts ...Option) *Runtime {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{
		region:       region,
		account:      account,
		logger:       logger.With("component", "lambdart", "region", region),
		accountLimit: DefaultAccountConcurrency,
		funcs:        map[string]*function{},
		stats:        map[string]*mappingCounters{},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Register adds a function whose handler is any value lambda.NewHandler
// accepts (a func with the signatures lambda.Start documents, or a
// lambda.Handler) and returns its ARN,
// arn:aws:lambda:<region>:<account>:function:<name>.
func (r *Runtime) Register(name string, handler any, opts FunctionOptions) (string, error) {
	if name == "" || strings.ContainsAny(name, ":/") {
		return "", fmt.Errorf("lambdart: register %q: invalid function name", name)
	}
	if err := validateHandler(handler); err != nil {
		return "", fmt.Errorf("lambdart: register %q: %w", name, err)
	}
	if opts.ReservedConcurrency < 0 {
		return "", fmt.Errorf("lambdart: register %q: negative reserved concurrency", name)
	}
	if opts.MemoryMB < 0 {
		return "", fmt.Errorf("lambdart: register %q: negative memory size", name)
	}
	if opts.MemoryMB == 0 {
		opts.MemoryMB = DefaultMemoryMB
	}
	fn := &function{
		name:     name,
		arn:      fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r.region, r.account, name),
		handler:  handler,
		reserved: opts.ReservedConcurrency,
		memoryMB: opts.MemoryMB,
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.funcs[name]; ok {
		return "", fmt.Errorf("lambdart: register %q: ResourceConflictException: function already exists", name)
	}
	r.funcs[name] = fn
	return fn.arn, nil
}

// validateHandler catches handlers that lambda.NewHandler would only reject at
// invocation time, so wiring mistakes surface at registration.
func validateHandler(h any) error {
	if h == nil {
		return errors.New("handler is nil")
	}
	if _, ok := h.(lambda.Handler); ok {
		return nil
	}
	if reflect.TypeOf(h).Kind() != reflect.Func {
		return fmt.Errorf("handler is a %T, not a function or lambda.Handler", h)
	}
	return nil
}

func (r *Runtime) lookup(arnOrName string) (*function, error) {
	name := arnOrName
	if strings.HasPrefix(arnOrName, "arn:") {
		prefix := fmt.Sprintf("arn:aws:lambda:%s:%s:function:", r.region, r.account)
		rest, ok := strings.CutPrefix(arnOrName, prefix)
		if !ok {
			return nil, fmt.Errorf("lambdart: %s: %w", arnOrName, ErrFunctionNotFound)
		}
		name = rest
	}
	r.mu.Lock()
	fn := r.funcs[name]
	r.mu.Unlock()
	if fn == nil {
		return nil, fmt.Errorf("lambdart: %s: %w", arnOrName, ErrFunctionNotFound)
	}
	return fn, nil
}

// SetCrash makes the next n invocations of the function fail with a
// *FunctionError of Type "Runtime.ExitError", as when the runtime process
// dies, without running the handler. n <= 0 clears it.
func (r *Runtime) SetCrash(name string, n int) {
	fn, err := r.lookup(name)
	if err != nil {
		r.logger.Warn("SetCrash on unknown function", "function", name)
		return
	}
	fn.mu.Lock()
	fn.crashes = max(n, 0)
	fn.mu.Unlock()
}

// Invocations returns how many times the function was invoked (including
// invocations that failed or crashed, excluding throttled ones).
func (r *Runtime) Invocations(name string) int64 {
	fn, err := r.lookup(name)
	if err != nil {
		return 0
	}
	return fn.invocations.Load()
}

// Invoke runs the function synchronously (RequestResponse) with payload as
// the event JSON and returns its response JSON. A function error is returned
// as *FunctionError; ErrFunctionNotFound, *TooManyRequestsException (account
// or reserved concurrency exceeded; errors.Is ErrThrottled) and context
// errors are returned wrapped.
func (r *Runtime) Invoke(ctx context.Context, arnOrName string, payload []byte) ([]byte, error) {
	fn, err := r.lookup(arnOrName)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lambdart: invoke %s: %w", fn.name, err)
	}
	// Reserved concurrency is carved out of the account's pool in Lambda;
	// the simulator checks the function's cap first, then the account's.
	fn.mu.Lock()
	if fn.reserved > 0 && fn.inFlight >= fn.reserved {
		fn.mu.Unlock()
		fn.throttles.Add(1)
		return nil, fmt.Errorf("lambdart: invoke %s: %w", fn.name, tooManyRequests(ReasonReservedFunctionConcurrentLimitExceeded))
	}
	if !r.acquire() {
		fn.mu.Unlock()
		fn.throttles.Add(1)
		return nil, fmt.Errorf("lambdart: invoke %s: %w", fn.name, tooManyRequests(ReasonConcurrentInvocationLimitExceeded))
	}
	fn.inFlight++
	crash := fn.crashes > 0
	if crash {
		fn.crashes--
	}
	fn.mu.Unlock()
	began := time.Now()
	defer func() {
		r.bill(fn, time.Since(began))
		fn.mu.Lock()
		fn.inFlight--
		fn.mu.Unlock()
		r.release()
	}()
	fn.invocations.Add(1)

	requestID := newRequestID()
	log := r.logger.With("function", fn.name, "requestId", requestID)
	if crash {
		ferr := &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: exit status 2", requestID)}
		log.Warn("invocation crashed (chaos)", "errorType", ferr.Type)
		return nil, ferr
	}

	start := time.Now()
	lctx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: fn.arn})
	out, ferr := invokeHandler(lctx, fn.handler, payload)
	if ferr != nil {
		log.Warn("function error", "errorType", ferr.Type, "errorMessage", excerpt(ferr.Message), "duration", time.Since(start))
		return nil, ferr
	}
	log.Debug("invocation succeeded", "duration", time.Since(start), "responseBytes", len(out))
	return out, nil
}

// acquire takes one slot of the account's concurrency, false when none is free.
func (r *Runtime) acquire() bool {
	r.concMu.Lock()
	defer r.concMu.Unlock()
	if r.accountLimit > 0 && r.running >= r.accountLimit {
		return false
	}
	r.running++
	return true
}

func (r *Runtime) release() {
	r.concMu.Lock()
	r.running--
	r.concMu.Unlock()
}

// invokeHandler calls the handler the way the aws-lambda-go runtime's invoke
// loop does, turning errors and panics into the error response it reports.
//
// A fresh lambda.NewHandler is built per call: the Handler's Invoke returns a
// slice of a pooled buffer that goes back to the pool when Invoke returns, so
// with a shared Handler a concurrent invocation could overwrite a response
// before the caller copies it.
func invokeHandler(ctx context.Context, handler any, payload []byte) (out []byte, ferr *FunctionError) {
	defer func() {
		if v := recover(); v != nil {
			if ive, ok := v.(messages.InvokeResponse_Error); ok {
				ferr = &FunctionError{Type: ive.Type, Message: ive.Message}
				return
			}
			ferr = &FunctionError{Type: errorTypeName(v), Message: fmt.Sprintf("%v", v)}
		}
	}()
	resp, err := lambda.NewHandler(handler).Invoke(ctx, payload)
	if err != nil {
		// The runtime passes a returned InvokeResponse_Error through as is.
		if ive, ok := err.(messages.InvokeResponse_Error); ok {
			return nil, &FunctionError{Type: ive.Type, Message: ive.Message}
		}
		return nil, &FunctionError{Type: errorTypeName(err), Message: err.Error()}
	}
	return append([]byte(nil), resp...), nil
}

// errorTypeName mirrors aws-lambda-go's errorType: the dynamic type's name,
// with one level of pointer dereferenced.
func errorTypeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// excerpt keeps logs short; handler messages can embed whole payloads.
func excerpt(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:n], len(s))
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
