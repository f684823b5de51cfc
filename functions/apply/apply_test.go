package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// fakeConverger records which resources it was asked to converge, by state key, and
// fails the keys in fail. The fuzz targets share it.
type fakeConverger struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
}

func (f *fakeConverger) do(kind, name string) (replication.Outcome, error) {
	key := spec.StateKey(kind, name)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, key)
	if err := f.fail[key]; err != nil {
		return replication.Outcome{}, err
	}
	return replication.Outcome{Changes: []string{"converged " + key}}, nil
}

func (f *fakeConverger) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeConverger) Thing(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindThing, n)
}
func (f *fakeConverger) Principals(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindThingPrincipals, n)
}
func (f *fakeConverger) Memberships(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindThingGroups, n)
}
func (f *fakeConverger) Certificate(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindCertificate, n)
}
func (f *fakeConverger) Policy(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindPolicy, n)
}
func (f *fakeConverger) ThingType(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindThingType, n)
}
func (f *fakeConverger) ThingGroup(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindThingGroup, n)
}
func (f *fakeConverger) Shadow(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindShadow, n)
}
func (f *fakeConverger) RetainedMessage(_ context.Context, topic string) (replication.Outcome, error) {
	return f.do(spec.KindRetained, topic)
}
func (f *fakeConverger) Tags(_ context.Context, key string) (replication.Outcome, error) {
	return f.do(spec.KindTags, key)
}
func (f *fakeConverger) RoleAlias(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindRoleAlias, n)
}
func (f *fakeConverger) ProvisioningTemplate(_ context.Context, n string) (replication.Outcome, error) {
	return f.do(spec.KindProvisioningTemplate, n)
}
func (f *fakeConverger) CACertificate(_ context.Context, id string) (replication.Outcome, error) {
	return f.do(spec.KindCACertificate, id)
}
func (f *fakeConverger) BillingGroup(_ context.Context, name string) (replication.Outcome, error) {
	return f.do(spec.KindBillingGroup, name)
}
func (f *fakeConverger) NamedShadow(_ context.Context, thing, shadow string) (replication.Outcome, error) {
	return f.do(spec.KindNamedShadow, spec.NamedShadowKey(thing, shadow))
}

type fixture struct {
	h      *Handler
	conv   *fakeConverger
	state  *dynamo.Table
	errors *dynamo.Table
	store  *state.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, et := spec.StateTable(), spec.ErrorTable()
	f := &fixture{
		conv:   &fakeConverger{fail: map[string]error{}},
		state:  dynamo.NewTable("eu-west-1", "1", dynamo.Schema{Name: "state", HashKey: st.HashKey, StreamView: st.StreamView}),
		errors: dynamo.NewTable("eu-west-1", "1", dynamo.Schema{Name: "errors", HashKey: et.HashKey}),
	}
	f.store = &state.Store{Table: f.state, Name: "state"}
	f.h = &Handler{
		Applier:  &Applier{Region: "eu-west-1", Store: f.store, Converger: f.conv},
		Failures: &failures.Recorder{Table: f.errors, Name: "errors"},
	}
	return f
}

// put stores an item captured in origin and returns its stream record. The body is
// irrelevant to the fake converger; its seq makes each put a new write.
func (f *fixture) put(t *testing.T, kind, name, origin string, seq int64) events.DynamoDBEventRecord {
	t.Helper()
	return f.putBody(t, kind, name, origin, seq, state.Groups{Groups: []string{fmt.Sprint(seq)}})
}

// putBody is put with the item's body.
func (f *fixture) putBody(t *testing.T, kind, name, origin string, seq int64, body any) events.DynamoDBEventRecord {
	t.Helper()
	it, err := state.NewItem(kind, name, body)
	if err != nil {
		t.Fatal(err)
	}
	it.Origin, it.Seq = origin, seq
	if _, err := f.store.Put(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	recs := f.state.Stream().Read("", 1<<20)
	return recs[len(recs)-1]
}

func TestHandleRoutesAndCoalesces(t *testing.T) {
	f := newFixture(t)
	a1 := f.put(t, spec.KindThing, "dev-1", "us-east-1", 1)
	a2 := f.put(t, spec.KindThing, "dev-1", "us-east-1", 2) // same resource again: one apply
	own := f.put(t, spec.KindThingGroups, "dev-2", "eu-west-1", 1)
	p := f.put(t, spec.KindThingPrincipals, "dev-1", "us-east-1", 1)
	removed := a1
	removed.EventName = "REMOVE"
	resp, err := f.h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{a1, a2, own, p, removed}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	if want := []string{"thing#dev-1"}; !slices.Equal(f.conv.calls, want) {
		t.Errorf("converged %v, want %v (one apply per thing, its principals subsumed, own Region's items skipped)", f.conv.calls, want)
	}
}

// TestSubsumedRetryResumesEarliest: a batch where the thing's principals come before
// the thing and the thing's apply fails retries from the principals' record.
func TestSubsumedRetryResumesEarliest(t *testing.T) {
	f := newFixture(t)
	p := f.put(t, spec.KindThingPrincipals, "dev-1", "us-east-1", 1)
	g := f.put(t, spec.KindThingGroups, "dev-2", "us-east-1", 1)
	th := f.put(t, spec.KindThing, "dev-1", "us-east-1", 1)
	f.conv.fail["thing#dev-1"] = errors.New("ThrottlingException")
	resp, err := f.h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{p, g, th}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != p.Change.SequenceNumber {
		t.Errorf("failures %+v, want one at the principals record %s", resp.BatchItemFailures, p.Change.SequenceNumber)
	}
	slices.Sort(f.conv.calls)
	if want := []string{"thing#dev-1", "thing-groups#dev-2"}; !slices.Equal(f.conv.calls, want) {
		t.Errorf("converged %v, want %v (another thing's groups are not subsumed)", f.conv.calls, want)
	}
}

func TestHandleFailures(t *testing.T) {
	f := newFixture(t)
	ok := f.put(t, spec.KindShadow, "ok", "us-east-1", 2)
	transient := f.put(t, spec.KindShadow, "busy", "us-east-1", 2)
	permanent := f.put(t, spec.KindShadow, "bad", "us-east-1", 2)
	garbage := ok
	garbage.Change.Keys = map[string]events.DynamoDBAttributeValue{spec.StateAttrKey: events.NewStringAttribute("nonsense")}
	garbage.Change.NewImage = nil
	// Readable keys with an unreadable image: the resource is applied all the same.
	badImage := f.put(t, spec.KindShadow, "odd", "us-east-1", 2)
	badImage.Change.NewImage = map[string]events.DynamoDBAttributeValue{spec.StateAttrKey: events.NewStringAttribute("shadow#odd")}
	f.conv.fail["shadow#busy"] = errors.New("ThrottlingException: slow down")
	f.conv.fail["shadow#bad"] = &replication.PermanentError{Op: "shadow bad", Err: errors.New("document too large")}

	resp, err := f.h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{garbage, ok, transient, permanent, badImage}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != transient.Change.SequenceNumber {
		t.Errorf("batch item failures %+v, want only the transient one (%s)", resp.BatchItemFailures, transient.Change.SequenceNumber)
	}
	if !slices.Contains(f.conv.calls, "shadow#ok") || !slices.Contains(f.conv.calls, "shadow#odd") {
		t.Errorf("the good record and the one with a readable key were not both applied: %v", f.conv.calls)
	}
	recs, err := f.h.Failures.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.ID] = r.Error + ": " + r.Cause
	}
	for id, want := range map[string]string{
		"apply#shadow#busy": "ApplyFailed: ThrottlingException",
		"apply#shadow#bad":  "PermanentError: shadow bad",
	} {
		if !strings.HasPrefix(got[id], want) {
			t.Errorf("error record %s = %q, want prefix %q", id, got[id], want)
		}
	}
	invalid := 0
	for id, v := range got {
		if strings.HasPrefix(id, "apply#invalid#") {
			invalid++
			if !strings.Contains(v, "known kind") {
				t.Errorf("undecodable record's reason %q does not say what was wrong", v)
			}
		}
	}
	if invalid != 1 {
		t.Errorf("%d records of undecodable input, want 1: %v", invalid, got)
	}
}

func TestKeyConvergesAgainWhenTheItemMoved(t *testing.T) {
	f := newFixture(t)
	f.put(t, spec.KindThingGroups, "dev-1", "us-east-1", 1)
	moving := &movingConverger{fakeConverger: f.conv, f: f, t: t}
	a := &Applier{Region: "eu-west-1", Store: f.store, Converger: moving}
	res, err := a.Key(context.Background(), spec.StateKey(spec.KindThingGroups, "dev-1"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.conv.calls); n != 2 || len(res.Changes) != 2 {
		t.Errorf("%d converges (%v), want 2: the item moved during the first", n, f.conv.calls)
	}
}

// movingConverger writes a newer capture of the resource during its first converge,
// as a concurrent capture and replication would.
type movingConverger struct {
	*fakeConverger
	f     *fixture
	t     *testing.T
	moved bool
}

func (m *movingConverger) Memberships(ctx context.Context, n string) (replication.Outcome, error) {
	if !m.moved {
		m.moved = true
		it, _ := state.NewItem(spec.KindThingGroups, n, state.Groups{Groups: []string{"g"}})
		it.Origin, it.Seq = "us-east-1", 2
		if _, err := m.f.store.Put(ctx, it); err != nil {
			m.t.Error(err)
		}
	}
	return m.fakeConverger.Memberships(ctx, n)
}

// viewingConverger converges a thing as the replicator does: it reads the thing's
// principals and groups through the View, within the apply's snapshot.
type viewingConverger struct {
	*fakeConverger
	view *state.View
}

func (v viewingConverger) Thing(ctx context.Context, n string) (replication.Outcome, error) {
	if _, err := v.view.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(n)}); err != nil {
		return replication.Outcome{}, err
	}
	if _, err := v.view.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(n)}); err != nil {
		return replication.Outcome{}, err
	}
	return v.do(spec.KindThing, n)
}

// TestThingApplyMarksWhatItSubsumed: a thing's apply, which converges its principals
// and groups too (their records subsumed), records them as applied at the items it
// read, so the capture's guard stops waiting for them.
func TestThingApplyMarksWhatItSubsumed(t *testing.T) {
	f := newFixture(t)
	mt := spec.MarkTable()
	marks := &applymark.Marks{Table: dynamo.NewTable("eu-west-1", "1", dynamo.Schema{Name: "marks", HashKey: mt.HashKey, TTLAttribute: mt.TTLAttribute}), Name: "marks"}
	f.h.Applier.Marks = marks
	f.h.Applier.Converger = viewingConverger{f.conv, &state.View{Store: f.store}}
	p := f.putBody(t, spec.KindThingPrincipals, "dev-1", "us-east-1", 7, state.Principals{})
	g := f.putBody(t, spec.KindThingGroups, "dev-1", "us-east-1", 8, state.Groups{})
	th := f.putBody(t, spec.KindThing, "dev-1", "us-east-1", 9, state.Thing{})
	resp, err := f.h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{p, g, th}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	if want := []string{"thing#dev-1"}; !slices.Equal(f.conv.got(), want) {
		t.Fatalf("converged %v, want %v", f.conv.got(), want)
	}
	for key, seq := range map[string]int64{"thing#dev-1": 9, "thing-principals#dev-1": 7, "thing-groups#dev-1": 8} {
		mk, ok, err := marks.Get(context.Background(), key)
		if err != nil || !ok || mk.Applied != seq {
			t.Errorf("mark of %s = %+v (found %v, %v), want applied %d", key, mk, ok, err, seq)
		}
	}
}
