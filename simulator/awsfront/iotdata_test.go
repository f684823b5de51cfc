package awsfront_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	datatypes "github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/simulator/awsfront"
)

// TestSDKNamedShadowsAndRetainedMessages: the data-plane SDK client drives named
// shadows (update, get, list, delete) and retained messages (publish, list, get,
// delete by an empty payload) over HTTP.
func TestSDKNamedShadowsAndRetainedMessages(t *testing.T) {
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{})
	ctx := context.Background()
	c := dataClient(url, w.Primary.Name)
	for _, n := range []string{"config", "ota"} {
		if _, err := c.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("d1"), ShadowName: aws.String(n),
			Payload: []byte(`{"state":{"desired":{"v":1}}}`)}); err != nil {
			t.Fatalf("update %s: %v", n, err)
		}
	}
	got, err := c.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String("d1"), ShadowName: aws.String("ota")})
	if err != nil || !bytesContain(got.Payload, `"desired":{"v":1}`) {
		t.Fatalf("get ota = %s, %v", got.Payload, err)
	}
	list, err := c.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("d1"), PageSize: aws.Int32(1)})
	if err != nil || !slices.Equal(list.Results, []string{"config"}) || list.NextToken == nil || list.Timestamp == 0 {
		t.Fatalf("list page 1 = %+v, %v", list, err)
	}
	list, err = c.ListNamedShadowsForThing(ctx, &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("d1"), NextToken: list.NextToken})
	if err != nil || !slices.Equal(list.Results, []string{"ota"}) || list.NextToken != nil {
		t.Fatalf("list page 2 = %+v, %v", list, err)
	}
	if _, err := c.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("d1"), ShadowName: aws.String("ota")}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("config/d1/settings"), Payload: []byte(`{"rate":5}`), Qos: 1, Retain: true}); err != nil {
		t.Fatalf("publish retained: %v", err)
	}
	msg, err := c.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("config/d1/settings")})
	if err != nil || string(msg.Payload) != `{"rate":5}` || msg.Qos != 1 || msg.LastModifiedTime == 0 {
		t.Fatalf("get retained = %+v, %v", msg, err)
	}
	topics, err := c.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{})
	if err != nil || len(topics.RetainedTopics) != 1 || aws.ToString(topics.RetainedTopics[0].Topic) != "config/d1/settings" || topics.RetainedTopics[0].PayloadSize != 10 {
		t.Fatalf("list retained = %+v, %v", topics, err)
	}
	if _, err := c.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("config/d1/settings"), Retain: true}); err != nil {
		t.Fatal(err)
	}
	var nf *datatypes.ResourceNotFoundException
	if _, err := c.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String("config/d1/settings")}); !errors.As(err, &nf) {
		t.Errorf("get deleted retained: err = %v, want ResourceNotFoundException", err)
	}
	// Publish's model lists no RequestEntityTooLargeException, so the SDK returns the
	// generic API error with that code.
	var tooBig smithy.APIError
	if _, err := c.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String("t"), Payload: make([]byte, 128*1024+1)}); !errors.As(err, &tooBig) || tooBig.ErrorCode() != "RequestEntityTooLargeException" {
		t.Errorf("oversized publish: err = %v, want RequestEntityTooLargeException", err)
	}
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }
