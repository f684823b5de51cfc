// Package lambdart is the iot-dr simulator's in-process AWS Lambda: a runtime
// that invokes registered Go handlers exactly as the aws-lambda-go runtime
// does, and an event source mapping that feeds a DynamoDB stream
// (simulator/dynamo) to a function the way Lambda's stream poller does.
//
// Invocation: handlers are wrapped with lambda.NewHandler and called through
// Invoke with the JSON payload AWS would send, so (de)serialisation is
// exercised. The context carries a lambdacontext.LambdaContext (request id,
// function ARN). A returned error or a panic becomes a *FunctionError whose
// Type is computed as aws-lambda-go computes errorType: the name of the
// error's (or panic value's) dynamic type, pointer dereferenced, e.g.
// "errorString" for errors.New, "wrapError" for fmt.Errorf with %w, "string"
// for panic("..."). Invocations of one function may run concurrently.
//
// Concurrency, as Lambda: an invocation that would exceed the function's
// ReservedConcurrency or the account's concurrency in the Region fails at
// once (synchronous invocations are not queued) with a
// *TooManyRequestsException, a mirror of the SDK's lambda
// types.TooManyRequestsException with its Reason
// (ReservedFunctionConcurrentInvocationLimitExceeded or
// ConcurrentInvocationLimitExceeded); errors.Is(err, ErrThrottled) holds.
//
//	Quota                               Default  Source
//	Concurrent executions per account   1,000    "Lambda quotas", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
//
// WithAccountConcurrency changes it (0 removes it). Billing: Usage counts per
// function the requests (invocations that ran, errors and crashes included,
// throttles excluded), the duration rounded up to 1 ms per invocation, and
// GB-seconds at FunctionOptions.MemoryMB (default 128 MB); WithMeter feeds
// the same figures to a billing meter as MeterRequests and MeterGBSeconds.
// Duration is the handler's wall-clock time in process, which is shorter than
// a real Lambda's (no network round trips, no cold starts).
//
// Asynchronous invocation (InvokeAsync): queued, retried as Lambda retries events
// (function errors twice, throttles for up to six hours), waitable with AsyncPending.
//
// Stream mapping (MapStream): one poller per shard of the stream (a batch holds one
// shard's records), each with at most one batch in flight, in sequence-number order;
// shards proceed in parallel. It models
// BatchSize, MaxBatchingWindow, MaxRetryAttempts, BisectBatchOnFunctionError,
// ReportBatchItemFailures (partial batch response) and an on-failure
// destination. An invocation refused for concurrency is retried until it is
// made, not counted against MaxRetryAttempts (Lambda retries throttled stream
// batches until the records expire). Delivery is at least once: a record may be delivered again
// after a failure, but is never skipped without being handed to OnFailure (or,
// if OnFailure is nil, logged at error level and counted as discarded).
//
// Not modelled: timeouts and memory limits, cold starts, versions and
// aliases, the asynchronous event queue's destinations and maximum-age setting,
// parallelization factor, tumbling windows, filter criteria
// (the apply function skips what the stacks' filter drops), maximum record age, the Invoke API's HTTP shape, and
// re-sharding. This package is for tests and drills, never production.
package lambdart
