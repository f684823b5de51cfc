package replication

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/fleetquery"
)

// IndexingReader reads a Region's fleet-indexing configuration (*iot.Client).
type IndexingReader interface {
	GetIndexingConfiguration(ctx context.Context, in *iot.GetIndexingConfigurationInput, optFns ...func(*iot.Options)) (*iot.GetIndexingConfigurationOutput, error)
}

// DynamicGroups are the target calls that converge dynamic thing groups and the
// fleet indexing their queries need (*iot.Client).
type DynamicGroups interface {
	IndexingReader
	UpdateIndexingConfiguration(ctx context.Context, in *iot.UpdateIndexingConfigurationInput, optFns ...func(*iot.Options)) (*iot.UpdateIndexingConfigurationOutput, error)
	CreateDynamicThingGroup(ctx context.Context, in *iot.CreateDynamicThingGroupInput, optFns ...func(*iot.Options)) (*iot.CreateDynamicThingGroupOutput, error)
	UpdateDynamicThingGroup(ctx context.Context, in *iot.UpdateDynamicThingGroupInput, optFns ...func(*iot.Options)) (*iot.UpdateDynamicThingGroupOutput, error)
	DeleteDynamicThingGroup(ctx context.Context, in *iot.DeleteDynamicThingGroupInput, optFns ...func(*iot.Options)) (*iot.DeleteDynamicThingGroupOutput, error)
}

// GroupIndexing tells what a dynamic group's query needs of fleet indexing as the
// source knows it: state.View from the group's item (captured in the origin),
// SourceIndexing from the source Region's configuration. nil means "compute it from
// the query alone" (no custom fields).
type GroupIndexing interface {
	ThingGroupIndexing(ctx context.Context, group, query string) (*types.ThingIndexingConfiguration, error)
}

// SourceIndexing is the GroupIndexing of a source Region's API (iotdr sync): the
// custom fields the query names are taken from the Region's configuration, read
// once. It is safe for concurrent use.
type SourceIndexing struct {
	IoT IndexingReader
	mu  sync.Mutex
	cfg *types.ThingIndexingConfiguration
}

// ThingGroupIndexing returns fleetquery.Needs of the query over the source's
// configuration.
func (s *SourceIndexing) ThingGroupIndexing(ctx context.Context, _, query string) (*types.ThingIndexingConfiguration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		out, err := s.IoT.GetIndexingConfiguration(ctx, &iot.GetIndexingConfigurationInput{})
		if err != nil {
			return nil, fmt.Errorf("indexing configuration: %w", err)
		}
		s.cfg = out.ThingIndexingConfiguration
		if s.cfg == nil {
			s.cfg = &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}
		}
	}
	return fleetquery.Needs(query, s.cfg), nil
}

// dynamicThingGroup converges a dynamic group: the target's fleet indexing raised
// to what the query needs (merged, never lowered), then the group created, or its
// query and properties updated; a static group of that name in the target is
// deleted first (a group cannot change kind). Its members are not replicated: the
// target's own index derives them from its things.
func (r *Replicator) dynamicThingGroup(ctx context.Context, name string, src *iot.DescribeThingGroupOutput, rec *recorder, depth int) error {
	if r.TargetDynamic == nil {
		return errDynamicGroup
	}
	query := aws.ToString(src.QueryString)
	if query == "" {
		return errDynamicGroup // an item captured before dynamic groups were replicated
	}
	if err := r.raiseIndexing(ctx, name, query, rec); err != nil {
		return err
	}
	sp := ThingGroupProperties(src)
	props := &types.ThingGroupProperties{ThingGroupDescription: sp.ThingGroupDescription}
	if attrs := ThingGroupAttributes(sp); len(attrs) > 0 {
		props.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	var replaced []string // a static group's tree deleted to make room
	for attempt := 0; ; attempt++ {
		tgt, err := r.Target.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
		switch {
		case IsNotFound(err):
			_, err := r.TargetDynamic.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
				ThingGroupName: aws.String(name), QueryString: aws.String(query), QueryVersion: src.QueryVersion, IndexName: src.IndexName,
				ThingGroupProperties: props,
			})
			if isAlreadyExists(err) && attempt == 0 {
				continue // created concurrently: compare
			}
			if err != nil {
				return fmt.Errorf("create dynamic group: %w", err)
			}
			rec.add("created dynamic thing group %s (%s)", name, query)
			return r.convergeDescendants(ctx, name, replaced, rec, depth)
		case err != nil:
			return fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
		case tgt.QueryString == nil:
			if attempt > 0 {
				return fmt.Errorf("thing group %s is still static in %s after it was deleted", name, r.TargetRegion)
			}
			if replaced, err = r.deleteGroupTree(ctx, name, rec, depth); err != nil {
				return err
			}
			continue
		}
		tp := ThingGroupProperties(tgt)
		if aws.ToString(tgt.QueryString) == query && aws.ToString(sp.ThingGroupDescription) == aws.ToString(tp.ThingGroupDescription) &&
			maps.Equal(ThingGroupAttributes(sp), ThingGroupAttributes(tp)) {
			return nil
		}
		_, err = r.TargetDynamic.UpdateDynamicThingGroup(ctx, &iot.UpdateDynamicThingGroupInput{
			ThingGroupName: aws.String(name), QueryString: aws.String(query), QueryVersion: src.QueryVersion, IndexName: src.IndexName,
			ThingGroupProperties: &types.ThingGroupProperties{
				ThingGroupDescription: aws.String(aws.ToString(sp.ThingGroupDescription)),
				AttributePayload:      &types.AttributePayload{Attributes: fullAttrs(ThingGroupAttributes(sp)), Merge: false},
			},
		})
		if err != nil {
			return fmt.Errorf("update dynamic group: %w", err)
		}
		rec.add("updated dynamic thing group %s (%s)", name, query)
		return nil
	}
}

// raiseIndexing merges what the group's query needs into the target's fleet
// indexing: read the configuration, raise only what is missing, keep everything
// other users of the account set (modes, named shadows, custom fields, geo
// locations, thing-group indexing), and write only when something changed.
func (r *Replicator) raiseIndexing(ctx context.Context, name, query string, rec *recorder) error {
	var need *types.ThingIndexingConfiguration
	if r.SourceIndexing != nil {
		n, err := r.SourceIndexing.ThingGroupIndexing(ctx, name, query)
		if err != nil {
			return fmt.Errorf("indexing the query needs, in %s: %w", r.SourceRegion, err)
		}
		need = n
	}
	if need == nil {
		need = fleetquery.Needs(query, nil)
	}
	out, err := r.TargetDynamic.GetIndexingConfiguration(ctx, &iot.GetIndexingConfigurationInput{})
	if err != nil {
		return fmt.Errorf("indexing configuration in %s: %w", r.TargetRegion, err)
	}
	missing := fleetquery.Missing(out.ThingIndexingConfiguration, need)
	merged, changed := fleetquery.Merge(out.ThingIndexingConfiguration, need)
	if !changed {
		return nil
	}
	// Only the thing-indexing configuration is sent: AWS leaves the thing-group one
	// as it is when the request omits it.
	if _, err := r.TargetDynamic.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: merged}); err != nil {
		return fmt.Errorf("raise fleet indexing in %s for dynamic group %s: %w", r.TargetRegion, name, err)
	}
	rec.add("raised fleet indexing in %s for dynamic group %s: %s", r.TargetRegion, name, strings.Join(missing, ", "))
	return nil
}

// deleteDynamicThingGroup deletes a dynamic group from the target.
func (r *Replicator) deleteDynamicThingGroup(ctx context.Context, name string, rec *recorder) error {
	if r.TargetDynamic == nil {
		return errDynamicGroup
	}
	if _, err := r.TargetDynamic.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String(name)}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete dynamic group %s: %w", name, err)
	}
	rec.add("deleted dynamic thing group %s", name)
	return nil
}

// isDynamic reports whether a described group is dynamic.
func isDynamic(d *iot.DescribeThingGroupOutput) bool { return d != nil && d.QueryString != nil }

// IsDynamicGroup reports whether the group is a dynamic group in c; a missing group
// is not.
func IsDynamicGroup(ctx context.Context, c interface {
	DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error)
}, group string) (bool, error) {
	d, err := c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(group)})
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return isDynamic(d), nil
}
