package broker

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// AWS IoT Core's message-broker limits that bind retained messages (AWS IoT Core
// endpoints and quotas, "Message broker and protocol limits and quotas",
// https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits).
const (
	// DefaultMaxRetainedTopics is "Maximum number of retained messages per account"
	// (500,000, adjustable): at the limit no new retained topic is stored and a
	// retained PUBLISH that would add one is throttled.
	DefaultMaxRetainedTopics = 500_000
	// MaxPayloadBytes is the PUBLISH payload size limit (128 KB, not adjustable),
	// which a retained message is held to as every message is.
	MaxPayloadBytes = 128 * 1024
	// maxRetainedPage is ListRetainedMessages's maxResults maximum (and the
	// simulator's default page).
	maxRetainedPage = 200
)

// RetainedQuotas are the retained-message limits enforced (zero fields: AWS's).
type RetainedQuotas struct {
	// MaxTopics is the number of topics with a retained message the broker keeps.
	MaxTopics int
}

// retained indexes the retained messages mochi stores, with what
// ListRetainedMessages reports and mochi does not keep (the time in
// milliseconds), in topic order for paging.
type retained struct {
	max int

	mu       sync.Mutex
	modified map[string]int64 // topic -> last modified, Unix milliseconds
	topics   []string         // sorted keys of modified
}

func newRetained(q RetainedQuotas) *retained {
	r := &retained{max: q.MaxTopics, modified: map[string]int64{}}
	if r.max <= 0 {
		r.max = DefaultMaxRetainedTopics
	}
	return r
}

// admit checks a retained PUBLISH of size bytes on topic against the count limit;
// an empty payload (a delete) and a topic already retained are always admitted.
func (r *retained) admit(topic string, size int) error {
	if size == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.modified[topic]; ok || len(r.modified) < r.max {
		return nil
	}
	return fmt.Errorf("%w: maximum number of retained messages per account (%d) reached", ErrThrottled, r.max)
}

// stored records mochi's outcome for a retained PUBLISH: n is 1 when a message was
// stored and -1 when one was removed.
func (r *retained) stored(topic string, n int64, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := slices.BinarySearch(r.topics, topic)
	switch {
	case n > 0:
		if !found {
			r.topics = slices.Insert(r.topics, i, topic)
		}
		r.modified[topic] = at.UnixMilli()
	case found:
		r.topics = slices.Delete(r.topics, i, i+1)
		delete(r.modified, topic)
	}
}

// OnRetainMessage keeps the index in step with mochi's store.
func (h *authHook) OnRetainMessage(_ *mqtt.Client, pk packets.Packet, n int64) {
	h.b.retained.stored(pk.TopicName, n, time.Now())
}

// checkPayload applies the payload size limit and, for a retained PUBLISH, the
// iot:RetainPublish permission and the retained-message count.
func (h *authHook) checkPayload(cl *mqtt.Client, pk packets.Packet) error {
	info := h.b.clientInfo(cl)
	if len(pk.Payload) > MaxPayloadBytes {
		err := fmt.Errorf("payload of %d bytes is over the %d-byte message size limit", len(pk.Payload), MaxPayloadBytes)
		h.b.refuse(info, ActionPublish, pk.TopicName, err)
		return err
	}
	if !pk.FixedHeader.Retain {
		return nil
	}
	if rp, ok := h.b.auth.(RetainAuthorizer); ok {
		if err := rp.RetainPublish(info, pk.TopicName); err != nil {
			h.b.refuse(info, ActionRetainPublish, pk.TopicName, err)
			return err
		}
	}
	if err := h.b.retained.admit(pk.TopicName, len(pk.Payload)); err != nil {
		h.b.refuse(info, ActionPublish, pk.TopicName, err)
		return err
	}
	return nil
}

// RetainAuthorizer is implemented by an Authorizer that decides iot:RetainPublish,
// which AWS checks besides iot:Publish for a PUBLISH with the retain flag.
type RetainAuthorizer interface {
	RetainPublish(c ClientInfo, topic string) error
}

// ActionRetainPublish is the policy action a retained PUBLISH needs besides iot:Publish.
const ActionRetainPublish Action = "iot:RetainPublish"

// DataPlane is the broker's side of the AWS IoT data-plane API: Publish (the
// HTTPS publish, with retain), ListRetainedMessages and GetRetainedMessage, with
// the aws-sdk-go-v2 iotdataplane signatures and error types.
type DataPlane struct{ b *Broker }

// DataPlane returns the broker's data-plane API.
func (b *Broker) DataPlane() *DataPlane { return &DataPlane{b: b} }

// Publish publishes in.Payload on in.Topic as the broker (no policy applies, as
// for an IAM-signed HTTPS publish) at in.Qos (0 or 1), retained when in.Retain is
// set; an empty retained payload deletes the topic's retained message.
func (d *DataPlane) Publish(ctx context.Context, in *iotdataplane.PublishInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.PublishOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("broker: publish: %w", err)
	}
	if in == nil || aws.ToString(in.Topic) == "" || !mqtt.IsValidFilter(aws.ToString(in.Topic), true) {
		return nil, &types.InvalidRequestException{Message: aws.String("topic is required and must be a topic name without wildcards")}
	}
	if in.Qos < 0 || in.Qos > 1 {
		return nil, &types.InvalidRequestException{Message: aws.String(fmt.Sprintf("qos %d is not 0 or 1", in.Qos))}
	}
	topic := aws.ToString(in.Topic)
	if len(in.Payload) > MaxPayloadBytes {
		return nil, &types.RequestEntityTooLargeException{Message: aws.String(fmt.Sprintf("payload of %d bytes is over the %d-byte limit", len(in.Payload), MaxPayloadBytes))}
	}
	if in.Retain {
		if err := d.b.retained.admit(topic, len(in.Payload)); err != nil {
			return nil, &types.ThrottlingException{Message: aws.String(err.Error())}
		}
	}
	if d.b.closed.Load() {
		return nil, &types.ServiceUnavailableException{Message: aws.String(ErrClosed.Error())}
	}
	if err := d.b.srv.Publish(topic, in.Payload, in.Retain, byte(in.Qos)); err != nil {
		return nil, &types.InternalFailureException{Message: aws.String(err.Error())}
	}
	return &iotdataplane.PublishOutput{}, nil
}

// ListRetainedMessages lists the retained messages' summaries in topic order,
// at most in.MaxResults (1 to 200, default 200) a page.
func (d *DataPlane) ListRetainedMessages(ctx context.Context, in *iotdataplane.ListRetainedMessagesInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.ListRetainedMessagesOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("broker: list retained messages: %w", err)
	}
	page, after := maxRetainedPage, ""
	if in != nil {
		if in.MaxResults != nil {
			if m := *in.MaxResults; m < 1 || m > maxRetainedPage {
				return nil, &types.InvalidRequestException{Message: aws.String(fmt.Sprintf("maxResults %d is not between 1 and %d", m, maxRetainedPage))}
			}
			page = int(*in.MaxResults)
		}
		if tok := aws.ToString(in.NextToken); tok != "" {
			b, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				return nil, &types.InvalidRequestException{Message: aws.String("invalid nextToken")}
			}
			after = string(b)
		}
	}
	r := d.b.retained
	r.mu.Lock()
	i, found := slices.BinarySearch(r.topics, after)
	if found {
		i++
	}
	topics := slices.Clone(r.topics[i:min(len(r.topics), i+page)])
	more := i+page < len(r.topics)
	times := make([]int64, len(topics))
	for j, t := range topics {
		times[j] = r.modified[t]
	}
	r.mu.Unlock()
	out := &iotdataplane.ListRetainedMessagesOutput{RetainedTopics: make([]types.RetainedMessageSummary, 0, len(topics))}
	for j, t := range topics {
		pk, ok := d.b.srv.Topics.Retained.Get(t)
		if !ok {
			continue // deleted since the index was read
		}
		out.RetainedTopics = append(out.RetainedTopics, types.RetainedMessageSummary{
			Topic: aws.String(t), PayloadSize: int64(len(pk.Payload)), Qos: int32(pk.FixedHeader.Qos), LastModifiedTime: times[j],
		})
	}
	if more && len(topics) > 0 {
		out.NextToken = aws.String(base64.RawURLEncoding.EncodeToString([]byte(topics[len(topics)-1])))
	}
	return out, nil
}

// GetRetainedMessage returns the retained message on in.Topic, or
// *types.ResourceNotFoundException.
func (d *DataPlane) GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("broker: get retained message: %w", err)
	}
	if in == nil || aws.ToString(in.Topic) == "" {
		return nil, &types.InvalidRequestException{Message: aws.String("topic is required")}
	}
	topic := aws.ToString(in.Topic)
	pk, ok := d.b.srv.Topics.Retained.Get(topic)
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf("No retained message exists for topic %s", topic))}
	}
	d.b.retained.mu.Lock()
	at := d.b.retained.modified[topic]
	d.b.retained.mu.Unlock()
	if at == 0 {
		at = pk.Created * 1000
	}
	return &iotdataplane.GetRetainedMessageOutput{
		Topic: aws.String(topic), Payload: pk.Payload, Qos: int32(pk.FixedHeader.Qos), LastModifiedTime: at,
	}, nil
}

// retainedCount is the number of topics with a retained message.
func (b *Broker) retainedCount() int {
	b.retained.mu.Lock()
	defer b.retained.mu.Unlock()
	return len(b.retained.topics)
}
