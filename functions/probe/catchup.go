package probe

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// MarkTable is the part of *dynamodb.Client the catch-up gate uses, on the Region's
// own apply-mark table: the apply's progress item, and the probe's own record of its
// answers.
type MarkTable interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Defaults of the gate's settings, in AWS time.
const (
	// DefaultCatchUpMaxAge is how old a change from the other Region may be when the
	// apply holds it and the Region still counts as caught up: a few seconds above
	// the global table's usual replication latency plus one batch.
	DefaultCatchUpMaxAge = 5 * time.Second
	// DefaultCatchUpLinger covers the gap between two batches of one shard: Lambda
	// polls a DynamoDB stream's shards four times a second.
	DefaultCatchUpLinger = time.Second
)

// Keys of the probe's answer records in the mark table.
const (
	answerHealthyKey   = "probe-answer#healthy"
	answerUnhealthyKey = "probe-answer#unhealthy"
	answerAttrAt       = "at"
	answerAttrSince    = "since"
)

// Gate is the failback catch-up gate: a Region that is not serving the fleet answers
// unhealthy ("catching up") while its apply is behind the other Region (see
// applymark.Progress for what the apply's leases tell and what they cannot), so that
// Route 53 does not send the fleet back to a Region that lacks what the fleet did
// elsewhere. A Region that is serving is never gated: its backlog must not push the
// fleet away (a replication pause resumed while the fleet is on the primary would
// otherwise fail it over).
//
// Serving is read from the probe's own answers, which the gate records in the mark
// table: the Region serves when its probe has answered healthy, and nothing else, for
// the last Hold (the health checks' failure threshold times their interval: by then
// every checker that saw those answers reports it healthy). Reads and writes go to
// the Region's own table only; none crosses Regions.
type Gate struct {
	// Table is the Region's apply-mark table, Name its name.
	Table MarkTable
	Name  string
	// Region is the probe's (and the apply's) Region.
	Region string
	// MaxAge, Linger: see DefaultCatchUpMaxAge, DefaultCatchUpLinger (zero: those).
	MaxAge, Linger time.Duration
	// Hold is the health checks' failure threshold times their request interval.
	Hold time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verdict is the gate's reading at one probe request.
type Verdict struct {
	// CatchingUp is whether the probe must answer unhealthy.
	CatchingUp bool
	// Serving is whether the Region's recent answers make it the one Route 53 sends
	// the fleet to (then it is never gated).
	Serving bool
	Backlog applymark.Backlog
}

// Check reads the apply's progress and the probe's recent answers.
func (g *Gate) Check(ctx context.Context) (Verdict, error) {
	now := g.now()
	leases, err := g.progress().Leases(ctx)
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Backlog: applymark.BacklogOf(leases, now, g.maxAge(), g.linger())}
	healthy, err := g.answer(ctx, answerHealthyKey)
	if err != nil {
		return v, err
	}
	unhealthy, err := g.answer(ctx, answerUnhealthyKey)
	if err != nil {
		return v, err
	}
	hold := g.Hold.Milliseconds()
	ms := now.UnixMilli()
	v.Serving = healthy.at >= ms-hold && healthy.since <= ms-hold && unhealthy.at < healthy.since
	v.CatchingUp = v.Backlog.Behind && !v.Serving
	return v, nil
}

// Answered records the probe's answer, for Serving. A healthy answer is written when
// the recorded one is older than a quarter of Hold (or starts a new run of healthy
// answers), so Route 53's checkers cost a few writes per Hold, not one per request.
func (g *Gate) Answered(ctx context.Context, healthy bool) error {
	now := g.now().UnixMilli()
	if !healthy {
		return g.putAnswer(ctx, answerUnhealthyKey, answerRecord{at: now})
	}
	h, err := g.answer(ctx, answerHealthyKey)
	if err != nil {
		return err
	}
	u, err := g.answer(ctx, answerUnhealthyKey)
	if err != nil {
		return err
	}
	switch {
	case h.at < now-g.Hold.Milliseconds() || u.at >= h.since: // a new run
		return g.putAnswer(ctx, answerHealthyKey, answerRecord{at: now, since: max(now, u.at+1)})
	case h.at < now-g.Hold.Milliseconds()/4:
		return g.putAnswer(ctx, answerHealthyKey, answerRecord{at: now, since: h.since})
	}
	return nil
}

type answerRecord struct{ at, since int64 }

func (g *Gate) answer(ctx context.Context, key string) (answerRecord, error) {
	out, err := g.Table.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(g.Name), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{spec.MarkAttrKey: &types.AttributeValueMemberS{Value: key}}})
	if err != nil {
		return answerRecord{}, fmt.Errorf("probe: read %s: %w", key, err)
	}
	num := func(name string) int64 {
		if v, ok := out.Item[name].(*types.AttributeValueMemberN); ok {
			n, _ := strconv.ParseInt(v.Value, 10, 64)
			return n
		}
		return 0
	}
	return answerRecord{at: num(answerAttrAt), since: num(answerAttrSince)}, nil
}

func (g *Gate) putAnswer(ctx context.Context, key string, r answerRecord) error {
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	_, err := g.Table.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(g.Name), Item: map[string]types.AttributeValue{
		spec.MarkAttrKey: &types.AttributeValueMemberS{Value: key}, answerAttrAt: n(r.at), answerAttrSince: n(r.since),
	}})
	if err != nil {
		return fmt.Errorf("probe: record %s: %w", key, err)
	}
	return nil
}

func (g *Gate) progress() *applymark.Progress {
	return &applymark.Progress{Table: g.Table, Name: g.Name, Region: g.Region, Now: g.Now}
}

func (g *Gate) maxAge() time.Duration {
	if g.MaxAge > 0 {
		return g.MaxAge
	}
	return DefaultCatchUpMaxAge
}

func (g *Gate) linger() time.Duration {
	if g.Linger > 0 {
		return g.Linger
	}
	return DefaultCatchUpLinger
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}
