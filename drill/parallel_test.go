package drill

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallel: every index runs exactly once, at most workers at a time; the first
// error is returned and stops further calls from starting.
func TestParallel(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	var running, most atomic.Int32
	err := parallel(context.Background(), 100, 3, func(i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if seen[i] != 1 {
			t.Fatalf("index %d ran %d times", i, seen[i])
		}
	}
	if m := most.Load(); m > 3 {
		t.Errorf("%d calls at once, want at most 3", m)
	}

	boom := errors.New("boom")
	var calls atomic.Int32
	err = parallel(context.Background(), 1000, 2, func(i int) error {
		calls.Add(1)
		if i == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want the call's error", err)
	}
	if n := calls.Load(); n >= 1000 {
		t.Errorf("%d calls after an error at index 5: the rest should not start", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := parallel(ctx, 10, 2, func(int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}
