// Package applymark records, in a Region's own (not replicated) mark table, when that
// Region's apply function changed a registry resource, so that the capture there can
// tell the registry events the apply caused from changes made in the Region: AWS's
// registry events carry no caller identity, and an apply of a new device is several
// calls (create the thing, register and attach its certificate, attach policies), so a
// capture of the apply's own CREATED event would read the device half-done and send
// that partial state back over the other Region's complete item.
//
// The apply adds a span to the resource's mark before it converges it (Begin, end
// open) and closes it when it is done (End). A registry event about the resource
// whose timestamp is within one of the spans is the apply's own: the capture skips
// it. An event after them is a change made in the Region. A change made in the Region
// during the few milliseconds an apply of the same resource runs is skipped with the
// apply's events; the sweep, which compares the Region with the table, captures it.
//
// A mark also remembers the newest state item the apply converged the resource to
// (Applied): the capture's guard (Guard) reads it to tell a resource the apply has not
// reached yet from one it has.
//
// Spans are pruned after Retention (events arrive within seconds); a mark item expires
// through the table's TTL after AppliedRetention, longer than a stream keeps records.
package applymark

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Retention is how long a span is kept.
const Retention = time.Hour

// AppliedRetention is how long a mark item (and so its Applied) outlives its last
// write: DynamoDB Streams keeps records 24 hours, so a state item whose mark has
// expired either was applied or its stream record is gone (see Guard).
const AppliedRetention = 25 * time.Hour

// MaxSpans bounds the applies a mark remembers.
const MaxSpans = 16

// Table is the part of *dynamodb.Client marks are read and written with.
type Table interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Marks reads and writes one Region's mark table.
type Marks struct {
	Table Table
	Name  string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Span is one apply of a resource: Start and End in epoch ms, End 0 while it runs.
type Span struct {
	Start int64 `json:"s"`
	End   int64 `json:"e"`
}

// Mark is a resource's recent applies, oldest first: an event of an earlier apply may
// arrive after a later one began.
type Mark struct {
	Spans []Span
	// Applied is the Seq of the newest state item an apply converged the resource to
	// (0: none recorded).
	Applied int64
	// AppliedAt is when (epoch ms) an apply last finished with the resource, whatever
	// its outcome (0: none recorded).
	AppliedAt int64
}

// Covers reports whether a change at epoch ms at happened during one of the applies.
func (m Mark) Covers(at int64) bool {
	for _, sp := range m.Spans {
		if at >= sp.Start && (sp.End == 0 || at <= sp.End) {
			return true
		}
	}
	return false
}

func (m *Marks) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Begin adds a running apply of key, from now, and returns its span. Applies of one
// key are serial (one stream shard, one batch at a time), so the read-modify-write
// needs no condition.
func (m *Marks) Begin(ctx context.Context, key string) (Span, error) {
	mk, _, err := m.Get(ctx, key)
	if err != nil {
		return Span{}, err
	}
	now := m.now()
	sp := Span{Start: now.UnixMilli()}
	var keep []Span
	for _, old := range mk.Spans {
		if limit := max(spec.ApplyTimeout, spec.RedriveTimeout); old.End == 0 && old.Start < now.Add(-limit).UnixMilli() {
			// Still running past the applying functions' timeouts: the apply crashed or
			// timed out, and made its changes before then. Left open it would cover
			// every later change to the resource, which the capture would then skip as
			// the apply's own.
			old.End = old.Start + limit.Milliseconds()
		}
		if old.End == 0 || old.End >= now.Add(-Retention).UnixMilli() {
			keep = append(keep, old)
		}
	}
	keep = append(keep, sp)
	if len(keep) > MaxSpans {
		keep = keep[len(keep)-MaxSpans:]
	}
	mk.Spans = keep
	return sp, m.put(ctx, key, mk)
}

// End closes the span Begin returned.
func (m *Marks) End(ctx context.Context, key string, sp Span) error {
	return m.EndApplied(ctx, key, sp, 0)
}

// EndApplied closes the span Begin returned and records that the apply converged the
// resource to the state item with Seq seq (0: it did not, for example it failed).
func (m *Marks) EndApplied(ctx context.Context, key string, sp Span, seq int64) error {
	mk, _, err := m.Get(ctx, key)
	if err != nil {
		return err
	}
	mk.Applied = max(mk.Applied, seq)
	end := m.now().UnixMilli()
	mk.AppliedAt = end
	found := false
	for i := range mk.Spans {
		if mk.Spans[i].Start == sp.Start && mk.Spans[i].End == 0 {
			mk.Spans[i].End, found = end, true
		}
	}
	if !found { // pruned meanwhile: keep the apply's span anyway
		mk.Spans = append(mk.Spans, Span{Start: sp.Start, End: end})
	}
	return m.put(ctx, key, mk)
}

// SetApplied records that the apply converged the resource to the state item with Seq
// seq, now, for a kind whose applies have no span (Marked is false). It writes even
// when seq is not newer: the apply may have changed the resource again.
func (m *Marks) SetApplied(ctx context.Context, key string, seq int64) error {
	mk, _, err := m.Get(ctx, key)
	if err != nil {
		return err
	}
	mk.Applied = max(mk.Applied, seq)
	mk.AppliedAt = m.now().UnixMilli()
	return m.put(ctx, key, mk)
}

func (m *Marks) put(ctx context.Context, key string, mk Mark) error {
	spans, err := json.Marshal(mk.Spans)
	if err != nil {
		return fmt.Errorf("applymark: encode mark %s: %w", key, err)
	}
	item := map[string]types.AttributeValue{
		spec.MarkAttrKey:     &types.AttributeValueMemberS{Value: key},
		spec.MarkAttrSpans:   &types.AttributeValueMemberS{Value: string(spans)},
		spec.MarkAttrExpires: &types.AttributeValueMemberN{Value: strconv.FormatInt(m.now().Add(AppliedRetention).Unix(), 10)},
	}
	if mk.Applied > 0 {
		item[spec.MarkAttrApplied] = &types.AttributeValueMemberN{Value: strconv.FormatInt(mk.Applied, 10)}
	}
	if mk.AppliedAt > 0 {
		item[spec.MarkAttrAppliedAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(mk.AppliedAt, 10)}
	}
	_, err = m.Table.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(m.Name), Item: item})
	if err != nil {
		return fmt.Errorf("applymark: mark %s: %w", key, err)
	}
	return nil
}

// Get returns key's mark and whether there is one (strongly consistent).
func (m *Marks) Get(ctx context.Context, key string) (Mark, bool, error) {
	out, err := m.Table.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(m.Name), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{spec.MarkAttrKey: &types.AttributeValueMemberS{Value: key}}})
	if err != nil {
		return Mark{}, false, fmt.Errorf("applymark: read mark %s: %w", key, err)
	}
	if out.Item == nil {
		return Mark{}, false, nil
	}
	v, ok := out.Item[spec.MarkAttrSpans].(*types.AttributeValueMemberS)
	if !ok {
		return Mark{}, false, fmt.Errorf("applymark: mark %s lacks the string %s", key, spec.MarkAttrSpans)
	}
	var mk Mark
	if err := json.Unmarshal([]byte(v.Value), &mk.Spans); err != nil {
		return Mark{}, false, fmt.Errorf("applymark: mark %s: %s is not a list of spans: %w", key, spec.MarkAttrSpans, err)
	}
	if a, ok := out.Item[spec.MarkAttrApplied].(*types.AttributeValueMemberN); ok {
		if mk.Applied, err = strconv.ParseInt(a.Value, 10, 64); err != nil {
			return Mark{}, false, fmt.Errorf("applymark: mark %s: %s %q is not an integer", key, spec.MarkAttrApplied, a.Value)
		}
	}
	if a, ok := out.Item[spec.MarkAttrAppliedAt].(*types.AttributeValueMemberN); ok {
		if mk.AppliedAt, err = strconv.ParseInt(a.Value, 10, 64); err != nil {
			return Mark{}, false, fmt.Errorf("applymark: mark %s: %s %q is not an integer", key, spec.MarkAttrAppliedAt, a.Value)
		}
	}
	return mk, true, nil
}

// Covered reports whether a change at epoch ms at happened during an apply of any of
// keys (a thing event: the thing, its principals or its groups).
func (m *Marks) Covered(ctx context.Context, at int64, keys ...string) (bool, error) {
	for _, k := range keys {
		mk, ok, err := m.Get(ctx, k)
		if err != nil {
			return false, err
		}
		if ok && mk.Covers(at) {
			return true, nil
		}
	}
	return false, nil
}

// Marked reports whether applies of kind are marked: those whose changes raise
// registry events (certificates, policies and shadows raise none, or carry the
// apply's client token).
func Marked(kind string) bool {
	switch kind {
	case spec.KindThing, spec.KindThingPrincipals, spec.KindThingGroups, spec.KindThingType, spec.KindThingGroup:
		return true
	}
	return false
}

// Tracked reports whether the apply records Applied for kind: every kind whose
// capture reads the registry, which an apply may change in several calls (so a
// capture may read it half done) and which carries no change time to order a stale
// read by. Shadows and retained messages do carry one; every other kind, a registry
// kind added later included, is tracked.
func Tracked(kind string) bool {
	switch kind {
	case spec.KindShadow, spec.KindNamedShadow, spec.KindRetained:
		return false
	}
	return true
}

// ThingKeys are the marks a thing's registry event checks: a thing's apply converges
// its attributes, principals and groups, each its own item.
func ThingKeys(thing string) []string {
	return append([]string{spec.StateKey(spec.KindThing, thing)}, ThingSubsumed(thing)...)
}

// ThingSubsumed are the keys of the items a thing's converge covers besides its own:
// its principals and its groups.
func ThingSubsumed(thing string) []string {
	return []string{spec.StateKey(spec.KindThingPrincipals, thing), spec.StateKey(spec.KindThingGroups, thing)}
}
