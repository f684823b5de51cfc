package replication

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// getPolicyCounter counts the GetPolicy calls made to an IoT client.
type getPolicyCounter struct {
	IoT
	calls atomic.Int64
}

func (c *getPolicyCounter) GetPolicy(ctx context.Context, in *iot.GetPolicyInput, optFns ...func(*iot.Options)) (*iot.GetPolicyOutput, error) {
	c.calls.Add(1)
	return c.IoT.GetPolicy(ctx, in, optFns...)
}

// TestRunReadsSharedPolicyOnce checks that a Run converges a policy shared by many
// things once, where the Replicator's own Thing reads it for every thing.
func TestRunReadsSharedPolicyOnce(t *testing.T) {
	const things = 5
	tests := []struct {
		name  string
		thing func(r *Replicator) func(context.Context, string) (Outcome, error)
		want  int64
	}{
		{"Replicator", func(r *Replicator) func(context.Context, string) (Outcome, error) { return r.Thing }, things},
		{"Run", func(r *Replicator) func(context.Context, string) (Outcome, error) { return r.NewRun().Thing }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.addPolicy(t, "fleet", "telemetry")
			for i := range things {
				name := fmt.Sprintf("dev-%d", i)
				e.createThing(t, name, "", nil)
				_, arn := e.addCert(t)
				e.attachPolicy(t, "fleet", arn)
				e.attachCert(t, name, arn)
			}
			src := &getPolicyCounter{IoT: e.src}
			r := *e.r
			r.Source = src
			converge := tc.thing(&r)
			for i := range things {
				if _, err := converge(e.ctx, fmt.Sprintf("dev-%d", i)); err != nil {
					t.Fatalf("Thing dev-%d: %v", i, err)
				}
			}
			if got := src.calls.Load(); got != tc.want {
				t.Errorf("source GetPolicy calls = %d, want %d", got, tc.want)
			}
			e.assertInSync(t)
		})
	}
}
