package lambdart

import (
	"fmt"
	"math"
	"time"

	"github.com/aws/smithy-go"
)

// DefaultAccountConcurrency is AWS Lambda's default concurrent-executions
// quota per account and Region ("Lambda quotas",
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
const DefaultAccountConcurrency = 1000

// DefaultMemoryMB is the memory a function gets when FunctionOptions.MemoryMB
// is 0, as in Lambda.
const DefaultMemoryMB = 128

// Throttle reasons, as Lambda reports them in TooManyRequestsException.Reason.
const (
	ReasonConcurrentInvocationLimitExceeded       = "ConcurrentInvocationLimitExceeded"
	ReasonReservedFunctionConcurrentLimitExceeded = "ReservedFunctionConcurrentInvocationLimitExceeded"
	tooManyRequestsCode                           = "TooManyRequestsException"
	tooManyRequestsMessage                        = "Rate Exceeded."
)

// TooManyRequestsException is returned (wrapped) by Invoke when the
// invocation would exceed the account's concurrency (Reason
// ConcurrentInvocationLimitExceeded) or the function's reserved concurrency
// (ReservedFunctionConcurrentInvocationLimitExceeded). It mirrors
// github.com/aws/aws-sdk-go-v2/service/lambda/types.TooManyRequestsException
// (Message, Type, Reason, RetryAfterSeconds), which this module does not
// depend on, and implements smithy.APIError like the SDK's type, so
// errors.As(err, &apiErr) with apiErr.ErrorCode() == "TooManyRequestsException"
// works as against Lambda. errors.Is(err, ErrThrottled) is true too.
type TooManyRequestsException struct {
	Message           string
	Type              string
	Reason            string
	RetryAfterSeconds string
}

// Error implements error.
func (e *TooManyRequestsException) Error() string {
	return fmt.Sprintf("%s: %s (%s)", tooManyRequestsCode, e.Message, e.Reason)
}

// ErrorCode implements smithy.APIError.
func (e *TooManyRequestsException) ErrorCode() string { return tooManyRequestsCode }

// ErrorMessage implements smithy.APIError.
func (e *TooManyRequestsException) ErrorMessage() string { return e.Message }

// ErrorFault implements smithy.APIError: throttling is the caller's fault.
func (e *TooManyRequestsException) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

// Is makes errors.Is(err, ErrThrottled) hold, as it did before the type
// existed.
func (e *TooManyRequestsException) Is(target error) bool { return target == ErrThrottled }

func tooManyRequests(reason string) *TooManyRequestsException {
	return &TooManyRequestsException{Message: tooManyRequestsMessage, Type: "User", Reason: reason}
}

var _ smithy.APIError = (*TooManyRequestsException)(nil)

// Meter receives billable quantities; billing.RegionMeter satisfies it. It
// is defined here so that lambdart does not depend on the billing package.
type Meter interface {
	Add(op string, n float64)
}

// Metered operation names (billing.OpLambdaRequests, billing.OpLambdaGBSeconds).
const (
	MeterRequests  = "Lambda-Requests"
	MeterGBSeconds = "Lambda-GB-Second"
)

// Option configures a Runtime.
type Option func(*Runtime)

// WithAccountConcurrency sets the account's concurrent-executions quota in
// this Region (default DefaultAccountConcurrency); n <= 0 removes the limit.
func WithAccountConcurrency(n int) Option {
	return func(r *Runtime) { r.accountLimit = max(n, 0) }
}

// WithMeter feeds requests and GB-seconds to m as invocations finish.
func WithMeter(m Meter) Option { return func(r *Runtime) { r.meter = m } }

// Usage is what one function has been billed for so far.
type Usage struct {
	// Requests counts invocations that ran (including function errors and
	// crashes; throttled invocations are not billed and not counted).
	Requests int64
	// BilledMS is the summed duration, each invocation rounded up to 1 ms.
	BilledMS int64
	// MemoryMB is the function's configured memory.
	MemoryMB int
	// GBSeconds is BilledMS times MemoryMB, in GB-seconds.
	GBSeconds float64
	// Throttles counts invocations refused with TooManyRequestsException.
	Throttles int64
}

// Usage returns the function's billed usage; the zero Usage for an unknown
// function.
func (r *Runtime) Usage(name string) Usage {
	fn, err := r.lookup(name)
	if err != nil {
		return Usage{}
	}
	ms := fn.billedMS.Load()
	return Usage{
		Requests: fn.invocations.Load(), BilledMS: ms, MemoryMB: fn.memoryMB,
		GBSeconds: gbSeconds(ms, fn.memoryMB), Throttles: fn.throttles.Load(),
	}
}

// ConcurrentExecutions returns how many invocations are running now across
// the Region's functions (the ConcurrentExecutions metric).
func (r *Runtime) ConcurrentExecutions() int {
	r.concMu.Lock()
	defer r.concMu.Unlock()
	return r.running
}

// billedMS rounds a duration up to a whole millisecond, at least 1, as
// Lambda bills.
func billedMS(d time.Duration) int64 {
	return max(1, int64(math.Ceil(float64(d)/float64(time.Millisecond))))
}

func gbSeconds(ms int64, memoryMB int) float64 {
	return float64(ms) / 1000 * float64(memoryMB) / 1024
}

// bill records one finished invocation.
func (r *Runtime) bill(fn *function, d time.Duration) {
	ms := billedMS(d)
	fn.billedMS.Add(ms)
	if r.meter != nil {
		r.meter.Add(MeterRequests, 1)
		r.meter.Add(MeterGBSeconds, gbSeconds(ms, fn.memoryMB))
	}
}
