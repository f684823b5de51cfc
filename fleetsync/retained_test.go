package fleetsync

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/simulator"
)

// TestSyncRetainedMessages: with Retained, sync publishes the source's retained
// messages retained in the target (a dry run first only reports them), a second run
// finds them in sync and publishes nothing, and a message only the target has is
// left alone.
func TestSyncRetainedMessages(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	publish := func(r *simulator.Region, topic, payload string) {
		t.Helper()
		if _, err := r.Broker.DataPlane().Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte(payload), Qos: 1, Retain: true}); err != nil {
			t.Fatal(err)
		}
	}
	retained := func(r *simulator.Region, topic string) string {
		t.Helper()
		out, err := r.Broker.DataPlane().GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
		if replication.IsNotFound(err) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Payload)
	}
	publish(w.Primary, "config/a", `{"v":1}`)
	publish(w.Primary, "config/b", `{"v":2}`)
	publish(w.Secondary, "config/b", `{"v":0}`)
	publish(w.Secondary, "config/target-only", `{"v":9}`)
	src := NewLimiter(w.Primary.Name, DefaultRatesCopy().Scaled(quotaScale), DefaultRetry)
	tgt := NewLimiter(w.Secondary.Name, DefaultRatesCopy().Scaled(quotaScale), DefaultRetry)
	opts := options(w)
	opts.Retained = true
	opts.SourceRetained = &LimitedRetained{Next: w.Primary.Broker.DataPlane(), Limiter: src}
	opts.TargetRetained = &LimitedRetained{Next: w.Secondary.Broker.DataPlane(), Limiter: tgt}

	dry := opts
	dry.DryRun = true
	sum, err := Run(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	if sum.RetainedMessages != (Tally{Copied: 2}) || retained(w.Secondary, "config/a") != "" {
		t.Fatalf("dry run: retained %+v, config/a in the target %q; want 2 to copy and nothing written", sum.RetainedMessages, retained(w.Secondary, "config/a"))
	}
	for i, want := range []Tally{{Copied: 2}, {InSync: 2}} {
		sum, err := Run(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if sum.RetainedMessages != want || sum.Failed() != 0 {
			t.Errorf("run %d: retained %+v (%d failed), want %+v", i+1, sum.RetainedMessages, sum.Failed(), want)
		}
	}
	for topic, want := range map[string]string{"config/a": `{"v":1}`, "config/b": `{"v":2}`, "config/target-only": `{"v":9}`} {
		if got := retained(w.Secondary, topic); got != want {
			t.Errorf("retained %s in the target = %q, want %q", topic, got, want)
		}
	}
	// Two runs and a dry run: one list page each in the source, two publishes in all.
	if got := src.Calls()["ListRetainedMessages"]; got != 3 {
		t.Errorf("%d ListRetainedMessages in the source, want 3", got)
	}
	if got := tgt.Calls()["Publish"]; got != 2 {
		t.Errorf("%d retained publishes in the target, want 2", got)
	}
}
