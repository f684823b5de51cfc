package replication

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

// RetainedSource is what the retained-message replication reads the wanted message
// from: a Region's data plane, or the state view.
type RetainedSource interface {
	GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error)
}

// RetainedTarget is the part of the data plane (*iotdataplane.Client) a retained
// message is converged with: read it, publish it retained.
type RetainedTarget interface {
	GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error)
	Publish(ctx context.Context, in *iotdataplane.PublishInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.PublishOutput, error)
}

var _ RetainedTarget = (*iotdataplane.Client)(nil)

// RetainedMessage converges the retained message of one topic: the target's is made
// equal to the source's (payload and QoS) with one retained Publish, nothing is
// published when they are already equal (a publish would reach the target's
// subscribers again), and a message absent from the source is deleted from the
// target (a retained Publish with an empty payload). MQTT 5 user properties are not
// replicated.
func (r *Replicator) RetainedMessage(ctx context.Context, topic string) (Outcome, error) {
	rec := &recorder{}
	err := r.retained(ctx, topic, rec)
	return r.finish(ctx, "retained message on", topic, rec, 0, err)
}

func (r *Replicator) retained(ctx context.Context, topic string, rec *recorder) error {
	if topic == "" || len(topic) > 256 || bytes.ContainsAny([]byte(topic), "#+") {
		return invalidf("topic %q: a topic name of 1 to 256 bytes without wildcards", excerpt(topic))
	}
	if r.SourceRetained == nil || r.TargetRetained == nil {
		return invalidf("retained-message replication is not configured (no data-plane clients)")
	}
	src, err := r.SourceRetained.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
	gone := IsNotFound(err)
	if err != nil && !gone {
		return fmt.Errorf("get in %s: %w", r.SourceRegion, err)
	}
	tgt, err := r.TargetRetained.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
	missing := IsNotFound(err)
	if err != nil && !missing {
		return fmt.Errorf("get in %s: %w", r.TargetRegion, err)
	}
	switch {
	case gone && missing:
		return nil
	case gone:
		if _, err := r.TargetRetained.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Retain: true, Qos: tgt.Qos}); err != nil {
			return fmt.Errorf("delete in %s: %w", r.TargetRegion, err)
		}
		rec.add("deleted retained message on %s", topic)
		return nil
	case !missing && bytes.Equal(src.Payload, tgt.Payload) && src.Qos == tgt.Qos:
		return nil
	}
	if _, err := r.TargetRetained.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(topic), Payload: src.Payload, Qos: src.Qos, Retain: true}); err != nil {
		return fmt.Errorf("publish in %s: %w", r.TargetRegion, err)
	}
	rec.add("published retained message on %s", topic)
	return nil
}

// RetainedTopics lists the topic of every retained message of c, 200 a page
// (ListRetainedMessages's largest). A failed page is reported as "list retained
// messages: ...".
func RetainedTopics(c iotdataplane.ListRetainedMessagesAPIClient) NameLister {
	return func(ctx context.Context, yield func(string) error) error {
		p := iotdataplane.NewListRetainedMessagesPaginator(c, &iotdataplane.ListRetainedMessagesInput{},
			func(o *iotdataplane.ListRetainedMessagesPaginatorOptions) { o.Limit = 200 })
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list retained messages: %w", err)
			}
			for _, t := range namesOf(page.RetainedTopics, func(m types.RetainedMessageSummary) *string { return m.Topic }) {
				if err := yield(t); err != nil {
					return err
				}
			}
		}
		return nil
	}
}
