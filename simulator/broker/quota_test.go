package broker

import (
	"strings"
	"testing"
	"time"
)

// TestThrottledConnectAndPublish: a CONNECT over the account's rate is closed without
// a CONNACK (the client sees its connection end), and a client publishing over its
// connection's rate is disconnected; both are recorded as THROTTLED refusals.
func TestThrottledConnectAndPublish(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{Quotas: Quotas{ConnectPerSecond: 1, ClientConnectPerSecond: -1, PublishPerSecond: 3}})
	c := mustDial(t, b, clientOpts{id: "first"})
	if _, err := dial(t, b, clientOpts{id: "second"}); err == nil || strings.Contains(err.Error(), "Not Authorized") {
		t.Fatalf("second CONNECT within the second: %v, want the connection closed without a CONNACK", err)
	}
	for i := range 4 {
		if err := c.publish(t, "t/x", 0, "m"); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	select {
	case <-c.lost:
	case <-time.After(waitTimeout):
		t.Fatal("client over its PUBLISH rate was not disconnected")
	}
	var got []string
	for _, r := range b.Refusals() {
		if !r.Throttled || !strings.HasPrefix(r.Reason, ErrThrottled.Error()) {
			t.Errorf("refusal %+v is not throttling", r)
		}
		got = append(got, string(r.Action)+" "+r.ClientID)
	}
	if strings.Join(got, ", ") != "iot:Connect second, iot:Publish first" {
		t.Errorf("refusals %v, want the second CONNECT and the fourth PUBLISH", got)
	}
}
