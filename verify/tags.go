package verify

import (
	"context"
	"fmt"
	"maps"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// Tags is the resource of tag differences; its Name is "<kind>/<name>" of the tagged
// resource (a thing type, thing group, billing group, policy, role alias,
// provisioning template or CA certificate).
const Tags Resource = "tags"

// tagClients returns the tagging sides of c's clients; ok is false when either has
// none (then tags are not compared).
func (c *Comparer) tagClients() (src, tgt replication.TagSource, ok bool) {
	src, ok1 := c.Source.(replication.TagSource)
	tgt, ok2 := c.Target.(replication.TagSource)
	return src, tgt, ok1 && ok2
}

// Tags compares the tags of one resource in both Regions (AWS's own aws: tags left
// out); a resource either Region lacks is the resource's own difference, not a tag
// difference.
func (c *Comparer) Tags(ctx context.Context, kind, name string) ([]Difference, error) {
	if _, _, ok := c.tagClients(); !ok {
		return nil, nil
	}
	var sb, tb replication.BillingGroupSource
	if s, t, ok := c.billingClients(); ok {
		sb, tb = s, t
	}
	var sp, tp replication.ProvisioningSource
	if c.SourceProvisioning != nil && c.TargetProvisioning != nil {
		sp, tp = c.SourceProvisioning, c.TargetProvisioning
	}
	sa, sok, err := replication.ResourceARN(ctx, c.Source, sb, sp, kind, name)
	if err != nil {
		return nil, fmt.Errorf("describe %s %s in %s: %w", kind, name, c.SourceRegion, err)
	}
	ta, tok, err := replication.ResourceARN(ctx, c.Target, tb, tp, kind, name)
	if err != nil {
		return nil, fmt.Errorf("describe %s %s in %s: %w", kind, name, c.TargetRegion, err)
	}
	if !sok || !tok {
		return nil, nil
	}
	return c.tagsByARN(ctx, kind, name, sa, ta)
}

func (c *Comparer) tagsByARN(ctx context.Context, kind, name, srcARN, tgtARN string) ([]Difference, error) {
	src, tgt, ok := c.tagClients()
	if !ok {
		return nil, nil
	}
	if c.noTags.Load() {
		return nil, nil
	}
	a, err := replication.ListTags(ctx, src, srcARN)
	if err != nil && replication.TaggingUnsupported(err) {
		c.noTags.Store(true) // an emulator without tagging: tags are not compared
		return nil, nil
	}
	if replication.IsNotFound(err) {
		return nil, nil // deleted meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("list tags of %s %s in %s: %w", kind, name, c.SourceRegion, err)
	}
	b, err := replication.ListTags(ctx, tgt, tgtARN)
	if replication.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tags of %s %s in %s: %w", kind, name, c.TargetRegion, err)
	}
	if maps.Equal(a, b) {
		return nil, nil
	}
	return []Difference{{Kind: Different, Resource: Tags, Name: spec.TagsKey(kind, name), Field: "tags", Source: attrString(a), Target: attrString(b)}}, nil
}

// withTags appends the resource's tag differences to compare's, when compare found
// it in both Regions.
func (c *Comparer) withTags(kind string, compare func(context.Context, string) ([]Difference, error)) func(context.Context, string) ([]Difference, error) {
	return func(ctx context.Context, name string) ([]Difference, error) {
		out, err := compare(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, d := range out {
			if d.Kind != Different {
				return out, nil // missing or extra: its tags go with it
			}
		}
		tags, err := c.Tags(ctx, kind, name)
		return append(out, tags...), err
	}
}
