package verify

import (
	"bytes"
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
)

// Retained is the part of the AWS IoT data-plane client (*iotdataplane.Client) the
// retained-message comparison uses.
type Retained interface {
	ListRetainedMessages(ctx context.Context, in *iotdataplane.ListRetainedMessagesInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListRetainedMessagesOutput, error)
	GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error)
}

var _ Retained = (*iotdataplane.Client)(nil)

// RetainedMessage compares the retained message of one topic: missing or extra in
// the target, payload and QoS (what replication copies; MQTT 5 user properties are
// not compared). A payload is shown by its size and a short excerpt, never whole.
func (c *Comparer) RetainedMessage(ctx context.Context, topic string) ([]Difference, error) {
	s, err := c.SourceRetained.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
	sMissing := replication.IsNotFound(err)
	if err != nil && !sMissing {
		return nil, fmt.Errorf("get retained message on %s in %s: %w", topic, c.SourceRegion, err)
	}
	t, err := c.TargetRetained.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
	tMissing := replication.IsNotFound(err)
	if err != nil && !tMissing {
		return nil, fmt.Errorf("get retained message on %s in %s: %w", topic, c.TargetRegion, err)
	}
	switch {
	case sMissing && tMissing:
		return nil, nil
	case sMissing:
		return []Difference{{Kind: Extra, Resource: RetainedMessage, Name: topic, Target: payloadExcerpt(t.Payload)}}, nil
	case tMissing:
		return []Difference{{Kind: Missing, Resource: RetainedMessage, Name: topic, Source: payloadExcerpt(s.Payload)}}, nil
	}
	var out []Difference
	if !bytes.Equal(s.Payload, t.Payload) {
		out = append(out, Difference{Kind: Different, Resource: RetainedMessage, Name: topic, Field: "payload",
			Source: payloadExcerpt(s.Payload), Target: payloadExcerpt(t.Payload)})
	}
	if s.Qos != t.Qos {
		out = append(out, Difference{Kind: Different, Resource: RetainedMessage, Name: topic, Field: "qos",
			Source: fmt.Sprint(s.Qos), Target: fmt.Sprint(t.Qos)})
	}
	return out, nil
}

// payloadExcerpt is a payload's size and, when it is text, its first bytes.
func payloadExcerpt(p []byte) string {
	const max = 40
	if !utf8.Valid(p) {
		return fmt.Sprintf("%d bytes, binary", len(p))
	}
	if len(p) > max {
		return fmt.Sprintf("%d bytes: %q...", len(p), p[:max])
	}
	return fmt.Sprintf("%d bytes: %q", len(p), p)
}

func (r *run) retainedMessages(ctx context.Context) error {
	return r.walk(ctx, phase{
		resource: RetainedMessage, counter: &r.report.RetainedMessages,
		source: replication.RetainedTopics(r.c.SourceRetained), target: replication.RetainedTopics(r.c.TargetRetained),
		compare: r.c.RetainedMessage,
		describe: func(ctx context.Context, topic string) error {
			_, err := r.c.SourceRetained.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
			return err
		},
	})
}
