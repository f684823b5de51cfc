package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// RetainedMessages is the part of a Region's data plane (*iotdataplane.Client) the
// sweep reads retained messages with.
type RetainedMessages interface {
	ListRetainedMessages(ctx context.Context, in *iotdataplane.ListRetainedMessagesInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListRetainedMessagesOutput, error)
	GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error)
}

// HeldCopies tells which of another Region's items this Region's apply last
// converged a resource to (*applymark.Held).
type HeldCopies interface {
	HeldRef(ctx context.Context, key string) (ref string, ok bool, err error)
}

// retainedPage is ListRetainedMessages's largest page.
const retainedPage = 200

// RetainedMessage captures the retained message of one topic (GetRetainedMessage);
// a message gone from the Region becomes a tombstone. Retained messages raise no
// event and a topic rule would see every publish, retained or not, so only the sweep
// (and the redrive) capture them.
func (c *Capturer) RetainedMessage(ctx context.Context, topic string) (Result, error) {
	var res Result
	if c.Retained == nil {
		return res, permanent(fmt.Errorf("capture: no data-plane client for retained messages configured"))
	}
	readAt := c.now()
	out, err := c.Retained.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(topic)})
	if replication.IsNotFound(err) {
		cur, known, err := c.Store.Get(ctx, spec.KindRetained, topic)
		if err != nil || !known || cur.Deleted {
			return res, err // nothing to delete: no tombstone for what was never captured
		}
		if deleted, err := c.deletedHere(ctx, cur); err != nil || !deleted {
			return res, err
		}
		return res, c.put(ctx, &res, state.Tombstone(spec.KindRetained, topic), readAt, time.Time{})
	}
	if err != nil {
		return res, fmt.Errorf("capture: get retained message on %s: %w", topic, err)
	}
	return res, c.putBody(ctx, &res, spec.KindRetained, topic, state.Retained{Payload: out.Payload, Qos: out.Qos}, readAt, time.UnixMilli(out.LastModifiedTime))
}

// retainedSweepPage captures one ListRetainedMessages page. A topic whose item this
// Region wrote at the message's lastModifiedTime is unchanged and costs no
// GetRetainedMessage; any other (new here, changed since, or last written by another
// Region's item, which this Region's apply published) is read and compared, and
// written only when its content differs.
func (c *Capturer) retainedSweepPage(ctx context.Context, tok *string, record func(key string, err error) error) (visited, written int, next *string, err error) {
	out, err := c.Retained.ListRetainedMessages(ctx, &iotdataplane.ListRetainedMessagesInput{NextToken: tok, MaxResults: aws.Int32(retainedPage)})
	if err != nil {
		return 0, 0, nil, err
	}
	for _, m := range out.RetainedTopics {
		topic := aws.ToString(m.Topic)
		visited++
		it, ok, err := c.Store.Get(ctx, spec.KindRetained, topic)
		if err == nil && ok && !it.Deleted && it.Origin == c.Region && it.ChangedAt == m.LastModifiedTime {
			continue
		}
		var res Result
		if err == nil {
			res, err = again(func() (Result, error) { return c.RetainedMessage(ctx, topic) })
		}
		written += res.Written
		if err != nil {
			if rerr := record(spec.StateKey(spec.KindRetained, topic), err); rerr != nil {
				return visited, written, nil, rerr
			}
		}
	}
	return visited, written, out.NextToken, nil
}
