package lambdart

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

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

func TestConcurrencyLimits(t *testing.T) {
	tests := []struct {
		name       string
		account    int // 0 = option not given
		reserved   int
		holders    int // invocations held running
		wantReason string
	}{
		{name: "account limit", account: 2, holders: 2, wantReason: ReasonConcurrentInvocationLimitExceeded},
		{name: "reserved below account", account: 5, reserved: 1, holders: 1, wantReason: ReasonReservedFunctionConcurrentLimitExceeded},
		{name: "within limits", account: 3, holders: 2},
		{name: "unlimited account", account: -1, holders: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.account != 0 {
				opts = append(opts, WithAccountConcurrency(tt.account))
			}
			r := New(testRegion, testAccount, nil, opts...)
			entered := make(chan struct{})
			release := make(chan struct{})
			mustRegister(t, r, "hold", func() error {
				entered <- struct{}{}
				<-release
				return nil
			}, FunctionOptions{ReservedConcurrency: tt.reserved})
			mustRegister(t, r, "other", func() error { return nil }, FunctionOptions{})
			var wg sync.WaitGroup
			t.Cleanup(func() { close(release); wg.Wait() })
			for range tt.holders {
				wg.Go(func() { _, _ = r.Invoke(context.Background(), "hold", []byte(`{}`)) })
				<-entered
			}
			if n := r.ConcurrentExecutions(); n != tt.holders {
				t.Errorf("ConcurrentExecutions = %d, want %d", n, tt.holders)
			}
			target := "other"
			if tt.reserved > 0 {
				target = "hold"
			}
			_, err := r.Invoke(context.Background(), target, []byte(`{}`))
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				return
			}
			var tm *TooManyRequestsException
			if !errors.As(err, &tm) || tm.Reason != tt.wantReason {
				t.Fatalf("Invoke error %v, want TooManyRequestsException reason %s", err, tt.wantReason)
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "TooManyRequestsException" || ae.ErrorFault() != smithy.FaultClient {
				t.Errorf("error %v is not a client-fault smithy.APIError TooManyRequestsException", err)
			}
			if !errors.Is(err, ErrThrottled) {
				t.Errorf("errors.Is(%v, ErrThrottled) = false", err)
			}
			if u := r.Usage(target); u.Throttles != 1 {
				t.Errorf("Usage(%s).Throttles = %d, want 1", target, u.Throttles)
			}
		})
	}
}

func TestDefaultAccountConcurrency(t *testing.T) {
	r := New(testRegion, testAccount, nil)
	if r.accountLimit != DefaultAccountConcurrency || DefaultAccountConcurrency != 1000 {
		t.Fatalf("account limit %d, want 1000", r.accountLimit)
	}
}

func TestBilledMS(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{0, 1},
		{time.Microsecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + 1, 2},
		{1500 * time.Microsecond, 2},
		{2 * time.Second, 2000},
	}
	for _, tt := range tests {
		if got := billedMS(tt.d); got != tt.want {
			t.Errorf("billedMS(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestUsageAndMeter(t *testing.T) {
	tests := []struct {
		name     string
		memoryMB int
		wantMem  int
		fail     bool
	}{
		{name: "default memory", wantMem: DefaultMemoryMB},
		{name: "1 GB", memoryMB: 1024, wantMem: 1024},
		{name: "function errors are billed", memoryMB: 512, wantMem: 512, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &meterRec{}
			r := New(testRegion, testAccount, nil, WithMeter(rec))
			mustRegister(t, r, "f", func() error {
				if tt.fail {
					return errors.New("boom")
				}
				return nil
			}, FunctionOptions{MemoryMB: tt.memoryMB})
			const n = 5
			for range n {
				_, _ = r.Invoke(context.Background(), "f", []byte(`{}`))
			}
			u := r.Usage("f")
			if u.Requests != n || u.MemoryMB != tt.wantMem || u.BilledMS < n {
				t.Fatalf("Usage = %+v, want %d requests of at least 1 ms with %d MB", u, n, tt.wantMem)
			}
			wantGBs := float64(u.BilledMS) / 1000 * float64(tt.wantMem) / 1024
			if math.Abs(u.GBSeconds-wantGBs) > 1e-12 {
				t.Errorf("GBSeconds = %g, want %g", u.GBSeconds, wantGBs)
			}
			if got := rec.get(MeterRequests); got != n {
				t.Errorf("metered requests %g, want %d", got, n)
			}
			if got := rec.get(MeterGBSeconds); math.Abs(got-wantGBs) > 1e-12 {
				t.Errorf("metered GB-seconds %g, want %g", got, wantGBs)
			}
		})
	}
	if u := New(testRegion, testAccount, nil).Usage("missing"); u != (Usage{}) {
		t.Errorf("Usage of a missing function = %+v", u)
	}
}
