package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

const now = 1700000000

type published struct {
	topic   string
	payload []byte
	qos     byte
}

// fakePublisher records publications; onPublish, when set, runs after each
// one (outside the recorder's lock) to simulate subscribers.
type fakePublisher struct {
	mu        sync.Mutex
	msgs      []published
	onPublish func(topic string, payload []byte)
}

func (p *fakePublisher) Publish(topic string, payload []byte, qos byte) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, published{topic, payload, qos})
	p.mu.Unlock()
	if p.onPublish != nil {
		p.onPublish(topic, payload)
	}
	return nil
}

// take returns and forgets what was published so far.
func (p *fakePublisher) take() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

func newService(t *testing.T) (*Service, *fakePublisher) {
	t.Helper()
	pub := &fakePublisher{}
	return New(pub, WithClock(func() time.Time { return time.Unix(now, 0) })), pub
}

// expectTopics checks the topics of msgs in order and returns them by suffix.
func expectTopics(t *testing.T, msgs []published, thing string, suffixes ...string) map[string][]byte {
	t.Helper()
	var got []string
	out := map[string][]byte{}
	for _, m := range msgs {
		if m.qos != notifyQoS {
			t.Errorf("%s published at QoS %d", m.topic, m.qos)
		}
		s := strings.TrimPrefix(m.topic, "$aws/things/"+thing+"/shadow/")
		got = append(got, s)
		out[s] = m.payload
	}
	if strings.Join(got, ",") != strings.Join(suffixes, ",") {
		t.Fatalf("published %v, want %v", got, suffixes)
	}
	return out
}

func TestUpdateOverMQTT(t *testing.T) {
	svc, pub := newService(t)

	svc.HandleMQTT("$aws/things/lamp/shadow/update",
		[]byte(`{"state":{"desired":{"color":"RED","cfg":{"on":true}}},"clientToken":"c1"}`))
	got := expectTopics(t, pub.take(), "lamp", "update/accepted", "update/documents", "update/delta")
	assertJSON(t, "accepted", got["update/accepted"], `{
		"state":{"desired":{"color":"RED","cfg":{"on":true}}},
		"metadata":{"desired":{"color":{"timestamp":1700000000},"cfg":{"on":{"timestamp":1700000000}}}},
		"version":1,"timestamp":1700000000,"clientToken":"c1"}`)
	assertJSON(t, "documents", got["update/documents"], `{
		"previous":null,
		"current":{"state":{"desired":{"color":"RED","cfg":{"on":true}}},
			"metadata":{"desired":{"color":{"timestamp":1700000000},"cfg":{"on":{"timestamp":1700000000}}}},
			"version":1},
		"timestamp":1700000000,"clientToken":"c1"}`)
	assertJSON(t, "delta", got["update/delta"], `{
		"state":{"color":"RED","cfg":{"on":true}},
		"metadata":{"color":{"timestamp":1700000000},"cfg":{"on":{"timestamp":1700000000}}},
		"version":1,"timestamp":1700000000,"clientToken":"c1"}`)

	// The device reports part of it: no delta is published for reported-only
	// updates, but the document still has one.
	svc.HandleMQTT("$aws/things/lamp/shadow/update", []byte(`{"state":{"reported":{"color":"RED","cfg":{"on":false}}}}`))
	got = expectTopics(t, pub.take(), "lamp", "update/accepted", "update/documents")
	assertJSON(t, "accepted 2", got["update/accepted"], `{
		"state":{"reported":{"color":"RED","cfg":{"on":false}}},
		"metadata":{"reported":{"color":{"timestamp":1700000000},"cfg":{"on":{"timestamp":1700000000}}}},
		"version":2,"timestamp":1700000000}`)
	var docs struct {
		Previous *struct{ Version int64 } `json:"previous"`
		Current  struct{ Version int64 }  `json:"current"`
	}
	if err := json.Unmarshal(got["update/documents"], &docs); err != nil {
		t.Fatal(err)
	}
	if docs.Previous == nil || docs.Previous.Version != 1 || docs.Current.Version != 2 {
		t.Errorf("documents versions = %+v, want previous 1, current 2", docs)
	}

	svc.HandleMQTT("$aws/things/lamp/shadow/get", []byte(`{"clientToken":"g1"}`))
	got = expectTopics(t, pub.take(), "lamp", "get/accepted")
	assertJSON(t, "get", got["get/accepted"], `{
		"state":{"desired":{"color":"RED","cfg":{"on":true}},
			"reported":{"color":"RED","cfg":{"on":false}},
			"delta":{"cfg":{"on":true}}},
		"metadata":{"desired":{"color":{"timestamp":1700000000},"cfg":{"on":{"timestamp":1700000000}}},
			"reported":{"color":{"timestamp":1700000000},"cfg":{"on":{"timestamp":1700000000}}}},
		"version":2,"timestamp":1700000000,"clientToken":"g1"}`)

	// Clearing desired with null removes the section and the delta.
	svc.HandleMQTT("$aws/things/lamp/shadow/update", []byte(`{"state":{"desired":null}}`))
	got = expectTopics(t, pub.take(), "lamp", "update/accepted", "update/documents")
	assertJSON(t, "accepted 3", got["update/accepted"], `{
		"state":{"desired":null},"metadata":{"desired":{"timestamp":1700000000}},
		"version":3,"timestamp":1700000000}`)
	out, err := svc.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String("lamp")})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, "get after clear", out.Payload, `{
		"state":{"reported":{"color":"RED","cfg":{"on":false}}},
		"metadata":{"reported":{"color":{"timestamp":1700000000},"cfg":{"on":{"timestamp":1700000000}}}},
		"version":3,"timestamp":1700000000}`)
	if msgs := pub.take(); len(msgs) != 0 {
		t.Errorf("GetThingShadow published %v", msgs)
	}
}

func TestDeltaOnlyWhenDesiredDiffers(t *testing.T) {
	svc, pub := newService(t)
	svc.HandleMQTT("$aws/things/t/shadow/update", []byte(`{"state":{"reported":{"a":1}}}`))
	expectTopics(t, pub.take(), "t", "update/accepted", "update/documents")
	svc.HandleMQTT("$aws/things/t/shadow/update", []byte(`{"state":{"desired":{"a":1}}}`))
	expectTopics(t, pub.take(), "t", "update/accepted", "update/documents")
	svc.HandleMQTT("$aws/things/t/shadow/update", []byte(`{"state":{"desired":{"a":2}}}`))
	got := expectTopics(t, pub.take(), "t", "update/accepted", "update/documents", "update/delta")
	assertJSON(t, "delta", got["update/delta"], `{"state":{"a":2},"metadata":{"a":{"timestamp":1700000000}},"version":3,"timestamp":1700000000}`)
}

func TestVersionConflict(t *testing.T) {
	svc, pub := newService(t)
	ctx := context.Background()
	update := func(payload string) error {
		_, err := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), Payload: []byte(payload)})
		return err
	}
	if err := update(`{"state":{"reported":{"a":1}}}`); err != nil {
		t.Fatal(err)
	}
	pub.take()

	var conflict *types.ConflictException
	if err := update(`{"state":{"reported":{"a":2}},"version":5}`); !errors.As(err, &conflict) {
		t.Fatalf("stale version: err = %v, want ConflictException", err)
	}
	if msgs := pub.take(); len(msgs) != 0 {
		t.Errorf("data-plane rejection published %v", msgs)
	}

	svc.HandleMQTT("$aws/things/t/shadow/update", []byte(`{"state":{"reported":{"a":2}},"version":0,"clientToken":"v"}`))
	got := expectTopics(t, pub.take(), "t", "update/rejected")
	assertJSON(t, "rejected", got["update/rejected"], `{"code":409,"message":"Version conflict","timestamp":1700000000,"clientToken":"v"}`)

	if err := update(`{"state":{"reported":{"a":3}},"version":1}`); err != nil {
		t.Fatalf("matching version: %v", err)
	}
	out, err := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int64
		State   struct{ Reported map[string]int }
	}
	if err := json.Unmarshal(out.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 2 || doc.State.Reported["a"] != 3 {
		t.Errorf("after conflicts: version %d, reported %v; want 2 and a=3", doc.Version, doc.State.Reported)
	}
}

func TestDeleteAndGet(t *testing.T) {
	svc, pub := newService(t)
	ctx := context.Background()
	name := aws.String("pump")

	var notFound *types.ResourceNotFoundException
	if _, err := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: name}); !errors.As(err, &notFound) {
		t.Fatalf("get missing: err = %v, want ResourceNotFoundException", err)
	} else if aws.ToString(notFound.Message) != "No shadow exists with name: 'pump'" {
		t.Errorf("message = %q", aws.ToString(notFound.Message))
	}
	svc.HandleMQTT("$aws/things/pump/shadow/get", nil)
	got := expectTopics(t, pub.take(), "pump", "get/rejected")
	assertJSON(t, "get/rejected", got["get/rejected"], `{"code":404,"message":"No shadow exists with name: 'pump'","timestamp":1700000000}`)
	svc.HandleMQTT("$aws/things/pump/shadow/delete", []byte(`{"clientToken":"d0"}`))
	got = expectTopics(t, pub.take(), "pump", "delete/rejected")
	assertJSON(t, "delete/rejected", got["delete/rejected"], `{"code":404,"message":"No shadow exists with name: 'pump'","timestamp":1700000000,"clientToken":"d0"}`)

	for range 2 {
		svc.HandleMQTT("$aws/things/pump/shadow/update", []byte(`{"state":{"reported":{"rpm":10}}}`))
	}
	pub.take()

	del, err := svc.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: name})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	assertJSON(t, "delete output", del.Payload, `{"version":2,"timestamp":1700000000}`)
	got = expectTopics(t, pub.take(), "pump", "delete/accepted")
	assertJSON(t, "delete/accepted", got["delete/accepted"], `{"version":2,"timestamp":1700000000}`)

	if _, err := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: name}); !errors.As(err, &notFound) {
		t.Fatalf("get deleted: err = %v, want ResourceNotFoundException", err)
	}
	if _, err := svc.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: name}); !errors.As(err, &notFound) {
		t.Fatalf("delete twice: err = %v, want ResourceNotFoundException", err)
	}

	// The version survives the delete; the new document starts afresh.
	svc.HandleMQTT("$aws/things/pump/shadow/update", []byte(`{"state":{"desired":{"rpm":5}}}`))
	got = expectTopics(t, pub.take(), "pump", "update/accepted", "update/documents", "update/delta")
	assertJSON(t, "documents after delete", got["update/documents"], `{
		"previous":null,
		"current":{"state":{"desired":{"rpm":5}},"metadata":{"desired":{"rpm":{"timestamp":1700000000}}},"version":3},
		"timestamp":1700000000}`)

	svc.HandleMQTT("$aws/things/pump/shadow/delete", []byte(`{"clientToken":"d1"}`))
	got = expectTopics(t, pub.take(), "pump", "delete/accepted")
	assertJSON(t, "delete/accepted via MQTT", got["delete/accepted"], `{"version":3,"timestamp":1700000000,"clientToken":"d1"}`)
}

func TestDataPlaneUpdatePublishesNotifications(t *testing.T) {
	svc, pub := newService(t)
	out, err := svc.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String("car"),
		Payload:   []byte(`{"state":{"desired":{"speed":30}},"clientToken":"api"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := expectTopics(t, pub.take(), "car", "update/accepted", "update/documents", "update/delta")
	if string(out.Payload) != string(got["update/accepted"]) {
		t.Errorf("returned %s, published %s", out.Payload, got["update/accepted"])
	}
	assertJSON(t, "returned", out.Payload, `{
		"state":{"desired":{"speed":30}},"metadata":{"desired":{"speed":{"timestamp":1700000000}}},
		"version":1,"timestamp":1700000000,"clientToken":"api"}`)
}

func TestRequestErrors(t *testing.T) {
	big := `{"state":{"reported":{"blob":"` + strings.Repeat("x", maxStateBytes) + `"}}}`
	tests := []struct {
		name    string
		in      *iotdataplane.UpdateThingShadowInput
		wantErr any
		// MQTT: topic and expected rejected payload ("" = no MQTT counterpart)
		mqttThing string
		mqttWant  string
	}{
		{"bad JSON", &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), Payload: []byte("{")},
			new(*types.InvalidRequestException), "t", `{"code":400,"message":"Invalid JSON","timestamp":1700000000}`},
		{"state too large", &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), Payload: []byte(big)},
			new(*types.RequestEntityTooLargeException), "t", `{"code":413,"message":"The payload exceeds the maximum size allowed","timestamp":1700000000}`},
		{"missing thing name", &iotdataplane.UpdateThingShadowInput{Payload: []byte(`{"state":{}}`)},
			new(*types.InvalidRequestException), "", ""},
		{"invalid thing name", &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("a b"), Payload: []byte(`{"state":{}}`)},
			new(*types.InvalidRequestException), "", ""},
		{"invalid shadow name", &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), ShadowName: aws.String("a/b"), Payload: []byte(`{"state":{}}`)},
			new(*types.InvalidRequestException), "", ""},
		{"empty shadow name", &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), ShadowName: aws.String(""), Payload: []byte(`{"state":{}}`)},
			new(*types.InvalidRequestException), "", ""},
		{"nil input", nil, new(*types.InvalidRequestException), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, pub := newService(t)
			if _, err := svc.UpdateThingShadow(context.Background(), tt.in); !errors.As(err, tt.wantErr) {
				t.Fatalf("err = %v (%T), want %T", err, err, tt.wantErr)
			}
			if msgs := pub.take(); len(msgs) != 0 {
				t.Errorf("data-plane error published %v", msgs)
			}
			if tt.mqttThing == "" {
				return
			}
			svc.HandleMQTT("$aws/things/"+tt.mqttThing+"/shadow/update", tt.in.Payload)
			got := expectTopics(t, pub.take(), tt.mqttThing, "update/rejected")
			assertJSON(t, "rejected", got["update/rejected"], tt.mqttWant)
			if _, err := svc.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String(tt.mqttThing)}); err == nil {
				t.Error("a rejected update created the shadow")
			}
		})
	}
}

func TestHandleMQTTIgnoresOtherTopics(t *testing.T) {
	svc, pub := newService(t)
	for _, topic := range []string{
		"$aws/things/t/shadow/update/accepted",
		"$aws/things/t/shadow/name",
		"$aws/things/t/shadow/name/n/update/accepted",
		"$aws/things/t/shadow/name//update",
		"$aws/things/t/shadow/named/n/update",
		"$aws/things/t/jobs/get",
		"things/t/shadow/update",
	} {
		svc.HandleMQTT(topic, []byte(`{"state":{"reported":{"a":1}}}`))
	}
	if msgs := pub.take(); len(msgs) != 0 {
		t.Errorf("published %v", msgs)
	}
}

func TestSetAvailable(t *testing.T) {
	svc, pub := newService(t)
	ctx := context.Background()
	svc.SetAvailable(false)

	var unavailable *types.ServiceUnavailableException
	if _, err := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), Payload: []byte(`{"state":{}}`)}); !errors.As(err, &unavailable) {
		t.Fatalf("update while down: %v", err)
	}
	if _, err := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("t")}); !errors.As(err, &unavailable) {
		t.Fatalf("get while down: %v", err)
	}
	if _, err := svc.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("t")}); !errors.As(err, &unavailable) {
		t.Fatalf("delete while down: %v", err)
	}
	svc.HandleMQTT("$aws/things/t/shadow/update", []byte(`{"state":{"reported":{"a":1}},"clientToken":"x"}`))
	got := expectTopics(t, pub.take(), "t", "update/rejected")
	assertJSON(t, "rejected", got["update/rejected"], `{"code":500,"message":"Internal service failure","timestamp":1700000000,"clientToken":"x"}`)

	svc.SetAvailable(true)
	if _, err := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("t"), Payload: []byte(`{"state":{"reported":{"a":1}}}`)}); err != nil {
		t.Fatalf("update after recovery: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	svc, _ := newService(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("t")}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestConcurrentUpdates runs MQTT and data-plane updates in parallel, with a
// subscriber that calls back into the service from Publish, and checks that
// every update got its own version and that notifications per thing leave in
// version order.
func TestConcurrentUpdates(t *testing.T) {
	const (
		things  = 3
		writers = 4
		perW    = 50
	)
	pub := &fakePublisher{}
	svc := New(pub)

	var mu sync.Mutex
	lastVersion := map[string]int64{}
	var orderErr error
	pub.onPublish = func(topic string, payload []byte) {
		if !strings.HasSuffix(topic, "/update/accepted") {
			return
		}
		var doc struct{ Version int64 }
		if err := json.Unmarshal(payload, &doc); err != nil {
			panic(err)
		}
		name := strings.Split(topic, "/")[2]
		mu.Lock()
		if doc.Version != lastVersion[name]+1 && orderErr == nil {
			orderErr = fmt.Errorf("%s: accepted version %d after %d", name, doc.Version, lastVersion[name])
		}
		lastVersion[name] = doc.Version
		mu.Unlock()
		// Re-entrant read, as a rules engine or test subscriber might do.
		if _, err := svc.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String(name)}); err != nil {
			panic(err)
		}
	}

	var wg sync.WaitGroup
	for w := range writers {
		for th := range things {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("thing-%d", th)
				for i := range perW {
					payload := fmt.Appendf(nil, `{"state":{"reported":{"w%d":%d}}}`, w, i)
					if w%2 == 0 {
						svc.HandleMQTT("$aws/things/"+name+"/shadow/update", payload)
						continue
					}
					if _, err := svc.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(name), Payload: payload}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()

	if orderErr != nil {
		t.Error(orderErr)
	}
	for th := range things {
		name := fmt.Sprintf("thing-%d", th)
		out, err := svc.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Version int64
			State   struct{ Reported map[string]int }
		}
		if err := json.Unmarshal(out.Payload, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Version != writers*perW {
			t.Errorf("%s version = %d, want %d", name, doc.Version, writers*perW)
		}
		for w := range writers {
			if v := doc.State.Reported[fmt.Sprintf("w%d", w)]; v != perW-1 {
				t.Errorf("%s reported w%d = %d, want %d", name, w, v, perW-1)
			}
		}
		mu.Lock()
		if lastVersion[name] != writers*perW {
			t.Errorf("%s last accepted version published = %d, want %d", name, lastVersion[name], writers*perW)
		}
		mu.Unlock()
	}
}
