package probe

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	here  = "us-east-1"
	there = "eu-west-1"
)

func markTable() *dynamo.Table {
	mt := spec.MarkTable()
	return dynamo.NewTable(here, "123456789012", dynamo.Schema{Name: "marks", HashKey: mt.HashKey, TTLAttribute: mt.TTLAttribute})
}

// batch is a stream batch of changes captured in origin at the given times.
func batch(origin string, captured ...time.Time) events.DynamoDBEvent {
	var ev events.DynamoDBEvent
	for i, at := range captured {
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{
			Keys: map[string]events.DynamoDBAttributeValue{spec.StateAttrKey: events.NewStringAttribute("thing#t" + strconv.Itoa(i))},
			NewImage: map[string]events.DynamoDBAttributeValue{
				spec.StateAttrOrigin:     events.NewStringAttribute(origin),
				spec.StateAttrCapturedAt: events.NewNumberAttribute(strconv.FormatInt(at.UnixMilli(), 10)),
			},
		}})
	}
	return ev
}

// heldBatch runs ev through the tracked apply and holds it there until release is
// called, which waits for the tracked handler to return.
func heldBatch(t *testing.T, p *applymark.Progress, ev events.DynamoDBEvent) (release func()) {
	t.Helper()
	entered, hold, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	h := p.Track(func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		close(entered)
		<-hold
		return events.DynamoDBEventResponse{}, nil
	})
	go func() {
		defer close(done)
		if _, err := h(context.Background(), ev); err != nil {
			t.Errorf("apply: %v", err)
		}
	}()
	<-entered
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(hold)
			<-done
		})
	}
	t.Cleanup(release)
	return release
}

func TestGate(t *testing.T) {
	const hold = 30 * time.Second
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type step struct {
		do       func(t *testing.T, clk *clock, p *applymark.Progress, g *Gate)
		catching bool
		serving  bool
		changes  int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "nothing to apply", steps: []step{{}}},
		{
			name: "an old change held by the apply gates a Region that is not serving",
			steps: []step{
				{do: func(t *testing.T, clk *clock, p *applymark.Progress, _ *Gate) {
					heldBatch(t, p, batch(there, t0.Add(-time.Minute), t0.Add(-10*time.Second), t0))
				}, catching: true, changes: 3},
			},
		},
		{
			name: "the Region's own writes and recent changes are no backlog",
			steps: []step{
				{do: func(t *testing.T, clk *clock, p *applymark.Progress, _ *Gate) {
					heldBatch(t, p, batch(here, t0.Add(-time.Hour)))
					heldBatch(t, p, batch(there, t0.Add(-2*time.Second)))
				}, changes: 1},
			},
		},
		{
			name: "a batch that ended behind gates for the linger, then the gate opens",
			steps: []step{
				{do: func(t *testing.T, clk *clock, p *applymark.Progress, _ *Gate) {
					release := heldBatch(t, p, batch(there, t0.Add(-time.Minute)))
					clk.advance(100 * time.Millisecond)
					release()
				}, catching: true},
				{do: func(t *testing.T, clk *clock, _ *applymark.Progress, _ *Gate) {
					clk.advance(DefaultCatchUpLinger + time.Millisecond)
				}},
			},
		},
		{
			name: "a batch that ended caught up does not gate",
			steps: []step{
				{do: func(t *testing.T, clk *clock, p *applymark.Progress, _ *Gate) {
					release := heldBatch(t, p, batch(there, t0.Add(-time.Minute), t0.Add(-time.Second)))
					release()
				}},
			},
		},
		{
			name: "a crashed invocation's lease expires at its deadline",
			steps: []step{
				{do: func(t *testing.T, clk *clock, p *applymark.Progress, _ *Gate) {
					heldBatch(t, p, batch(there, t0.Add(-time.Minute)))
				}, catching: true, changes: 1},
				{do: func(t *testing.T, clk *clock, _ *applymark.Progress, _ *Gate) {
					clk.advance(applymark.DefaultLeaseTimeout + time.Second)
				}},
			},
		},
		{
			name: "a serving Region is not gated: its backlog must not push the fleet away",
			steps: []step{
				{do: func(t *testing.T, clk *clock, _ *applymark.Progress, g *Gate) {
					for range 4 { // healthy answers over more than Hold
						answer(t, g, true)
						clk.advance(hold / 3)
					}
				}, serving: true},
				{do: func(t *testing.T, clk *clock, p *applymark.Progress, _ *Gate) {
					heldBatch(t, p, batch(there, t0.Add(-time.Minute)))
				}, serving: true, changes: 1},
			},
		},
		{
			name: "serving needs healthy answers, and nothing else, for Hold",
			steps: []step{
				{do: func(t *testing.T, clk *clock, p *applymark.Progress, g *Gate) {
					heldBatch(t, p, batch(there, t0.Add(-time.Hour)))
					answer(t, g, true)
					clk.advance(hold - time.Second)
					answer(t, g, true)
				}, catching: true, changes: 1},
				{do: func(t *testing.T, clk *clock, _ *applymark.Progress, g *Gate) {
					answer(t, g, false) // a failed answer starts the run again
					clk.advance(2 * time.Second)
					answer(t, g, true)
					clk.advance(hold - time.Second)
					answer(t, g, true)
				}, catching: true, changes: 1},
				{do: func(t *testing.T, clk *clock, _ *applymark.Progress, g *Gate) {
					clk.advance(2 * time.Second)
					answer(t, g, true)
				}, serving: true, changes: 1},
				{do: func(t *testing.T, clk *clock, _ *applymark.Progress, g *Gate) {
					clk.advance(hold + time.Second) // no answer for Hold: not serving any more
				}, catching: true, changes: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: t0}
			tb := markTable()
			p := &applymark.Progress{Table: tb, Name: "marks", Region: here, Now: clk.Now}
			g := &Gate{Table: tb, Name: "marks", Region: here, Hold: hold, Now: clk.Now}
			for i, s := range tt.steps {
				if s.do != nil {
					s.do(t, clk, p, g)
				}
				v, err := g.Check(context.Background())
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if v.CatchingUp != s.catching || v.Serving != s.serving || v.Backlog.Changes != s.changes {
					t.Fatalf("step %d: verdict %+v, want catching up %v, serving %v, %d changes", i, v, s.catching, s.serving, s.changes)
				}
				if v.CatchingUp && v.Backlog.OldestAge <= DefaultCatchUpMaxAge {
					t.Fatalf("step %d: catching up with the oldest change %s old", i, v.Backlog.OldestAge)
				}
			}
		})
	}
}

func answer(t *testing.T, g *Gate, healthy bool) {
	t.Helper()
	if err := g.Answered(context.Background(), healthy); err != nil {
		t.Fatal(err)
	}
}

// TestProgressConcurrentLeases: the Region's apply invocations (one per shard) write
// the one progress item at once; every lease is recorded and closed.
func TestProgressConcurrentLeases(t *testing.T) {
	tb := markTable()
	p := &applymark.Progress{Table: tb, Name: "marks", Region: here}
	const n = 8
	var wg sync.WaitGroup
	entered := make(chan struct{}, n)
	hold := make(chan struct{})
	h := p.Track(func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		entered <- struct{}{}
		<-hold
		return events.DynamoDBEventResponse{}, nil
	})
	for range n {
		wg.Go(func() {
			if _, err := h(context.Background(), batch(there, time.Now().Add(-time.Minute))); err != nil {
				t.Error(err)
			}
		})
	}
	for range n {
		<-entered
	}
	b := backlogNow(t, p)
	close(hold)
	wg.Wait()
	if b.Batches != n || b.Changes != n || !b.Behind {
		t.Fatalf("while %d batches run: %+v", n, b)
	}
	leases, err := p.Leases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for id, l := range leases {
		if l.End == 0 {
			t.Errorf("lease %s not closed: %+v", id, l)
		}
	}
	if len(leases) != n {
		t.Errorf("%d leases, want %d", len(leases), n)
	}
}

func backlogNow(t *testing.T, p *applymark.Progress) applymark.Backlog {
	t.Helper()
	leases, err := p.Leases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return applymark.BacklogOf(leases, time.Now(), DefaultCatchUpMaxAge, DefaultCatchUpLinger)
}

// TestHandleCatchingUp: the handler answers 503 "catching up" with the backlog while
// the gate says so, though the broker round-trips, and 200 once the apply is done.
func TestHandleCatchingUp(t *testing.T) {
	clk := &clock{t: time.Now()}
	tb := markTable()
	p := &applymark.Progress{Table: tb, Name: "marks", Region: here, Now: clk.Now}
	h := &Handler{Secret: FixedSecret(theSecret), Probe: &fakeProbe{},
		CatchUp: &Gate{Table: tb, Name: "marks", Region: here, Hold: 30 * time.Second, Now: clk.Now}}
	release := heldBatch(t, p, batch(there, clk.Now().Add(-time.Minute), clk.Now().Add(-30*time.Second)))
	req := request(map[string]string{SecretHeader: theSecret}, nil)
	resp, err := h.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	body := decode(t, resp)
	backlog, _ := body["backlog"].(map[string]any)
	if resp.StatusCode != 503 || body["reason"] != ReasonCatchingUp || backlog["changes"] != 2.0 || backlog["oldestAgeS"] != 60.0 || backlog["behind"] != true {
		t.Fatalf("while behind: %d %s", resp.StatusCode, resp.Body)
	}
	release()
	clk.advance(2 * DefaultCatchUpLinger)
	resp, err = h.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	body = decode(t, resp)
	backlog, _ = body["backlog"].(map[string]any)
	if resp.StatusCode != 200 || backlog["behind"] != false || backlog["serving"] != false {
		t.Fatalf("caught up: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestProgressApplyPending: the deployed capture's apply-progress signal is true
// exactly while a batch holding the other Region's changes runs.
func TestProgressApplyPending(t *testing.T) {
	p := &applymark.Progress{Table: markTable(), Name: "marks", Region: here}
	pending := func() bool {
		t.Helper()
		ok, err := p.ApplyPending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if pending() {
		t.Fatal("pending before any batch")
	}
	own := heldBatch(t, p, batch(here, time.Now()))
	if pending() {
		t.Error("pending while a batch of this Region's own captures runs")
	}
	own()
	release := heldBatch(t, p, batch(there, time.Now()))
	if !pending() {
		t.Error("not pending while a batch of the other Region's changes runs")
	}
	release()
	if pending() {
		t.Error("still pending after the batch ended")
	}
}
