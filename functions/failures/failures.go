// Package failures is each Region's error table: what its capture or apply could not
// do, one record per resource and stage, with the reason, for the redrive function and
// for operators.
//
// A failure is recorded when it happens, before the caller returns the error that
// makes Lambda retry, so that whatever the retries give up on is already in the table:
// a stream's on-failure destination receives only batch metadata, never the records.
// Records are removed only by the redrive function once a re-run succeeds, which
// keeps the happy path free of error-table writes.
package failures

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/event"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// Table is the part of *dynamodb.Client the error table is used with.
type Table interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Recorder writes error-table records.
type Recorder struct {
	Table  Table
	Name   string
	Logger *slog.Logger
	// Now stamps records; nil means time.Now.
	Now func() time.Time
}

// Failure is one error-table record.
type Failure struct {
	ID, Key, Stage, Error, Cause, Input, RecordedAt string
}

// maxStoredInput bounds the input kept with a record of bad input.
const maxStoredInput = 16 * 1024

// Record stores the failure of stage on the resource key ("" when the input names no
// resource; input is then kept, shortened, so an operator can see what was refused).
func (r *Recorder) Record(ctx context.Context, stage, key, errName string, cause error, input []byte) error {
	id := spec.ErrorID(stage, key)
	if key == "" {
		sum := sha256.Sum256(input)
		id = spec.ErrorID(stage, "invalid#"+hex.EncodeToString(sum[:8]))
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	item := map[string]types.AttributeValue{
		spec.ErrorAttrID:         &types.AttributeValueMemberS{Value: id},
		spec.ErrorAttrKey:        &types.AttributeValueMemberS{Value: key},
		spec.ErrorAttrStage:      &types.AttributeValueMemberS{Value: stage},
		spec.ErrorAttrError:      &types.AttributeValueMemberS{Value: errName},
		spec.ErrorAttrCause:      &types.AttributeValueMemberS{Value: cause.Error()},
		spec.ErrorAttrRecordedAt: &types.AttributeValueMemberS{Value: now().UTC().Format(time.RFC3339Nano)},
	}
	if len(input) > 0 {
		stored := string(input)
		if len(stored) > maxStoredInput {
			stored = event.Excerpt(input)
		}
		item[spec.ErrorAttrInput] = &types.AttributeValueMemberS{Value: stored}
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Warn("failure recorded in the error table", "id", id, "stage", stage, "error", errName,
		"cause", cause.Error(), "inputSize", len(input))
	if _, err := r.Table.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Name), Item: item}); err != nil {
		return fmt.Errorf("record %s in the error table: %w", id, err)
	}
	return nil
}

// List returns every record.
func (r *Recorder) List(ctx context.Context) ([]Failure, error) {
	var out []Failure
	var start map[string]types.AttributeValue
	for {
		page, err := r.Table.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(r.Name), ExclusiveStartKey: start})
		if err != nil {
			return out, fmt.Errorf("scan error table %s: %w", r.Name, err)
		}
		for _, it := range page.Items {
			str := func(k string) string {
				if v, ok := it[k].(*types.AttributeValueMemberS); ok {
					return v.Value
				}
				return ""
			}
			out = append(out, Failure{
				ID: str(spec.ErrorAttrID), Key: str(spec.ErrorAttrKey), Stage: str(spec.ErrorAttrStage),
				Error: str(spec.ErrorAttrError), Cause: str(spec.ErrorAttrCause), Input: str(spec.ErrorAttrInput),
				RecordedAt: str(spec.ErrorAttrRecordedAt),
			})
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}

// Delete removes the record f as it was listed. A record written again since (the same
// resource failed again meanwhile) is newer and stays: Delete reports it as kept.
func (r *Recorder) Delete(ctx context.Context, f Failure) (kept bool, err error) {
	_, err = r.Table.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(r.Name),
		Key:                       map[string]types.AttributeValue{spec.ErrorAttrID: &types.AttributeValueMemberS{Value: f.ID}},
		ConditionExpression:       aws.String("#r = :r"),
		ExpressionAttributeNames:  map[string]string{"#r": spec.ErrorAttrRecordedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: f.RecordedAt}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete %s from the error table: %w", f.ID, err)
	}
	return false, nil
}
