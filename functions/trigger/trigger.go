// Package trigger is the stream trigger of the apply pipeline: it reads the event table's
// stream in the replica Region and starts one state-machine execution per event.
//
// It skips records written in its own Region (they were captured here, not replicated
// from the peer), records bad input in the error table without failing the batch, and
// reports records it could not hand over (throttling, a Step Functions outage) as batch
// item failures, so Lambda retries exactly those and nothing is dropped. It does not
// apply anything itself.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/iot-dr/iot-dr/functions/event"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// StepFunctions is the part of *sfn.Client the trigger uses.
type StepFunctions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// ErrorTable is the part of *dynamodb.Client the trigger uses to record bad input.
type ErrorTable interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Handler is the trigger's Lambda handler.
type Handler struct {
	// Region is the Region the trigger runs in; records written here are skipped.
	Region          string
	StateMachineARN string
	SFN             StepFunctions
	Errors          ErrorTable
	ErrorTableName  string
	// Concurrency bounds the StartExecution calls in flight per batch (default 8).
	Concurrency int
	Logger      *slog.Logger
	// Now stamps error-table records; nil means time.Now.
	Now func() time.Time
}

// Handle processes one stream batch and returns the sequence numbers of the records to
// retry.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	n := h.Concurrency
	if n <= 0 {
		n = 8
	}
	var (
		mu       sync.Mutex
		failures []events.DynamoDBBatchItemFailure
		wg       sync.WaitGroup
		sem      = make(chan struct{}, n)
	)
	for i := range ev.Records {
		rec := &ev.Records[i]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := h.record(ctx, rec); err != nil {
				h.logger().Warn("record will be retried", "sequenceNumber", rec.Change.SequenceNumber, "error", err)
				mu.Lock()
				failures = append(failures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return events.DynamoDBEventResponse{BatchItemFailures: failures}, nil
}

// record hands one stream record over; a non-nil error means "retry this record".
func (h *Handler) record(ctx context.Context, rec *events.DynamoDBEventRecord) error {
	if rec.EventName == "REMOVE" {
		return nil // TTL expiry or cleanup, nothing to apply
	}
	img := rec.Change.NewImage
	if img == nil {
		return h.recordBad(ctx, rec, nil, "", errors.New("stream record has no NewImage (stream view type must include new images)"))
	}
	if r := attrString(img, spec.AttrSourceRegion); r == h.Region {
		return nil
	}
	if r := attrString(img, spec.AttrReplicaRegion); r == h.Region {
		return nil
	}
	doc, err := ImageJSON(img)
	if err != nil {
		return h.recordBad(ctx, rec, nil, attrString(img, spec.AttrUUID), err)
	}
	e, err := event.Decode(doc)
	if err != nil {
		return h.recordBad(ctx, rec, doc, firstNonEmpty(attrString(img, "eventId"), attrString(img, spec.AttrUUID)), err)
	}
	// Shadow events carry no eventId, membership events their names only in the topic;
	// the state machine, the workers and the error table need them as fields.
	doc, err = withFields(doc, map[string]string{"eventId": e.ID(), "thingName": e.ThingName, "thingGroupName": e.ThingGroupName})
	if err != nil {
		return h.recordBad(ctx, rec, doc, e.ID(), err)
	}
	_, err = h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(h.StateMachineARN),
		Name:            aws.String(ExecutionName(e.ID())),
		Input:           aws.String(string(doc)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exists):
		// The same event was captured twice (a redelivered message gets a new uuid but
		// keeps its eventId): one execution is enough.
		return nil
	default:
		return fmt.Errorf("start execution for event %s: %w", e.ID(), err)
	}
}

// recordBad stores input no retry can fix in the error table, so the batch goes on and
// an operator can see what was refused. Failing to store it fails the record instead.
func (h *Handler) recordBad(ctx context.Context, rec *events.DynamoDBEventRecord, doc []byte, id string, cause error) error {
	if id == "" {
		id = "seq-" + rec.Change.SequenceNumber
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	h.logger().Error("bad input recorded in the error table", "eventId", id, "size", len(doc),
		"excerpt", event.Excerpt(doc), "error", cause)
	stored := string(doc)
	if len(stored) > 64*1024 {
		stored = event.Excerpt(doc)
	}
	item := map[string]ddbtypes.AttributeValue{
		spec.ErrorAttrID:         &ddbtypes.AttributeValueMemberS{Value: "invalid-" + ExecutionName(id)},
		spec.ErrorAttrEventID:    &ddbtypes.AttributeValueMemberS{Value: id},
		spec.ErrorAttrError:      &ddbtypes.AttributeValueMemberS{Value: ErrorInvalidEvent},
		spec.ErrorAttrCause:      &ddbtypes.AttributeValueMemberS{Value: cause.Error()},
		spec.ErrorAttrRecordedAt: &ddbtypes.AttributeValueMemberS{Value: now().UTC().Format(time.RFC3339Nano)},
	}
	if stored != "" {
		item[spec.ErrorAttrEvent] = &ddbtypes.AttributeValueMemberS{Value: stored}
	}
	if _, err := h.Errors.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(h.ErrorTableName), Item: item}); err != nil {
		return fmt.Errorf("record bad event %s in the error table: %w", id, err)
	}
	return nil
}

// ErrorInvalidEvent is the error name of bad input recorded by the trigger.
const ErrorInvalidEvent = "InvalidEvent"

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ExecutionName derives a Step Functions execution name from an event id: the allowed
// characters kept, everything else mapped to '-', at most 80 characters. The same event
// always gets the same name, so a redelivered record cannot start a second run.
func ExecutionName(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() == 80 {
			break
		}
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func attrString(img map[string]events.DynamoDBAttributeValue, k string) string {
	v, ok := img[k]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// withFields sets the fields in kv that doc lacks; empty values are skipped.
func withFields(doc []byte, kv map[string]string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("re-encode event: %w", err)
	}
	changed := false
	for k, v := range kv {
		if _, ok := m[k]; ok || v == "" {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("re-encode event: %w", err)
		}
		m[k], changed = b, true
	}
	if !changed {
		return doc, nil
	}
	return json.Marshal(m)
}
