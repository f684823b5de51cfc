package dynamo

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Legacy global-table attributes stamped on replicated items.
const (
	AttrUpdateRegion = "aws:rep:updateregion"
	AttrUpdateTime   = "aws:rep:updatetime"
)

const (
	maxItemSize = 400 * 1024  // DynamoDB's item size limit
	maxPageSize = 1024 * 1024 // Scan/Query page limit
)

// Schema describes a table: its name, its (string, number or binary) hash
// key, the optional TTL attribute and the stream view type ("" for no stream).
type Schema struct {
	Name         string
	HashKey      string
	TTLAttribute string
	StreamView   string // NEW_IMAGE, NEW_AND_OLD_IMAGES, OLD_IMAGE, KEYS_ONLY or "" (no stream)
	// StreamShards is how many shards the stream's records are spread over by key
	// (0 or 1: one shard), as a table's partitions split its stream.
	StreamShards int
}

// Option configures a Table.
type Option func(*options)

type options struct {
	now       func() time.Time
	retention time.Duration
	meter     Meter // see WithMeter
}

// WithClock sets the clock used for update times, stream record times, stream
// retention and TTL expiry. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithStreamRetention overrides the 24-hour stream retention.
func WithStreamRetention(d time.Duration) Option {
	return func(o *options) { o.retention = d }
}

// entry is a stored item plus the version global tables resolve conflicts by.
type entry struct {
	item    Item // never mutated after being stored
	updated time.Time
	region  string
}

// version identifies the last write to a key, kept after deletes (as a
// tombstone) so an older replicated put cannot resurrect a deleted item.
type version struct {
	updated time.Time
	region  string
}

func (v version) newerThan(o version) bool {
	if !v.updated.Equal(o.updated) {
		return v.updated.After(o.updated)
	}
	return v.region > o.region // deterministic tie-break
}

// Table is an in-memory DynamoDB table with a stream. It is safe for
// concurrent use.
type Table struct {
	region  string
	account string
	schema  Schema
	arn     string
	now     func() time.Time
	stream  *Stream
	meter   Meter // nil: unmetered
	created time.Time

	mu         sync.Mutex
	items      map[string]*entry
	tombstones map[string]version
	down       bool
	outs       []*direction // replication directions fed by local writes
}

// NewTable creates an empty table in region/account. It panics if the schema
// has no name or hash key or names an unknown stream view, which are
// programming errors in the simulator's wiring.
func NewTable(region, account string, s Schema, opts ...Option) *Table {
	if s.Name == "" || s.HashKey == "" {
		panic("dynamo: NewTable: schema needs Name and HashKey")
	}
	o := options{now: time.Now, retention: DefaultStreamRetention}
	for _, opt := range opts {
		opt(&o)
	}
	t := &Table{
		region:     region,
		account:    account,
		schema:     s,
		arn:        fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, s.Name),
		now:        o.now,
		meter:      o.meter,
		created:    o.now(),
		items:      map[string]*entry{},
		tombstones: map[string]version{},
	}
	switch s.StreamView {
	case "":
	case ViewNewImage, ViewNewAndOldImages, ViewOldImage, ViewKeysOnly:
		// The stream label is the creation timestamp, as in DynamoDB.
		label := o.now().UTC().Format("2006-01-02T15:04:05.000")
		t.stream = newStream(t.arn+"/stream/"+label, region, s.StreamView, max(s.StreamShards, 1), o.retention, o.now)
	default:
		panic(fmt.Sprintf("dynamo: NewTable: unknown stream view %q", s.StreamView))
	}
	return t
}

// ARN returns the table ARN.
func (t *Table) ARN() string { return t.arn }

// DescribeTable describes the table as DynamoDB does for an on-demand table: always
// ACTIVE, its hash key (type S), its stream, and, while a Replication links it, the
// replica in the other Region (a global table, version 2019.11.21). The item count is
// exact, where DynamoDB's is refreshed every six hours.
func (t *Table) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if in == nil {
		return nil, validationError("DescribeTableInput is nil")
	}
	if err := t.checkCall(ctx, "DescribeTable", in.TableName); err != nil {
		return nil, err
	}
	t.mu.Lock()
	n, outs := len(t.items), slices.Clone(t.outs)
	t.mu.Unlock()
	d := &types.TableDescription{
		TableName: aws.String(t.schema.Name), TableArn: aws.String(t.arn), TableStatus: types.TableStatusActive,
		ItemCount: aws.Int64(int64(n)), CreationDateTime: aws.Time(t.created),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(t.schema.HashKey), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(t.schema.HashKey), AttributeType: types.ScalarAttributeTypeS}},
		BillingModeSummary:   &types.BillingModeSummary{BillingMode: types.BillingModePayPerRequest},
	}
	if t.stream != nil {
		d.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(t.schema.StreamView)}
		d.LatestStreamArn = aws.String(t.stream.arn)
	}
	for _, o := range outs {
		if o.r.isClosed() {
			continue
		}
		d.Replicas = append(d.Replicas, types.ReplicaDescription{RegionName: aws.String(o.dst.region), ReplicaStatus: types.ReplicaStatusActive})
		d.GlobalTableVersion = aws.String("2019.11.21")
	}
	return &dynamodb.DescribeTableOutput{Table: d}, nil
}

// StreamARN returns the latest stream ARN, or "" if the table has no stream.
func (t *Table) StreamARN() string {
	if t.stream == nil {
		return ""
	}
	return t.stream.arn
}

// Stream returns the table's stream, or nil if the schema has no StreamView.
func (t *Table) Stream() *Stream { return t.stream }

// Region returns the table's Region.
func (t *Table) Region() string { return t.region }

// Schema returns the table's schema.
func (t *Table) Schema() Schema { return t.schema }

// Len returns the number of items.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.items)
}

// SetAvailable takes the table's API up or down (chaos). While down, every
// API call fails with *types.InternalServerError, which SDK retryers retry.
// The stream and replication keep running.
func (t *Table) SetAvailable(up bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.down = !up
}

func validationError(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

// checkCall validates the parts every call shares. The caller holds no lock.
func (t *Table) checkCall(ctx context.Context, op string, tableName *string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamodb %s: %w", op, err)
	}
	if name := aws.ToString(tableName); name != t.schema.Name && name != t.arn {
		return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf("Requested resource not found: Table: %s not found", name))}
	}
	return nil
}

func (t *Table) unavailableLocked() error {
	if t.down {
		return &types.InternalServerError{Message: aws.String(fmt.Sprintf("simulated outage: DynamoDB is unavailable in %s", t.region))}
	}
	return nil
}

// keyOf extracts and validates the hash key of an item or key map.
func (t *Table) keyOf(m Item, exact bool) (string, Item, error) {
	v, ok := m[t.schema.HashKey]
	if !ok {
		return "", nil, validationError("One of the required keys was not given a value: missing %s", t.schema.HashKey)
	}
	if exact && len(m) != 1 {
		return "", nil, validationError("The provided key element does not match the schema")
	}
	k, err := keyString(v)
	if err != nil {
		return "", nil, validationError("The provided key element does not match the schema: %v", err)
	}
	return k, Item{t.schema.HashKey: copyValue(v)}, nil
}

// condition is a parsed ConditionExpression: the key must exist, must not exist,
// or must not exist unless the stored item's numeric attribute lessAttr is below
// lessThan (the shape of a version guard).
type condition struct {
	mustExist, mustNotExist bool
	lessAttr                string
	lessThan                *big.Float
	// eqAttr = eqValue: the stored item's string (or, with eqNum, number) attribute
	// equals a value (a compare-and-swap).
	eqAttr  string
	eqValue string
	eqNum   *big.Float
}

// holds reports whether the condition allows a write over old (nil when none).
func (c condition) holds(old *entry) bool {
	switch {
	case c.eqAttr != "":
		if old == nil {
			return false
		}
		if c.eqNum != nil {
			n, ok := old.item[c.eqAttr].(*types.AttributeValueMemberN)
			if !ok {
				return false
			}
			f, _, err := big.ParseFloat(n.Value, 10, 128, big.ToNearestEven)
			return err == nil && f.Cmp(c.eqNum) == 0
		}
		v, ok := old.item[c.eqAttr].(*types.AttributeValueMemberS)
		return ok && v.Value == c.eqValue
	case c.mustExist:
		return old != nil
	case c.lessAttr != "":
		if old == nil {
			return true
		}
		n, ok := old.item[c.lessAttr].(*types.AttributeValueMemberN)
		if !ok {
			return false // a missing or non-number attribute compares false, as in DynamoDB
		}
		f, _, err := big.ParseFloat(n.Value, 10, 128, big.ToNearestEven)
		return err == nil && f.Cmp(c.lessThan) < 0
	case c.mustNotExist:
		return old == nil
	}
	return true
}

// parseCondition understands the condition expressions the simulator supports:
// attribute_exists / attribute_not_exists on the hash key, and
// "attribute_not_exists(<hashkey>) OR <attr> < :value" with a number value.
// Anything else is refused rather than ignored.
func (t *Table) parseCondition(expr *string, names map[string]string, values map[string]types.AttributeValue) (condition, error) {
	if expr == nil {
		return condition{}, nil
	}
	e := strings.TrimSpace(*expr)
	resolve := func(s string) string {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "#") {
			return names[s]
		}
		return s
	}
	keyFn := func(e string) (string, bool) {
		for _, fn := range []string{"attribute_not_exists", "attribute_exists"} {
			rest, ok := strings.CutPrefix(e, fn)
			if !ok {
				continue
			}
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
				return "", false
			}
			if resolve(rest[1:len(rest)-1]) != t.schema.HashKey {
				return "", false
			}
			return fn, true
		}
		return "", false
	}
	if left, right, ok := strings.Cut(e, " OR "); ok {
		fn, ok := keyFn(strings.TrimSpace(left))
		attr, val, ok2 := strings.Cut(right, "<")
		if ok && ok2 && fn == "attribute_not_exists" {
			v, isN := values[strings.TrimSpace(val)].(*types.AttributeValueMemberN)
			a := resolve(attr)
			if isN && a != "" {
				f, _, err := big.ParseFloat(v.Value, 10, 128, big.ToNearestEven)
				if err != nil {
					return condition{}, validationError("invalid number %q in ConditionExpression value", v.Value)
				}
				return condition{mustNotExist: true, lessAttr: a, lessThan: f}, nil
			}
		}
	} else if fn, ok := keyFn(e); ok {
		return condition{mustExist: fn == "attribute_exists", mustNotExist: fn == "attribute_not_exists"}, nil
	} else if attr, val, ok := strings.Cut(e, " = "); ok {
		a := resolve(attr)
		switch v := values[strings.TrimSpace(val)].(type) {
		case *types.AttributeValueMemberS:
			if a != "" {
				return condition{eqAttr: a, eqValue: v.Value}, nil
			}
		case *types.AttributeValueMemberN:
			f, _, err := big.ParseFloat(v.Value, 10, 128, big.ToNearestEven)
			if err != nil {
				return condition{}, validationError("invalid number %q in ConditionExpression value", v.Value)
			}
			if a != "" {
				return condition{eqAttr: a, eqNum: f}, nil
			}
		}
	}
	return condition{}, validationError("simulator supports only attribute_exists(%[1]s), attribute_not_exists(%[1]s), "+
		"attribute_not_exists(%[1]s) OR <attr> < :number and <attr> = :string or :number as ConditionExpression, got %q", t.schema.HashKey, e)
}

func checkReturnValues(rv types.ReturnValue) error {
	switch rv {
	case "", types.ReturnValueNone, types.ReturnValueAllOld:
		return nil
	default:
		return validationError("ReturnValues %s is not supported by the simulator (NONE, ALL_OLD)", rv)
	}
}

// PutItem creates or replaces an item.
func (t *Table) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if in == nil {
		return nil, validationError("PutItemInput is nil")
	}
	legacy := len(in.Expected) > 0 || in.ConditionalOperator != ""
	cond, err := t.checkWrite(ctx, "PutItem", in.TableName, legacy, in.ReturnValues, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	for name, v := range in.Item {
		if err := validateValue(v); err != nil {
			return nil, validationError("invalid attribute %q: %v", name, err)
		}
	}
	k, keys, err := t.keyOf(in.Item, false)
	if err != nil {
		return nil, err
	}
	item := copyItem(in.Item)
	if size := itemSize(item); size > maxItemSize {
		return nil, validationError("Item size has exceeded the maximum allowed size (%d bytes)", size)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	old, err := t.currentLocked(k, cond, in.ReturnValuesOnConditionCheckFailure)
	t.chargeWrite(err, item, entryItem(t.items[k]))
	if err != nil {
		return nil, err
	}
	now := t.versionTimeLocked(k, old)
	t.items[k] = &entry{item: item, updated: now, region: t.region}
	delete(t.tombstones, k)
	out := &dynamodb.PutItemOutput{}
	var oldItem Item
	if old != nil {
		oldItem = old.item
		if in.ReturnValues == types.ReturnValueAllOld {
			out.Attributes = copyItem(old.item)
		}
	}
	if err := t.commitLocked(k, keys, oldItem, item, now, false, true); err != nil {
		return nil, err
	}
	return out, nil
}

// checkWrite checks what PutItem and DeleteItem share: the call itself, no legacy
// conditions (legacy), supported ReturnValues; it returns the parsed
// ConditionExpression.
func (t *Table) checkWrite(ctx context.Context, op string, table *string, legacy bool, rv types.ReturnValue, cond *string, names map[string]string, values map[string]types.AttributeValue) (condition, error) {
	if err := t.checkCall(ctx, op, table); err != nil {
		return condition{}, err
	}
	if legacy {
		return condition{}, validationError("legacy Expected/ConditionalOperator are not supported by the simulator; use ConditionExpression")
	}
	if err := checkReturnValues(rv); err != nil {
		return condition{}, err
	}
	return t.parseCondition(cond, names, values)
}

// currentLocked returns the entry stored under k (nil when none) once the table is
// available and the write's condition holds; t.mu must be held.
func (t *Table) currentLocked(k string, cond condition, rv types.ReturnValuesOnConditionCheckFailure) (*entry, error) {
	if err := t.unavailableLocked(); err != nil {
		return nil, err
	}
	old := t.items[k]
	if !cond.holds(old) {
		e := &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
		if rv == types.ReturnValuesOnConditionCheckFailureAllOld && old != nil {
			e.Item = copyItem(old.item)
		}
		return nil, e
	}
	return old, nil
}

// GetItem returns the item with the given key, or an output with a nil Item.
func (t *Table) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if in == nil {
		return nil, validationError("GetItemInput is nil")
	}
	if err := t.checkCall(ctx, "GetItem", in.TableName); err != nil {
		return nil, err
	}
	if in.ProjectionExpression != nil || len(in.AttributesToGet) > 0 {
		return nil, validationError("projections are not supported by the simulator")
	}
	k, _, err := t.keyOf(in.Key, true)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.unavailableLocked(); err != nil {
		return nil, err
	}
	out := &dynamodb.GetItemOutput{}
	if e := t.items[k]; e != nil {
		out.Item = copyItem(e.item)
	}
	t.chargeRead(out.Item, aws.ToBool(in.ConsistentRead))
	return out, nil
}

// DeleteItem deletes the item with the given key; deleting a missing item
// succeeds and writes no stream record.
func (t *Table) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if in == nil {
		return nil, validationError("DeleteItemInput is nil")
	}
	legacy := len(in.Expected) > 0 || in.ConditionalOperator != ""
	cond, err := t.checkWrite(ctx, "DeleteItem", in.TableName, legacy, in.ReturnValues, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	k, keys, err := t.keyOf(in.Key, true)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old, err := t.currentLocked(k, cond, in.ReturnValuesOnConditionCheckFailure)
	t.chargeWrite(err, entryItem(t.items[k]))
	if err != nil {
		return nil, err
	}
	out := &dynamodb.DeleteItemOutput{}
	if old == nil {
		return out, nil
	}
	if in.ReturnValues == types.ReturnValueAllOld {
		out.Attributes = copyItem(old.item)
	}
	if err := t.deleteLocked(k, keys, old, false); err != nil {
		return nil, err
	}
	return out, nil
}

func (t *Table) deleteLocked(k string, keys Item, old *entry, ttl bool) error {
	now := t.versionTimeLocked(k, old)
	delete(t.items, k)
	t.tombstones[k] = version{updated: now, region: t.region}
	return t.commitLocked(k, keys, old.item, nil, now, ttl, true)
}

// versionTimeLocked returns the update time for a local write to key k: the
// clock's now, but always after the key's previous version, so that a later
// write wins last-writer-wins even when the clock has not moved (a fake clock,
// or two writes within the clock's resolution).
func (t *Table) versionTimeLocked(k string, old *entry) time.Time {
	now := t.now()
	prev := t.tombstones[k].updated
	if old != nil {
		prev = old.updated
	}
	if !now.After(prev) {
		now = prev.Add(time.Microsecond) // aws:rep:updatetime has microsecond resolution
	}
	return now
}

// commitLocked records a committed change in the stream and, for local writes,
// queues it for replication. A write that changed nothing is not recorded,
// as in DynamoDB Streams.
func (t *Table) commitLocked(k string, keys, oldItem, newItem Item, at time.Time, ttl, local bool) error {
	if oldItem != nil && newItem != nil && equalItems(oldItem, newItem) {
		return nil
	}
	if local {
		for _, d := range t.outs {
			d.enqueue(repChange{key: k, keys: keys, item: newItem, updated: at, region: t.region})
		}
	}
	if t.stream == nil {
		return nil
	}
	if err := t.stream.append(change{keys: keys, oldItem: oldItem, newItem: newItem, ttl: ttl, at: at}); err != nil {
		return &types.InternalServerError{Message: aws.String(fmt.Sprintf("stream record: %v", err))}
	}
	return nil
}

// Scan returns items in key order, one page at a time.
func (t *Table) Scan(ctx context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if in == nil {
		return nil, validationError("ScanInput is nil")
	}
	if err := t.checkCall(ctx, "Scan", in.TableName); err != nil {
		return nil, err
	}
	if in.FilterExpression != nil || in.ProjectionExpression != nil || len(in.ScanFilter) > 0 ||
		len(in.AttributesToGet) > 0 || in.IndexName != nil || in.Segment != nil || in.TotalSegments != nil {
		return nil, validationError("filters, projections, indexes and parallel scans are not supported by the simulator")
	}
	switch in.Select {
	case "", types.SelectAllAttributes, types.SelectCount:
	default:
		return nil, validationError("Select %s is not supported by the simulator", in.Select)
	}
	limit := -1
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, validationError("Limit must be at least 1")
		}
		limit = int(*in.Limit)
	}
	var start string
	if in.ExclusiveStartKey != nil {
		k, _, err := t.keyOf(in.ExclusiveStartKey, true)
		if err != nil {
			return nil, err
		}
		start = k
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.unavailableLocked(); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(t.items))
	for k := range t.items {
		if start == "" || k > start {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := &dynamodb.ScanOutput{}
	var size int64
	for _, k := range keys {
		e := t.items[k]
		if in.Select != types.SelectCount {
			out.Items = append(out.Items, copyItem(e.item))
		}
		out.Count++
		size += itemSize(e.item)
		if out.Count == int32(limit) || size >= maxPageSize {
			// DynamoDB reports where it stopped even when nothing is left.
			out.LastEvaluatedKey = Item{t.schema.HashKey: copyValue(e.item[t.schema.HashKey])}
			break
		}
	}
	out.ScannedCount = out.Count
	return out, nil
}

// ExpireNow runs the TTL process once: it deletes every item whose TTL
// attribute is a number of epoch seconds before the table clock's now, writes
// REMOVE stream records with the TTL service identity, replicates the deletes
// like any local delete, and returns how many items it deleted. Items without
// a numeric TTL attribute never expire.
func (t *Table) ExpireNow() int {
	if t.schema.TTLAttribute == "" {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := new(big.Rat).SetInt64(t.now().Unix())
	var expired []string
	for k, e := range t.items {
		n, ok := e.item[t.schema.TTLAttribute].(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		r, ok := new(big.Rat).SetString(n.Value)
		if ok && r.Cmp(now) < 0 {
			expired = append(expired, k)
		}
	}
	slices.Sort(expired) // deterministic record order
	deleted := 0
	for _, k := range expired {
		e := t.items[k]
		keys := Item{t.schema.HashKey: copyValue(e.item[t.schema.HashKey])}
		if err := t.deleteLocked(k, keys, e, true); err != nil {
			continue // the item is gone either way; only its record failed
		}
		deleted++
	}
	return deleted
}

// applyReplicated applies a change received from a peer replica if it is
// newer than what this replica holds (last writer wins). It is recorded in
// the stream but never queued for replication again.
func (t *Table) applyReplicated(c repChange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.chargeReplicated(c.item, entryItem(t.items[c.key])) // billed even when last writer wins discards it
	incoming := version{updated: c.updated, region: c.region}
	old := t.items[c.key]
	var current version
	switch {
	case old != nil:
		current = version{updated: old.updated, region: old.region}
	default:
		current = t.tombstones[c.key]
	}
	if (old != nil || !current.updated.IsZero()) && !incoming.newerThan(current) {
		return // a newer write already won here
	}
	var oldItem Item
	if old != nil {
		oldItem = old.item
	}
	if c.item == nil {
		t.tombstones[c.key] = incoming
		if old == nil {
			return
		}
		delete(t.items, c.key)
		_ = t.commitLocked(c.key, c.keys, oldItem, nil, t.now(), false, false)
		return
	}
	item := copyItem(c.item)
	item[AttrUpdateRegion] = &types.AttributeValueMemberS{Value: c.region}
	item[AttrUpdateTime] = &types.AttributeValueMemberN{Value: epochSeconds(c.updated)}
	t.items[c.key] = &entry{item: item, updated: c.updated, region: c.region}
	delete(t.tombstones, c.key)
	_ = t.commitLocked(c.key, c.keys, oldItem, item, t.now(), false, false)
}

// epochSeconds formats t as epoch seconds with microseconds, the format of
// the legacy aws:rep:updatetime attribute.
func epochSeconds(t time.Time) string {
	us := t.UnixMicro()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	return fmt.Sprintf("%s%d.%06d", sign, us/1e6, us%1e6)
}
