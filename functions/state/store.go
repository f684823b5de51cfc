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
// changes nothing costs no replicated write; Equivalent, so an item applied from
// another Region and captured back is the same) or a later capture (it.Seq not above
// the stored seq). The write is a compare-and-swap on the item Put compared with, and
// a lost swap compares again with what won it: two captures racing on one resource
// (a duplicated event, a sweep and an event) can neither leave the earlier one in the
// table nor both write the same content. A tombstone newer than a stored tombstone is
// written even so (deleted, re-created, deleted again), so that a late capture from
// in between cannot win. The item's Basis is set to the item it replaces.
func (s *Store) Put(ctx context.Context, it Item) (Outcome, error) {
	return s.PutGuarded(ctx, it, nil)
}

// maxPutRounds bounds the compare-and-swap rounds of one Put: each lost round means
// another capture of the resource landed, so a handful settles any real contention.
const maxPutRounds = 8

// PutGuarded is Put with a guard: when the table holds another Region's item with
// different content, guard is asked first and a non-nil error from it is returned
// instead of writing (capture defers to an apply still converging this Region).
func (s *Store) PutGuarded(ctx context.Context, it Item, guard func(cur Item) error) (Outcome, error) {
	for range maxPutRounds {
		cur, ok, err := s.Get(ctx, it.Kind, it.Name)
		if err != nil {
			return 0, err
		}
		if ok && Equivalent(cur, it) && !(it.Deleted && it.Seq > cur.Seq) {
			return Unchanged, nil
		}
		if ok && cur.Seq >= it.Seq {
			return Stale, nil
		}
		if ok && guard != nil && cur.Origin != it.Origin {
			if err := guard(cur); err != nil {
				return 0, err
			}
		}
		o, err := s.Swap(ctx, cur, ok, it)
		if err != nil || o != Stale {
			return o, err
		}
	}
	return 0, fmt.Errorf("state: put %s: the item kept changing under %d compare-and-swap rounds", it.Key(), maxPutRounds)
}

// Swap stores it only if the table still holds cur (by seq; ok false: no item),
// for read-modify-write captures (shadows, whose item merges the stored one). Stale
// means the item moved meanwhile: read again.
func (s *Store) Swap(ctx context.Context, cur Item, ok bool, it Item) (Outcome, error) {
	if !ok {
		return s.write(ctx, it, "attribute_not_exists(#k)", it.Seq)
	}
	it.Basis = cur.Ref()
	return s.write(ctx, it, "#s = :s", cur.Seq)
}

func (s *Store) write(ctx context.Context, it Item, cond string, seq int64) (Outcome, error) {
	names := map[string]string{"#k": spec.StateAttrKey, "#s": spec.StateAttrSeq}
	vals := map[string]types.AttributeValue{":s": &types.AttributeValueMemberN{Value: strconv.FormatInt(seq, 10)}}
	if cond == "attribute_not_exists(#k)" {
		delete(names, "#s")
		vals = nil
	}
	_, err := s.Table.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Name),
		Item:                      it.Attributes(),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
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
