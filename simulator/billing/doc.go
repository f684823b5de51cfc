// Package billing meters the billable operations a simulated run performs and
// prices them at AWS's list prices, so benchmarks can report what a workload
// would cost (usd-per-million-changes).
//
// A Meter counts quantities per Region and operation. The simulator's fakes
// feed it through a one-method interface they each define themselves
// (Add(op string, n float64)); ForRegion adapts a Meter to it, so no fake
// imports this package. The operation names are the Op constants below; the
// fakes' own constants spell the same strings (billing's tests check that).
//
// Units are AWS's billing units, already rounded the way AWS rounds them:
// the fakes call the helpers here (WriteUnits, ReadUnits, ShadowUnits,
// GBSeconds) or do the same arithmetic.
//
//   - DynamoDB on demand: a write of an item of up to 1 KB is one write
//     request unit (WRU), larger items one more per started KB; a read of up
//     to 4 KB is one read request unit (RRU) when strongly consistent and half
//     a unit when eventually consistent, one more (or half) per started 4 KB.
//     A write replicated to another Region of a global table costs one
//     replicated WRU per started KB in the Region it is applied in.
//   - AWS Lambda: one request per invocation; duration rounded up to 1 ms,
//     times the configured memory in GB, is GB-seconds.
//   - AWS Step Functions Standard: one state transition per state entered and
//     per retry attempt.
//   - AWS IoT Core: rules triggered and actions executed, per message; Device
//     Shadow operations in 1 KB increments of the request or response
//     payload; registry operations per call of the APIs AWS's "additional
//     metering details" page lists (https://aws.amazon.com/iot-core/pricing/additional-details/;
//     certificate, policy and delete calls are not billed); messages in 5 KB
//     increments (priced here, fed by no fake yet).
//
// # Prices (us-east-1, on-demand list prices as of 2025)
//
//	Operation                              USD per unit     Source
//	IoT-RulesTriggered                     0.15 / million   AWS IoT Core pricing, https://aws.amazon.com/iot-core/pricing/
//	IoT-ActionsExecuted                    0.15 / million   AWS IoT Core pricing
//	IoT-Messages (5 KB)                    1.00 / million   AWS IoT Core pricing (first billion messages a month)
//	IoT-ShadowOperations (1 KB)            1.25 / million   AWS IoT Core pricing (Device Shadow and registry)
//	IoT-RegistryOperations (1 KB)          1.25 / million   AWS IoT Core pricing (Device Shadow and registry)
//	DynamoDB-WriteRequestUnits             0.625 / million  Amazon DynamoDB pricing for on-demand capacity, https://aws.amazon.com/dynamodb/pricing/on-demand/
//	DynamoDB-ReadRequestUnits              0.125 / million  Amazon DynamoDB pricing for on-demand capacity
//	DynamoDB-ReplicatedWriteRequestUnits   0.625 / million  Amazon DynamoDB pricing for on-demand capacity (global tables)
//	Lambda-Requests                        0.20 / million   AWS Lambda pricing, https://aws.amazon.com/lambda/pricing/
//	Lambda-GB-Second                       0.0000133334     AWS Lambda pricing (arm64; x86 is 0.0000166667)
//	StepFunctions-StateTransitions         0.025 / thousand AWS Step Functions pricing, https://aws.amazon.com/step-functions/pricing/
//
// The DynamoDB figures are those after the price cut of 1 November 2024 (on-
// demand throughput halved, global-table replicated writes cut by up to 67%,
// so a replicated WRU costs the same as a WRU). Lambda duration is priced
// for arm64, the architecture the stacks deploy (infra/deploy/lambda.go).
//
// Not modelled: free tiers, volume tiers beyond the first, storage, data
// transfer between Regions, DynamoDB Streams reads (free when Lambda reads
// them), CloudWatch, Route 53 health checks, API Gateway and connectivity
// minutes. The prices are a snapshot: check the pages before quoting them.
package billing
