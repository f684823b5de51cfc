package registry

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

type thing struct {
	name, id, arn string
	typeName      string // "" when none
	attrs         map[string]string
	version       int64
	principals    map[string]struct{} // certificate ARNs
	groups        map[string]string   // thing group name -> membership id
	billingGroup  string              // "" when in none
}

// maxGroupsPerThing is AWS's limit on thing group memberships per thing.
const maxGroupsPerThing = 10

// CreateThing creates a thing. Repeating it with the same type and attributes
// succeeds without change; with different ones it fails with
// ResourceAlreadyExistsException. The thing type must exist
// (ResourceNotFoundException) and not be deprecated (InvalidRequestException).
// Publishes thing/created and, with a type, a thingTypeAssociation ADDED event.
func (r *Registry) CreateThing(ctx context.Context, in *iot.CreateThingInput, _ ...func(*iot.Options)) (*iot.CreateThingOutput, error) {
	return call(ctx, r, "CreateThing", in, r.createThing)
}

func (r *Registry) createThing(in *iot.CreateThingInput) (*iot.CreateThingOutput, error) {
	if in.ThingName == nil {
		return nil, required("CreateThingInput", "ThingName")
	}
	name := *in.ThingName
	if err := validName("Thing", name); err != nil {
		return nil, err
	}
	var payload map[string]string
	if in.AttributePayload != nil {
		payload = in.AttributePayload.Attributes
		if err := validateAttributes(payload); err != nil {
			return nil, err
		}
	}
	attrs := applyAttributes(nil, payload, false)
	if err := checkAttributeLimits(attrs); err != nil {
		return nil, err
	}
	typeName := aws.ToString(in.ThingTypeName)

	billing := aws.ToString(in.BillingGroupName)

	r.mu.Lock()
	defer r.mu.Unlock()
	if billing != "" && r.billingGroups[billing] == nil {
		return nil, billingGroupNotFound(billing)
	}
	if t := r.things[name]; t != nil {
		if t.typeName == typeName && sameAttributes(t.attrs, attrs) && (billing == "" || t.billingGroup == billing) {
			return &iot.CreateThingOutput{ThingArn: aws.String(t.arn), ThingId: aws.String(t.id), ThingName: aws.String(t.name)}, nil
		}
		return nil, alreadyExists(t.id, t.arn, "Thing %s already exists with different tags or attributes", name)
	}
	var tt *thingType
	if typeName != "" {
		var err error
		if tt, err = r.usableType(typeName); err != nil {
			return nil, err
		}
	}
	t := &thing{
		name: name, id: newUUID(), arn: r.arn("thing", name), typeName: typeName, attrs: attrs, version: 1,
		principals: map[string]struct{}{}, groups: map[string]string{}, billingGroup: billing,
	}
	if billing != "" {
		r.billingGroups[billing].things[name] = struct{}{}
	}
	r.things[name] = t
	r.thingKeys.invalidate()
	if tt != nil {
		tt.things++
	}
	now := r.now()
	r.emitThing(opCreated, t, now)
	if typeName != "" {
		r.emitTypeAssociation(opAdded, t, typeName, now)
	}
	return &iot.CreateThingOutput{ThingArn: aws.String(t.arn), ThingId: aws.String(t.id), ThingName: aws.String(name)}, nil
}

// usableType returns the named thing type if things may be associated with it.
func (r *Registry) usableType(name string) (*thingType, error) {
	tt := r.thingTypes[name]
	if tt == nil {
		return nil, notFound("Thing type %s does not exist", name)
	}
	if tt.deprecated {
		return nil, invalid("Thing type %s is deprecated; things cannot be associated with it", name)
	}
	return tt, nil
}

func (r *Registry) thingNotFound(name string) error {
	return notFound("Thing %s cannot be found.", name)
}

// DescribeThing returns a thing's id, ARN, type, attributes and version.
func (r *Registry) DescribeThing(ctx context.Context, in *iot.DescribeThingInput, _ ...func(*iot.Options)) (*iot.DescribeThingOutput, error) {
	return call(ctx, r, "DescribeThing", in, func(in *iot.DescribeThingInput) (*iot.DescribeThingOutput, error) {
		if in.ThingName == nil {
			return nil, required("DescribeThingInput", "ThingName")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		t := r.things[*in.ThingName]
		if t == nil {
			return nil, r.thingNotFound(*in.ThingName)
		}
		return &iot.DescribeThingOutput{
			Attributes: copyMap(t.attrs), DefaultClientId: aws.String(t.name), ThingArn: aws.String(t.arn),
			ThingId: aws.String(t.id), ThingName: aws.String(t.name), ThingTypeName: optString(t.typeName), Version: t.version,
			BillingGroupName: optString(t.billingGroup),
		}, nil
	})
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// UpdateThing changes a thing's attributes (AttributePayload.Merge=false
// replaces them all; Merge=true merges, an empty value removing the key) and
// its type (ThingTypeName, or RemoveThingType). ExpectedVersion, when set,
// must match (VersionConflictException). Every successful call increments the
// version and publishes thing/updated; a type change also publishes
// thingTypeAssociation REMOVED (old type) and ADDED (new type).
func (r *Registry) UpdateThing(ctx context.Context, in *iot.UpdateThingInput, _ ...func(*iot.Options)) (*iot.UpdateThingOutput, error) {
	return call(ctx, r, "UpdateThing", in, r.updateThing)
}

func (r *Registry) updateThing(in *iot.UpdateThingInput) (*iot.UpdateThingOutput, error) {
	if in.ThingName == nil {
		return nil, required("UpdateThingInput", "ThingName")
	}
	name := *in.ThingName
	if err := validName("Thing", name); err != nil {
		return nil, err
	}
	if in.RemoveThingType && in.ThingTypeName != nil {
		return nil, invalid("Cannot specify both thingTypeName and removeThingType")
	}
	if in.AttributePayload != nil {
		if err := validateAttributes(in.AttributePayload.Attributes); err != nil {
			return nil, err
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.things[name]
	if t == nil {
		return nil, r.thingNotFound(name)
	}
	if in.ExpectedVersion != nil && *in.ExpectedVersion != t.version {
		return nil, versionConflict("thing", name, *in.ExpectedVersion, t.version)
	}
	oldType, newType := t.typeName, t.typeName
	switch {
	case in.RemoveThingType:
		newType = ""
	case in.ThingTypeName != nil:
		newType = *in.ThingTypeName
	}
	var newTT *thingType
	if newType != oldType && newType != "" {
		var err error
		if newTT, err = r.usableType(newType); err != nil {
			return nil, err
		}
	}
	attrs := t.attrs
	if p := in.AttributePayload; p != nil {
		attrs = applyAttributes(t.attrs, p.Attributes, p.Merge)
		if err := checkAttributeLimits(attrs); err != nil {
			return nil, err
		}
	}

	if newType != oldType {
		if old := r.thingTypes[oldType]; old != nil {
			old.things--
		}
		if newTT != nil {
			newTT.things++
		}
	}
	t.typeName, t.attrs = newType, attrs
	t.version++
	now := r.now()
	r.emitThing(opUpdated, t, now)
	if newType != oldType {
		if oldType != "" {
			r.emitTypeAssociation(opRemoved, t, oldType, now)
		}
		if newType != "" {
			r.emitTypeAssociation(opAdded, t, newType, now)
		}
	}
	return &iot.UpdateThingOutput{}, nil
}

// DeleteThing deletes a thing; deleting a missing thing succeeds.
// ExpectedVersion, when set, must match (VersionConflictException). A thing
// with attached principals cannot be deleted (InvalidRequestException). The
// thing leaves its groups silently. Publishes thing/deleted.
func (r *Registry) DeleteThing(ctx context.Context, in *iot.DeleteThingInput, _ ...func(*iot.Options)) (*iot.DeleteThingOutput, error) {
	return call(ctx, r, "DeleteThing", in, func(in *iot.DeleteThingInput) (*iot.DeleteThingOutput, error) {
		if in.ThingName == nil {
			return nil, required("DeleteThingInput", "ThingName")
		}
		name := *in.ThingName
		if err := validName("Thing", name); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		t := r.things[name]
		if t == nil {
			return &iot.DeleteThingOutput{}, nil
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != t.version {
			return nil, versionConflict("thing", name, *in.ExpectedVersion, t.version)
		}
		if len(t.principals) > 0 {
			return nil, invalid("Cannot delete thing %s which has principals attached; detach them first", name)
		}
		for g := range t.groups {
			if grp := r.groups[g]; grp != nil {
				delete(grp.things, name)
			}
		}
		if bg := r.billingGroups[t.billingGroup]; bg != nil {
			delete(bg.things, name)
		}
		if tt := r.thingTypes[t.typeName]; tt != nil {
			tt.things--
		}
		delete(r.things, name)
		r.thingKeys.invalidate()
		r.emitThing(opDeleted, t, r.now())
		return &iot.DeleteThingOutput{}, nil
	})
}

// ListThings lists things by name, optionally filtered by thing type and by
// attribute (AttributeName alone: things having it; with AttributeValue:
// equal to it, or starting with it when UsePrefixAttributeValue).
func (r *Registry) ListThings(ctx context.Context, in *iot.ListThingsInput, _ ...func(*iot.Options)) (*iot.ListThingsOutput, error) {
	return call(ctx, r, "ListThings", in, func(in *iot.ListThingsInput) (*iot.ListThingsOutput, error) {
		p, err := parsePage("ListThings", in.NextToken, in.MaxResults, false)
		if err != nil {
			return nil, err
		}
		if in.AttributeValue != nil && in.AttributeName == nil {
			return nil, invalid("attributeValue requires attributeName")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		var keep func(string) bool
		if in.AttributeName != nil || in.ThingTypeName != nil {
			keep = func(name string) bool {
				t := r.things[name]
				if in.ThingTypeName != nil && t.typeName != *in.ThingTypeName {
					return false
				}
				if in.AttributeName == nil {
					return true
				}
				v, ok := t.attrs[*in.AttributeName]
				switch {
				case !ok:
					return false
				case in.AttributeValue == nil:
					return true
				case in.UsePrefixAttributeValue:
					return strings.HasPrefix(v, *in.AttributeValue)
				default:
					return v == *in.AttributeValue
				}
			}
		}
		names, next := p.page("ListThings", r.thingKeys.get(keysOf(r.things)), keep)
		out := &iot.ListThingsOutput{NextToken: next, Things: make([]types.ThingAttribute, 0, len(names))}
		for _, n := range names {
			t := r.things[n]
			out.Things = append(out.Things, types.ThingAttribute{
				Attributes: copyMap(t.attrs), ThingArn: aws.String(t.arn), ThingName: aws.String(t.name),
				ThingTypeName: optString(t.typeName), Version: t.version,
			})
		}
		return out, nil
	})
}
