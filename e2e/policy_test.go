package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// TestPolicyEnforcement connects a real MQTT client with a device's certificate to the
// primary broker and checks the device policy as AWS IoT Core applies it: its own
// topics are fine, another device's topics and client id are refused, with reasons.
func TestPolicyEnforcement(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	dev1 := must(t)(w.ProvisionDevice(ctx, simulator.Device{Thing: "dev-1"})).(*pki.Device)
	must(t)(w.ProvisionDevice(ctx, simulator.Device{Thing: "dev-2"}))

	connect := func(clientID string) (paho.Client, error) {
		opts := paho.NewClientOptions().AddBroker("tls://" + w.Primary.Broker.Addr()).SetClientID(clientID).
			SetTLSConfig(pki.ClientTLS(dev1, w.CA.Pool(), simulator.Endpoint(w.Primary.Name))).
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
		c := paho.NewClient(opts)
		tok := c.Connect()
		tok.Wait()
		return c, tok.Error()
	}
	// Another device's client id: refused at CONNECT.
	if c, err := connect("dev-2"); err == nil {
		c.Disconnect(0)
		t.Fatal("dev-1's certificate connected as dev-2")
	}
	c, err := connect("dev-1")
	if err != nil {
		t.Fatalf("dev-1 cannot connect with its own certificate: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(0) })

	// Own topics: subscribe and receive.
	got := make(chan string, 1)
	sub := c.Subscribe("devices/dev-1/#", 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() })
	sub.Wait()
	if sub.Error() != nil || sub.(*paho.SubscribeToken).Result()["devices/dev-1/#"] != 1 {
		t.Fatalf("own subscription refused: %v %v", sub.Error(), sub.(*paho.SubscribeToken).Result())
	}
	pub := c.Publish("devices/dev-1/telemetry", 1, false, `{"t":1}`)
	pub.Wait()
	if pub.Error() != nil {
		t.Fatal(pub.Error())
	}
	select {
	case topic := <-got:
		if topic != "devices/dev-1/telemetry" {
			t.Errorf("received on %s", topic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("own message not received")
	}

	// Another device's topics: the subscription gets 0x80 ...
	other := c.Subscribe("devices/dev-2/#", 1, func(paho.Client, paho.Message) {})
	other.Wait()
	if code := other.(*paho.SubscribeToken).Result()["devices/dev-2/#"]; code != 0x80 {
		t.Errorf("subscribe to dev-2's topics: SUBACK %#x, want 0x80", code)
	}
	// ... and the publish is refused (MQTT 3.1.1 has no negative PUBACK: the broker drops
	// the message; AWS IoT disconnects the client).
	c.Publish("devices/dev-2/telemetry", 0, false, `{"spoofed":true}`).Wait()

	want := map[string]bool{"iot:Connect": false, "iot:Subscribe": false, "iot:Publish": false}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	waitUntil(t, wctx, "the three refusals", func() bool {
		for _, r := range w.Primary.Broker.Refusals() {
			if _, ok := want[string(r.Action)]; ok && strings.Contains(r.Resource+r.Reason, "dev-2") {
				want[string(r.Action)] = true
			}
		}
		return want["iot:Connect"] && want["iot:Subscribe"] && want["iot:Publish"]
	})
	for action, seen := range want {
		if !seen {
			t.Errorf("no %s refusal naming dev-2 recorded: %+v", action, w.Primary.Broker.Refusals())
		}
	}
}
