package registry

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// billingGroup is a billing group: a flat set of things (no hierarchy), each thing
// in at most one. AWS raises no registry event for billing groups or their
// memberships, and neither does the fake.
type billingGroup struct {
	name, id, arn string
	description   *string
	version       int64
	created       time.Time
	things        map[string]struct{}
}

func billingGroupNotFound(name string) error {
	return notFound("Billing group %s does not exist", name)
}

// CreateBillingGroup creates a billing group. Repeating it with the same
// description succeeds without change; with a different one it fails with
// ResourceAlreadyExistsException. Tags are kept on creation (tags.go).
func (r *Registry) CreateBillingGroup(ctx context.Context, in *iot.CreateBillingGroupInput, _ ...func(*iot.Options)) (*iot.CreateBillingGroupOutput, error) {
	return call(ctx, r, "CreateBillingGroup", in, func(in *iot.CreateBillingGroupInput) (*iot.CreateBillingGroupOutput, error) {
		if in.BillingGroupName == nil {
			return nil, required("CreateBillingGroupInput", "BillingGroupName")
		}
		name := *in.BillingGroupName
		if err := validName("Billing group", name); err != nil {
			return nil, err
		}
		if err := createTags(in.Tags); err != nil {
			return nil, err
		}
		var description *string
		if in.BillingGroupProperties != nil {
			description = cloneString(in.BillingGroupProperties.BillingGroupDescription)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if g := r.billingGroups[name]; g != nil {
			if equalStringPtr(g.description, description) {
				return &iot.CreateBillingGroupOutput{BillingGroupArn: aws.String(g.arn), BillingGroupId: aws.String(g.id), BillingGroupName: aws.String(name)}, nil
			}
			return nil, alreadyExists(g.id, g.arn, "Billing group %s already exists with different properties", name)
		}
		g := &billingGroup{name: name, id: newUUID(), arn: r.arn("billinggroup", name), description: description, version: 1, created: r.now(), things: map[string]struct{}{}}
		r.billingGroups[name] = g
		_ = r.setTags(g.arn, in.Tags) // checked by createTags
		return &iot.CreateBillingGroupOutput{BillingGroupArn: aws.String(g.arn), BillingGroupId: aws.String(g.id), BillingGroupName: aws.String(name)}, nil
	})
}

// DescribeBillingGroup returns a billing group's properties and version.
func (r *Registry) DescribeBillingGroup(ctx context.Context, in *iot.DescribeBillingGroupInput, _ ...func(*iot.Options)) (*iot.DescribeBillingGroupOutput, error) {
	return call(ctx, r, "DescribeBillingGroup", in, func(in *iot.DescribeBillingGroupInput) (*iot.DescribeBillingGroupOutput, error) {
		if in.BillingGroupName == nil {
			return nil, required("DescribeBillingGroupInput", "BillingGroupName")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		g := r.billingGroups[*in.BillingGroupName]
		if g == nil {
			return nil, billingGroupNotFound(*in.BillingGroupName)
		}
		return &iot.DescribeBillingGroupOutput{
			BillingGroupArn: aws.String(g.arn), BillingGroupId: aws.String(g.id), BillingGroupName: aws.String(g.name), Version: g.version,
			BillingGroupProperties: &types.BillingGroupProperties{BillingGroupDescription: cloneString(g.description)},
			BillingGroupMetadata:   &types.BillingGroupMetadata{CreationDate: timePtr(g.created)},
		}, nil
	})
}

// UpdateBillingGroup replaces a billing group's description; ExpectedVersion, when
// set, must match (VersionConflictException). Every call increments the version.
func (r *Registry) UpdateBillingGroup(ctx context.Context, in *iot.UpdateBillingGroupInput, _ ...func(*iot.Options)) (*iot.UpdateBillingGroupOutput, error) {
	return call(ctx, r, "UpdateBillingGroup", in, func(in *iot.UpdateBillingGroupInput) (*iot.UpdateBillingGroupOutput, error) {
		if in.BillingGroupName == nil {
			return nil, required("UpdateBillingGroupInput", "BillingGroupName")
		}
		if in.BillingGroupProperties == nil {
			return nil, required("UpdateBillingGroupInput", "BillingGroupProperties")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		g := r.billingGroups[*in.BillingGroupName]
		if g == nil {
			return nil, billingGroupNotFound(*in.BillingGroupName)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != g.version {
			return nil, &types.VersionConflictException{Message: aws.String("The version of billing group " + g.name + " does not match the expected version.")}
		}
		g.description = cloneString(in.BillingGroupProperties.BillingGroupDescription)
		g.version++
		return &iot.UpdateBillingGroupOutput{Version: g.version}, nil
	})
}

// DeleteBillingGroup deletes a billing group, removing its things from it. A
// missing group succeeds, as in AWS; ExpectedVersion, when set, must match.
func (r *Registry) DeleteBillingGroup(ctx context.Context, in *iot.DeleteBillingGroupInput, _ ...func(*iot.Options)) (*iot.DeleteBillingGroupOutput, error) {
	return call(ctx, r, "DeleteBillingGroup", in, func(in *iot.DeleteBillingGroupInput) (*iot.DeleteBillingGroupOutput, error) {
		if in.BillingGroupName == nil {
			return nil, required("DeleteBillingGroupInput", "BillingGroupName")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		g := r.billingGroups[*in.BillingGroupName]
		if g == nil {
			return &iot.DeleteBillingGroupOutput{}, nil
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != g.version {
			return nil, &types.VersionConflictException{Message: aws.String("The version of billing group " + g.name + " does not match the expected version.")}
		}
		for th := range g.things {
			if t := r.things[th]; t != nil {
				t.billingGroup = ""
			}
		}
		delete(r.billingGroups, g.name)
		delete(r.tags, g.arn)
		return &iot.DeleteBillingGroupOutput{}, nil
	})
}

// ListBillingGroups lists billing groups by name; NamePrefixFilter narrows it.
func (r *Registry) ListBillingGroups(ctx context.Context, in *iot.ListBillingGroupsInput, _ ...func(*iot.Options)) (*iot.ListBillingGroupsOutput, error) {
	return call(ctx, r, "ListBillingGroups", in, func(in *iot.ListBillingGroupsInput) (*iot.ListBillingGroupsOutput, error) {
		p, err := parsePage("ListBillingGroups", in.NextToken, in.MaxResults, false)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		var keep func(string) bool
		if prefix := aws.ToString(in.NamePrefixFilter); prefix != "" {
			keep = func(n string) bool { return strings.HasPrefix(n, prefix) }
		}
		names, next := p.page("ListBillingGroups", keysOf(r.billingGroups)(), keep)
		out := &iot.ListBillingGroupsOutput{NextToken: next, BillingGroups: []types.GroupNameAndArn{}}
		for _, n := range names {
			out.BillingGroups = append(out.BillingGroups, types.GroupNameAndArn{GroupName: aws.String(n), GroupArn: aws.String(r.billingGroups[n].arn)})
		}
		return out, nil
	})
}

// billingTarget resolves the group and thing of an add or remove, by name or ARN.
func (r *Registry) billingTarget(groupName, groupArn, thingName, thingArn *string) (*billingGroup, *thing, error) {
	var g *billingGroup
	switch {
	case groupName != nil:
		g = r.billingGroups[*groupName]
	case groupArn != nil:
		for _, c := range r.billingGroups {
			if c.arn == *groupArn {
				g = c
			}
		}
	default:
		return nil, nil, invalid("Either billingGroupName or billingGroupArn must be given")
	}
	if g == nil {
		return nil, nil, billingGroupNotFound(aws.ToString(groupName) + aws.ToString(groupArn))
	}
	name := aws.ToString(thingName)
	if thingName == nil {
		if thingArn == nil {
			return nil, nil, invalid("Either thingName or thingArn must be given")
		}
		name = (*thingArn)[strings.LastIndex(*thingArn, "/")+1:]
	}
	t := r.things[name]
	if t == nil {
		return nil, nil, r.thingNotFound(name)
	}
	return g, t, nil
}

// AddThingToBillingGroup puts a thing into a billing group, taking it out of
// the one it was in (a thing belongs to at most one billing group).
func (r *Registry) AddThingToBillingGroup(ctx context.Context, in *iot.AddThingToBillingGroupInput, _ ...func(*iot.Options)) (*iot.AddThingToBillingGroupOutput, error) {
	return call(ctx, r, "AddThingToBillingGroup", in, func(in *iot.AddThingToBillingGroupInput) (*iot.AddThingToBillingGroupOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		g, t, err := r.billingTarget(in.BillingGroupName, in.BillingGroupArn, in.ThingName, in.ThingArn)
		if err != nil {
			return nil, err
		}
		if old := r.billingGroups[t.billingGroup]; old != nil {
			delete(old.things, t.name)
		}
		g.things[t.name] = struct{}{}
		t.billingGroup = g.name
		return &iot.AddThingToBillingGroupOutput{}, nil
	})
}

// RemoveThingFromBillingGroup takes a thing out of a billing group; a thing not
// in it is no error.
func (r *Registry) RemoveThingFromBillingGroup(ctx context.Context, in *iot.RemoveThingFromBillingGroupInput, _ ...func(*iot.Options)) (*iot.RemoveThingFromBillingGroupOutput, error) {
	return call(ctx, r, "RemoveThingFromBillingGroup", in, func(in *iot.RemoveThingFromBillingGroupInput) (*iot.RemoveThingFromBillingGroupOutput, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		g, t, err := r.billingTarget(in.BillingGroupName, in.BillingGroupArn, in.ThingName, in.ThingArn)
		if err != nil {
			return nil, err
		}
		if t.billingGroup == g.name {
			delete(g.things, t.name)
			t.billingGroup = ""
		}
		return &iot.RemoveThingFromBillingGroupOutput{}, nil
	})
}

// ListThingsInBillingGroup lists the names of a billing group's things.
func (r *Registry) ListThingsInBillingGroup(ctx context.Context, in *iot.ListThingsInBillingGroupInput, _ ...func(*iot.Options)) (*iot.ListThingsInBillingGroupOutput, error) {
	return call(ctx, r, "ListThingsInBillingGroup", in, func(in *iot.ListThingsInBillingGroupInput) (*iot.ListThingsInBillingGroupOutput, error) {
		if in.BillingGroupName == nil {
			return nil, required("ListThingsInBillingGroupInput", "BillingGroupName")
		}
		p, err := parsePage("ListThingsInBillingGroup", in.NextToken, in.MaxResults, false)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		g := r.billingGroups[*in.BillingGroupName]
		if g == nil {
			return nil, billingGroupNotFound(*in.BillingGroupName)
		}
		names, next := p.page("ListThingsInBillingGroup", sortedSet(g.things), nil)
		return &iot.ListThingsInBillingGroupOutput{Things: nonNil(names), NextToken: next}, nil
	})
}
