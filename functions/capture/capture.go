// Package capture runs in the Region where a change happens and writes the state table:
// it turns registry events and shadow messages into items holding the changed
// resource's full current content, read from the event where the event carries it
// (shadow documents) and from its own Region's API where it does not (things, whose
// events are unordered and may repeat; certificates, policies and attachments, which
// raise no events at all).
//
// It writes only what differs from the table (state.Store.Put), so a duplicate or late
// event costs a read and no replicated write, and a capture can never replace a later
// capture of the same resource. It never calls another Region. The re-check after a
// new thing and the paged sweep (sweep.go) catch what no event announced.
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/fleetquery"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// Capturer builds state items from its own Region's registry and shadows.
type Capturer struct {
	// IoT is this Region's control plane (*iot.Client).
	IoT replication.Source
	// Shadows is this Region's data plane, for the sweep (*iotdataplane.Client).
	Shadows replication.SourceShadows
	// Retained is this Region's data plane for retained messages (the sweep's); nil
	// leaves them out.
	Retained RetainedMessages
	// Held is what this Region's apply converged retained messages to
	// (*applymark.Held); nil: a retained message another Region's item names is
	// never taken for deleted here.
	Held HeldCopies
	// Provisioning is this Region's control plane for role aliases, provisioning
	// templates and CA certificates (the sweep's); nil leaves them out.
	Provisioning replication.ProvisioningReader
	// Billing is this Region's control plane for billing groups; nil leaves them out.
	Billing BillingGroupReader
	// Tags is this Region's control plane for tags; nil leaves them out.
	Tags TagReader
	// Indexing is this Region's fleet-indexing configuration, read for the custom
	// fields a dynamic group's query names; nil records none.
	Indexing replication.IndexingReader
	Store    *state.Store
	// Region is this Region; it is written as every item's origin.
	Region string
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Applying is this Region's apply progress; nil when the Region applies nothing.
	Applying ApplyProgress
	// ApplyWait bounds how long a capture waits for this Region's apply to finish
	// before it defers (default 2 s): an apply usually finishes within milliseconds,
	// and a capture that waits leaves no error-table record behind.
	ApplyWait time.Duration
}

// ApplyProgress tells whether this Region's apply function has still to converge the
// resource to cur, another Region's item (applymark.Guard). While it has, what capture
// reads may be an apply half done (a thing created, its certificate not yet attached)
// or the Region's state from before the item arrived, so capture does not write it
// over the other Region's item (ErrApplyPending): loop-freedom.
//
// It also says when the apply last finished with the resource: a capture that read
// before then read what may be the apply half done (its read began before the apply
// ended, its write comes after), so it reads again. That compares two clocks of one
// Region (the apply's and the capture's Lambdas), which AWS keeps in step to well
// under a millisecond (Amazon Time Sync); the simulator has one.
type ApplyProgress interface {
	ApplyPending(ctx context.Context, cur state.Item) (pending bool, appliedAt time.Time, err error)
}

// ErrApplyPending is the deferral of a capture whose content differs from another
// Region's item while this Region's apply is still converging: the capture is retried
// (and, when its retries run out, re-driven from the error table), by which time it
// reads either the applied item (nothing to write) or a change made here since.
var ErrApplyPending = errors.New("capture: this Region is still applying the other Region's item; deferred")

// again runs a capture again when it waited for an apply (errApplied): what it read
// before may have been the apply half done.
func again[T any](f func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := f()
		if i < 3 && errors.Is(err, errApplied) {
			continue
		}
		return v, err
	}
}

// errApplied tells the writer that the guard waited for an apply, so what it read may
// be older than the apply: it must read the resource again.
var errApplied = errors.New("capture: the apply finished while the capture waited; read again")

// guard defers a write over another Region's item while this Region applies, and
// sends a capture that read at readAt, before the apply last finished with the
// resource, back to read again (errApplied).
func (c *Capturer) guard(ctx context.Context, readAt time.Time) func(cur state.Item) error {
	if c.Applying == nil {
		return nil
	}
	return func(cur state.Item) error {
		wait := c.ApplyWait
		if wait <= 0 {
			wait = 2 * time.Second
		}
		deadline := time.Now().Add(wait)
		for waited := false; ; waited = true {
			pending, appliedAt, err := c.Applying.ApplyPending(ctx, cur)
			if err != nil {
				return fmt.Errorf("capture: apply progress: %w", err)
			}
			// Milliseconds on both sides: an apply that ended in the millisecond the
			// read began counts as after it.
			if !pending && (waited || appliedAt.UnixMilli() >= readAt.UnixMilli()) {
				return errApplied
			}
			if !pending {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%w (stored item %q from %q)", ErrApplyPending, cur.Key(), cur.Origin)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// Result counts what one capture did.
type Result struct {
	// Written counts items written; Unchanged and Stale those not written.
	Written, Unchanged, Stale int
	// Principals is how many certificates the captured thing has (Thing and
	// Attachments only); Unprotected how many of them have no policy attached.
	Principals, Unprotected int
	// Gone is set when the thing no longer exists (Attachments only).
	Gone bool
}

// Complete reports whether the captured thing looks fully provisioned: a certificate,
// and a policy on each of its certificates.
func (r Result) Complete() bool { return r.Principals > 0 && r.Unprotected == 0 }

func (r *Result) add(o state.Outcome) {
	switch o {
	case state.Written:
		r.Written++
	case state.Unchanged:
		r.Unchanged++
	case state.Stale:
		r.Stale++
	}
}

func (r *Result) merge(o Result) {
	r.Written += o.Written
	r.Unchanged += o.Unchanged
	r.Stale += o.Stale
	r.Unprotected += o.Unprotected
}

func (c *Capturer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// stamp fills an item's origin and times; seq is the read time in microseconds,
// taken before the read so that a later read always has a larger seq.
func (c *Capturer) stamp(it state.Item, readAt time.Time, changedAt time.Time) state.Item {
	it.Origin = c.Region
	if it.Seq == 0 {
		it.Seq = readAt.UnixMicro()
	}
	it.CapturedAt = c.now().UnixMilli()
	it.ChangedAt = it.CapturedAt
	if !changedAt.IsZero() && changedAt.UnixMilli() < it.ChangedAt {
		it.ChangedAt = changedAt.UnixMilli()
	}
	if it.Deleted {
		it.Expires = c.now().Add(spec.TombstoneRetention).Unix()
	}
	return it
}

func (c *Capturer) put(ctx context.Context, res *Result, it state.Item, readAt, changedAt time.Time) error {
	o, err := c.Store.PutGuarded(ctx, c.stamp(it, readAt, changedAt), c.guard(ctx, readAt))
	if err != nil {
		return err
	}
	res.add(o)
	return nil
}

// putBody builds a live item and stores it.
func (c *Capturer) putBody(ctx context.Context, res *Result, kind, name string, body any, readAt, changedAt time.Time) error {
	it, err := state.NewItem(kind, name, body)
	if err != nil {
		return err
	}
	return c.put(ctx, res, it, readAt, changedAt)
}

// Thing captures a thing with its principals (and their certificates and policies)
// and its group memberships; a thing gone from the Region becomes tombstones.
func (c *Capturer) Thing(ctx context.Context, name string, changedAt time.Time) (Result, error) {
	var res Result
	readAt := c.now()
	d, err := c.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	if replication.IsNotFound(err) {
		return res, c.thingGone(ctx, &res, name, readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe thing %s: %w", name, err)
	}
	body := state.Thing{ThingTypeName: aws.ToString(d.ThingTypeName), Attributes: d.Attributes, BillingGroup: aws.ToString(d.BillingGroupName)}
	if err := c.thingBillingGroup(ctx, &res, body.BillingGroup, changedAt); err != nil {
		return res, err
	}
	if err := c.putBody(ctx, &res, spec.KindThing, name, body, readAt, changedAt); err != nil {
		return res, err
	}
	n, err := c.principals(ctx, &res, name, changedAt)
	res.Principals = n
	if err != nil {
		return res, err
	}
	g, err := c.Memberships(ctx, name, changedAt)
	res.merge(g)
	return res, err
}

// Attachments captures only what raises no registry event: the thing's certificates
// and their policies. The re-check passes use it.
func (c *Capturer) Attachments(ctx context.Context, thing string) (Result, error) {
	var res Result
	n, err := c.principals(ctx, &res, thing, time.Time{})
	res.Principals = n
	return res, err
}

// thingGone writes the thing's tombstones and re-captures the certificates it had, so
// their lists of things follow.
func (c *Capturer) thingGone(ctx context.Context, res *Result, name string, readAt, changedAt time.Time) error {
	old, err := c.recordedPrincipals(ctx, name)
	if err != nil {
		return err
	}
	for _, kind := range []string{spec.KindThing, spec.KindThingPrincipals, spec.KindThingGroups} {
		if err := c.put(ctx, res, state.Tombstone(kind, name), readAt, changedAt); err != nil {
			return err
		}
	}
	for _, p := range old {
		if id := replication.CertificateID(p); id != "" {
			r, err := c.Certificate(ctx, id, changedAt)
			res.merge(r)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Capturer) recordedPrincipals(ctx context.Context, thing string) ([]string, error) {
	it, ok, err := c.Store.Get(ctx, spec.KindThingPrincipals, thing)
	if err != nil || !ok || it.Deleted {
		return nil, err
	}
	var p state.Principals
	if err := it.Decode(&p); err != nil {
		return nil, err
	}
	return p.Principals, nil
}

// principals captures the thing's certificate list and every certificate that is on
// it or just left it.
func (c *Capturer) principals(ctx context.Context, res *Result, thing string, changedAt time.Time) (int, error) {
	readAt := c.now()
	ps, err := replication.ListThingPrincipals(ctx, c.IoT, thing)
	if replication.IsNotFound(err) {
		res.Gone = true // deleted meanwhile: its own event captures that
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("capture: principals of thing %s: %w", thing, err)
	}
	old, err := c.recordedPrincipals(ctx, thing)
	if err != nil {
		return 0, err
	}
	certs := 0
	seen := map[string]bool{}
	for i, p := range append(ps, old...) {
		id := replication.CertificateID(p)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		r, err := c.Certificate(ctx, id, changedAt)
		if i >= len(ps) {
			r.Unprotected = 0 // no longer the thing's: its policies do not matter here
		}
		res.merge(r)
		if err != nil {
			return certs, err
		}
	}
	// The list goes last, after the certificates it names: an applier that reads it
	// then finds them (it copes with any order, but this one costs no second pass).
	if err := c.putBody(ctx, res, spec.KindThingPrincipals, thing, state.Principals{Principals: ps}, readAt, changedAt); err != nil {
		return 0, err
	}
	for _, p := range ps {
		if replication.CertificateID(p) != "" {
			certs++
		}
	}
	return certs, nil
}

// Certificate captures a certificate with its status, policies and things, and the
// policies attached to it; a certificate gone from the Region becomes a tombstone.
func (c *Capturer) Certificate(ctx context.Context, id string, changedAt time.Time) (Result, error) {
	var res Result
	readAt := c.now()
	d, err := c.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if replication.IsNotFound(err) {
		return res, c.put(ctx, &res, state.Tombstone(spec.KindCertificate, id), readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe certificate %s: %w", id, err)
	}
	if d.CertificateDescription == nil {
		return res, fmt.Errorf("capture: describe certificate %s: empty description", id)
	}
	arn := aws.ToString(d.CertificateDescription.CertificateArn)
	policies, err := replication.ListAttachedPolicies(ctx, c.IoT, arn)
	if replication.IsNotFound(err) { // deleted since it was described
		return res, c.put(ctx, &res, state.Tombstone(spec.KindCertificate, id), readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: policies of certificate %s: %w", id, err)
	}
	things, err := replication.ListPrincipalThings(ctx, c.IoT, arn)
	if replication.IsNotFound(err) {
		return res, c.put(ctx, &res, state.Tombstone(spec.KindCertificate, id), readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: things of certificate %s: %w", id, err)
	}
	body := state.Certificate{
		ARN: arn, PEM: aws.ToString(d.CertificateDescription.CertificatePem),
		Status: string(d.CertificateDescription.Status), Policies: policies, Things: things,
	}
	if len(policies) == 0 {
		res.Unprotected++
	}
	for _, p := range policies {
		r, err := c.Policy(ctx, p, changedAt)
		res.merge(r)
		if err != nil {
			return res, err
		}
	}
	return res, c.putBody(ctx, &res, spec.KindCertificate, id, body, readAt, changedAt)
}

// Policy captures a policy's default document.
func (c *Capturer) Policy(ctx context.Context, name string, changedAt time.Time) (Result, error) {
	var res Result
	readAt := c.now()
	p, err := c.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if replication.IsNotFound(err) {
		return res, c.put(ctx, &res, state.Tombstone(spec.KindPolicy, name), readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: get policy %s: %w", name, err)
	}
	body := state.Policy{ARN: aws.ToString(p.PolicyArn), Document: replication.CompactPolicyDocument(aws.ToString(p.PolicyDocument))}
	return res, c.putBody(ctx, &res, spec.KindPolicy, name, body, readAt, changedAt)
}

// ThingType captures a thing type.
func (c *Capturer) ThingType(ctx context.Context, name string, changedAt time.Time) (Result, error) {
	var res Result
	readAt := c.now()
	d, err := c.IoT.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
	if replication.IsNotFound(err) {
		if err := c.tagsGone(ctx, &res, spec.KindThingType, name, changedAt); err != nil {
			return res, err
		}
		return res, c.put(ctx, &res, state.Tombstone(spec.KindThingType, name), readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe thing type %s: %w", name, err)
	}
	var body state.ThingType
	if p := d.ThingTypeProperties; p != nil {
		body.Description = aws.ToString(p.ThingTypeDescription)
		body.SearchableAttributes = p.SearchableAttributes
		if p.Mqtt5Configuration != nil {
			for _, pa := range p.Mqtt5Configuration.PropagatingAttributes {
				body.PropagatingAttributes = append(body.PropagatingAttributes, state.PropagatingAttribute{
					UserPropertyKey: aws.ToString(pa.UserPropertyKey), ThingAttribute: aws.ToString(pa.ThingAttribute),
					ConnectionAttribute: aws.ToString(pa.ConnectionAttribute),
				})
			}
		}
	}
	body.Deprecated = d.ThingTypeMetadata != nil && d.ThingTypeMetadata.Deprecated
	if err := c.putBody(ctx, &res, spec.KindThingType, name, body, readAt, changedAt); err != nil {
		return res, err
	}
	return res, c.resourceTags(ctx, &res, spec.KindThingType, name, aws.ToString(d.ThingTypeArn), changedAt)
}

// ThingGroup captures a thing group; a dynamic group with its query and what the
// query needs of fleet indexing (fleetquery.Needs over this Region's configuration,
// one GetIndexingConfiguration when Indexing is set).
func (c *Capturer) ThingGroup(ctx context.Context, name string, changedAt time.Time) (Result, error) {
	var res Result
	readAt := c.now()
	d, err := c.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
	if replication.IsNotFound(err) {
		if err := c.tagsGone(ctx, &res, spec.KindThingGroup, name, changedAt); err != nil {
			return res, err
		}
		return res, c.put(ctx, &res, state.Tombstone(spec.KindThingGroup, name), readAt, changedAt)
	}
	if err != nil {
		return res, fmt.Errorf("capture: describe thing group %s: %w", name, err)
	}
	p := replication.ThingGroupProperties(d)
	body := state.ThingGroup{
		Parent: replication.ThingGroupParent(d), Description: aws.ToString(p.ThingGroupDescription),
		Attributes: replication.ThingGroupAttributes(p), Dynamic: d.QueryString != nil,
	}
	if q := aws.ToString(d.QueryString); q != "" {
		body.Query, body.QueryVersion, body.IndexName = q, aws.ToString(d.QueryVersion), aws.ToString(d.IndexName)
		var have *iottypes.ThingIndexingConfiguration
		if c.Indexing != nil {
			out, err := c.Indexing.GetIndexingConfiguration(ctx, &iot.GetIndexingConfigurationInput{})
			if err != nil {
				return res, fmt.Errorf("capture: indexing configuration for dynamic group %s: %w", name, err)
			}
			have = out.ThingIndexingConfiguration
		}
		body.Indexing = state.IndexingOf(fleetquery.Needs(q, have))
	}
	if err := c.putBody(ctx, &res, spec.KindThingGroup, name, body, readAt, changedAt); err != nil {
		return res, err
	}
	return res, c.resourceTags(ctx, &res, spec.KindThingGroup, name, aws.ToString(d.ThingGroupArn), changedAt)
}

// Memberships captures the static groups a thing is a direct member of.
func (c *Capturer) Memberships(ctx context.Context, thing string, changedAt time.Time) (Result, error) {
	var res Result
	readAt := c.now()
	gs, err := replication.ListThingGroupsForThing(ctx, c.IoT, thing)
	if replication.IsNotFound(err) {
		return res, nil // the thing is gone: its own capture writes the tombstones
	}
	if err != nil {
		return res, fmt.Errorf("capture: groups of thing %s: %w", thing, err)
	}
	return res, c.putBody(ctx, &res, spec.KindThingGroups, thing, state.Groups{Groups: gs}, readAt, changedAt)
}

// shadowOrder orders one Region's documents of a shadow by its version, which AWS
// keeps across deletes: a delete at version v comes after the update that made v.
func shadowOrder(version int64, deleted bool) int64 {
	if deleted {
		return 2*version + 1
	}
	return 2 * version
}

// Sections are a shadow's desired and reported state as a document carries them.
type Sections struct {
	Desired, Reported []byte
}

// ShadowUpdate captures a shadow from its update/documents message: the full current
// state is in the message, so no API call is made.
func (c *Capturer) ShadowUpdate(ctx context.Context, thing string, desired, reported []byte, version int64, changedAt time.Time) (Result, error) {
	return c.ShadowChange(ctx, thing, nil, Sections{Desired: desired, Reported: reported}, version, changedAt)
}

// ShadowChange captures an update/documents message with its previous document: a
// section the update did not change (previous equals current) is taken from the table
// item rather than from this Region, so a desired-only change here cannot replay this
// Region's stale reported over what devices report to another Region (per-section
// merge). A document is stale when this Region already captured the same or a later
// version (the item's version vector).
func (c *Capturer) ShadowChange(ctx context.Context, thing string, prev *Sections, cur Sections, version int64, changedAt time.Time) (Result, error) {
	return c.NamedShadowChange(ctx, thing, "", prev, cur, version, changedAt)
}

// shadowItem names a shadow's item: the classic one when shadow is "", else the
// named shadow's.
func shadowItem(thing, shadow string) (kind, name string) {
	if shadow == "" {
		return spec.KindShadow, thing
	}
	return spec.KindNamedShadow, spec.NamedShadowKey(thing, shadow)
}

// NamedShadowChange is ShadowChange for a named shadow (shadow "" is the classic one):
// the same version vector, per-section merge and compare-and-swap, on the named
// shadow's own item.
func (c *Capturer) NamedShadowChange(ctx context.Context, thing, shadow string, prev *Sections, cur Sections, version int64, changedAt time.Time) (Result, error) {
	kind, name := shadowItem(thing, shadow)
	return c.shadowPut(ctx, kind, name, shadowOrder(version, false), changedAt, func(stored state.Item, ok bool, by string) (state.Item, error) {
		body := state.Shadow{Desired: cur.Desired, Reported: cur.Reported, Version: version}
		var sb state.Shadow
		known := ok && !stored.Deleted && stored.Decode(&sb) == nil
		if prev != nil && known {
			if sameJSON(prev.Desired, cur.Desired) {
				body.Desired = sb.Desired
			}
			if sameJSON(prev.Reported, cur.Reported) {
				body.Reported = sb.Reported
			}
		}
		// A section keeps the stamp of the capture that last changed it.
		body.DesiredBy, body.ReportedBy = by, by
		if known && sameJSON(sb.Desired, body.Desired) {
			body.DesiredBy = sb.DesiredBy
		}
		if known && sameJSON(sb.Reported, body.Reported) {
			body.ReportedBy = sb.ReportedBy
		}
		it, err := state.NewItem(kind, name, body)
		if err != nil {
			return it, permanent(err)
		}
		return it, nil
	})
}

// ShadowDelete captures a shadow's delete.
func (c *Capturer) ShadowDelete(ctx context.Context, thing string, version int64, changedAt time.Time) (Result, error) {
	return c.NamedShadowDelete(ctx, thing, "", version, changedAt)
}

// NamedShadowDelete captures a named shadow's delete (shadow "" is the classic one).
func (c *Capturer) NamedShadowDelete(ctx context.Context, thing, shadow string, version int64, changedAt time.Time) (Result, error) {
	kind, name := shadowItem(thing, shadow)
	return c.shadowPut(ctx, kind, name, shadowOrder(version, true), changedAt, func(state.Item, bool, string) (state.Item, error) {
		return state.Tombstone(kind, name), nil
	})
}

// maxSwaps bounds the read-merge-write rounds of one shadow capture.
const maxSwaps = 5

// shadowPut writes the item build makes from the stored one, unless this Region's
// order in the stored version vector is already at or past order (a late or duplicate
// document) or the content is the same. The write is a compare-and-swap on the stored
// seq, so two documents captured at once cannot interleave their merges.
// build gets the item's future Ref, for the section stamps.
func (c *Capturer) shadowPut(ctx context.Context, kind, name string, order int64, changedAt time.Time, build func(stored state.Item, ok bool, by string) (state.Item, error)) (Result, error) {
	var res Result
	for range maxSwaps {
		readAt := c.now()
		stored, ok, err := c.Store.Get(ctx, kind, name)
		if err != nil {
			return res, err
		}
		if ok && stored.Versions[c.Region] >= order {
			res.add(state.Stale)
			return res, nil
		}
		seq := readAt.UnixMicro()
		if ok && seq <= stored.Seq {
			seq = stored.Seq + 1
		}
		it, err := build(stored, ok, state.Item{Origin: c.Region, Seq: seq}.Ref())
		if err != nil {
			return res, err
		}
		if ok && state.Equivalent(stored, it) {
			res.add(state.Unchanged)
			return res, nil
		}
		if ok && stored.Origin != c.Region {
			if g := c.guard(ctx, readAt); g != nil {
				if err := g(stored); errors.Is(err, errApplied) {
					continue // the document is this Region's own change; merge with the applied item
				} else if err != nil {
					return res, err
				}
			}
		}
		it.Seq = seq
		it = c.stamp(it, readAt, changedAt)
		it.Versions = map[string]int64{}
		for r, v := range stored.Versions {
			it.Versions[r] = v
		}
		it.Versions[c.Region] = order
		o, err := c.Store.Swap(ctx, stored, ok, it)
		if err != nil {
			return res, err
		}
		if o == state.Written {
			res.add(o)
			return res, nil
		}
	}
	return res, fmt.Errorf("capture: %s %s moved during %d captures in a row; retrying", kind, name, maxSwaps)
}

func sameJSON(a, b []byte) bool {
	ca, err1 := canonicalJSON(a)
	cb, err2 := canonicalJSON(b)
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

func canonicalJSON(raw []byte) ([]byte, error) {
	it, err := state.NewItem(spec.KindShadow, "x", state.Shadow{Desired: raw})
	return it.Body, err
}

// Shadow captures a shadow through the data-plane API (the sweep's path).
func (c *Capturer) Shadow(ctx context.Context, thing string) (Result, error) {
	return c.NamedShadow(ctx, thing, "")
}

// NamedShadows captures the classic shadow and every named shadow of a thing through
// the data-plane API (the sweep's path): one ListNamedShadowsForThing page per 100
// shadows, one GetThingShadow per shadow. A named shadow deleted without its message
// reaching capture is not in the list; the sweep's table stage finds its item.
func (c *Capturer) NamedShadows(ctx context.Context, thing string) (Result, error) {
	return c.namedShadows(ctx, thing, c.Shadows)
}

// namedShadows is NamedShadows listing with lister (the sweep's is paced).
func (c *Capturer) namedShadows(ctx context.Context, thing string, lister replication.NamedShadowLister) (Result, error) {
	res, err := c.Shadow(ctx, thing)
	if err != nil {
		return res, err
	}
	if c.Shadows == nil {
		return res, nil
	}
	names, err := replication.NamedShadowNames(ctx, lister, thing)
	if err != nil {
		return res, fmt.Errorf("capture: list named shadows of %s: %w", thing, err)
	}
	for _, n := range names {
		r, err := c.NamedShadow(ctx, thing, n)
		res.merge(r)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// NamedShadow captures one named shadow through the data-plane API (shadow "" is the
// classic one): a shadow gone from the Region becomes a tombstone.
func (c *Capturer) NamedShadow(ctx context.Context, thing, shadow string) (Result, error) {
	var res Result
	if c.Shadows == nil {
		return res, permanent(errors.New("capture: no data-plane client configured"))
	}
	kind, name := shadowItem(thing, shadow)
	var sn *string
	if shadow != "" {
		sn = aws.String(shadow)
	}
	// The table is read first: a delete whose message was lost has no version here, so
	// its tombstone is ordered right after the item read before the shadow was found
	// gone, never after one a device's re-created shadow wrote meanwhile.
	cur, known, err := c.Store.Get(ctx, kind, name)
	if err != nil {
		return res, err
	}
	out, err := c.Shadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: sn})
	if replication.IsNotFound(err) {
		if !known || cur.Deleted {
			return res, nil
		}
		it := state.Tombstone(kind, name)
		it.Seq = cur.Seq + 1
		it.Versions = map[string]int64{}
		for r, v := range cur.Versions {
			it.Versions[r] = v
		}
		it.Versions[c.Region]++
		return res, c.put(ctx, &res, it, c.now(), time.Time{})
	}
	if err != nil {
		return res, fmt.Errorf("capture: get %s %s: %w", kind, name, err)
	}
	doc, err := decodeShadowDocument(out.Payload)
	if err != nil {
		return res, permanent(fmt.Errorf("capture: %s %s: %w", kind, name, err))
	}
	return c.NamedShadowChange(ctx, thing, shadow, nil, Sections{Desired: doc.State.Desired, Reported: doc.State.Reported}, doc.Version, time.Time{})
}

// gone reports whether a thing, thing type, thing group or named shadow no longer
// exists in this Region, with one Describe (or GetThingShadow) call; other kinds are never reported gone here (their
// owners' captures follow them).
func (c *Capturer) gone(ctx context.Context, kind, name string) (bool, error) {
	var err error
	switch kind {
	case spec.KindThing:
		_, err = c.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	case spec.KindThingType:
		_, err = c.IoT.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
	case spec.KindThingGroup:
		_, err = c.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
	case spec.KindNamedShadow:
		// The things stage lists a thing's named shadows; one deleted without its
		// message is no longer listed, so only its item can find it.
		thing, shadow, _ := spec.SplitNamedShadowKey(name)
		if c.Shadows == nil {
			return false, nil
		}
		_, err = c.Shadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: aws.String(shadow)})
	case spec.KindRetained:
		if c.Retained == nil {
			return false, nil
		}
		_, err = c.Retained.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: aws.String(name)})
	case spec.KindTags:
		k, n, _ := spec.SplitTagsKey(name) // ParseStateKey checked the form
		if k == spec.KindPolicy {
			return false, nil // policies are followed by their certificates' captures
		}
		return c.gone(ctx, k, n)
	case spec.KindBillingGroup:
		if c.Billing == nil {
			return false, nil
		}
		_, err = c.Billing.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
	default:
		exists, ok, err := c.provisioningExists(ctx, kind, name)
		return ok && !exists && err == nil, err
	}
	if replication.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("capture: describe %s %s: %w", kind, name, err)
	}
	return false, nil
}

// deletedHere reports whether the resource of cur, a live item of a kind only the
// sweep captures (applymark.HeldKind), missing from this Region, was deleted here. An
// item this Region wrote was created here. Another Region's item was only if this
// Region's apply converged the resource to that very item (Held): otherwise the
// apply has not created it yet (or converged an older item, or failed), and a
// tombstone would delete the resource in the Region that wrote it.
func (c *Capturer) deletedHere(ctx context.Context, cur state.Item) (bool, error) {
	if cur.Origin == c.Region {
		return true, nil
	}
	if c.Held == nil {
		return false, nil
	}
	ref, ok, err := c.Held.HeldRef(ctx, cur.Key())
	if err != nil {
		return false, fmt.Errorf("capture: %s %s: %w", cur.Kind, cur.Name, err)
	}
	return ok && ref == cur.Ref(), nil
}

// Key captures the resource a state key names, whatever its kind: the redrive's path.
func (c *Capturer) Key(ctx context.Context, key string) (Result, error) {
	return again(func() (Result, error) { return c.key(ctx, key) })
}

func (c *Capturer) key(ctx context.Context, key string) (Result, error) {
	kind, name, err := spec.ParseStateKey(key)
	if err != nil {
		return Result{}, permanent(err)
	}
	switch kind {
	case spec.KindThing, spec.KindThingPrincipals:
		return c.Thing(ctx, name, time.Time{})
	case spec.KindThingGroups:
		return c.Memberships(ctx, name, time.Time{})
	case spec.KindCertificate:
		return c.Certificate(ctx, name, time.Time{})
	case spec.KindPolicy:
		return c.Policy(ctx, name, time.Time{})
	case spec.KindThingType:
		return c.ThingType(ctx, name, time.Time{})
	case spec.KindThingGroup:
		return c.ThingGroup(ctx, name, time.Time{})
	case spec.KindShadow:
		return c.Shadow(ctx, name)
	case spec.KindNamedShadow:
		thing, shadow, _ := spec.SplitNamedShadowKey(name) // ParseStateKey checked the form
		return c.NamedShadow(ctx, thing, shadow)
	case spec.KindRetained:
		return c.RetainedMessage(ctx, name)
	case spec.KindBillingGroup:
		return c.BillingGroup(ctx, name, time.Time{})
	case spec.KindTags:
		return c.ResourceTags(ctx, name)
	}
	if r, ok, err := c.provisioningKey(ctx, kind, name); ok {
		return r, err
	}
	return Result{}, permanent(fmt.Errorf("capture: no capture for kind %q", kind))
}
