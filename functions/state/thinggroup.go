package state

import (
	"bytes"
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// sameThingGroup compares two thing-group items but for the types of the custom
// fields their queries need: each Region captures them from its own indexing
// configuration, and the applier keeps a type the target already has (another user
// of the account chose it), so comparing types would make the two Regions' sweeps
// overwrite each other for ever. Names are compared: a field one Region indexes and
// the other lacks is content (it is raised in the other, and the union settles).
func sameThingGroup(a, b Item) bool {
	var ga, gb ThingGroup
	if a.Decode(&ga) != nil || b.Decode(&gb) != nil {
		return false
	}
	for _, g := range []*ThingGroup{&ga, &gb} {
		if g.Indexing != nil {
			for i := range g.Indexing.CustomFields {
				g.Indexing.CustomFields[i].Type = ""
			}
		}
	}
	ea, errA := canonical(ga)
	eb, errB := canonical(gb)
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

// IndexingOf converts an SDK thing-indexing configuration into an item's Indexing
// (nil for nil).
func IndexingOf(c *iottypes.ThingIndexingConfiguration) *Indexing {
	if c == nil {
		return nil
	}
	ix := &Indexing{Mode: string(c.ThingIndexingMode), Connectivity: string(c.ThingConnectivityIndexingMode),
		NamedShadow: string(c.NamedShadowIndexingMode), DeviceDefender: string(c.DeviceDefenderIndexingMode)}
	if c.Filter != nil {
		ix.NamedShadows = append([]string(nil), c.Filter.NamedShadowNames...)
	}
	for _, f := range c.CustomFields {
		ix.CustomFields = append(ix.CustomFields, CustomField{Name: aws.ToString(f.Name), Type: string(f.Type)})
	}
	return ix
}

// Configuration converts an item's Indexing back into the SDK's type.
func (ix *Indexing) Configuration() *iottypes.ThingIndexingConfiguration {
	c := &iottypes.ThingIndexingConfiguration{ThingIndexingMode: iottypes.ThingIndexingMode(ix.Mode),
		ThingConnectivityIndexingMode: iottypes.ThingConnectivityIndexingMode(ix.Connectivity),
		NamedShadowIndexingMode:       iottypes.NamedShadowIndexingMode(ix.NamedShadow),
		DeviceDefenderIndexingMode:    iottypes.DeviceDefenderIndexingMode(ix.DeviceDefender)}
	if len(ix.NamedShadows) > 0 {
		c.Filter = &iottypes.IndexingFilter{NamedShadowNames: append([]string(nil), ix.NamedShadows...)}
	}
	for _, f := range ix.CustomFields {
		c.CustomFields = append(c.CustomFields, iottypes.Field{Name: aws.String(f.Name), Type: iottypes.FieldType(f.Type)})
	}
	return c
}

// ThingGroupIndexing returns what the dynamic group's query needs of fleet
// indexing, as its item recorded it in the origin (replication.GroupIndexing); nil
// when the item has none.
func (v *View) ThingGroupIndexing(ctx context.Context, group, _ string) (*iottypes.ThingIndexingConfiguration, error) {
	var g ThingGroup
	if _, err := v.get(ctx, spec.KindThingGroup, group, &g); err != nil {
		return nil, err
	}
	if g.Indexing == nil {
		return nil, nil
	}
	return g.Indexing.Configuration(), nil
}
