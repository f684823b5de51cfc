package broker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

func (c *client) publishRetained(t *testing.T, topic string, payload string) error {
	t.Helper()
	tok := c.Publish(topic, 1, true, payload)
	if !tok.WaitTimeout(waitTimeout) {
		return errors.New("publish timed out")
	}
	return tok.Error()
}

func TestRetainedMessages(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{})
	dp := b.DataPlane()
	ctx := context.Background()
	pub := mustDial(t, b, clientOpts{id: "pub"})
	if err := pub.publishRetained(t, "config/d1", `{"mode":"eco"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := dp.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("config/d2"), Payload: []byte("x"), Qos: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	// Both are stored once mochi has retained them; a subscriber that comes later gets them.
	eventually(t, "two retained topics", func() bool {
		out, err := dp.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{})
		return err == nil && len(out.RetainedTopics) == 2
	})
	sub := mustDial(t, b, clientOpts{id: "sub"})
	sub.subscribe(t, "config/d1")
	sub.expect(t, message{"config/d1", `{"mode":"eco"}`})

	before := time.Now().UnixMilli()
	got, err := dp.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("config/d1")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != `{"mode":"eco"}` || got.Qos != 1 || aws.ToString(got.Topic) != "config/d1" || got.LastModifiedTime <= 0 || got.LastModifiedTime > before {
		t.Errorf("GetRetainedMessage = %s qos %d topic %s at %d", got.Payload, got.Qos, aws.ToString(got.Topic), got.LastModifiedTime)
	}
	p1, err := dp.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{MaxResults: aws.Int32(1)})
	if err != nil || len(p1.RetainedTopics) != 1 || aws.ToString(p1.RetainedTopics[0].Topic) != "config/d1" || p1.RetainedTopics[0].PayloadSize != 14 || p1.NextToken == nil {
		t.Fatalf("page 1 = %+v, %v", p1, err)
	}
	p2, err := dp.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{MaxResults: aws.Int32(1), NextToken: p1.NextToken})
	if err != nil || len(p2.RetainedTopics) != 1 || aws.ToString(p2.RetainedTopics[0].Topic) != "config/d2" || p2.NextToken != nil {
		t.Fatalf("page 2 = %+v, %v", p2, err)
	}
	if _, err := dp.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{MaxResults: aws.Int32(201)}); !errors.As(err, new(*types.InvalidRequestException)) {
		t.Errorf("maxResults 201: err = %v, want InvalidRequestException", err)
	}

	// An empty retained payload deletes.
	if err := pub.publishRetained(t, "config/d1", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "config/d1 deleted", func() bool {
		_, err := dp.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("config/d1")})
		return errors.As(err, new(*types.ResourceNotFoundException))
	})
	late := mustDial(t, b, clientOpts{id: "late"})
	late.subscribe(t, "config/#")
	late.expect(t, message{"config/d2", "x"})
	select {
	case m := <-late.msgs:
		t.Errorf("a deleted retained message was delivered: %+v", m)
	default:
	}
}

func TestRetainedLimits(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{Retained: RetainedQuotas{MaxTopics: 2}})
	dp := b.DataPlane()
	ctx := context.Background()
	for _, topic := range []string{"a", "b"} {
		if _, err := dp.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: []byte("1"), Retain: true}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "two retained", func() bool { return b.retainedCount() == 2 })
	var throttled *types.ThrottlingException
	if _, err := dp.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("c"), Payload: []byte("1"), Retain: true}); !errors.As(err, &throttled) {
		t.Fatalf("third retained topic: err = %v, want ThrottlingException", err)
	}
	// Replacing and deleting stay possible at the limit; a plain publish is not limited.
	for _, in := range []*iotdataplane.PublishInput{
		{Topic: aws.String("a"), Payload: []byte("2"), Retain: true},
		{Topic: aws.String("c"), Payload: []byte("1")},
		{Topic: aws.String("b"), Retain: true},
	} {
		if _, err := dp.Publish(ctx, in); err != nil {
			t.Fatalf("publish %s: %v", aws.ToString(in.Topic), err)
		}
	}
	var tooBig *types.RequestEntityTooLargeException
	if _, err := dp.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("big"), Payload: make([]byte, MaxPayloadBytes+1)}); !errors.As(err, &tooBig) {
		t.Errorf("oversized payload: err = %v, want RequestEntityTooLargeException", err)
	}
	eventually(t, "b deleted", func() bool { return b.retainedCount() == 1 })

	// Over MQTT: fill the limit again, then a new retained topic disconnects a 3.1.1
	// client (QoS 1) and is recorded as THROTTLED.
	if _, err := dp.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("b"), Payload: []byte("1"), Retain: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two retained", func() bool { return b.retainedCount() == 2 })
	c := mustDial(t, b, clientOpts{id: "dev"})
	_ = c.Publish("d", 1, true, "x")
	select {
	case <-c.lost:
	case <-time.After(waitTimeout):
		t.Fatal("client over the retained limit was not disconnected")
	}
	rs := b.Refusals()
	if len(rs) != 1 || !rs[0].Throttled || rs[0].Resource != "d" || !strings.Contains(rs[0].Reason, "retained messages per account") {
		t.Errorf("refusals = %+v", rs)
	}
	if _, err := dp.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("d")}); !errors.As(err, new(*types.ResourceNotFoundException)) {
		t.Errorf("throttled message was retained: %v", err)
	}
}

// denyRetain allows everything but iot:RetainPublish.
type denyRetain struct{}

func (denyRetain) Connect(ClientInfo) error           { return nil }
func (denyRetain) Publish(ClientInfo, string) error   { return nil }
func (denyRetain) Subscribe(ClientInfo, string) error { return nil }
func (denyRetain) Receive(ClientInfo, string) error   { return nil }
func (denyRetain) RetainPublish(ClientInfo, string) error {
	return errors.New("no attached policy allows iot:RetainPublish")
}

func TestRetainPublishNeedsPermission(t *testing.T) {
	checkNoLeaks(t)
	b := newBroker(t, Options{Auth: denyRetain{}})
	c := mustDial(t, b, clientOpts{id: "dev"})
	if err := c.publish(t, "plain", 1, "ok"); err != nil {
		t.Fatalf("plain publish: %v", err)
	}
	_ = c.Publish("cfg", 1, true, "x")
	select {
	case <-c.lost:
	case <-time.After(waitTimeout):
		t.Fatal("retained publish without iot:RetainPublish did not disconnect the 3.1.1 client")
	}
	rs := b.Refusals()
	if len(rs) != 1 || rs[0].Action != ActionRetainPublish || rs[0].Resource != "cfg" {
		t.Errorf("refusals = %+v", rs)
	}
	if b.retainedCount() != 0 {
		t.Error("refused message was retained")
	}
}
