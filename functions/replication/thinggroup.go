package replication

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// maxGroupDepth bounds the recursion over the group tree; AWS allows 7 levels, so
// anything deeper means a cycle or a corrupt answer.
const maxGroupDepth = 16

var (
	// errDynamicGroup says the source group is dynamic and cannot be replicated:
	// the Replicator has no TargetDynamic, or the group's item predates dynamic
	// groups' replication (its query is unknown).
	errDynamicGroup = errors.New("dynamic thing group: not replicated")
	// errTargetThingMissing says a membership could not be applied because the thing
	// does not exist in the target yet.
	errTargetThingMissing = errors.New("thing not in the target yet")
)

// ThingGroup converges one thing group. A static group is created with its parents
// first (recursively) and the source's members, description and attributes updated
// to equal the source's, deleted with its descendants first when the source no
// longer has it. AWS cannot change a group's parent, so a group whose parent differs
// is deleted and recreated, with its descendants and members. A dynamic group is
// converged with its query, after the target's fleet indexing is raised to what the
// query needs (dynamicgroup.go); its members are the target's own to derive.
func (r *Replicator) ThingGroup(ctx context.Context, name string) (Outcome, error) {
	rec := &recorder{}
	err := r.thingGroup(ctx, name, rec, 0)
	if errors.Is(err, errDynamicGroup) {
		r.log().InfoContext(ctx, "dynamic thing group not replicated (no dynamic-group client, or its item predates their replication)", "thing_group", name)
		err = nil
	}
	return r.finish(ctx, "thing group", name, rec, 0, err)
}

func (r *Replicator) thingGroup(ctx context.Context, name string, rec *recorder, depth int) error {
	if err := validName("thing group", name); err != nil {
		return err
	}
	if depth > maxGroupDepth {
		return invalidf("thing group %s: hierarchy deeper than %d levels (a cycle?)", name, maxGroupDepth)
	}
	src, err := r.Source.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
	if IsNotFound(err) {
		return r.deleteThingGroup(ctx, name, rec, depth)
	}
	if err != nil {
		return fmt.Errorf("describe in %s: %w", r.SourceRegion, err)
	}
	if isDynamic(src) {
		return r.dynamicThingGroup(ctx, name, src, rec, depth)
	}
	parent := ThingGroupParent(src)
	for attempt := 0; ; attempt++ {
		tgt, err := r.Target.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
		switch {
		case IsNotFound(err):
			err := r.createThingGroup(ctx, name, parent, src.ThingGroupProperties, rec, depth)
			if isAlreadyExists(err) && attempt == 0 {
				continue // created concurrently: compare
			}
			return err
		case err != nil:
			return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
		case isDynamic(tgt):
			// A group cannot change kind: the target's dynamic one makes room.
			if err := r.deleteDynamicThingGroup(ctx, name, rec); err != nil {
				return err
			}
			return r.createThingGroup(ctx, name, parent, src.ThingGroupProperties, rec, depth)
		case ThingGroupParent(tgt) != parent:
			return r.recreateThingGroup(ctx, name, parent, src.ThingGroupProperties, rec, depth)
		}
		sp, tp := ThingGroupProperties(src), ThingGroupProperties(tgt)
		sameDesc := aws.ToString(sp.ThingGroupDescription) == aws.ToString(tp.ThingGroupDescription)
		if sameDesc && maps.Equal(ThingGroupAttributes(sp), ThingGroupAttributes(tp)) {
			return nil
		}
		_, err = r.Target.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{
			ThingGroupName: aws.String(name),
			ThingGroupProperties: &types.ThingGroupProperties{
				ThingGroupDescription: aws.String(aws.ToString(sp.ThingGroupDescription)),
				AttributePayload:      &types.AttributePayload{Attributes: fullAttrs(ThingGroupAttributes(sp)), Merge: false},
			},
		})
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		rec.add("updated thing group %s", name)
		return nil
	}
}

// ThingGroupParent returns the name of the described group's parent, "" for a root
// group.
func ThingGroupParent(d *iot.DescribeThingGroupOutput) string {
	if d.ThingGroupMetadata == nil {
		return ""
	}
	return aws.ToString(d.ThingGroupMetadata.ParentGroupName)
}

// ThingGroupProperties returns the described group's properties, empty ones (never
// nil) when it has none, so that callers can read their fields directly.
func ThingGroupProperties(d *iot.DescribeThingGroupOutput) *types.ThingGroupProperties {
	if d.ThingGroupProperties == nil {
		return &types.ThingGroupProperties{}
	}
	return d.ThingGroupProperties
}

// ThingGroupAttributes returns the attributes in a group's properties (nil when
// there are none; p may be nil).
func ThingGroupAttributes(p *types.ThingGroupProperties) map[string]string {
	if p == nil || p.AttributePayload == nil {
		return nil
	}
	return p.AttributePayload.Attributes
}

// createThingGroup creates the group under parent (creating missing ancestors first)
// and adds the source's members that already exist in the target.
func (r *Replicator) createThingGroup(ctx context.Context, name, parent string, props *types.ThingGroupProperties, rec *recorder, depth int) error {
	in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(name)}
	if parent != "" {
		_, err := r.Target.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(parent)})
		if IsNotFound(err) {
			err = r.thingGroup(ctx, parent, rec, depth+1)
		}
		if err != nil {
			return fmt.Errorf("parent %s: %w", parent, err)
		}
		in.ParentGroupName = aws.String(parent)
	}
	if props != nil {
		in.ThingGroupProperties = &types.ThingGroupProperties{ThingGroupDescription: props.ThingGroupDescription}
		if attrs := ThingGroupAttributes(props); len(attrs) > 0 {
			in.ThingGroupProperties.AttributePayload = &types.AttributePayload{Attributes: attrs}
		}
	}
	if _, err := r.Target.CreateThingGroup(ctx, in); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if parent != "" {
		rec.add("created thing group %s under %s", name, parent)
	} else {
		rec.add("created thing group %s", name)
	}
	return r.addMembers(ctx, name, rec)
}

// recreateThingGroup moves a group to a new parent the only way AWS allows: delete it
// with its descendants, create it again, then converge the descendants (which
// recreates those the source still has) and re-add the members.
func (r *Replicator) recreateThingGroup(ctx context.Context, name, parent string, props *types.ThingGroupProperties, rec *recorder, depth int) error {
	deleted, err := r.deleteGroupTree(ctx, name, rec, depth)
	if err != nil {
		return err
	}
	if err := r.createThingGroup(ctx, name, parent, props, rec, depth); err != nil {
		return err
	}
	return r.convergeDescendants(ctx, name, deleted, rec, depth)
}

// deleteThingGroup deletes the group and its descendants from the target, then
// converges the descendants in case the source still has one of them elsewhere.
func (r *Replicator) deleteThingGroup(ctx context.Context, name string, rec *recorder, depth int) error {
	tgt, err := r.Target.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
	}
	if isDynamic(tgt) {
		return r.deleteDynamicThingGroup(ctx, name, rec)
	}
	deleted, err := r.deleteGroupTree(ctx, name, rec, depth)
	if err != nil {
		return err
	}
	return r.convergeDescendants(ctx, name, deleted, rec, depth)
}

func (r *Replicator) convergeDescendants(ctx context.Context, name string, deleted []string, rec *recorder, depth int) error {
	for _, d := range deleted {
		if d == name {
			continue
		}
		if err := r.thingGroup(ctx, d, rec, depth+1); err != nil && !errors.Is(err, errDynamicGroup) {
			return fmt.Errorf("descendant %s: %w", d, err)
		}
	}
	return nil
}

// deleteGroupTree deletes the target group after its descendants (children first)
// and returns the deleted names, parents before children.
func (r *Replicator) deleteGroupTree(ctx context.Context, name string, rec *recorder, depth int) ([]string, error) {
	if depth > maxGroupDepth {
		return nil, invalidf("thing group %s: hierarchy deeper than %d levels (a cycle?)", name, maxGroupDepth)
	}
	children, err := listChildGroups(ctx, r.Target, name)
	if err != nil && !IsNotFound(err) {
		return nil, fmt.Errorf("list children of %s: %w", name, err)
	}
	deleted := []string{name}
	for _, c := range children {
		sub, err := r.deleteGroupTree(ctx, c, rec, depth+1)
		if err != nil {
			return nil, err
		}
		deleted = append(deleted, sub...)
	}
	_, err = r.Target.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(name)})
	if err != nil && !IsNotFound(err) {
		return nil, fmt.Errorf("delete %s: %w", name, err)
	}
	rec.add("deleted thing group %s", name)
	return deleted, nil
}

// addMembers adds the source group's direct members to the target group; things not
// in the target yet are skipped (their own converge adds them).
func (r *Replicator) addMembers(ctx context.Context, group string, rec *recorder) error {
	things, err := listThingsInGroup(ctx, r.Source, group)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list members in %s: %w", r.SourceRegion, err)
	}
	for _, t := range things {
		_, err := r.Target.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String(group), ThingName: aws.String(t)})
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("add thing %s: %w", t, err)
		}
		rec.add("added thing %s to group %s", t, group)
	}
	return nil
}

// Memberships converges the static group memberships of one thing: added to the
// groups the source thing is in (creating missing groups), removed from the others.
// A thing missing from the target is converged as a whole (see Thing).
func (r *Replicator) Memberships(ctx context.Context, thing string) (Outcome, error) {
	rec := &recorder{}
	n := 0
	err := validName("thing", thing)
	if err == nil {
		err = r.memberships(ctx, thing, rec)
	}
	if errors.Is(err, errTargetThingMissing) || errors.Is(err, errSourceGone) {
		n, err = r.thing(ctx, thing, rec, nil)
	}
	return r.finish(ctx, "memberships of thing", thing, rec, n, err)
}

func (r *Replicator) memberships(ctx context.Context, thing string, rec *recorder) error {
	srcGroups, err := ListThingGroupsForThing(ctx, r.Source, thing)
	if IsNotFound(err) {
		return errSourceGone
	}
	if err != nil {
		return fmt.Errorf("list groups in %s: %w", r.SourceRegion, err)
	}
	tgtGroups, err := ListThingGroupsForThing(ctx, r.Target, thing)
	if IsNotFound(err) {
		return errTargetThingMissing
	}
	if err != nil {
		return fmt.Errorf("list groups in %s: %w", r.TargetRegion, err)
	}
	// Dynamic groups are in both lists (ListThingGroupsForThing names them) but their
	// members are each Region's to derive: a difference is checked for dynamic groups
	// (one Describe each, only where the lists differ) and skipped.
	have := set(tgtGroups)
	for _, g := range srcGroups {
		if have[g] {
			continue
		}
		dyn, err := IsDynamicGroup(ctx, r.Source, g)
		if err != nil {
			return fmt.Errorf("describe group %s in %s: %w", g, r.SourceRegion, err)
		}
		if dyn {
			continue
		}
		if err := r.addToGroup(ctx, thing, g, rec); err != nil {
			return err
		}
	}
	want := set(srcGroups)
	for _, g := range tgtGroups {
		if want[g] {
			continue
		}
		dyn, err := IsDynamicGroup(ctx, r.Target, g)
		if err != nil {
			return fmt.Errorf("describe group %s in %s: %w", g, r.TargetRegion, err)
		}
		if dyn {
			continue
		}
		_, err = r.Target.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingGroupName: aws.String(g), ThingName: aws.String(thing)})
		if err != nil && !IsNotFound(err) {
			return fmt.Errorf("remove from group %s: %w", g, err)
		}
		rec.add("removed thing %s from group %s", thing, g)
	}
	return nil
}

// addToGroup adds the thing to the target group, converging the group first when the
// target does not have it yet.
func (r *Replicator) addToGroup(ctx context.Context, thing, group string, rec *recorder) error {
	add := func() error {
		_, err := r.Target.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String(group), ThingName: aws.String(thing)})
		return err
	}
	err := add()
	if IsNotFound(err) {
		// The group or the thing is missing: converge the group, then tell the two
		// apart.
		if err := r.thingGroup(ctx, group, rec, 0); err != nil {
			if errors.Is(err, errDynamicGroup) {
				return nil
			}
			return fmt.Errorf("group %s: %w", group, err)
		}
		_, derr := r.Target.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(group)})
		if IsNotFound(derr) {
			return nil // gone from the source meanwhile
		}
		if derr != nil {
			return fmt.Errorf("describe group %s in %s: %w", group, r.TargetRegion, derr)
		}
		if err = add(); IsNotFound(err) {
			return errTargetThingMissing
		}
	}
	if err != nil {
		return fmt.Errorf("add to group %s: %w", group, err)
	}
	rec.add("added thing %s to group %s", thing, group)
	return nil
}
