package replication

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// ThingType converges one thing type: created with the source's properties when
// missing, deprecated or undeprecated to match, and deleted (after deprecation) when
// the source no longer has it. While target things still use a type that is gone from
// the source, the delete fails with a transient error so that it is retried once those
// things have converged.
func (r *Replicator) ThingType(ctx context.Context, name string) (Outcome, error) {
	rec := &recorder{}
	err := r.thingType(ctx, name, rec)
	return r.finish(ctx, "thing type", name, rec, 0, err)
}

func (r *Replicator) thingType(ctx context.Context, name string, rec *recorder) error {
	if err := validName("thing type", name); err != nil {
		return err
	}
	src, err := r.Source.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
	if IsNotFound(err) {
		return r.deleteThingType(ctx, name, rec)
	}
	if err != nil {
		return fmt.Errorf("describe in %s: %w", r.SourceRegion, err)
	}
	srcDeprecated := src.ThingTypeMetadata != nil && src.ThingTypeMetadata.Deprecated

	tgtDeprecated := false
	tgt, err := r.Target.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
	switch {
	case IsNotFound(err):
		_, err := r.Target.CreateThingType(ctx, &iot.CreateThingTypeInput{
			ThingTypeName: aws.String(name), ThingTypeProperties: src.ThingTypeProperties,
		})
		switch {
		case isAlreadyExists(err): // created concurrently: converge its state
			tgt, err := r.Target.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
			if err != nil {
				return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
			}
			tgtDeprecated = tgt.ThingTypeMetadata != nil && tgt.ThingTypeMetadata.Deprecated
		case err != nil:
			return fmt.Errorf("create: %w", err)
		default:
			rec.add("created thing type %s", name)
		}
	case err != nil:
		return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
	default:
		tgtDeprecated = tgt.ThingTypeMetadata != nil && tgt.ThingTypeMetadata.Deprecated
		if !sameTypeProperties(src.ThingTypeProperties, tgt.ThingTypeProperties) {
			// UpdateThingType replaces the properties in place: no thing is detached.
			// Every property is sent, empty ones as [] so that what the target has
			// beyond the source is cleared.
			props := &types.ThingTypeProperties{SearchableAttributes: []string{}, Mqtt5Configuration: &types.Mqtt5Configuration{PropagatingAttributes: []types.PropagatingAttribute{}}}
			if p := src.ThingTypeProperties; p != nil {
				props.ThingTypeDescription = p.ThingTypeDescription
				if p.SearchableAttributes != nil {
					props.SearchableAttributes = p.SearchableAttributes
				}
				if pa := propagating(p); pa != nil {
					props.Mqtt5Configuration.PropagatingAttributes = pa
				}
			}
			if _, err := r.Target.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String(name), ThingTypeProperties: props}); err != nil {
				return fmt.Errorf("update: %w", err)
			}
			rec.add("updated thing type %s properties", name)
		}
	}
	if srcDeprecated != tgtDeprecated {
		_, err := r.Target.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String(name), UndoDeprecate: !srcDeprecated})
		if err != nil {
			return fmt.Errorf("deprecate (undo=%t): %w", !srcDeprecated, err)
		}
		if srcDeprecated {
			rec.add("deprecated thing type %s", name)
		} else {
			rec.add("undeprecated thing type %s", name)
		}
	}
	return nil
}

// deleteThingType deprecates and deletes the target thing type once no target thing
// uses it.
func (r *Replicator) deleteThingType(ctx context.Context, name string, rec *recorder) error {
	tgt, err := r.Target.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
	}
	if tgt.ThingTypeMetadata == nil || !tgt.ThingTypeMetadata.Deprecated {
		_, err := r.Target.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String(name)})
		if err != nil && !IsNotFound(err) {
			return fmt.Errorf("deprecate: %w", err)
		}
		rec.add("deprecated thing type %s", name)
	}
	used, err := typeInUse(ctx, r.Target, name)
	if err != nil {
		return fmt.Errorf("list things of type %s: %w", name, err)
	}
	if used {
		return fmt.Errorf("deleted in %s but still used by things in %s; retry once they converge", r.SourceRegion, r.TargetRegion)
	}
	_, err = r.Target.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String(name)})
	switch {
	case IsNotFound(err):
		return nil
	case err != nil:
		// AWS refuses (InvalidRequestException) to delete a type deprecated less than
		// five minutes ago or still in use: both pass with time.
		return fmt.Errorf("delete: %w", retryable{err})
	}
	rec.add("deleted thing type %s", name)
	return nil
}

func sameTypeProperties(a, b *types.ThingTypeProperties) bool {
	if a == nil {
		a = &types.ThingTypeProperties{}
	}
	if b == nil {
		b = &types.ThingTypeProperties{}
	}
	sa, sb := slices.Clone(a.SearchableAttributes), slices.Clone(b.SearchableAttributes)
	slices.Sort(sa)
	slices.Sort(sb)
	return aws.ToString(a.ThingTypeDescription) == aws.ToString(b.ThingTypeDescription) && slices.Equal(sa, sb) &&
		slices.EqualFunc(propagating(a), propagating(b), func(x, y types.PropagatingAttribute) bool {
			return aws.ToString(x.UserPropertyKey) == aws.ToString(y.UserPropertyKey) &&
				aws.ToString(x.ThingAttribute) == aws.ToString(y.ThingAttribute) &&
				aws.ToString(x.ConnectionAttribute) == aws.ToString(y.ConnectionAttribute)
		})
}

func propagating(p *types.ThingTypeProperties) []types.PropagatingAttribute {
	if p.Mqtt5Configuration == nil {
		return nil
	}
	return p.Mqtt5Configuration.PropagatingAttributes
}
