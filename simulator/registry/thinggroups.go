package registry

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

type thingGroup struct {
	name, id, arn string
	parent        string // "" for a root group
	children      map[string]struct{}
	description   *string
	attrs         map[string]string
	version       int64
	created       time.Time
	things        map[string]struct{}
	dynamic       *dynamicGroup // nil for a static group (dynamicgroups.go)
}

// maxGroupDepth is AWS's limit on the depth of a thing group hierarchy.
const maxGroupDepth = 7

// ancestors returns g's ancestors from the root down to its parent; mu must
// be held.
func (r *Registry) ancestors(g *thingGroup) []*thingGroup {
	var out []*thingGroup
	for name := g.parent; name != ""; {
		p := r.groups[name]
		if p == nil {
			break
		}
		out = append(out, p)
		name = p.parent
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// descendants returns the names of all groups below g; mu must be held.
func (r *Registry) descendants(g *thingGroup) []string {
	var out []string
	stack := []*thingGroup{g}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for c := range cur.children {
			out = append(out, c)
			stack = append(stack, r.groups[c])
		}
	}
	return out
}

func groupNotFound(name string) error {
	return notFound("Thing group %s does not exist", name)
}

// CreateThingGroup creates a static thing group, under ParentGroupName if
// given (which must exist: ResourceNotFoundException, which CreateThingGroup's
// model does not list, so it comes as a *smithy.GenericAPIError with that code, as
// the SDK gives it; at most 7 levels deep).
// Repeating it with the same parent and properties succeeds without change;
// with different ones it fails with ResourceAlreadyExistsException. Tags are
// kept on creation (tags.go). Publishes thingGroup/created and, under a parent,
// thingGroupHierarchy .../added.
func (r *Registry) CreateThingGroup(ctx context.Context, in *iot.CreateThingGroupInput, _ ...func(*iot.Options)) (*iot.CreateThingGroupOutput, error) {
	return call(ctx, r, "CreateThingGroup", in, func(in *iot.CreateThingGroupInput) (*iot.CreateThingGroupOutput, error) {
		if in.ThingGroupName == nil {
			return nil, required("CreateThingGroupInput", "ThingGroupName")
		}
		name := *in.ThingGroupName
		description, attrs, err := newGroupProperties(name, in.ThingGroupProperties, in.Tags)
		if err != nil {
			return nil, err
		}
		parentName := aws.ToString(in.ParentGroupName)

		r.mu.Lock()
		defer r.mu.Unlock()
		if g := r.groups[name]; g != nil {
			if g.dynamic == nil && g.parent == parentName && equalStringPtr(g.description, description) && sameAttributes(g.attrs, attrs) {
				return &iot.CreateThingGroupOutput{ThingGroupArn: aws.String(g.arn), ThingGroupId: aws.String(g.id), ThingGroupName: aws.String(name)}, nil
			}
			return nil, alreadyExists(g.id, g.arn, "Thing group %s already exists with different properties", name)
		}
		var parent *thingGroup
		if parentName != "" {
			if parent = r.groups[parentName]; parent == nil {
				return nil, unmodelled(groupNotFound(parentName))
			}
			if parent.dynamic != nil {
				return nil, invalid("Thing group %s is a dynamic thing group and cannot be a parent", parentName)
			}
			if depth := len(r.ancestors(parent)) + 2; depth > maxGroupDepth {
				return nil, invalid("Thing group hierarchy would be %d levels deep, the maximum is %d", depth, maxGroupDepth)
			}
		}
		now := r.now()
		g := &thingGroup{
			name: name, id: newUUID(), arn: r.arn("thinggroup", name), parent: parentName, children: map[string]struct{}{},
			description: description, attrs: attrs, version: 1, created: now, things: map[string]struct{}{},
		}
		r.groups[name] = g
		_ = r.setTags(g.arn, in.Tags) // checked by createTags
		r.groupKeys.invalidate()
		if parent != nil {
			parent.children[name] = struct{}{}
		}
		r.emitThingGroup(opCreated, g, now)
		if parent != nil {
			r.emitHierarchy(opAdded, parent, g, now)
		}
		return &iot.CreateThingGroupOutput{ThingGroupArn: aws.String(g.arn), ThingGroupId: aws.String(g.id), ThingGroupName: aws.String(name)}, nil
	})
}

// newGroupProperties checks a new group's name, properties and tags (static or
// dynamic) and returns its description and attributes.
func newGroupProperties(name string, p *types.ThingGroupProperties, tags []types.Tag) (*string, map[string]string, error) {
	if err := validName("Thing group", name); err != nil {
		return nil, nil, err
	}
	var description *string
	var payload map[string]string
	if p != nil {
		description = cloneString(p.ThingGroupDescription)
		if p.AttributePayload != nil {
			payload = p.AttributePayload.Attributes
		}
	}
	if err := validateAttributes(payload); err != nil {
		return nil, nil, err
	}
	attrs := applyAttributes(nil, payload, false)
	if err := checkAttributeLimits(attrs); err != nil {
		return nil, nil, err
	}
	if err := createTags(tags); err != nil {
		return nil, nil, err
	}
	return description, attrs, nil
}

// DescribeThingGroup returns a thing group with its properties, parent chain
// and version; a dynamic group's with its query, query version, index and status.
func (r *Registry) DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, _ ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error) {
	return call(ctx, r, "DescribeThingGroup", in, func(in *iot.DescribeThingGroupInput) (*iot.DescribeThingGroupOutput, error) {
		if in.ThingGroupName == nil {
			return nil, required("DescribeThingGroupInput", "ThingGroupName")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		g := r.groups[*in.ThingGroupName]
		if g == nil {
			return nil, groupNotFound(*in.ThingGroupName)
		}
		meta := &types.ThingGroupMetadata{CreationDate: timePtr(g.created), ParentGroupName: optString(g.parent)}
		for _, a := range r.ancestors(g) {
			meta.RootToParentThingGroups = append(meta.RootToParentThingGroups, types.GroupNameAndArn{GroupArn: aws.String(a.arn), GroupName: aws.String(a.name)})
		}
		out := &iot.DescribeThingGroupOutput{
			ThingGroupArn: aws.String(g.arn), ThingGroupId: aws.String(g.id), ThingGroupName: aws.String(g.name),
			ThingGroupMetadata: meta, Version: g.version,
			ThingGroupProperties: &types.ThingGroupProperties{
				AttributePayload:      &types.AttributePayload{Attributes: copyMap(g.attrs)},
				ThingGroupDescription: cloneString(g.description),
			},
		}
		if d := g.dynamic; d != nil {
			// The query is evaluated on read, so the group is never BUILDING.
			out.QueryString, out.QueryVersion, out.IndexName = aws.String(d.query), aws.String(d.queryVersion), aws.String(d.indexName)
			out.Status = types.DynamicGroupStatusActive
		}
		return out, nil
	})
}

// UpdateThingGroup updates a group's attributes (same merge semantics as
// UpdateThing) and description (when given; "" clears it). ExpectedVersion,
// when set, must match (VersionConflictException). Increments the version and
// publishes thingGroup/updated.
func (r *Registry) UpdateThingGroup(ctx context.Context, in *iot.UpdateThingGroupInput, _ ...func(*iot.Options)) (*iot.UpdateThingGroupOutput, error) {
	return call(ctx, r, "UpdateThingGroup", in, func(in *iot.UpdateThingGroupInput) (*iot.UpdateThingGroupOutput, error) {
		if err := need("UpdateThingGroupInput", member{"ThingGroupName", in.ThingGroupName != nil}, member{"ThingGroupProperties", in.ThingGroupProperties != nil}); err != nil {
			return nil, err
		}
		props := in.ThingGroupProperties
		if props.AttributePayload != nil {
			if err := validateAttributes(props.AttributePayload.Attributes); err != nil {
				return nil, err
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		g := r.groups[*in.ThingGroupName]
		if g == nil {
			return nil, groupNotFound(*in.ThingGroupName)
		}
		if g.dynamic != nil {
			return nil, invalid("Thing group %s is a dynamic thing group: use UpdateDynamicThingGroup", g.name)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != g.version {
			return nil, versionConflict("thing group", g.name, *in.ExpectedVersion, g.version)
		}
		attrs := g.attrs
		if p := props.AttributePayload; p != nil {
			attrs = applyAttributes(g.attrs, p.Attributes, p.Merge)
			if err := checkAttributeLimits(attrs); err != nil {
				return nil, err
			}
		}
		g.attrs = attrs
		if props.ThingGroupDescription != nil {
			g.description = optString(*props.ThingGroupDescription)
		}
		g.version++
		r.emitThingGroup(opUpdated, g, r.now())
		return &iot.UpdateThingGroupOutput{Version: g.version}, nil
	})
}

// DeleteThingGroup deletes a thing group; deleting a missing one succeeds. A
// group with child groups cannot be deleted (InvalidRequestException); its
// things leave it silently. Publishes thingGroupHierarchy .../removed (when
// it had a parent) and thingGroup/deleted.
func (r *Registry) DeleteThingGroup(ctx context.Context, in *iot.DeleteThingGroupInput, _ ...func(*iot.Options)) (*iot.DeleteThingGroupOutput, error) {
	return call(ctx, r, "DeleteThingGroup", in, func(in *iot.DeleteThingGroupInput) (*iot.DeleteThingGroupOutput, error) {
		if in.ThingGroupName == nil {
			return nil, required("DeleteThingGroupInput", "ThingGroupName")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		g := r.groups[*in.ThingGroupName]
		if g == nil {
			return &iot.DeleteThingGroupOutput{}, nil
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != g.version {
			return nil, versionConflict("thing group", g.name, *in.ExpectedVersion, g.version)
		}
		if g.dynamic != nil {
			return nil, invalid("Thing group %s is a dynamic thing group: use DeleteDynamicThingGroup", g.name)
		}
		if len(g.children) > 0 {
			return nil, invalid("Cannot delete thing group %s because it has child groups", g.name)
		}
		now := r.now()
		// Emit while the parent link still exists, so the event carries it.
		if parent := r.groups[g.parent]; g.parent != "" && parent != nil {
			r.emitHierarchy(opRemoved, parent, g, now)
		}
		r.emitThingGroup(opDeleted, g, now)
		if parent := r.groups[g.parent]; parent != nil {
			delete(parent.children, g.name)
		}
		for t := range g.things {
			if th := r.things[t]; th != nil {
				delete(th.groups, g.name)
			}
		}
		delete(r.groups, g.name)
		delete(r.tags, g.arn)
		r.groupKeys.invalidate()
		return &iot.DeleteThingGroupOutput{}, nil
	})
}

// ListThingGroups lists thing groups by name. With ParentGroup it lists all
// of that group's descendants, only its direct children when Recursive is
// explicitly false; without, all groups (only root groups when Recursive is
// explicitly false). Recursive has no documented default; an unset one
// behaves as true, as AWS does. NamePrefixFilter narrows by name prefix.
func (r *Registry) ListThingGroups(ctx context.Context, in *iot.ListThingGroupsInput, _ ...func(*iot.Options)) (*iot.ListThingGroupsOutput, error) {
	return call(ctx, r, "ListThingGroups", in, func(in *iot.ListThingGroupsInput) (*iot.ListThingGroupsOutput, error) {
		p, err := parsePage("ListThingGroups", in.NextToken, in.MaxResults, false)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		keys := r.groupKeys.get(keysOf(r.groups))
		var filters []func(string) bool
		if in.ParentGroup != nil {
			parent := r.groups[*in.ParentGroup]
			if parent == nil {
				return nil, groupNotFound(*in.ParentGroup)
			}
			if in.Recursive == nil || *in.Recursive {
				keys = r.descendants(parent)
				sort.Strings(keys)
			} else {
				keys = sortedSet(parent.children)
			}
		} else if in.Recursive != nil && !*in.Recursive {
			filters = append(filters, func(n string) bool { return r.groups[n].parent == "" })
		}
		if in.NamePrefixFilter != nil {
			filters = append(filters, func(n string) bool { return strings.HasPrefix(n, *in.NamePrefixFilter) })
		}
		names, next := p.page("ListThingGroups", keys, allOf(filters))
		return &iot.ListThingGroupsOutput{ThingGroups: r.groupRefs(names), NextToken: next}, nil
	})
}

func allOf(fs []func(string) bool) func(string) bool {
	if len(fs) == 0 {
		return nil
	}
	return func(s string) bool {
		for _, f := range fs {
			if !f(s) {
				return false
			}
		}
		return true
	}
}

func (r *Registry) groupRefs(names []string) []types.GroupNameAndArn {
	out := make([]types.GroupNameAndArn, 0, len(names))
	for _, n := range names {
		out = append(out, types.GroupNameAndArn{GroupArn: aws.String(r.arn("thinggroup", n)), GroupName: aws.String(n)})
	}
	return out
}

// membershipTarget resolves the group and thing of an add/remove call, each
// given by name or ARN; mu must be held.
func (r *Registry) membershipTarget(groupName, groupARN, thingName, thingARN *string) (*thingGroup, *thing, error) {
	gName, err := r.nameOrARN("thing group", "thinggroup", groupName, groupARN)
	if err != nil {
		return nil, nil, err
	}
	tName, err := r.nameOrARN("thing", "thing", thingName, thingARN)
	if err != nil {
		return nil, nil, err
	}
	g := r.groups[gName]
	if g == nil {
		return nil, nil, groupNotFound(gName)
	}
	t := r.things[tName]
	if t == nil {
		return nil, nil, r.thingNotFound(tName)
	}
	return g, t, nil
}

func (r *Registry) nameOrARN(kind, resource string, name, arn *string) (string, error) {
	switch {
	case name != nil:
		return *name, nil
	case arn != nil:
		prefix := r.arn(resource, "")
		if !strings.HasPrefix(*arn, prefix) {
			return "", invalid("%q is not a %s ARN of this Region and account", excerpt(*arn), kind)
		}
		return strings.TrimPrefix(*arn, prefix), nil
	default:
		return "", invalid("Either the %s name or its ARN must be given", kind)
	}
}

// AddThingToThingGroup adds a thing to a static group (each given by name or
// ARN); adding it again is a no-op. A thing is in at most 10 groups
// (InvalidRequestException). Publishes thingGroupMembership .../added.
func (r *Registry) AddThingToThingGroup(ctx context.Context, in *iot.AddThingToThingGroupInput, _ ...func(*iot.Options)) (*iot.AddThingToThingGroupOutput, error) {
	return call(ctx, r, "AddThingToThingGroup", in, func(in *iot.AddThingToThingGroupInput) (*iot.AddThingToThingGroupOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		g, t, err := r.membershipTarget(in.ThingGroupName, in.ThingGroupArn, in.ThingName, in.ThingArn)
		if err != nil {
			return nil, err
		}
		if g.dynamic != nil {
			return nil, invalid("Cannot add things to dynamic thing group %s: its query decides its members", g.name)
		}
		if _, ok := t.groups[g.name]; ok {
			return &iot.AddThingToThingGroupOutput{}, nil
		}
		if len(t.groups) >= maxGroupsPerThing {
			return nil, invalid("Thing %s is already in the maximum number of thing groups (%d)", t.name, maxGroupsPerThing)
		}
		id := newUUID()
		t.groups[g.name] = id
		g.things[t.name] = struct{}{}
		r.emitMembership(opAdded, g, t, id, r.now())
		return &iot.AddThingToThingGroupOutput{}, nil
	})
}

// RemoveThingFromThingGroup removes a thing from a group; removing a
// non-member succeeds. Publishes thingGroupMembership .../removed with the
// membership id of the matching add.
func (r *Registry) RemoveThingFromThingGroup(ctx context.Context, in *iot.RemoveThingFromThingGroupInput, _ ...func(*iot.Options)) (*iot.RemoveThingFromThingGroupOutput, error) {
	return call(ctx, r, "RemoveThingFromThingGroup", in, func(in *iot.RemoveThingFromThingGroupInput) (*iot.RemoveThingFromThingGroupOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		g, t, err := r.membershipTarget(in.ThingGroupName, in.ThingGroupArn, in.ThingName, in.ThingArn)
		if err != nil {
			return nil, err
		}
		if g.dynamic != nil {
			return nil, invalid("Cannot remove things from dynamic thing group %s: its query decides its members", g.name)
		}
		id, ok := t.groups[g.name]
		if !ok {
			return &iot.RemoveThingFromThingGroupOutput{}, nil
		}
		delete(t.groups, g.name)
		delete(g.things, t.name)
		r.emitMembership(opRemoved, g, t, id, r.now())
		return &iot.RemoveThingFromThingGroupOutput{}, nil
	})
}

// ListThingGroupsForThing lists the groups a thing is a direct member of, by
// name: its static groups and the dynamic groups whose query matches it.
func (r *Registry) ListThingGroupsForThing(ctx context.Context, in *iot.ListThingGroupsForThingInput, _ ...func(*iot.Options)) (*iot.ListThingGroupsForThingOutput, error) {
	return call(ctx, r, "ListThingGroupsForThing", in, func(in *iot.ListThingGroupsForThingInput) (*iot.ListThingGroupsForThingOutput, error) {
		names, next, err := r.listPage("ListThingGroupsForThing", "ThingName", in.ThingName, in.NextToken, in.MaxResults,
			r.thingNames(func(t *thing) []string {
				return slices.Sorted(slices.Values(append(sortedSet(t.groups), r.dynamicGroupsOf(t)...)))
			}))
		if err != nil {
			return nil, err
		}
		return &iot.ListThingGroupsForThingOutput{ThingGroups: r.groupRefs(names), NextToken: next}, nil
	})
}

// ListThingsInThingGroup lists the names of a group's things, with Recursive
// also those of its descendant groups (each name once), sorted; a dynamic group's
// are the things its query matches now.
func (r *Registry) ListThingsInThingGroup(ctx context.Context, in *iot.ListThingsInThingGroupInput, _ ...func(*iot.Options)) (*iot.ListThingsInThingGroupOutput, error) {
	return call(ctx, r, "ListThingsInThingGroup", in, func(in *iot.ListThingsInThingGroupInput) (*iot.ListThingsInThingGroupOutput, error) {
		if in.ThingGroupName == nil {
			return nil, required("ListThingsInThingGroupInput", "ThingGroupName")
		}
		p, err := parsePage("ListThingsInThingGroup", in.NextToken, in.MaxResults, false)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		g := r.groups[*in.ThingGroupName]
		if g == nil {
			return nil, groupNotFound(*in.ThingGroupName)
		}
		members := g.things
		if g.dynamic != nil {
			names, next := p.page("ListThingsInThingGroup", r.dynamicMembers(g), nil)
			return &iot.ListThingsInThingGroupOutput{Things: nonNil(names), NextToken: next}, nil
		}
		if in.Recursive {
			members = make(map[string]struct{}, len(g.things))
			for _, n := range append(r.descendants(g), g.name) {
				for t := range r.groups[n].things {
					members[t] = struct{}{}
				}
			}
		}
		names, next := p.page("ListThingsInThingGroup", sortedSet(members), nil)
		return &iot.ListThingsInThingGroupOutput{Things: nonNil(names), NextToken: next}, nil
	})
}
