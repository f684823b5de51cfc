// Package stepfn is the simulator's AWS Step Functions: an interpreter for
// the subset of the Amazon States Language (JSONPath mode) that iot-dr's
// state machine uses, with executions, history and the sfn API methods
// (CreateStateMachine, StartExecution, DescribeExecution,
// GetExecutionHistory, ListExecutions) with the exact
// github.com/aws/aws-sdk-go-v2/service/sfn signatures and error types, so
// code written against *sfn.Client runs unchanged against a *Service.
//
// It is a test and drill fake, never production.
//
// Supported ASL: Task (Resource, TimeoutSeconds, Parameters,
// ResultSelector, ResultPath, Retry, Catch), Pass (Result, Parameters,
// ResultPath), Choice (StringEquals, StringMatches, Numeric*
// comparisons, BooleanEquals, IsPresent, IsNull, And, Or, Not, Default),
// Wait (Seconds, SecondsPath, Timestamp, TimestampPath), Succeed, Fail
// (Error, Cause), InputPath and OutputPath. Paths are $, $.a.b and
// $['a']; context paths are $$.Execution.Name, $$.Execution.Id,
// $$.State.EnteredTime, $$.State.Name and $$.StateMachine.Id; intrinsic
// functions are States.Format, States.JsonToString and States.StringToJson.
// Task resources are Lambda function ARNs and
// arn:aws:states:::dynamodb:putItem, run by the caller's TaskInvoker.
// Anything else (Map, Parallel, JSONata, other intrinsics or path forms,
// unknown fields) is refused by CreateStateMachine with InvalidDefinition
// naming the state and the field: the simulator never guesses.
//
// Semantics, following the specification and AWS's documentation:
//   - Retry: the first retrier whose ErrorEquals matches decides; each
//     retrier counts its own attempts, reset when the state is entered
//     again; delay = IntervalSeconds * BackoffRate^n capped by
//     MaxDelaySeconds, JitterStrategy FULL draws uniformly in [0, delay].
//   - States.ALL matches every error, States.TaskFailed every error but
//     States.Timeout; States.Runtime (bad paths, a Choice Variable that does
//     not resolve, ...) and States.DataLimitExceeded are never retried nor
//     caught and fail the execution.
//   - A Choice rule whose Variable does not resolve is States.Runtime unless
//     the rule is IsPresent; And/Or short-circuit, so an IsPresent guard
//     protects the rules after it; comparing values of another type is
//     false, not an error.
//   - A caught error's output is {"Error","Cause"} placed by the catcher's
//     ResultPath into the state's input; OutputPath is not applied.
//   - StartExecution with the name and input of a RUNNING execution returns
//     it; the same name with another input, or of a finished execution, is
//     *types.ExecutionAlreadyExists (standard workflows). Names follow
//     AWS's rules (1-80 characters, no white space, brackets, wildcards or
//     the special characters AWS lists).
//   - History uses AWS's event types: TaskStateEntered, then per attempt
//     LambdaFunctionScheduled/Started/Succeeded|Failed|TimedOut for a
//     Lambda ARN or TaskScheduled/Started/Succeeded|Failed|TimedOut for a
//     service integration, then TaskStateExited; Execution* events frame it.
//
// Executions run concurrently, one goroutine each. Wait and Retry delays
// are real timers multiplied by Options.TimeScale and stop on Close; Task
// TimeoutSeconds runs in real time (tasks are real code).
//
// Quotas (Options.Quotas; the zero value is unlimited, DefaultQuotas(region)
// gives AWS's Standard-workflow defaults) are token buckets that start full:
//
//	Quota            us-east-1, us-west-2, eu-west-1  Other Regions     Effect
//	StartExecution   bucket 1,300, refill 300/s       800, 150/s        call fails: ThrottlingException
//	StateTransition  bucket 5,000, refill 5,000/s     800, 800/s        transition waits (real time)
//
// Source: "Step Functions service quotas" (Quotas related to API action
// throttling; Quotas related to state throttling),
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html.
// The sfn SDK has no modelled ThrottlingException type: a throttled
// StartExecution returns a smithy.APIError with ErrorCode
// "ThrottlingException" (client fault), which is what the real service sends
// and what the SDK's retryer matches. StartExecution refills follow
// Options.Now; transition refills follow the wall clock, because a throttled
// transition really waits, as AWS slows executions rather than failing them.
// StateTransitions counts one transition per state entered and per retry
// attempt (what AWS bills); Options.Meter receives the same count.
//
// Not modelled: Map, Parallel, activities, .sync and .waitForTaskToken
// integrations, HeartbeatSeconds, execution timeouts (top-level
// TimeoutSeconds), EXPRESS workflows, versions and aliases, StopExecution,
// redrive, the 256 KiB payload limit (States.DataLimitExceeded), name
// expiry after 90 days (names are kept for the life of the Service), key
// order of objects (JSON objects are re-serialised with sorted keys), and
// history pruning (every execution and its events stay in memory).
// SetAvailable(false) fails API calls with a ServiceUnavailable server
// error while running executions carry on.
package stepfn
