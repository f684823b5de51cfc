package capture

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

// fakeSFN records the re-check executions started.
type fakeSFN struct {
	mu    sync.Mutex
	names []string
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = append(f.names, aws.ToString(in.Name))
	return &sfn.StartExecutionOutput{}, nil
}

type fixture struct {
	h           *Handler
	reg         *registry.Registry
	state, errs *dynamo.Table
	sfn         *fakeSFN
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, et := spec.StateTable(), spec.ErrorTable()
	f := &fixture{
		reg:   registry.New(registry.Options{Region: "us-east-1", AccountID: "123456789012"}),
		state: dynamo.NewTable("us-east-1", "1", dynamo.Schema{Name: "state", HashKey: st.HashKey, StreamView: st.StreamView}),
		errs:  dynamo.NewTable("us-east-1", "1", dynamo.Schema{Name: "errors", HashKey: et.HashKey}),
		sfn:   &fakeSFN{},
	}
	f.h = &Handler{
		Capturer:          &Capturer{IoT: f.reg, Store: &state.Store{Table: f.state, Name: "state"}, Region: "us-east-1"},
		SFN:               f.sfn,
		RecheckMachineARN: "arn:aws:states:us-east-1:1:stateMachine:recheck",
		ApplyClientToken:  spec.ApplyClientToken,
		Failures:          &failures.Recorder{Table: f.errs, Name: "errors"},
	}
	return f
}

func (f *fixture) items(t *testing.T) map[string]state.Item {
	t.Helper()
	out := map[string]state.Item{}
	for _, rec := range f.state.Stream().Read("", 1<<20) {
		it, err := state.FromImage(rec.Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		out[it.Key()] = it
	}
	return out
}

func TestThingEventCapturesTheThingAndStartsRechecks(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}); err != nil {
		t.Fatal(err)
	}
	ev := json.RawMessage(`{"eventType":"THING_EVENT","eventId":"e-1","timestamp":1700000000000,"operation":"CREATED","thingName":"dev-1","topic":"$aws/events/thing/dev-1/created"}`)
	if err := f.h.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	items := f.items(t)
	for _, k := range []string{"thing#dev-1", "thing-principals#dev-1", "thing-groups#dev-1"} {
		it, ok := items[k]
		if !ok || it.Origin != "us-east-1" || it.Seq == 0 {
			t.Errorf("item %s = %+v (present %t), want one captured in us-east-1 with a seq", k, it, ok)
		}
	}
	if it := items["thing#dev-1"]; it.ChangedAt != 1700000000000 {
		t.Errorf("thing item changedAt %d, want the event's timestamp", it.ChangedAt)
	}
	// The same event again (at least once): nothing new is written, one re-check loop.
	writes := f.state.Stream().Len()
	if err := f.h.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := f.state.Stream().Len(); n != writes {
		t.Errorf("a duplicate event wrote %d items; want none", n-writes)
	}
	if len(f.sfn.names) != 2 || f.sfn.names[0] != f.sfn.names[1] {
		t.Errorf("re-check executions %v, want the same name twice (Step Functions refuses the second)", f.sfn.names)
	}
}

func TestShadowCapture(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	update := func(v int, token string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{
			"eventType": "SHADOW_EVENT", "operation": "UPDATE", "thingName": "dev-1", "clientToken": token,
			"current": map[string]any{"state": map[string]any{"reported": map[string]any{"v": v}}, "version": v},
		})
		return b
	}
	for _, msg := range []json.RawMessage{update(2, "device"), update(1, "device"), update(3, spec.ApplyClientToken)} {
		if err := f.h.Handle(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	it := f.items(t)["shadow#dev-1"]
	var sh state.Shadow
	if err := it.Decode(&sh); err != nil {
		t.Fatal(err)
	}
	// Version 1 arrived late and lost; version 3 was the apply's own write and is not
	// captured (no echo).
	if sh.Version != 2 || string(sh.Reported) != `{"v":2}` || f.state.Stream().Len() != 1 {
		t.Errorf("shadow item %+v after %d writes; want version 2 written once", sh, f.state.Stream().Len())
	}
	del := json.RawMessage(`{"eventType":"SHADOW_EVENT","operation":"DELETE","thingName":"dev-1","version":2}`)
	if err := f.h.Handle(ctx, del); err != nil {
		t.Fatal(err)
	}
	if it := f.items(t)["shadow#dev-1"]; !it.Deleted {
		t.Errorf("after the delete at version 2 the item is %+v, want a tombstone (it follows the update that made 2)", it)
	}
}

func TestBadAndFailingInputIsRecorded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.h.Handle(ctx, json.RawMessage(`{"eventType":"THING_EVENT","thingName":"x"}`)); err != nil {
		t.Fatalf("bad input must be recorded, not retried: %v", err)
	}
	f.reg.SetAvailable(false)
	err := f.h.Handle(ctx, json.RawMessage(`{"eventType":"THING_EVENT","eventId":"e","operation":"UPDATED","thingName":"dev-9"}`))
	if err == nil {
		t.Fatal("a capture that could not read the registry returned nil: Lambda would not retry it")
	}
	recs, lerr := f.h.Failures.List(ctx)
	if lerr != nil {
		t.Fatal(lerr)
	}
	byID := map[string]failures.Failure{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	if r, ok := byID["capture#thing#dev-9"]; !ok || r.Error != "CaptureFailed" || !strings.Contains(r.Cause, "unavailable") {
		t.Errorf("transient failure recorded as %+v (present %t)", r, ok)
	}
	invalid := 0
	for id, r := range byID {
		if strings.HasPrefix(id, "capture#invalid#") {
			invalid++
			if !strings.Contains(r.Cause, "missing eventId") || r.Input == "" {
				t.Errorf("bad input recorded as %+v; want the reason and the input", r)
			}
		}
	}
	if invalid != 1 {
		t.Errorf("%d bad-input records, want 1", invalid)
	}
}

func TestRecheckStopsOnceComplete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}); err != nil {
		t.Fatal(err)
	}
	r := &Rechecker{Capturer: f.h.Capturer, Count: 6}
	in := RecheckInput{ThingName: "dev-1", WaitSeconds: 5}
	var waits []int
	for range 3 {
		out, err := r.Handle(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, out.WaitSeconds)
		in = out
	}
	// No certificate yet: keep waiting, doubling.
	if waits[0] != 10 || waits[1] != 20 || waits[2] != 40 {
		t.Errorf("waits %v, want 10, 20, 40 while the thing has no certificate", waits)
	}
	in.Attempt = 5
	if out, _ := r.Handle(ctx, in); out.WaitSeconds != 0 {
		t.Errorf("after the last pass the wait is %d, want 0 (the loop ends)", out.WaitSeconds)
	}
	// A thing deleted meanwhile ends the loop at once.
	if _, err := f.reg.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-1")}); err != nil {
		t.Fatal(err)
	}
	if out, err := r.Handle(ctx, RecheckInput{ThingName: "dev-1", WaitSeconds: 5}); err != nil || out.WaitSeconds != 0 {
		t.Errorf("re-check of a deleted thing = %+v, %v; want the loop ended", out, err)
	}
	if _, err := r.Handle(ctx, RecheckInput{ThingName: "a/b"}); err == nil || !strings.Contains(err.Error(), "not a valid AWS IoT thing name") {
		t.Errorf("bad thing name: err = %v", err)
	}
}

// throttlingSFN refuses every start as StartExecution's quota does.
type throttlingSFN struct{}

func (throttlingSFN) StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
}

func TestRecheckOnlyForIncompleteThings(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	reg := f.reg
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// complete: a certificate with a policy, attached before the event is captured.
	must(reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("complete")}))
	ca, err := pki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.IssueDevice("complete")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := reg.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(string(dev.CertPEM)), Status: iottypes.CertificateStatusActive})
	if err != nil {
		t.Fatal(err)
	}
	must(reg.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`)}))
	must(reg.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: cert.CertificateArn}))
	must(reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("complete"), Principal: cert.CertificateArn}))
	must(reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("bare")}))
	created := func(thing string) json.RawMessage {
		return json.RawMessage(`{"eventType":"THING_EVENT","eventId":"e-` + thing + `","operation":"CREATED","thingName":"` + thing + `"}`)
	}
	for _, th := range []string{"complete", "bare"} {
		if err := f.h.Handle(ctx, created(th)); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.sfn.names) != 1 || !strings.Contains(f.sfn.names[0], "bare") {
		t.Errorf("re-checks started %v, want one, for the bare thing only", f.sfn.names)
	}
	// StartExecution throttled: the thing goes to the error table for the redrive,
	// and the capture is not failed (which would replay it whole).
	f.h.SFN = throttlingSFN{}
	must(reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("late")}))
	if err := f.h.Handle(ctx, created("late")); err != nil {
		t.Fatalf("throttled re-check start failed the capture: %v", err)
	}
	recs, err := f.h.Failures.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != "capture#thing#late" || recs[0].Error != "RecheckThrottled" {
		t.Errorf("error records %+v, want capture#thing#late RecheckThrottled", recs)
	}
}

// applyAfterRead is a Region whose apply finishes converging another Region's thing
// item just after the capture's first read: the read saw the apply half done.
type applyAfterRead struct {
	*registry.Registry
	mu      sync.Mutex
	reads   int
	applied time.Time // zero until the apply has finished
}

func (a *applyAfterRead) DescribeThing(ctx context.Context, in *iot.DescribeThingInput, opts ...func(*iot.Options)) (*iot.DescribeThingOutput, error) {
	out, err := a.Registry.DescribeThing(ctx, in, opts...)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reads++; a.reads == 1 {
		// The apply ends while this read's answer travels back: it writes the
		// other Region's attributes and records that it has applied the item.
		if _, err := a.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: in.ThingName,
			AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"v": "new"}}}); err != nil {
			return nil, err
		}
		a.applied = time.Now().Add(time.Millisecond)
	}
	return out, err
}

func (a *applyAfterRead) ApplyPending(context.Context, state.Item) (bool, time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied.IsZero(), a.applied, nil
}

// TestCaptureThatReadBeforeTheApplyEndedReadsAgain: a capture whose read began before
// this Region's apply finished converging another Region's item, and whose write comes
// after, must not write what it read (the apply half done) over that item: it reads
// again. Without the check the stale attributes replaced the other Region's item, and
// its apply would have rolled the other Region back.
func TestCaptureThatReadBeforeTheApplyEndedReadsAgain(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"v": "old"}}}); err != nil {
		t.Fatal(err)
	}
	other, err := state.NewItem(spec.KindThing, "dev-1", state.Thing{Attributes: map[string]string{"v": "new"}})
	if err != nil {
		t.Fatal(err)
	}
	other.Origin, other.Seq, other.CapturedAt = "eu-west-1", time.Now().Add(-time.Second).UnixMicro(), time.Now().UnixMilli()
	store := f.h.Capturer.Store
	if _, err := store.Put(ctx, other); err != nil {
		t.Fatal(err)
	}
	region := &applyAfterRead{Registry: f.reg}
	c := f.h.Capturer
	c.IoT, c.Applying = region, region
	if _, err := c.Key(ctx, spec.StateKey(spec.KindThing, "dev-1")); err != nil {
		t.Fatal(err)
	}
	got, ok, err := store.Get(ctx, spec.KindThing, "dev-1")
	if err != nil || !ok {
		t.Fatalf("thing item: %v, %v", ok, err)
	}
	var body state.Thing
	if err := got.Decode(&body); err != nil {
		t.Fatal(err)
	}
	if got.Origin != "eu-west-1" || body.Attributes["v"] != "new" {
		t.Errorf("thing item from %s with attributes %v, want eu-west-1's {v: new} kept: the capture wrote its stale read", got.Origin, body.Attributes)
	}
	if region.reads < 2 {
		t.Errorf("%d reads of the thing, want a second one after the apply ended", region.reads)
	}
}
