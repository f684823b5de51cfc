package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	dptypes "github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// View answers the replication package's source reads (replication.Source and
// replication.SourceShadows) from one Region's replica of the state table, so that the
// apply function converges its Region without calling the Region a change came from.
// A resource the table holds as a tombstone is a ResourceNotFoundException, exactly as
// the source's API would answer; one it holds no item for at all is a
// NotReplicatedError (transient), because the applier only converges resources whose
// own item it has read, so a missing item is one it refers to that has not crossed yet.
//
// What a per-resource table cannot answer cheaply: ListThingsInThingGroup lists no
// members (memberships are converged per thing, from the thing's groups item), and
// the fleet-wide lists (ListThings, ListThingTypes, ListThingGroups) are refused: the
// apply path never pages a fleet.
type View struct {
	Store *Store
}

// snapshotKey is the context key of an apply's snapshot (WithSnapshot).
type snapshotKey struct{}

// snapshot holds the items one apply has read, so that every read of one resource
// within it answers the same item, read once.
type snapshot struct {
	mu    sync.Mutex
	items map[string]snapshotEntry
}

type snapshotEntry struct {
	it Item
	ok bool
}

// WithSnapshot returns a context in which the View reads each item at most once and
// answers it again from memory, seeded with the item the caller has just read: one
// apply sees one consistent state of each resource, and a certificate that a thing's
// converge consults five times is read and decoded once.
func WithSnapshot(ctx context.Context, seed Item) context.Context {
	s := &snapshot{items: map[string]snapshotEntry{seed.Key(): {seed, true}}}
	return context.WithValue(ctx, snapshotKey{}, s)
}

// Snapshotted returns the item the View read for key within ctx's snapshot
// (WithSnapshot), and whether it read one: what an apply converged a resource it
// consulted to.
func Snapshotted(ctx context.Context, key string) (Item, bool) {
	snap, _ := ctx.Value(snapshotKey{}).(*snapshot)
	if snap == nil {
		return Item{}, false
	}
	snap.mu.Lock()
	defer snap.mu.Unlock()
	e, hit := snap.items[key]
	return e.it, hit && e.ok
}

func (v *View) get(ctx context.Context, kind, name string, body any) (Item, error) {
	key := spec.StateKey(kind, name)
	snap, _ := ctx.Value(snapshotKey{}).(*snapshot)
	var (
		it  Item
		ok  bool
		hit bool
	)
	if snap != nil {
		snap.mu.Lock()
		var e snapshotEntry
		e, hit = snap.items[key]
		snap.mu.Unlock()
		it, ok = e.it, e.ok
	}
	if !hit {
		var err error
		if it, ok, err = v.Store.Get(ctx, kind, name); err != nil {
			return Item{}, err
		}
		if snap != nil {
			snap.mu.Lock()
			snap.items[key] = snapshotEntry{it, ok}
			snap.mu.Unlock()
		}
	}
	if !ok {
		return Item{}, &NotReplicatedError{Key: spec.StateKey(kind, name)}
	}
	if it.Deleted {
		return Item{}, &iottypes.ResourceNotFoundException{Message: aws.String(fmt.Sprintf("%s %s was deleted in %s", kind, name, it.Origin))}
	}
	if err := it.Decode(body); err != nil {
		return Item{}, err
	}
	return it, nil
}

// NotReplicatedError says the replica holds no item at all for a resource another
// item refers to: it has not crossed yet (items cross in any order), or its capture
// failed and is in the origin's error table. It is transient: the apply is retried,
// and re-driven from the error table once the item is there.
type NotReplicatedError struct{ Key string }

func (e *NotReplicatedError) Error() string {
	return "state: " + e.Key + " is not in this Region's replica yet"
}

// optional reads an item whose absence (or deletion) means "empty" rather than "not
// found": a thing's lists of certificates and groups.
func (v *View) optional(ctx context.Context, kind, name string, body any) error {
	_, err := v.get(ctx, kind, name, body)
	var nr *NotReplicatedError
	if isNotFound(err) || errors.As(err, &nr) {
		return nil
	}
	return err
}

func isNotFound(err error) bool {
	_, ok := err.(*iottypes.ResourceNotFoundException)
	return ok
}

// DescribeThing answers from the thing's item.
func (v *View) DescribeThing(ctx context.Context, in *iot.DescribeThingInput, _ ...func(*iot.Options)) (*iot.DescribeThingOutput, error) {
	var b Thing
	name := aws.ToString(in.ThingName)
	if _, err := v.get(ctx, spec.KindThing, name, &b); err != nil {
		return nil, err
	}
	out := &iot.DescribeThingOutput{ThingName: aws.String(name), Attributes: cloneAttrs(b.Attributes)}
	if b.ThingTypeName != "" {
		out.ThingTypeName = aws.String(b.ThingTypeName)
	}
	out.BillingGroupName = optional(b.BillingGroup)
	return out, nil
}

// ListThingPrincipals answers from the thing's principals item; a thing without one
// has none yet.
func (v *View) ListThingPrincipals(ctx context.Context, in *iot.ListThingPrincipalsInput, _ ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error) {
	name := aws.ToString(in.ThingName)
	var t Thing
	if _, err := v.get(ctx, spec.KindThing, name, &t); err != nil {
		return nil, err
	}
	var p Principals
	if err := v.optional(ctx, spec.KindThingPrincipals, name, &p); err != nil {
		return nil, err
	}
	return &iot.ListThingPrincipalsOutput{Principals: p.Principals}, nil
}

// certificateOf reads the certificate a principal ARN names.
func (v *View) certificateOf(ctx context.Context, principal string) (Certificate, error) {
	var c Certificate
	i := strings.LastIndex(principal, ":cert/")
	if i < 0 {
		return c, &iottypes.ResourceNotFoundException{Message: aws.String("principal " + principal + " is not a certificate")}
	}
	_, err := v.get(ctx, spec.KindCertificate, principal[i+len(":cert/"):], &c)
	return c, err
}

// ListPrincipalThings answers from the certificate's item.
func (v *View) ListPrincipalThings(ctx context.Context, in *iot.ListPrincipalThingsInput, _ ...func(*iot.Options)) (*iot.ListPrincipalThingsOutput, error) {
	c, err := v.certificateOf(ctx, aws.ToString(in.Principal))
	if err != nil {
		return nil, err
	}
	return &iot.ListPrincipalThingsOutput{Things: c.Things}, nil
}

// ListAttachedPolicies answers from the certificate's item.
func (v *View) ListAttachedPolicies(ctx context.Context, in *iot.ListAttachedPoliciesInput, _ ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error) {
	c, err := v.certificateOf(ctx, aws.ToString(in.Target))
	if err != nil {
		return nil, err
	}
	out := &iot.ListAttachedPoliciesOutput{}
	for _, p := range c.Policies {
		out.Policies = append(out.Policies, iottypes.Policy{PolicyName: aws.String(p)})
	}
	return out, nil
}

// DescribeCertificate answers from the certificate's item.
func (v *View) DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput, _ ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error) {
	var c Certificate
	id := aws.ToString(in.CertificateId)
	if _, err := v.get(ctx, spec.KindCertificate, id, &c); err != nil {
		return nil, err
	}
	return &iot.DescribeCertificateOutput{CertificateDescription: &iottypes.CertificateDescription{
		CertificateId: aws.String(id), CertificateArn: aws.String(c.ARN),
		CertificatePem: aws.String(c.PEM), Status: iottypes.CertificateStatus(c.Status),
	}}, nil
}

// GetPolicy answers from the policy's item.
func (v *View) GetPolicy(ctx context.Context, in *iot.GetPolicyInput, _ ...func(*iot.Options)) (*iot.GetPolicyOutput, error) {
	var p Policy
	name := aws.ToString(in.PolicyName)
	if _, err := v.get(ctx, spec.KindPolicy, name, &p); err != nil {
		return nil, err
	}
	return &iot.GetPolicyOutput{PolicyName: aws.String(name), PolicyArn: aws.String(p.ARN), PolicyDocument: aws.String(p.Document)}, nil
}

// DescribeThingType answers from the thing type's item.
func (v *View) DescribeThingType(ctx context.Context, in *iot.DescribeThingTypeInput, _ ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error) {
	var t ThingType
	name := aws.ToString(in.ThingTypeName)
	if _, err := v.get(ctx, spec.KindThingType, name, &t); err != nil {
		return nil, err
	}
	props := &iottypes.ThingTypeProperties{SearchableAttributes: t.SearchableAttributes}
	if t.Description != "" {
		props.ThingTypeDescription = aws.String(t.Description)
	}
	if len(t.PropagatingAttributes) > 0 {
		props.Mqtt5Configuration = &iottypes.Mqtt5Configuration{}
		for _, pa := range t.PropagatingAttributes {
			props.Mqtt5Configuration.PropagatingAttributes = append(props.Mqtt5Configuration.PropagatingAttributes, iottypes.PropagatingAttribute{
				UserPropertyKey: aws.String(pa.UserPropertyKey), ThingAttribute: optional(pa.ThingAttribute),
				ConnectionAttribute: optional(pa.ConnectionAttribute),
			})
		}
	}
	return &iot.DescribeThingTypeOutput{
		ThingTypeName: aws.String(name), ThingTypeProperties: props,
		ThingTypeMetadata: &iottypes.ThingTypeMetadata{Deprecated: t.Deprecated},
	}, nil
}

// DescribeThingGroup answers from the group's item.
func (v *View) DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, _ ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error) {
	var g ThingGroup
	name := aws.ToString(in.ThingGroupName)
	if _, err := v.get(ctx, spec.KindThingGroup, name, &g); err != nil {
		return nil, err
	}
	out := &iot.DescribeThingGroupOutput{
		ThingGroupName: aws.String(name),
		ThingGroupProperties: &iottypes.ThingGroupProperties{
			AttributePayload: &iottypes.AttributePayload{Attributes: cloneAttrs(g.Attributes)},
		},
		ThingGroupMetadata: &iottypes.ThingGroupMetadata{},
	}
	if g.Description != "" {
		out.ThingGroupProperties.ThingGroupDescription = aws.String(g.Description)
	}
	if g.Parent != "" {
		out.ThingGroupMetadata.ParentGroupName = aws.String(g.Parent)
	}
	switch {
	case g.Dynamic && g.Query != "":
		out.QueryString, out.QueryVersion, out.IndexName = aws.String(g.Query), optional(g.QueryVersion), optional(g.IndexName)
	case g.Dynamic:
		// Captured before dynamic groups were replicated: the query is unknown.
		out.QueryString = aws.String("")
	}
	return out, nil
}

// ListThingGroupsForThing answers from the thing's groups item.
func (v *View) ListThingGroupsForThing(ctx context.Context, in *iot.ListThingGroupsForThingInput, _ ...func(*iot.Options)) (*iot.ListThingGroupsForThingOutput, error) {
	name := aws.ToString(in.ThingName)
	var t Thing
	if _, err := v.get(ctx, spec.KindThing, name, &t); err != nil {
		return nil, err
	}
	var g Groups
	if err := v.optional(ctx, spec.KindThingGroups, name, &g); err != nil {
		return nil, err
	}
	out := &iot.ListThingGroupsForThingOutput{}
	for _, n := range g.Groups {
		out.ThingGroups = append(out.ThingGroups, iottypes.GroupNameAndArn{GroupName: aws.String(n)})
	}
	return out, nil
}

// ListThingsInThingGroup lists no members: see View.
func (v *View) ListThingsInThingGroup(context.Context, *iot.ListThingsInThingGroupInput, ...func(*iot.Options)) (*iot.ListThingsInThingGroupOutput, error) {
	return &iot.ListThingsInThingGroupOutput{}, nil
}

// errFleetList refuses the fleet-wide lists.
var errFleetList = fmt.Errorf("state: the state view does not list the fleet; the apply path converges one resource at a time")

// ListThings is refused: see View.
func (v *View) ListThings(context.Context, *iot.ListThingsInput, ...func(*iot.Options)) (*iot.ListThingsOutput, error) {
	return nil, errFleetList
}

// ListThingTypes is refused: see View.
func (v *View) ListThingTypes(context.Context, *iot.ListThingTypesInput, ...func(*iot.Options)) (*iot.ListThingTypesOutput, error) {
	return nil, errFleetList
}

// ListThingGroups is refused: see View.
func (v *View) ListThingGroups(context.Context, *iot.ListThingGroupsInput, ...func(*iot.Options)) (*iot.ListThingGroupsOutput, error) {
	return nil, errFleetList
}

// GetRetainedMessage answers from the topic's retained item.
func (v *View) GetRetainedMessage(ctx context.Context, in *iotdataplane.GetRetainedMessageInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.GetRetainedMessageOutput, error) {
	var r Retained
	topic := aws.ToString(in.Topic)
	it, err := v.get(ctx, spec.KindRetained, topic, &r)
	if isNotFound(err) {
		return nil, &dptypes.ResourceNotFoundException{Message: aws.String("No retained message exists for topic " + topic)}
	}
	if err != nil {
		return nil, err
	}
	return &iotdataplane.GetRetainedMessageOutput{Topic: aws.String(topic), Payload: r.Payload, Qos: r.Qos, LastModifiedTime: it.ChangedAt}, nil
}

// ListNamedShadowsForThing is refused: the table is keyed per shadow, and the apply
// path converges one named shadow at a time, named by its item.
func (v *View) ListNamedShadowsForThing(context.Context, *iotdataplane.ListNamedShadowsForThingInput, ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error) {
	return nil, errFleetList
}

// GetThingShadow answers from the shadow's item (the named shadow's when ShadowName is
// set), as a document with the desired and reported state.
func (v *View) GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error) {
	kind, name, shown := spec.KindShadow, aws.ToString(in.ThingName), aws.ToString(in.ThingName)
	if sh := aws.ToString(in.ShadowName); sh != "" {
		kind, name, shown = spec.KindNamedShadow, spec.NamedShadowKey(name, sh), sh
	}
	var s Shadow
	_, err := v.get(ctx, kind, name, &s)
	if isNotFound(err) {
		return nil, &dptypes.ResourceNotFoundException{Message: aws.String("No shadow exists with name: '" + shown + "'")}
	}
	if err != nil {
		return nil, err
	}
	st := map[string]json.RawMessage{}
	if len(s.Desired) > 0 {
		st["desired"] = s.Desired
	}
	if len(s.Reported) > 0 {
		st["reported"] = s.Reported
	}
	doc, err := json.Marshal(map[string]any{"state": st, "version": s.Version})
	if err != nil {
		return nil, fmt.Errorf("state: encode shadow of %s: %w", aws.ToString(in.ThingName), err)
	}
	return &iotdataplane.GetThingShadowOutput{Payload: doc}, nil
}

// optional is nil for an empty string: the SDK's absent member.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
