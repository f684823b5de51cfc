package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Table is the part of *dynamodb.Client the state table is read and written with.
type Table interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Scanner is the part of *dynamodb.Client a full pass over the table needs.
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// ScanPage reads one page of up to limit items, starting after the key start ("" for
// the first page), and returns the key to start the next page after ("" at the end).
func (s *Store) ScanPage(ctx context.Context, start string, limit int32) ([]Item, string, error) {
	sc, ok := s.Table.(Scanner)
	if !ok {
		return nil, "", fmt.Errorf("state: table client of %s cannot Scan", s.Name)
	}
	in := &dynamodb.ScanInput{TableName: aws.String(s.Name), Limit: aws.Int32(limit)}
	if start != "" {
		in.ExclusiveStartKey = map[string]types.AttributeValue{spec.StateAttrKey: &types.AttributeValueMemberS{Value: start}}
	}
	page, err := sc.Scan(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("state: scan %s: %w", s.Name, err)
	}
	out := make([]Item, 0, len(page.Items))
	for _, m := range page.Items {
		it, err := FromAttributes(m)
		if err != nil {
			return nil, "", err
		}
		out = append(out, it)
	}
	next := ""
	if k, ok := page.LastEvaluatedKey[spec.StateAttrKey].(*types.AttributeValueMemberS); ok {
		next = k.Value
	}
	return out, next, nil
}

// OthersKeys pages through the table (which must also be a Scanner) and yields the
// key of every item whose origin is not region. An item it cannot decode is an error
// naming it: a full pass that skipped items silently would hide exactly what it is for.
func (s *Store) OthersKeys(ctx context.Context, region string, yield func(key string) error) error {
	sc, ok := s.Table.(Scanner)
	if !ok {
		return fmt.Errorf("state: table client of %s cannot Scan", s.Name)
	}
	in := &dynamodb.ScanInput{TableName: aws.String(s.Name)}
	for {
		page, err := sc.Scan(ctx, in)
		if err != nil {
			return fmt.Errorf("state: scan %s: %w", s.Name, err)
		}
		for _, m := range page.Items {
			it, err := FromAttributes(m)
			if err != nil {
				return err
			}
			if it.Origin == region {
				continue
			}
			if err := yield(it.Key()); err != nil {
				return err
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Store reads and writes one Region's replica of the state table.
type Store struct {
	Table Table
	Name  string
}

// Get returns the current item of kind/name with a strongly consistent read, and
// whether there is one.
func (s *Store) Get(ctx context.Context, kind, name string) (Item, bool, error) {
	key := spec.StateKey(kind, name)
	out, err := s.Table.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Name),
		Key:            map[string]types.AttributeValue{spec.StateAttrKey: &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("state: get %s: %w", key, err)
	}
	if out.Item == nil {
		return Item{}, false, nil
	}
	it, err := FromAttributes(out.Item)
	if err != nil {
		return Item{}, false, err
	}
	return it, true, nil
}

// Outcome says what Put did.
type Outcome int

// Put outcomes.
const (
	// Written: the item was stored.
	Written Outcome = iota
	// Unchanged: the table already held the same content; nothing was written.
	Unchanged
	// Stale: the table holds a later capture of the resource; nothing was written.
	Stale
)

func (o Outcome) String() string {
	return [...]string{"written", "unchanged", "stale"}[o]
}

// Put stores it unless the table already holds the same content (a capture that
// changes nothing costs no replicated write) or a later capture (it.Seq not above the
// stored seq). The write is conditional on the stored seq, so two captures racing on
// one resource cannot leave the earlier one in the table.
//
// Same content is still written when the seq must advance (see advances): otherwise a
// late capture from between the two (a shadow version in between, the live resource
// between two deletes) would find the old seq and win.

// advances reports whether it must be written over cur although their content is the
// same: a shadow is ordered by its version, so a newer version always moves the seq; a
// tombstone newer than a stored tombstone too (deleted, re-created, deleted again).
// Registry items with the same content are not rewritten: their seq is a read time,
// and rewriting every unchanged capture (each sweep, each duplicate event) would cost
// a replicated write per resource.
func advances(cur, it Item) bool {
	return it.Seq > cur.Seq && (it.Kind == spec.KindShadow || it.Deleted)
}
func (s *Store) Put(ctx context.Context, it Item) (Outcome, error) {
	cur, ok, err := s.Get(ctx, it.Kind, it.Name)
	if err != nil {
		return 0, err
	}
	if ok && cur.Same(it) && !advances(cur, it) {
		return Unchanged, nil
	}
	if ok && cur.Seq >= it.Seq {
		return Stale, nil
	}
	_, err = s.Table.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Name),
		Item:                      it.Attributes(),
		ConditionExpression:       aws.String("attribute_not_exists(#k) OR #s < :s"),
		ExpressionAttributeNames:  map[string]string{"#k": spec.StateAttrKey, "#s": spec.StateAttrSeq},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberN{Value: strconv.FormatInt(it.Seq, 10)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return Stale, nil
	}
	if err != nil {
		return 0, fmt.Errorf("state: put %s: %w", it.Key(), err)
	}
	return Written, nil
}
