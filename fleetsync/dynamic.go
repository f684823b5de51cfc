package fleetsync

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/replication"
)

var _ replication.DynamicGroups = (*LimitedIoT)(nil)

// limitedDynamic runs one dynamic-group or fleet-indexing call of Next under the
// limiter; an endpoint without them fails the dynamic group with that reason.
func limitedDynamic[O any](ctx context.Context, c *LimitedIoT, api string, call func(d replication.DynamicGroups) (*O, error)) (*O, error) {
	d, ok := c.Next.(replication.DynamicGroups)
	if !ok {
		return nil, fmt.Errorf("%s: dynamic thing groups not supported by this endpoint", c.Limiter.Region())
	}
	return do(ctx, c.Limiter, api, func() (*O, error) { return call(d) })
}

// GetIndexingConfiguration calls Next.GetIndexingConfiguration under the limiter.
func (c *LimitedIoT) GetIndexingConfiguration(ctx context.Context, in *iot.GetIndexingConfigurationInput, optFns ...func(*iot.Options)) (*iot.GetIndexingConfigurationOutput, error) {
	return limitedDynamic(ctx, c, "GetIndexingConfiguration", func(d replication.DynamicGroups) (*iot.GetIndexingConfigurationOutput, error) {
		return d.GetIndexingConfiguration(ctx, in, optFns...)
	})
}

// UpdateIndexingConfiguration calls Next.UpdateIndexingConfiguration under the limiter.
func (c *LimitedIoT) UpdateIndexingConfiguration(ctx context.Context, in *iot.UpdateIndexingConfigurationInput, optFns ...func(*iot.Options)) (*iot.UpdateIndexingConfigurationOutput, error) {
	return limitedDynamic(ctx, c, "UpdateIndexingConfiguration", func(d replication.DynamicGroups) (*iot.UpdateIndexingConfigurationOutput, error) {
		return d.UpdateIndexingConfiguration(ctx, in, optFns...)
	})
}

// CreateDynamicThingGroup calls Next.CreateDynamicThingGroup under the limiter.
func (c *LimitedIoT) CreateDynamicThingGroup(ctx context.Context, in *iot.CreateDynamicThingGroupInput, optFns ...func(*iot.Options)) (*iot.CreateDynamicThingGroupOutput, error) {
	return limitedDynamic(ctx, c, "CreateDynamicThingGroup", func(d replication.DynamicGroups) (*iot.CreateDynamicThingGroupOutput, error) {
		return d.CreateDynamicThingGroup(ctx, in, optFns...)
	})
}

// UpdateDynamicThingGroup calls Next.UpdateDynamicThingGroup under the limiter.
func (c *LimitedIoT) UpdateDynamicThingGroup(ctx context.Context, in *iot.UpdateDynamicThingGroupInput, optFns ...func(*iot.Options)) (*iot.UpdateDynamicThingGroupOutput, error) {
	return limitedDynamic(ctx, c, "UpdateDynamicThingGroup", func(d replication.DynamicGroups) (*iot.UpdateDynamicThingGroupOutput, error) {
		return d.UpdateDynamicThingGroup(ctx, in, optFns...)
	})
}

// DeleteDynamicThingGroup calls Next.DeleteDynamicThingGroup under the limiter.
func (c *LimitedIoT) DeleteDynamicThingGroup(ctx context.Context, in *iot.DeleteDynamicThingGroupInput, optFns ...func(*iot.Options)) (*iot.DeleteDynamicThingGroupOutput, error) {
	return limitedDynamic(ctx, c, "DeleteDynamicThingGroup", func(d replication.DynamicGroups) (*iot.DeleteDynamicThingGroupOutput, error) {
		return d.DeleteDynamicThingGroup(ctx, in, optFns...)
	})
}

// dynamicSides returns what dynamic-group replication needs of the sync's clients:
// the source's indexing configuration (for the custom fields a query names) and the
// target's dynamic-group calls; nil, nil when either client has none, which leaves
// dynamic groups out (logged by the replicator).
func dynamicSides(src, tgt replication.IoT) (replication.GroupIndexing, replication.DynamicGroups) {
	s, ok1 := src.(replication.IndexingReader)
	t, ok2 := tgt.(replication.DynamicGroups)
	if !ok1 || !ok2 {
		return nil, nil
	}
	return &replication.SourceIndexing{IoT: s}, t
}
