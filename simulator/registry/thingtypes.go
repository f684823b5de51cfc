package registry

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

type thingType struct {
	name, id, arn   string
	description     *string
	searchable      []string // sorted
	propagating     []types.PropagatingAttribute
	deprecated      bool
	deprecationDate time.Time
	created         time.Time
	things          int // things of this type, so DeleteThingType needs no scan
}

// maxSearchableAttributes is AWS's limit per thing type.
const maxSearchableAttributes = 3

func (tt *thingType) properties() *types.ThingTypeProperties {
	p := &types.ThingTypeProperties{SearchableAttributes: append([]string{}, tt.searchable...)}
	if tt.description != nil {
		p.ThingTypeDescription = aws.String(*tt.description)
	}
	if tt.propagating != nil {
		p.Mqtt5Configuration = &types.Mqtt5Configuration{PropagatingAttributes: clonePropagating(tt.propagating)}
	}
	return p
}

func (tt *thingType) metadata() *types.ThingTypeMetadata {
	m := &types.ThingTypeMetadata{CreationDate: timePtr(tt.created), Deprecated: tt.deprecated}
	if tt.deprecated {
		m.DeprecationDate = timePtr(tt.deprecationDate)
	}
	return m
}

func clonePropagating(in []types.PropagatingAttribute) []types.PropagatingAttribute {
	out := make([]types.PropagatingAttribute, len(in))
	for i, pa := range in {
		out[i] = types.PropagatingAttribute{
			ConnectionAttribute: cloneString(pa.ConnectionAttribute), ThingAttribute: cloneString(pa.ThingAttribute),
			UserPropertyKey: cloneString(pa.UserPropertyKey),
		}
	}
	return out
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	return aws.String(*s)
}

func equalStringPtr(a, b *string) bool { return aws.ToString(a) == aws.ToString(b) }

func sameType(tt *thingType, description *string, searchable []string, propagating []types.PropagatingAttribute) bool {
	if !equalStringPtr(tt.description, description) || !slices.Equal(tt.searchable, searchable) || len(tt.propagating) != len(propagating) {
		return false
	}
	for i := range propagating {
		a, b := tt.propagating[i], propagating[i]
		if !equalStringPtr(a.ConnectionAttribute, b.ConnectionAttribute) || !equalStringPtr(a.ThingAttribute, b.ThingAttribute) ||
			!equalStringPtr(a.UserPropertyKey, b.UserPropertyKey) {
			return false
		}
	}
	return true
}

// CreateThingType creates a thing type. Repeating it with the same
// properties succeeds without change; with different ones it fails with
// ResourceAlreadyExistsException. At most 3 searchable attributes. Tags are
// kept on creation (tags.go). Publishes thingType/created.
func (r *Registry) CreateThingType(ctx context.Context, in *iot.CreateThingTypeInput, _ ...func(*iot.Options)) (*iot.CreateThingTypeOutput, error) {
	return call(ctx, r, "CreateThingType", in, func(in *iot.CreateThingTypeInput) (*iot.CreateThingTypeOutput, error) {
		if in.ThingTypeName == nil {
			return nil, required("CreateThingTypeInput", "ThingTypeName")
		}
		name := *in.ThingTypeName
		if err := validName("Thing type", name); err != nil {
			return nil, err
		}
		description, searchable, propagating, err := typeProperties(in.ThingTypeProperties)
		if err != nil {
			return nil, err
		}
		if err := createTags(in.Tags); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if tt := r.thingTypes[name]; tt != nil {
			if sameType(tt, description, searchable, propagating) {
				return &iot.CreateThingTypeOutput{ThingTypeArn: aws.String(tt.arn), ThingTypeId: aws.String(tt.id), ThingTypeName: aws.String(name)}, nil
			}
			return nil, alreadyExists(tt.id, tt.arn, "Thing type %s already exists with different properties", name)
		}
		tt := &thingType{
			name: name, id: newUUID(), arn: r.arn("thingtype", name), description: description,
			searchable: searchable, propagating: propagating, created: r.now(),
		}
		r.thingTypes[name] = tt
		_ = r.setTags(tt.arn, in.Tags) // checked by createTags
		r.typeKeys.invalidate()
		r.emitThingType(opCreated, tt, tt.created)
		return &iot.CreateThingTypeOutput{ThingTypeArn: aws.String(tt.arn), ThingTypeId: aws.String(tt.id), ThingTypeName: aws.String(name)}, nil
	})
}

// typeProperties validates p and returns its parts, searchable attributes sorted
// (AWS treats them as a set) and never nil.
func typeProperties(p *types.ThingTypeProperties) (description *string, searchable []string, propagating []types.PropagatingAttribute, err error) {
	if p == nil {
		return nil, []string{}, nil, nil
	}
	if len(p.SearchableAttributes) > maxSearchableAttributes {
		return nil, nil, nil, invalid("A thing type can have at most %d searchable attributes, got %d", maxSearchableAttributes, len(p.SearchableAttributes))
	}
	for _, a := range p.SearchableAttributes {
		if err := validAttrName(a); err != nil {
			return nil, nil, nil, err
		}
	}
	searchable = append([]string{}, p.SearchableAttributes...)
	sort.Strings(searchable)
	if p.Mqtt5Configuration != nil {
		propagating = clonePropagating(p.Mqtt5Configuration.PropagatingAttributes)
	}
	return cloneString(p.ThingTypeDescription), searchable, propagating, nil
}

// UpdateThingType replaces a thing type's properties (description, searchable
// attributes, MQTT 5 propagating attributes) with the ones given, whole: a property
// left out is cleared. Without ThingTypeProperties nothing changes. A deprecated type
// can be updated. Publishes thingType/updated when something changed.
func (r *Registry) UpdateThingType(ctx context.Context, in *iot.UpdateThingTypeInput, _ ...func(*iot.Options)) (*iot.UpdateThingTypeOutput, error) {
	return call(ctx, r, "UpdateThingType", in, func(in *iot.UpdateThingTypeInput) (*iot.UpdateThingTypeOutput, error) {
		if in.ThingTypeName == nil {
			return nil, required("UpdateThingTypeInput", "ThingTypeName")
		}
		description, searchable, propagating, err := typeProperties(in.ThingTypeProperties)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		tt := r.thingTypes[*in.ThingTypeName]
		if tt == nil {
			return nil, thingTypeNotFound(*in.ThingTypeName)
		}
		if in.ThingTypeProperties == nil || sameType(tt, description, searchable, propagating) {
			return &iot.UpdateThingTypeOutput{}, nil
		}
		tt.description, tt.searchable, tt.propagating = description, searchable, propagating
		r.emitThingType(opUpdated, tt, r.now())
		return &iot.UpdateThingTypeOutput{}, nil
	})
}

func thingTypeNotFound(name string) error {
	return notFound("Thing type %s does not exist", name)
}

// DescribeThingType returns a thing type with its properties and metadata.
func (r *Registry) DescribeThingType(ctx context.Context, in *iot.DescribeThingTypeInput, _ ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error) {
	return call(ctx, r, "DescribeThingType", in, func(in *iot.DescribeThingTypeInput) (*iot.DescribeThingTypeOutput, error) {
		if in.ThingTypeName == nil {
			return nil, required("DescribeThingTypeInput", "ThingTypeName")
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		tt := r.thingTypes[*in.ThingTypeName]
		if tt == nil {
			return nil, thingTypeNotFound(*in.ThingTypeName)
		}
		return &iot.DescribeThingTypeOutput{
			ThingTypeArn: aws.String(tt.arn), ThingTypeId: aws.String(tt.id), ThingTypeName: aws.String(tt.name),
			ThingTypeMetadata: tt.metadata(), ThingTypeProperties: tt.properties(),
		}, nil
	})
}

// DeprecateThingType deprecates a thing type (or undoes it with
// UndoDeprecate). Things cannot be associated with a deprecated type.
// Publishes thingType/updated.
func (r *Registry) DeprecateThingType(ctx context.Context, in *iot.DeprecateThingTypeInput, _ ...func(*iot.Options)) (*iot.DeprecateThingTypeOutput, error) {
	return call(ctx, r, "DeprecateThingType", in, func(in *iot.DeprecateThingTypeInput) (*iot.DeprecateThingTypeOutput, error) {
		if in.ThingTypeName == nil {
			return nil, required("DeprecateThingTypeInput", "ThingTypeName")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		tt := r.thingTypes[*in.ThingTypeName]
		if tt == nil {
			return nil, thingTypeNotFound(*in.ThingTypeName)
		}
		now := r.now()
		if in.UndoDeprecate {
			tt.deprecated, tt.deprecationDate = false, time.Time{}
		} else {
			tt.deprecated, tt.deprecationDate = true, now
		}
		r.emitThingType(opUpdated, tt, now)
		return &iot.DeprecateThingTypeOutput{}, nil
	})
}

// DeleteThingType deletes a thing type. It must be deprecated and no thing may
// still use it (InvalidRequestException); AWS's five-minute wait after
// deprecation is not modelled. Publishes thingType/deleted.
func (r *Registry) DeleteThingType(ctx context.Context, in *iot.DeleteThingTypeInput, _ ...func(*iot.Options)) (*iot.DeleteThingTypeOutput, error) {
	return call(ctx, r, "DeleteThingType", in, func(in *iot.DeleteThingTypeInput) (*iot.DeleteThingTypeOutput, error) {
		if in.ThingTypeName == nil {
			return nil, required("DeleteThingTypeInput", "ThingTypeName")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		tt := r.thingTypes[*in.ThingTypeName]
		if tt == nil {
			return nil, thingTypeNotFound(*in.ThingTypeName)
		}
		if !tt.deprecated {
			return nil, invalid("Thing type %s must be deprecated before it can be deleted", tt.name)
		}
		if tt.things > 0 {
			return nil, invalid("Thing type %s is still associated with %d things", tt.name, tt.things)
		}
		delete(r.thingTypes, tt.name)
		delete(r.tags, tt.arn)
		r.typeKeys.invalidate()
		r.emitThingType(opDeleted, tt, r.now())
		return &iot.DeleteThingTypeOutput{}, nil
	})
}

// ListThingTypes lists thing types by name; ThingTypeName narrows the list to
// that type.
func (r *Registry) ListThingTypes(ctx context.Context, in *iot.ListThingTypesInput, _ ...func(*iot.Options)) (*iot.ListThingTypesOutput, error) {
	return call(ctx, r, "ListThingTypes", in, func(in *iot.ListThingTypesInput) (*iot.ListThingTypesOutput, error) {
		p, err := parsePage("ListThingTypes", in.NextToken, in.MaxResults, false)
		if err != nil {
			return nil, err
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		var keep func(string) bool
		if in.ThingTypeName != nil {
			keep = func(n string) bool { return n == *in.ThingTypeName }
		}
		names, next := p.page("ListThingTypes", r.typeKeys.get(keysOf(r.thingTypes)), keep)
		out := &iot.ListThingTypesOutput{NextToken: next, ThingTypes: make([]types.ThingTypeDefinition, 0, len(names))}
		for _, n := range names {
			tt := r.thingTypes[n]
			out.ThingTypes = append(out.ThingTypes, types.ThingTypeDefinition{
				ThingTypeArn: aws.String(tt.arn), ThingTypeName: aws.String(tt.name),
				ThingTypeMetadata: tt.metadata(), ThingTypeProperties: tt.properties(),
			})
		}
		return out, nil
	})
}
