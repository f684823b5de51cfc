package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	paho "github.com/eclipse/paho.mqtt.golang"

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
