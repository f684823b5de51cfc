package delivery

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeliver(t *testing.T) {
	tests := []struct {
		name             string
		m                Model
		n                int
		minRuns, maxRuns int64
		delayed          bool
	}{
		{name: "zero model runs once inline", m: Model{}, n: 100, minRuns: 100, maxRuns: 100},
		{name: "always duplicated", m: Model{DuplicateRate: 1}, n: 100, minRuns: 200, maxRuns: 200},
		{name: "rate above 1 is 1", m: Model{DuplicateRate: 7}, n: 10, minRuns: 20, maxRuns: 20},
		{name: "some duplicated", m: Model{DuplicateRate: 0.25, Seed: 9}, n: 400, minRuns: 460, maxRuns: 540},
		{name: "delayed", m: Model{ReorderWindow: 5 * time.Millisecond, Seed: 1}, n: 50, minRuns: 50, maxRuns: 50, delayed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.m)
			t.Cleanup(s.Close)
			var runs atomic.Int64
			for range tt.n {
				s.Deliver(func() { runs.Add(1) })
			}
			if !tt.delayed && s.Pending() != 0 {
				t.Fatalf("Pending() = %d without a window", s.Pending())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if got := runs.Load(); got < tt.minRuns || got > tt.maxRuns {
				t.Errorf("%d runs, want %d..%d", got, tt.minRuns, tt.maxRuns)
			}
		})
	}
}

func TestCloseDropsAndWaits(t *testing.T) {
	s := New(Model{ReorderWindow: time.Hour, Seed: 1})
	var runs atomic.Int64
	for range 10 {
		s.Deliver(func() { runs.Add(1) })
	}
	if s.Pending() != 10 {
		t.Fatalf("Pending() = %d, want 10", s.Pending())
	}
	s.Close()
	s.Close()
	if s.Pending() != 0 || runs.Load() != 0 {
		t.Fatalf("after Close: pending %d, runs %d", s.Pending(), runs.Load())
	}
	s.Deliver(func() { runs.Add(1) }) // delayed, dropped after Close
	if err := s.Flush(context.Background()); err != nil || runs.Load() != 0 {
		t.Fatalf("Flush after Close: %v, runs %d", err, runs.Load())
	}
}

func TestFlushHonoursContext(t *testing.T) {
	s := New(Model{ReorderWindow: time.Hour, Seed: 1})
	t.Cleanup(s.Close)
	s.Deliver(func() {})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush with a cancelled context returned nil while a delivery was pending")
	}
}
