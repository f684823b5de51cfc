package stepfn

import (
	"context"
	"time"

	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"
)

// Bucket is a token-bucket quota as AWS documents them: Size tokens, refilled
// at Refill tokens per second, starting full. The zero value is unlimited.
type Bucket struct {
	Size   int
	Refill float64
}

// Unlimited reports whether b imposes no limit.
func (b Bucket) Unlimited() bool { return b.Size <= 0 || b.Refill <= 0 }

func (b Bucket) limiter() *rate.Limiter {
	if b.Unlimited() {
		return nil
	}
	return rate.NewLimiter(rate.Limit(b.Refill), b.Size)
}

// Quotas are the Standard-workflow throttling quotas the Service models. The
// zero value is unlimited (the behaviour before quotas were modelled);
// DefaultQuotas returns AWS's defaults.
type Quotas struct {
	// StartExecution throttles the StartExecution API: a call finding the
	// bucket empty fails with a ThrottlingException.
	StartExecution Bucket
	// StateTransition throttles state transitions across all executions:
	// AWS does not fail a throttled transition, it delays it (reported as
	// the ExecutionThrottled metric), so executions slow down.
	StateTransition Bucket
}

// Source of the quota figures.
const QuotaSource = "Step Functions service quotas, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"

// DefaultQuotas returns AWS's default Standard-workflow quotas for region
// (see "Step Functions service quotas": "Quotas related to API action
// throttling" and "Quotas related to state throttling"):
//
//	                  us-east-1, us-west-2, eu-west-1   other Regions
//	StartExecution    bucket 1,300, refill 300/s        bucket 800, refill 150/s
//	StateTransition   bucket 5,000, refill 5,000/s      bucket 800, refill 800/s
//
// New accounts may start with lower state-transition quotas, which AWS
// raises with usage; the simulator models the published defaults.
func DefaultQuotas(region string) Quotas {
	switch region {
	case "us-east-1", "us-west-2", "eu-west-1":
		return Quotas{StartExecution: Bucket{1300, 300}, StateTransition: Bucket{5000, 5000}}
	default:
		return Quotas{StartExecution: Bucket{800, 150}, StateTransition: Bucket{800, 800}}
	}
}

// Meter receives billable quantities; billing.RegionMeter satisfies it. It
// is defined here so that stepfn does not depend on the billing package.
type Meter interface {
	Add(op string, n float64)
}

// MeterStateTransitions is the operation name under which state transitions
// are metered (billing.OpStepFunctionsTransitions).
const MeterStateTransitions = "StepFunctions-StateTransitions"

// StateTransitions returns how many state transitions the Service's
// executions have made: one per state entered and one per retry attempt,
// which is what AWS bills for Standard workflows.
func (s *Service) StateTransitions() int64 { return s.transitions.Load() }

// Throttled returns how many StartExecution calls were throttled and how
// many state transitions had to wait for the StateTransition bucket.
func (s *Service) Throttled() (startExecutions, transitions int64) {
	return s.throttledStarts.Load(), s.throttledTransitions.Load()
}

// admitStart takes a StartExecution token or returns AWS's throttling error.
// The sfn SDK models no ThrottlingException type: the service answers with
// error code ThrottlingException, which the SDK surfaces as a
// smithy.APIError with that code (and its retryer retries).
func (s *Service) admitStart() error {
	if s.startLimiter == nil || s.startLimiter.AllowN(s.now(), 1) {
		return nil
	}
	s.throttledStarts.Add(1)
	return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient}
}

// transition counts one state transition and waits, in real time, for a
// token from the StateTransition bucket. It fails only when ctx ends.
func (s *Service) transition(ctx context.Context) error {
	s.transitions.Add(1)
	if s.meter != nil {
		s.meter.Add(MeterStateTransitions, 1)
	}
	if s.transLimiter == nil {
		return nil
	}
	r := s.transLimiter.Reserve()
	d := r.Delay()
	if d <= 0 {
		return nil
	}
	s.throttledTransitions.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}
