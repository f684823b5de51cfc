package e2e

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// TestNamedShadowAndRetainedConfig: a device with the deployed device policy uses a
// named shadow over MQTT (its own shadow/name/... topics are allowed), reads its
// configuration from a retained topic on subscribe, and is refused a retained
// publish of its own, since the device policy grants no iot:RetainPublish.
func TestNamedShadowAndRetainedConfig(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	dev := must(t)(w.ProvisionDevice(ctx, simulator.Device{Thing: "dev-1"})).(*pki.Device)

	// The backend publishes the device's configuration, retained, before it connects.
	data := w.Primary.Broker.DataPlane()
	if _, err := data.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("devices/dev-1/config"), Payload: []byte(`{"interval":5}`), Qos: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}

	msgs := make(chan paho.Message, 16)
	lost := make(chan struct{})
	opts := paho.NewClientOptions().AddBroker("tls://" + w.Primary.Broker.Addr()).SetClientID("dev-1").
		SetTLSConfig(pki.ClientTLS(dev, w.CA.Pool(), simulator.Endpoint(w.Primary.Name))).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	next := func(want string) paho.Message {
		t.Helper()
		select {
		case m := <-msgs:
			if m.Topic() != want {
				t.Fatalf("received %s, want %s", m.Topic(), want)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("nothing received, want %s", want)
		}
		return nil
	}
	handler := func(_ paho.Client, m paho.Message) { msgs <- m }
	for _, f := range []string{"devices/dev-1/config", "$aws/things/dev-1/shadow/name/settings/update/accepted", "$aws/things/dev-1/shadow/name/settings/update/delta"} {
		tok := c.Subscribe(f, 1, handler)
		if !tok.WaitTimeout(10*time.Second) || tok.(*paho.SubscribeToken).Result()[f] != 1 {
			t.Fatalf("subscribe %s: %v %v", f, tok.Error(), tok.(*paho.SubscribeToken).Result())
		}
		if f == "devices/dev-1/config" {
			if m := next(f); string(m.Payload()) != `{"interval":5}` || !m.Retained() {
				t.Fatalf("retained config = %s (retained %v)", m.Payload(), m.Retained())
			}
		}
	}

	if tok := c.Publish("$aws/things/dev-1/shadow/name/settings/update", 1, false, `{"state":{"desired":{"led":"on"}}}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("named shadow update: %v", tok.Error())
	}
	next("$aws/things/dev-1/shadow/name/settings/update/accepted")
	next("$aws/things/dev-1/shadow/name/settings/update/delta")
	list := must(t)(w.Primary.Shadows.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("dev-1")})).(*iotdataplane.ListNamedShadowsForThingOutput)
	if !slices.Equal(list.Results, []string{"settings"}) {
		t.Errorf("ListNamedShadowsForThing = %v, want [settings]", list.Results)
	}

	// A retained publish needs iot:RetainPublish, which the device policy does not grant.
	c.Publish("devices/dev-1/telemetry", 1, true, `{"t":1}`)
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("a retained publish without iot:RetainPublish did not disconnect the client")
	}
	refused := false
	for _, r := range w.Primary.Broker.Refusals() {
		refused = refused || (r.Action == broker.ActionRetainPublish && r.Resource == "devices/dev-1/telemetry")
	}
	if !refused {
		t.Errorf("no iot:RetainPublish refusal in %+v", w.Primary.Broker.Refusals())
	}
	if _, err := data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("devices/dev-1/telemetry")}); err == nil {
		t.Error("the refused message was retained")
	}
}

func namedShadowState(t testing.TB, r *simulator.Region, thing, shadow string) map[string]any {
	t.Helper()
	out, err := r.Shadows.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: aws.String(shadow)})
	if err != nil {
		return nil
	}
	st := must(t)(replication.ShadowState(out.Payload)).(map[string]any)
	delete(st, "delta")
	return st
}

func updateNamedShadow(t testing.TB, r *simulator.Region, thing, shadow, doc string) {
	t.Helper()
	must(t)(r.Shadows.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(thing), ShadowName: aws.String(shadow), Payload: []byte(doc)}))
}

// TestNamedShadowReplicatesBothWays: a named shadow changed in either Region reaches
// the other with exactly one state-table write per change (the apply's write carries
// the apply's client token, so the other Region's capture does not send it back), a
// sweep of both Regions afterwards writes nothing, the classic shadow of the same
// thing is a separate item, and deletes replicate as tombstones.
func TestNamedShadowReplicatesBothWays(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "ns-1"})
	updateShadow(t, w.Primary, "ns-1", `{"state":{"reported":{"classic":true}}}`)
	settle(t, w)

	writes, calls := tableWrites(w), w.Secondary.Shadows.Calls()
	updateNamedShadow(t, w.Primary, "ns-1", "settings", `{"state":{"desired":{"led":"on"},"reported":{"led":"off"}}}`)
	settle(t, w)
	calls = w.Secondary.Shadows.Calls() - calls
	if got := namedShadowState(t, w.Secondary, "ns-1", "settings"); !reflect.DeepEqual(got, namedShadowState(t, w.Primary, "ns-1", "settings")) || got == nil {
		t.Fatalf("named shadow in the secondary = %v, want the primary's %v", got, namedShadowState(t, w.Primary, "ns-1", "settings"))
	}
	if n := tableWrites(w) - writes; n != 1 {
		t.Errorf("a named shadow update in the primary made %d table writes, want 1", n)
	}
	// The apply reads the target's named shadow and writes the one update that makes it
	// equal to the item: GetThingShadow + UpdateThingShadow, as for a classic shadow.
	if calls != 2 {
		t.Errorf("applying one named shadow update made %d calls on the secondary's shadow service, want 2", calls)
	}

	// Devices report to the secondary (failover): the change flows back once.
	writes = tableWrites(w)
	updateNamedShadow(t, w.Secondary, "ns-1", "settings", `{"state":{"reported":{"led":"on"}}}`)
	settle(t, w)
	want := map[string]any{"desired": map[string]any{"led": "on"}, "reported": map[string]any{"led": "on"}}
	if got := namedShadowState(t, w.Primary, "ns-1", "settings"); !reflect.DeepEqual(got, want) {
		t.Errorf("named shadow in the primary = %v, want %v", got, want)
	}
	if n := tableWrites(w) - writes; n != 1 {
		t.Errorf("a named shadow update in the secondary made %d table writes, want 1 (no echo)", n)
	}
	assertConverged(t, w, "ns-1")

	writes = tableWrites(w)
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if _, err := w.Sweep(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, w)
	if n := tableWrites(w) - writes; n != 0 {
		t.Errorf("sweeps of both Regions wrote %d items over converged named shadows, want 0", n)
	}

	writes = tableWrites(w)
	must(t)(w.Primary.Shadows.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("ns-1"), ShadowName: aws.String("settings")}))
	settle(t, w)
	if got := namedShadowState(t, w.Secondary, "ns-1", "settings"); got != nil {
		t.Errorf("the deleted named shadow is still in the secondary: %v", got)
	}
	if n := tableWrites(w) - writes; n != 1 {
		t.Errorf("a named shadow delete made %d table writes, want 1 (the tombstone)", n)
	}
	it, ok, err := w.Secondary.Capturer.Store.Get(ctx, spec.KindNamedShadow, spec.NamedShadowKey("ns-1", "settings"))
	if err != nil || !ok || !it.Deleted {
		t.Errorf("state item of the named shadow = %+v (found %v, %v), want a tombstone", it, ok, err)
	}
	if got := shadowState(t, w.Secondary, "ns-1"); !reflect.DeepEqual(got, map[string]any{"reported": map[string]any{"classic": true}}) {
		t.Errorf("the classic shadow in the secondary = %v, want it untouched by the named shadow's delete", got)
	}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if n := r.Errors.Len(); n != 0 {
			t.Errorf("%d error-table records in %s", n, r.Name)
		}
	}
}

// TestSweepFindsNamedShadowsWithoutMessages: named shadows whose documents never
// reached capture (the rules were not deployed yet, or a message was lost) are
// captured by the sweep, and one deleted without its message becomes a tombstone
// through the sweep's table stage.
func TestSweepFindsNamedShadowsWithoutMessages(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "ns-2"})
	settle(t, w)
	w.Primary.Lambda.SetCrash(spec.FunctionCapture, 1<<30) // every attempt crashes: the documents are lost
	updateNamedShadow(t, w.Primary, "ns-2", "a", `{"state":{"reported":{"n":1}}}`)
	updateNamedShadow(t, w.Primary, "ns-2", "b", `{"state":{"reported":{"n":2}}}`)
	settle(t, w)
	w.Primary.Lambda.SetCrash(spec.FunctionCapture, 0)
	if got := namedShadowState(t, w.Secondary, "ns-2", "a"); got != nil {
		t.Fatalf("named shadow a reached the secondary without the sweep (%v): the test would prove nothing", got)
	}
	if _, err := w.Sweep(ctx, w.Primary); err != nil {
		t.Fatal(err)
	}
	settle(t, w)
	for _, n := range []string{"a", "b"} {
		if got, want := namedShadowState(t, w.Secondary, "ns-2", n), namedShadowState(t, w.Primary, "ns-2", n); got == nil || !reflect.DeepEqual(got, want) {
			t.Errorf("named shadow %s in the secondary = %v, want %v", n, got, want)
		}
	}
	w.Primary.Lambda.SetCrash(spec.FunctionCapture, 1<<30)
	must(t)(w.Primary.Shadows.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("ns-2"), ShadowName: aws.String("a")}))
	settle(t, w)
	w.Primary.Lambda.SetCrash(spec.FunctionCapture, 0)
	if namedShadowState(t, w.Secondary, "ns-2", "a") == nil {
		t.Fatal("the delete reached the secondary without the sweep: the test would prove nothing")
	}
	if _, err := w.Sweep(ctx, w.Primary); err != nil {
		t.Fatal(err)
	}
	settle(t, w)
	if got := namedShadowState(t, w.Secondary, "ns-2", "a"); got != nil {
		t.Errorf("named shadow a, deleted without its message, is still in the secondary: %v", got)
	}
	if got := namedShadowState(t, w.Secondary, "ns-2", "b"); got == nil {
		t.Error("named shadow b is gone from the secondary")
	}
}

// retainedOn returns the retained payload on topic in r, "" when there is none.
func retainedOn(t testing.TB, r *simulator.Region, topic string) string {
	t.Helper()
	out, err := r.Broker.DataPlane().GetRetainedMessage(context.Background(), &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
	if replication.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out.Payload)
}

func publishRetained(t testing.TB, r *simulator.Region, topic, payload string) {
	t.Helper()
	must(t)(r.Broker.DataPlane().Publish(context.Background(), &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte(payload), Qos: 1, Retain: true}))
}

func sweep(t testing.TB, w *simulator.World, r *simulator.Region) capture.SweepState {
	t.Helper()
	st, err := w.Sweep(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Failed != 0 {
		t.Fatalf("sweep of %s = %+v", r.Name, st)
	}
	settle(t, w)
	return st
}

// TestRetainedConfigSurvivesFailover: the backend's retained configuration, published
// in the primary, is captured by the primary's sweep and published retained in the
// secondary by its apply, so a device that fails over and subscribes there gets the
// same configuration. The apply's publish does not come back (the secondary's sweep
// finds it equal to the item: 0 writes), a change made in the secondary while it
// serves flows back to the primary, and a delete (an empty retained publish)
// replicates as a tombstone.
func TestRetainedConfigSurvivesFailover(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	dev := must(t)(w.ProvisionDevice(context.Background(), simulator.Device{Thing: "dev-r"})).(*pki.Device)
	settle(t, w)
	const topic = "devices/dev-r/config"
	publishRetained(t, w.Primary, topic, `{"interval":5}`)

	writes := tableWrites(w)
	sweep(t, w, w.Primary)
	if n := tableWrites(w) - writes; n != 1 {
		t.Errorf("the primary's sweep wrote %d items for one retained message, want 1", n)
	}
	if got := retainedOn(t, w.Secondary, topic); got != `{"interval":5}` {
		t.Fatalf("retained message in the secondary = %q, want the primary's", got)
	}
	writes = tableWrites(w)
	sweep(t, w, w.Secondary)
	sweep(t, w, w.Primary)
	if n := tableWrites(w) - writes; n != 0 {
		t.Errorf("sweeps after the retained message was applied wrote %d items, want 0 (the apply's publish came back)", n)
	}

	// Failover: the primary is lost, the device connects to the secondary.
	w.SetRegionDown(w.Primary, true)
	msgs := make(chan paho.Message, 4)
	opts := paho.NewClientOptions().AddBroker("tls://" + w.Secondary.Broker.Addr()).SetClientID("dev-r").
		SetTLSConfig(pki.ClientTLS(dev, w.CA.Pool(), simulator.Endpoint(w.Secondary.Name))).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to the secondary: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { msgs <- m })
	if !tok.WaitTimeout(10*time.Second) || tok.(*paho.SubscribeToken).Result()[topic] != 1 {
		t.Fatalf("subscribe %s: %v %v", topic, tok.Error(), tok.(*paho.SubscribeToken).Result())
	}
	select {
	case m := <-msgs:
		if string(m.Payload()) != `{"interval":5}` || !m.Retained() {
			t.Errorf("the device got %q (retained %v) in the secondary, want the primary's retained configuration", m.Payload(), m.Retained())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the device got no retained configuration in the secondary")
	}

	// While the secondary serves, the backend changes the configuration there.
	publishRetained(t, w.Secondary, topic, `{"interval":9}`)
	sweep(t, w, w.Secondary)
	w.SetRegionDown(w.Primary, false)
	settle(t, w)
	if got := retainedOn(t, w.Primary, topic); got != `{"interval":9}` {
		t.Errorf("after failback the primary's retained message = %q, want the secondary's change", got)
	}

	// A delete replicates: the backend clears the configuration in the secondary,
	// whose capture last wrote the item (TestRetainedDeleteReplicatesFromEitherRegion:
	// a delete made in the other Region).
	must(t)(w.Secondary.Broker.DataPlane().Publish(context.Background(), &iotdataplane.PublishInput{Topic: aws.String(topic), Retain: true, Qos: 1}))
	sweep(t, w, w.Secondary)
	if got := retainedOn(t, w.Primary, topic); got != "" {
		t.Errorf("the deleted retained message is still in the primary: %q", got)
	}
	it, ok, err := w.Secondary.Capturer.Store.Get(context.Background(), spec.KindRetained, topic)
	if err != nil || !ok || !it.Deleted {
		t.Errorf("state item of the retained message = %+v (found %v, %v), want a tombstone", it, ok, err)
	}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if n := r.Errors.Len(); n != 0 {
			t.Errorf("%d error-table records in %s", n, r.Name)
		}
	}
}

// countingRetained counts a capturer's retained-message calls.
type countingRetained struct {
	capture.RetainedMessages
	mu         sync.Mutex
	list, gets int
}

func (c *countingRetained) ListRetainedMessages(ctx context.Context, in *iotdataplane.ListRetainedMessagesInput, o ...func(*iotdataplane.Options)) (*iotdataplane.ListRetainedMessagesOutput, error) {
	c.mu.Lock()
	c.list++
	c.mu.Unlock()
	return c.RetainedMessages.ListRetainedMessages(ctx, in, o...)
}

func (c *countingRetained) GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, o ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.RetainedMessages.GetRetainedMessage(ctx, in, o...)
}

func (c *countingRetained) take() (list, gets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list, gets, c.list, c.gets = c.list, c.gets, 0, 0
	return list, gets
}

// TestRetainedSweepCost measures what the sweep spends on retained messages: one
// ListRetainedMessages per 200 topics; a GetRetainedMessage per topic that is new or
// changed, none for one the Region captured unchanged since, one per topic applied
// from the other Region (compared, not written); and the table stage's existence
// check, one GetRetainedMessage per topic of either Region (a delete of the applied
// copy is a delete to replicate too).
func TestRetainedSweepCost(t *testing.T) {
	const n = 250
	w := newWorld(t, simulator.Options{})
	pc := &countingRetained{RetainedMessages: w.Primary.Capturer.Retained}
	sc := &countingRetained{RetainedMessages: w.Secondary.Capturer.Retained}
	w.Primary.Capturer.Retained, w.Secondary.Capturer.Retained = pc, sc
	for i := range n {
		publishRetained(t, w.Primary, fmt.Sprintf("config/%03d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	writes := tableWrites(w)
	sweep(t, w, w.Primary)
	if d := tableWrites(w) - writes; d != n {
		t.Errorf("first sweep wrote %d items for %d retained messages, want %d", d, n, n)
	}
	for _, tc := range []struct {
		name       string
		r          *simulator.Region
		c          *countingRetained
		list, gets int
	}{
		// The first sweep's counts are read first: new topics, then the table stage.
		{"first sweep of the primary", nil, pc, 2, 2 * n},
		{"second sweep of the primary", w.Primary, pc, 2, n},
		{"sweep of the secondary", w.Secondary, sc, 2, 2 * n},
	} {
		if tc.r != nil {
			sweep(t, w, tc.r)
		}
		list, gets := tc.c.take()
		t.Logf("%s: %d ListRetainedMessages, %d GetRetainedMessage for %d retained messages", tc.name, list, gets, n)
		if list != tc.list || gets != tc.gets {
			t.Errorf("%s: %d list and %d get calls, want %d and %d", tc.name, list, gets, tc.list, tc.gets)
		}
	}
	if d := tableWrites(w) - writes; d != n {
		t.Errorf("the later sweeps wrote %d items, want 0", d-n)
	}
	for i := range n {
		topic := fmt.Sprintf("config/%03d", i)
		if got, want := retainedOn(t, w.Secondary, topic), fmt.Sprintf(`{"i":%d}`, i); got != want {
			t.Fatalf("retained %s in the secondary = %q, want %q", topic, got, want)
		}
	}
}

// TestRetainedDeleteReplicatesFromEitherRegion: a retained message deleted (an empty
// retained publish) in the Region that holds the apply's copy of it, not in the
// Region whose capture wrote its item, replicates too, in both directions; and a
// Region whose apply has not yet published another Region's message does not take
// its absence for a delete (which would delete it in the Region that wrote it).
func TestRetainedDeleteReplicatesFromEitherRegion(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	for _, tc := range []struct {
		name            string
		writer, deleter *simulator.Region
	}{
		{"written in the primary, deleted in the secondary", w.Primary, w.Secondary},
		{"written in the secondary, deleted in the primary", w.Secondary, w.Primary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "config/written-in-" + tc.writer.Name
			tc.deleter.PauseApply()
			t.Cleanup(tc.deleter.ResumeApply)
			publishRetained(t, tc.writer, topic, `{"v":1}`)
			sweep(t, w, tc.writer)
			// The item has reached the deleter's replica, its apply has not run: the
			// message is missing there, and not deleted.
			writes := tableWrites(w)
			sweep(t, w, tc.deleter)
			if n := tableWrites(w) - writes; n != 0 {
				t.Fatalf("a sweep of %s before its apply published the message wrote %d items, want 0", tc.deleter.Name, n)
			}
			tc.deleter.ResumeApply()
			settle(t, w)
			for _, r := range []*simulator.Region{tc.writer, tc.deleter} {
				if got := retainedOn(t, r, topic); got != `{"v":1}` {
					t.Fatalf("retained message in %s = %q, want the writer's", r.Name, got)
				}
			}

			must(t)(tc.deleter.Broker.DataPlane().Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Retain: true, Qos: 1}))
			writes = tableWrites(w)
			sweep(t, w, tc.deleter)
			if n := tableWrites(w) - writes; n != 1 {
				t.Errorf("the sweep of %s after the delete wrote %d items, want 1 (the tombstone)", tc.deleter.Name, n)
			}
			if got := retainedOn(t, tc.writer, topic); got != "" {
				t.Errorf("the retained message deleted in %s is still in %s: %q", tc.deleter.Name, tc.writer.Name, got)
			}
			for _, r := range []*simulator.Region{tc.writer, tc.deleter} {
				it, ok, err := r.Capturer.Store.Get(ctx, spec.KindRetained, topic)
				if err != nil || !ok || !it.Deleted || it.Origin != tc.deleter.Name {
					t.Errorf("%s's item of the retained message = %+v (found %v, %v), want %s's tombstone", r.Name, it, ok, err, tc.deleter.Name)
				}
			}
			writes = tableWrites(w)
			sweep(t, w, tc.writer)
			sweep(t, w, tc.deleter)
			if n := tableWrites(w) - writes; n != 0 {
				t.Errorf("sweeps after the delete replicated wrote %d items, want 0", n)
			}
		})
	}
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if n := r.Errors.Len(); n != 0 {
			t.Errorf("%d error-table records in %s", n, r.Name)
		}
	}
}
