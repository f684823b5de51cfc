package fleetsync

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/verify"
)

// KindRetained is the Result kind of a retained message (Name is its topic).
const KindRetained = "retainedMessage"

// RetainedAPI is the part of the IoT data plane (*iotdataplane.Client) sync reads and
// publishes retained messages with.
type RetainedAPI interface {
	ListRetainedMessages(ctx context.Context, in *iotdataplane.ListRetainedMessagesInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListRetainedMessagesOutput, error)
	GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error)
	Publish(ctx context.Context, in *iotdataplane.PublishInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.PublishOutput, error)
}

// LimitedRetained decorates the retained-message calls of a data-plane client like
// LimitedIoT: each waits for its API's token and is retried on throttling.
type LimitedRetained struct {
	// Next is the decorated client.
	Next RetainedAPI
	// Limiter paces Next's Region.
	Limiter *Limiter
}

var (
	_ RetainedAPI                = (*iotdataplane.Client)(nil)
	_ verify.Retained            = (*LimitedRetained)(nil)
	_ replication.RetainedTarget = (*LimitedRetained)(nil)
	_ replication.RetainedSource = (*LimitedRetained)(nil)
	_ RetainedAPI                = (*LimitedRetained)(nil)
)

// ListRetainedMessages calls Next.ListRetainedMessages under the limiter.
func (c *LimitedRetained) ListRetainedMessages(ctx context.Context, in *iotdataplane.ListRetainedMessagesInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListRetainedMessagesOutput, error) {
	return do(ctx, c.Limiter, "ListRetainedMessages", func() (*iotdataplane.ListRetainedMessagesOutput, error) {
		return c.Next.ListRetainedMessages(ctx, in, optFns...)
	})
}

// GetRetainedMessage calls Next.GetRetainedMessage under the limiter.
func (c *LimitedRetained) GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error) {
	return do(ctx, c.Limiter, "GetRetainedMessage", func() (*iotdataplane.GetRetainedMessageOutput, error) {
		return c.Next.GetRetainedMessage(ctx, in, optFns...)
	})
}

// Publish calls Next.Publish under the limiter. Sync publishes retained messages
// only, so Publish is paced at the retained-publish quota.
func (c *LimitedRetained) Publish(ctx context.Context, in *iotdataplane.PublishInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.PublishOutput, error) {
	return do(ctx, c.Limiter, "Publish", func() (*iotdataplane.PublishOutput, error) { return c.Next.Publish(ctx, in, optFns...) })
}

// retainedMessage syncs one topic's retained message (dry run: compares it). Only
// the source's topics are synced, so a message only the target has stays.
func (e *engine) retainedMessage(ctx context.Context, topic string) Result {
	if e.opts.DryRun {
		return dryResult(KindRetained, topic, func() ([]verify.Difference, error) { return e.cmp.RetainedMessage(ctx, topic) })
	}
	return e.converge(ctx, KindRetained, topic, func() ([]string, error) {
		o, err := e.rep.RetainedMessage(ctx, topic)
		return o.Changes, err
	})
}
