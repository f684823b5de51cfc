package stepfn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

func TestDefaultQuotas(t *testing.T) {
	tests := []struct {
		region string
		want   Quotas
	}{
		{"us-east-1", Quotas{Bucket{1300, 300}, Bucket{5000, 5000}}},
		{"us-west-2", Quotas{Bucket{1300, 300}, Bucket{5000, 5000}}},
		{"eu-west-1", Quotas{Bucket{1300, 300}, Bucket{5000, 5000}}},
		{"eu-central-1", Quotas{Bucket{800, 150}, Bucket{800, 800}}},
		{"ap-southeast-2", Quotas{Bucket{800, 150}, Bucket{800, 800}}},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			if got := DefaultQuotas(tt.region); got != tt.want {
				t.Errorf("DefaultQuotas(%s) = %+v, want %+v", tt.region, got, tt.want)
			}
		})
	}
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const passDef = `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Succeed"}}}`

func TestStartExecutionThrottled(t *testing.T) {
	tests := []struct {
		name    string
		bucket  Bucket
		starts  int
		advance time.Duration
		after   int // further starts after advancing the clock
		wantOK  int
	}{
		{name: "unlimited", starts: 50, wantOK: 50},
		{name: "burst then throttled", bucket: Bucket{3, 1}, starts: 5, wantOK: 3},
		{name: "refill after a second", bucket: Bucket{3, 1}, starts: 5, advance: time.Second, after: 2, wantOK: 4},
		{name: "refill caps at bucket size", bucket: Bucket{2, 10}, starts: 2, advance: time.Hour, after: 5, wantOK: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: fixedNow}
			s := New(Options{Region: "eu-west-1", Now: clk.now, Quotas: Quotas{StartExecution: tt.bucket}})
			t.Cleanup(s.Close)
			arn := createSM(t, s, passDef)
			ok := 0
			start := func(i int) {
				t.Helper()
				_, err := s.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String(fmt.Sprintf("e%d", i))})
				var ae smithy.APIError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException" && ae.ErrorFault() == smithy.FaultClient:
				default:
					t.Fatalf("StartExecution %d: %v", i, err)
				}
			}
			for i := range tt.starts {
				start(i)
			}
			clk.advance(tt.advance)
			for i := range tt.after {
				start(tt.starts + i)
			}
			waitIdle(t, s)
			if ok != tt.wantOK {
				t.Errorf("%d executions started, want %d", ok, tt.wantOK)
			}
			if th, _ := s.Throttled(); int(th) != tt.starts+tt.after-tt.wantOK {
				t.Errorf("Throttled() starts = %d, want %d", th, tt.starts+tt.after-tt.wantOK)
			}
		})
	}
}

// meterRec records metered quantities.
type meterRec struct {
	mu sync.Mutex
	m  map[string]float64
}

func (r *meterRec) Add(op string, n float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]float64{}
	}
	r.m[op] += n
}

func (r *meterRec) get(op string) float64 { r.mu.Lock(); defer r.mu.Unlock(); return r.m[op] }

func TestStateTransitionsCounted(t *testing.T) {
	const retryDef = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `",
		"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":1,"MaxAttempts":3}],"Next":"Done"},"Done":{"Type":"Succeed"}}}`
	tests := []struct {
		name     string
		def      string
		failures int // task failures before it succeeds
		want     int64
	}{
		{name: "pass and succeed", def: passDef, want: 2},
		{name: "task without retries", def: retryDef, want: 2},
		{name: "each retry is a transition", def: retryDef, failures: 2, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{fn: func(_ context.Context, _ string, n int, _ map[string]any) ([]byte, error) {
				if n < tt.failures {
					return nil, NewTaskError("Boom", "planned")
				}
				return []byte(`{}`), nil
			}}
			rec := &meterRec{}
			s := New(Options{Region: "eu-west-1", Invoker: inv, Now: func() time.Time { return fixedNow }, Meter: rec})
			s.sleep = (&sleepRecorder{}).sleep
			t.Cleanup(s.Close)
			r := runDef(t, s, tt.def, `{}`)
			wantStatus(t, r, types.ExecutionStatusSucceeded, "")
			if got := s.StateTransitions(); got != tt.want {
				t.Errorf("StateTransitions() = %d, want %d; history %v", got, tt.want, r.types())
			}
			if got := rec.get(MeterStateTransitions); got != float64(tt.want) {
				t.Errorf("metered %v transitions, want %d", got, tt.want)
			}
		})
	}
}

func TestStateTransitionThrottleDelays(t *testing.T) {
	// Five Pass states against a bucket of 2 refilled at 10/s: the last
	// three transitions each wait about 100 ms, and none fails.
	var b strings.Builder
	b.WriteString(`{"StartAt":"S0","States":{`)
	for i := range 4 {
		fmt.Fprintf(&b, `"S%d":{"Type":"Pass","Next":"S%d"},`, i, i+1)
	}
	b.WriteString(`"S4":{"Type":"Succeed"}}}`)
	s := New(Options{Region: "eu-west-1", Quotas: Quotas{StateTransition: Bucket{2, 10}}})
	t.Cleanup(s.Close)
	began := time.Now()
	r := runDef(t, s, b.String(), `{}`)
	wantStatus(t, r, types.ExecutionStatusSucceeded, "")
	if el := time.Since(began); el < 250*time.Millisecond {
		t.Errorf("execution took %v, want at least 250ms of throttling", el)
	}
	if _, th := s.Throttled(); th != 3 {
		t.Errorf("throttled transitions = %d, want 3", th)
	}
	if n := s.StateTransitions(); n != 5 {
		t.Errorf("StateTransitions() = %d, want 5", n)
	}
}

func TestCloseAbortsThrottledExecution(t *testing.T) {
	s := New(Options{Region: "eu-west-1", Quotas: Quotas{StateTransition: Bucket{1, 0.001}}})
	arn := createSM(t, s, passDef)
	if _, err := s.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while an execution waited for a transition token")
	}
}
