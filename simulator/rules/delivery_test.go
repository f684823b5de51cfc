package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/internal/delivery"
)

type manualTimer struct {
	delay   time.Duration
	f       func()
	stopped bool
}

func (m *manualTimer) Stop() bool { s := !m.stopped; m.stopped = true; return s }

type manualTimers struct {
	mu sync.Mutex
	q  []*manualTimer
}

func (mt *manualTimers) after(d time.Duration, f func()) delivery.Stopper {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	t := &manualTimer{delay: d, f: f}
	mt.q = append(mt.q, t)
	return t
}

func (mt *manualTimers) fire() {
	mt.mu.Lock()
	q := mt.q
	mt.q = nil
	mt.mu.Unlock()
	sort.SliceStable(q, func(i, j int) bool { return q[i].delay < q[j].delay })
	for _, t := range q {
		if !t.stopped {
			t.stopped = true
			t.f()
		}
	}
}

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

// mutator records the seq of each message and then scribbles on it, so a
// shared message between runs would show.
type mutator struct {
	mu   sync.Mutex
	seqs []string
	err  error
}

func (m *mutator) Run(_ context.Context, msg map[string]any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seqs = append(m.seqs, fmt.Sprint(msg["seq"]))
	msg["seq"] = "scribbled"
	return m.err
}

func TestActionDelivery(t *testing.T) {
	tests := []struct {
		name           string
		d              Delivery
		fail           bool
		wantSync       bool
		wantRuns       int // of 100 messages, -1 = between 101 and 199
		wantReordered  bool
		wantErrActions int // -1 = same as runs
	}{
		{name: "exactly once in order", wantSync: true, wantRuns: 100},
		{name: "always duplicated", d: Delivery{DuplicateRate: 1}, wantSync: true, wantRuns: 200},
		{name: "some duplicated", d: Delivery{DuplicateRate: 0.3, Seed: 5}, wantSync: true, wantRuns: -1},
		{name: "reordered", d: Delivery{ReorderWindow: time.Second, Seed: 6}, wantRuns: 100, wantReordered: true},
		{name: "failures reach the error action per run", d: Delivery{DuplicateRate: 1, ReorderWindow: time.Second, Seed: 7}, fail: true, wantRuns: 200, wantReordered: true, wantErrActions: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &meterRec{}
			e := NewEngine(slog.New(slog.DiscardHandler), WithDelivery(tt.d), WithMeter(rec))
			mt := &manualTimers{}
			e.deliv.SetTimerFunc(mt.after)
			t.Cleanup(e.Close)
			act := &mutator{}
			if tt.fail {
				act.err = errors.New("boom")
			}
			errAct := &recorder{}
			if err := e.Add(Rule{Name: "r", SQL: "SELECT seq FROM 'dev/+/data'", Action: act, ErrorAction: errAct}); err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 100 {
				b, _ := json.Marshal(map[string]any{"seq": i})
				e.Handle("dev/x/data", b)
				want = append(want, fmt.Sprint(i))
			}
			act.mu.Lock()
			ran := len(act.seqs)
			act.mu.Unlock()
			if tt.wantSync != (ran > 0) {
				t.Fatalf("%d runs before timers fired, want synchronous=%v", ran, tt.wantSync)
			}
			if !tt.wantSync && e.Pending() == 0 {
				t.Fatal("nothing pending under a ReorderWindow")
			}
			mt.fire()
			if err := e.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			act.mu.Lock()
			got := append([]string(nil), act.seqs...)
			act.mu.Unlock()
			switch {
			case tt.wantRuns >= 0 && len(got) != tt.wantRuns:
				t.Fatalf("%d runs, want %d", len(got), tt.wantRuns)
			case tt.wantRuns < 0 && (len(got) <= 100 || len(got) >= 200):
				t.Fatalf("%d runs, want some but not all duplicated", len(got))
			}
			seen := map[string]bool{}
			var first []string
			for _, s := range got {
				if s == "scribbled" {
					t.Fatal("a run saw another run's changes to its message")
				}
				if !seen[s] {
					seen[s] = true
					first = append(first, s)
				}
			}
			if len(first) != 100 {
				t.Fatalf("%d distinct messages delivered, want 100", len(first))
			}
			if reordered := fmt.Sprint(first) != fmt.Sprint(want); reordered != tt.wantReordered {
				t.Errorf("reordered = %v, want %v", reordered, tt.wantReordered)
			}
			wantErr := 0
			if tt.wantErrActions < 0 {
				wantErr = len(got)
			}
			if n := len(errAct.got()); n != wantErr {
				t.Errorf("%d error-action messages, want %d", n, wantErr)
			}
			if st := e.Stats()["r"]; st.Matched != 100 || st.ActionErrors != int64(wantErr) {
				t.Errorf("stats %+v", st)
			}
			if got, want := rec.get(MeterRulesTriggered), 100.0; got != want {
				t.Errorf("rules triggered %g, want %g", got, want)
			}
			if got, want := rec.get(MeterActionsExecuted), float64(len(got)+wantErr); got != want {
				t.Errorf("actions executed %g, want %g", got, want)
			}
		})
	}
}

func TestActionDeliveryRealTimers(t *testing.T) {
	e := NewEngine(slog.New(slog.DiscardHandler), WithDelivery(Delivery{DuplicateRate: 0.5, ReorderWindow: 5 * time.Millisecond, Seed: 11}))
	t.Cleanup(e.Close)
	act := &recorder{}
	if err := e.Add(Rule{Name: "r", SQL: "SELECT * FROM 't'", Action: act}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		e.Handle("t", []byte(`{"a":1}`))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(act.got()); n < 50 || n > 100 {
		t.Errorf("%d runs, want 50..100", n)
	}
	if e.Pending() != 0 {
		t.Errorf("Pending() = %d after Flush", e.Pending())
	}
}

func TestCloseDropsDelayedActions(t *testing.T) {
	e := NewEngine(slog.New(slog.DiscardHandler), WithDelivery(Delivery{ReorderWindow: time.Hour, Seed: 1}))
	act := &recorder{}
	if err := e.Add(Rule{Name: "r", SQL: "SELECT * FROM 't'", Action: act}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		e.Handle("t", []byte(`{}`))
	}
	if e.Pending() != 5 {
		t.Fatalf("Pending() = %d, want 5", e.Pending())
	}
	e.Close()
	if e.Pending() != 0 || len(act.got()) != 0 {
		t.Fatalf("after Close: pending %d, runs %d", e.Pending(), len(act.got()))
	}
}
