package applymark

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// The apply's progress, for the failback catch-up gate (functions/probe.Gate).
//
// What is true of a DynamoDB stream read by Lambda: records are ordered per item
// only, each shard is read one batch at a time, shards in parallel, and nothing but a
// stream reader sees the records not yet delivered (the event carries no shard id,
// and a third reader of a global table's stream would be throttled). So the apply
// publishes what it does know, the batches it holds: when an invocation begins it
// adds a lease to one progress item of its Region's mark table (the batch's size and
// when its oldest change from the other Region was made there, and the invocation's
// deadline), and when it ends it closes the lease with the time of the batch's newest
// such change. A Region whose apply holds a change captured long ago
// in the other Region, or has just finished one and is about to be handed the next
// batch of its shard, is behind; one whose latest batches held only recent changes,
// or that holds none, is not. A crashed invocation's lease expires at its deadline
// (the stream mapping then re-delivers the batch, with a new lease).

// ProgressKey is the mark-table key of the apply's progress item (no state key has
// this form: those are "<kind>#<name>").
const ProgressKey = "apply-progress"

// Progress-item attributes: the leases as JSON, and a version the writers compare
// and swap on.
const (
	progressAttrLeases  = "leases"
	progressAttrVersion = "v"
)

// Closed leases are kept only while a gate can still need them: those whose newest
// change was at least MinBehind old at their end (a batch that ended caught up tells
// the gate nothing), for endedRetention (well above any gate's linger), maxEnded of
// them at most (the most recent). So the item stays small: the running leases (one
// per shard) and a few closed ones while the Region catches up.
const (
	endedRetention = 10 * time.Second
	maxEnded       = 32
)

// DefaultMinBehind is Progress.MinBehind's default: a change captured less than a
// second before its batch ended is fresh for any gate (probe.DefaultCatchUpMaxAge is
// 5 s).
const DefaultMinBehind = time.Second

// DefaultLeaseTimeout is an invocation's lease when its context has no deadline
// (Lambda's contexts always have one: the function's timeout).
const DefaultLeaseTimeout = 5 * time.Minute

// Lease is one apply invocation's batch: Start, Oldest, Newest, Deadline and End in
// epoch ms. Oldest and Newest are when the batch's oldest and newest change from the
// other Region was made there (the item's changedAt, else its capturedAt; 0 if it held
// none); End is 0 while it runs.
type Lease struct {
	Start    int64 `json:"s"`
	Oldest   int64 `json:"o,omitempty"`
	Newest   int64 `json:"w,omitempty"`
	Count    int   `json:"n"`
	Deadline int64 `json:"d"`
	End      int64 `json:"e,omitempty"`
}

// ProgressTable is the part of *dynamodb.Client the progress item is read and
// written with.
type ProgressTable interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Progress reads and writes the progress item of one Region's mark table.
type Progress struct {
	Table ProgressTable
	Name  string
	// Region is the apply's own Region: its own writes in the stream are no backlog.
	Region string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failures to write the item; nil discards.
	Logger *slog.Logger
	// MinBehind: a closed lease is kept only if its newest change was at least this
	// old at its end (0: DefaultMinBehind; negative: every closed lease with changes).
	// It must not exceed the gate's MaxAge.
	MinBehind time.Duration
}

// Track wraps the apply's handler: it leases the batch before handing it on and
// closes the lease after. A progress write that fails is logged and the batch applied
// anyway: the gate then sees less, but no change waits for the mark table.
func (p *Progress) Track(next func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		id := requestID(ctx)
		l := p.lease(ctx, ev)
		if err := p.update(ctx, func(m map[string]Lease) { m[id] = l }); err != nil {
			p.logger().Warn("apply progress not recorded", "error", err)
		}
		resp, err := next(ctx, ev)
		// The end is recorded even when ctx is done, so that a batch cut short does
		// not hold the gate until its deadline.
		end := context.WithoutCancel(ctx)
		if werr := p.update(end, func(m map[string]Lease) {
			l.End = max(p.now().UnixMilli(), l.Start)
			if l.Count == 0 || l.End-l.Newest < p.minBehind().Milliseconds() {
				delete(m, id)
				return
			}
			m[id] = l
		}); werr != nil {
			p.logger().Warn("apply progress end not recorded", "error", werr)
		}
		return resp, err
	}
}

// lease describes a batch: its changes from the other Region, by capture time.
func (p *Progress) lease(ctx context.Context, ev events.DynamoDBEvent) Lease {
	now := p.now()
	deadline := now.Add(DefaultLeaseTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	l := Lease{Start: now.UnixMilli(), Deadline: deadline.UnixMilli()}
	for _, rec := range ev.Records {
		img := rec.Change.NewImage
		if img == nil {
			img = rec.Change.OldImage
		}
		if o, ok := img[spec.StateAttrOrigin]; !ok || o.DataType() != events.DataTypeString || o.String() == p.Region {
			continue
		}
		// When the change was made in the other Region (the capture's read time where
		// the event did not say): a change captured late there is as old as it is.
		c, ok := img[spec.StateAttrChangedAt]
		if !ok || c.DataType() != events.DataTypeNumber {
			c, ok = img[spec.StateAttrCapturedAt]
		}
		if !ok || c.DataType() != events.DataTypeNumber {
			continue
		}
		at, err := strconv.ParseInt(c.Number(), 10, 64)
		if err != nil {
			continue
		}
		l.Count++
		if l.Oldest == 0 || at < l.Oldest {
			l.Oldest = at
		}
		l.Newest = max(l.Newest, at)
	}
	return l
}

// maxSwapAttempts bounds the compare-and-swap retries of one progress write; the
// writers are the Region's concurrent apply invocations, one per stream shard.
const maxSwapAttempts = 20

// update applies change to the leases (pruning expired and old ones) and writes
// them back, compare-and-swap on the item's version.
func (p *Progress) update(ctx context.Context, change func(map[string]Lease)) error {
	var err error
	for attempt := range maxSwapAttempts {
		var leases map[string]Lease
		var version int64
		var exists bool
		leases, version, exists, err = p.read(ctx)
		if err != nil {
			return err
		}
		now := p.now().UnixMilli()
		for id, l := range leases {
			if (l.End == 0 && l.Deadline < now) || (l.End != 0 && l.End < now-endedRetention.Milliseconds()) {
				delete(leases, id)
			}
		}
		change(leases)
		pruneEnded(leases)
		body, merr := json.Marshal(leases)
		if merr != nil {
			return fmt.Errorf("applymark: encode progress: %w", merr)
		}
		in := &dynamodb.PutItemInput{TableName: aws.String(p.Name), Item: map[string]types.AttributeValue{
			spec.MarkAttrKey:    &types.AttributeValueMemberS{Value: ProgressKey},
			progressAttrLeases:  &types.AttributeValueMemberS{Value: string(body)},
			progressAttrVersion: &types.AttributeValueMemberN{Value: strconv.FormatInt(version+1, 10)},
		}}
		if exists {
			in.ConditionExpression = aws.String("#v = :v")
			in.ExpressionAttributeNames = map[string]string{"#v": progressAttrVersion}
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)}}
		} else {
			in.ConditionExpression = aws.String("attribute_not_exists(#k)")
			in.ExpressionAttributeNames = map[string]string{"#k": spec.MarkAttrKey}
		}
		_, err = p.Table.PutItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			if err != nil {
				return fmt.Errorf("applymark: write progress: %w", err)
			}
			return nil
		}
		// Another invocation wrote in between: read again, after a short pause that
		// grows, so that the writers of a busy Region spread out.
		t := time.NewTimer(time.Duration(attempt+1) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return fmt.Errorf("applymark: write progress: %d concurrent writes in a row: %w", maxSwapAttempts, err)
}

// pruneEnded keeps the maxEnded most recently closed leases.
func pruneEnded(leases map[string]Lease) {
	var ended []string
	for id, l := range leases {
		if l.End != 0 {
			ended = append(ended, id)
		}
	}
	if len(ended) <= maxEnded {
		return
	}
	slices.SortFunc(ended, func(a, b string) int { return cmp.Compare(leases[b].End, leases[a].End) })
	for _, id := range ended[maxEnded:] {
		delete(leases, id)
	}
}

func (p *Progress) minBehind() time.Duration {
	switch {
	case p.MinBehind < 0:
		return 0
	case p.MinBehind == 0:
		return DefaultMinBehind
	}
	return p.MinBehind
}

// Leases returns the apply's current leases (strongly consistent).
func (p *Progress) Leases(ctx context.Context) (map[string]Lease, error) {
	l, _, _, err := p.read(ctx)
	return l, err
}

func (p *Progress) read(ctx context.Context) (leases map[string]Lease, version int64, exists bool, err error) {
	out, err := p.Table.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.Name), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{spec.MarkAttrKey: &types.AttributeValueMemberS{Value: ProgressKey}}})
	if err != nil {
		return nil, 0, false, fmt.Errorf("applymark: read progress: %w", err)
	}
	leases = map[string]Lease{}
	if out.Item == nil {
		return leases, 0, false, nil
	}
	body, ok1 := out.Item[progressAttrLeases].(*types.AttributeValueMemberS)
	v, ok2 := out.Item[progressAttrVersion].(*types.AttributeValueMemberN)
	if !ok1 || !ok2 {
		return nil, 0, false, fmt.Errorf("applymark: progress item lacks the string %s or the number %s", progressAttrLeases, progressAttrVersion)
	}
	if version, err = strconv.ParseInt(v.Value, 10, 64); err != nil {
		return nil, 0, false, fmt.Errorf("applymark: progress version %q: %w", v.Value, err)
	}
	if err := json.Unmarshal([]byte(body.Value), &leases); err != nil {
		return nil, 0, false, fmt.Errorf("applymark: progress leases: %w", err)
	}
	return leases, version, true, nil
}

// Backlog is what a Region's apply is behind by, as its leases tell.
type Backlog struct {
	// Behind is whether the apply holds, or has just finished, a change captured in the
	// other Region more than MaxAge ago.
	Behind bool
	// Changes counts the changes from the other Region in the batches being applied:
	// a lower bound of the backlog (what the stream has not delivered yet is not seen).
	Changes int
	// OldestAge is the age of the oldest change being applied (or, between batches,
	// of the newest change of the batch that just ended behind); 0 when none.
	OldestAge time.Duration
	// Batches is how many invocations are running.
	Batches int
}

// BacklogOf reads the leases at now: a running lease whose oldest change is older
// than maxAge is behind, and so is a lease that ended within linger with a newest
// change older than maxAge at its end (its shard's next batch is likely as old, and
// not yet handed to the apply).
func BacklogOf(leases map[string]Lease, now time.Time, maxAge, linger time.Duration) Backlog {
	var b Backlog
	ms := now.UnixMilli()
	for _, l := range leases {
		switch {
		case l.End == 0 && l.Deadline >= ms:
			b.Batches++
			b.Changes += l.Count
			if l.Count > 0 {
				age := time.Duration(ms-l.Oldest) * time.Millisecond
				b.OldestAge = max(b.OldestAge, age)
				if age > maxAge {
					b.Behind = true
				}
			}
		case l.End != 0 && l.Count > 0 && ms-l.End <= linger.Milliseconds():
			if age := time.Duration(l.End-l.Newest) * time.Millisecond; age > maxAge {
				b.Behind = true
				b.OldestAge = max(b.OldestAge, time.Duration(ms-l.Newest)*time.Millisecond)
			}
		}
	}
	return b
}

var localIDs atomic.Int64

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	// Without a Lambda context (tests), a unique id still keeps concurrent leases apart.
	return fmt.Sprintf("local-%d", localIDs.Add(1))
}

func (p *Progress) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Progress) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// ApplyPending reports whether the Region's apply holds a batch with changes from the
// other Region now (a running lease): capture.ApplyProgress for the deployed capture,
// which defers a write over the other Region's item while it does. What the stream
// has not delivered yet is not seen here (see Backlog); the simulator also counts it.
func (p *Progress) ApplyPending(ctx context.Context) (bool, error) {
	leases, err := p.Leases(ctx)
	if err != nil {
		return false, err
	}
	ms := p.now().UnixMilli()
	for _, l := range leases {
		if l.End == 0 && l.Deadline >= ms && l.Count > 0 {
			return true, nil
		}
	}
	return false, nil
}
