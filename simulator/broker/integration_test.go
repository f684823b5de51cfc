package broker_test

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/shadow"
)

// TestShadowServiceWiring wires the shadow service the way a Region does and
// drives it from a paho device.
func TestShadowServiceWiring(t *testing.T) {
	b, err := broker.New(broker.Options{Region: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	svc := shadow.New(b)
	cancel, err := b.Handle("$aws/things/+/shadow/+", svc.HandleMQTT)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)

	got := make(chan string, 10)
	opts := paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID("dev1").
		SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m.Topic() + " " + string(m.Payload()) })
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	if tok := c.Subscribe("$aws/things/dev1/shadow/update/accepted", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := c.Publish("$aws/things/dev1/shadow/update", 1, false, `{"state":{"reported":{"on":true}},"clientToken":"x"}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case m := <-got:
		const prefix = `$aws/things/dev1/shadow/update/accepted {"state":{"reported":{"on":true}},`
		if len(m) < len(prefix) || m[:len(prefix)] != prefix {
			t.Errorf("got %s", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update/accepted")
	}
}
