package worker

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/iot-dr/iot-dr/functions/event"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// fakeConverger returns canned outcomes and records the names it was asked for.
type fakeConverger struct {
	out   replication.Outcome
	err   error
	calls []string
}

func (f *fakeConverger) do(kind, name string) (replication.Outcome, error) {
	f.calls = append(f.calls, kind+":"+name)
	return f.out, f.err
}
func (f *fakeConverger) Thing(_ context.Context, n string) (replication.Outcome, error) {
	return f.do("thing", n)
}
func (f *fakeConverger) ThingType(_ context.Context, n string) (replication.Outcome, error) {
	return f.do("type", n)
}
func (f *fakeConverger) ThingGroup(_ context.Context, n string) (replication.Outcome, error) {
	return f.do("group", n)
}
func (f *fakeConverger) Memberships(_ context.Context, n string) (replication.Outcome, error) {
	return f.do("memberships", n)
}
func (f *fakeConverger) Shadow(_ context.Context, n string) (replication.Outcome, error) {
	return f.do("shadow", n)
}

func TestThingRecheck(t *testing.T) {
	for _, tc := range []struct {
		name        string
		out         replication.Outcome
		op          string
		prevAttempt int
		wantSeconds int
	}{
		{"no certificate yet", replication.Outcome{}, "CREATED", 0, 5},
		{"copied something", replication.Outcome{Changes: []string{"x"}, Principals: 1}, "UPDATED", 1, 10},
		{"in sync with a certificate", replication.Outcome{Principals: 1}, "CREATED", 0, 0},
		{"window used up", replication.Outcome{}, "CREATED", 3, 0},
		{"deleted", replication.Outcome{}, "DELETED", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handlers{Converger: &fakeConverger{out: tc.out}, RecheckSeconds: 5, RecheckCount: 3}
			in := Input{Event: event.Event{EventType: spec.EventThing, EventID: "e1", ThingName: "dev-1", Operation: tc.op}}
			if tc.prevAttempt > 0 {
				in.Result = &Result{Attempt: tc.prevAttempt}
			}
			res, err := h.Thing(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if res.RecheckSeconds != tc.wantSeconds || res.Attempt != tc.prevAttempt+1 {
				t.Errorf("result %+v, want recheck %d at attempt %d", res, tc.wantSeconds, tc.prevAttempt+1)
			}
		})
	}
}

func TestRecheckDelayDoublesAndCaps(t *testing.T) {
	var got []int
	for a := 1; a <= 8; a++ {
		got = append(got, recheckDelay(10, a))
	}
	want := []int{10, 20, 40, 80, 160, 300, 300, 300}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
}

func TestErrorsForTheStateMachine(t *testing.T) {
	perm := &replication.PermanentError{Op: "create thing", Err: errors.New("bad attribute")}
	transient := errors.New("throttled")
	for _, tc := range []struct {
		name     string
		in       Input
		convErr  error
		wantPerm bool
		handler  func(*Handlers) func(context.Context, Input) (Result, error)
	}{
		{"permanent passes through unwrapped", Input{Event: event.Event{EventType: spec.EventThing, EventID: "e", ThingName: "d"}}, perm, true,
			func(h *Handlers) func(context.Context, Input) (Result, error) { return h.Thing }},
		{"transient stays retryable", Input{Event: event.Event{EventType: spec.EventShadow, EventID: "e", ThingName: "d"}}, transient, false,
			func(h *Handlers) func(context.Context, Input) (Result, error) { return h.Shadow }},
		{"invalid input is permanent", Input{Event: event.Event{EventType: spec.EventThing, EventID: "e"}}, nil, true,
			func(h *Handlers) func(context.Context, Input) (Result, error) { return h.Thing }},
		{"wrong worker is permanent", Input{Event: event.Event{EventType: spec.EventShadow, EventID: "e", ThingName: "d"}}, nil, true,
			func(h *Handlers) func(context.Context, Input) (Result, error) { return h.ThingType }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handlers{Converger: &fakeConverger{err: tc.convErr}}
			_, err := tc.handler(h)(context.Background(), tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			_, isPerm := err.(*replication.PermanentError)
			if isPerm != tc.wantPerm {
				t.Errorf("error %T %v: permanent (unwrapped) = %v, want %v", err, err, isPerm, tc.wantPerm)
			}
		})
	}
}

func TestGroupEventsRouteToTheirConvergence(t *testing.T) {
	f := &fakeConverger{}
	h := &Handlers{Converger: f}
	ctx := context.Background()
	for _, ev := range []event.Event{
		{EventType: spec.EventThingGroup, EventID: "1", ThingGroupName: "g"},
		{EventType: spec.EventThingGroupMembership, EventID: "2", ThingGroupName: "g", ThingName: "d"},
		{EventType: spec.EventThingGroupHierarchy, EventID: "3", ThingGroupName: "p", ChildGroupName: "c"},
	} {
		if _, err := h.ThingGroup(ctx, Input{Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"group:g", "memberships:d", "group:c"}; !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
}
