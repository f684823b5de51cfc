package registry

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/fleetquery"
)

// indexing is the account-and-Region fleet-indexing configuration: what
// UpdateIndexingConfiguration set, managed fields excluded (they follow the modes).
type indexing struct {
	thing types.ThingIndexingConfiguration
	group types.ThingGroupIndexingConfiguration
}

// defaultIndexing is where a Region starts: thing indexing REGISTRY (as an account
// that has turned it on; the World's Regions model such accounts), thing-group
// indexing OFF.
func defaultIndexing() indexing {
	return indexing{
		thing: types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry},
		group: types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOff},
	}
}

// maxIndexedNamedShadows is AWS's default limit on filter.namedShadowNames.
const maxIndexedNamedShadows = 10

func field(name, typ string) types.Field {
	return types.Field{Name: aws.String(name), Type: types.FieldType(typ)}
}

// managedThingFields are the fields AWS indexes itself for each data source, as
// GetIndexingConfiguration lists them.
func managedThingFields(c types.ThingIndexingConfiguration) []types.Field {
	if c.ThingIndexingMode == types.ThingIndexingModeOff || c.ThingIndexingMode == "" {
		return nil
	}
	out := []types.Field{field("thingId", "String"), field("thingName", "String"), field("registry.version", "Number"),
		field("registry.thingTypeName", "String"), field("registry.thingGroupNames", "String")}
	if c.ThingIndexingMode == types.ThingIndexingModeRegistryAndShadow {
		out = append(out, field("shadow.version", "Number"), field("shadow.hasDelta", "Boolean"))
	}
	if c.ThingConnectivityIndexingMode == types.ThingConnectivityIndexingModeStatus {
		out = append(out, field("connectivity.timestamp", "Number"), field("connectivity.version", "Number"),
			field("connectivity.connected", "Boolean"), field("connectivity.disconnectReason", "String"))
	}
	return out
}

func managedGroupFields(c types.ThingGroupIndexingConfiguration) []types.Field {
	if c.ThingGroupIndexingMode != types.ThingGroupIndexingModeOn {
		return nil
	}
	return []types.Field{field("thingGroupName", "String"), field("thingGroupId", "String"), field("thingGroupDescription", "String"),
		field("parentGroupNames", "String")}
}

// GetIndexingConfiguration returns the thing and thing-group indexing
// configurations: modes, named-shadow filter, custom fields as set, and the managed
// fields AWS lists for the modes in force.
func (r *Registry) GetIndexingConfiguration(ctx context.Context, in *iot.GetIndexingConfigurationInput, _ ...func(*iot.Options)) (*iot.GetIndexingConfigurationOutput, error) {
	return call(ctx, r, "GetIndexingConfiguration", in, func(*iot.GetIndexingConfigurationInput) (*iot.GetIndexingConfigurationOutput, error) {
		r.settings.mu.RLock()
		defer r.settings.mu.RUnlock()
		t, g := cloneThingIndexing(r.settings.indexing.thing), r.settings.indexing.group
		t.ManagedFields = managedThingFields(t)
		g.CustomFields, g.ManagedFields = slices.Clone(g.CustomFields), managedGroupFields(g)
		return &iot.GetIndexingConfigurationOutput{ThingIndexingConfiguration: &t, ThingGroupIndexingConfiguration: &g}, nil
	})
}

func cloneThingIndexing(c types.ThingIndexingConfiguration) types.ThingIndexingConfiguration {
	c.CustomFields = slices.Clone(c.CustomFields)
	if c.Filter != nil {
		f := *c.Filter
		f.NamedShadowNames = slices.Clone(f.NamedShadowNames)
		f.GeoLocations = slices.Clone(f.GeoLocations)
		c.Filter = &f
	}
	return c
}

// UpdateIndexingConfiguration replaces the thing-indexing configuration and/or the
// thing-group one (an omitted one is left as it is), after validating them as AWS
// documents: a known thingIndexingMode (required); connectivity STATUS and Device
// Defender VIOLATIONS only with thing indexing on; named-shadow indexing ON only
// with REGISTRY_AND_SHADOW; filter.namedShadowNames only with named-shadow indexing
// ON, at most 10; custom fields named, typed String, Number or Boolean, not managed
// fields, shadow fields only with shadow indexing. Managed fields in the input are
// ignored (AWS sets them). A configuration that no longer covers what an existing
// dynamic thing group's query needs is refused (InvalidRequestException naming the
// group): delete the group first.
func (r *Registry) UpdateIndexingConfiguration(ctx context.Context, in *iot.UpdateIndexingConfigurationInput, _ ...func(*iot.Options)) (*iot.UpdateIndexingConfigurationOutput, error) {
	return call(ctx, r, "UpdateIndexingConfiguration", in, func(in *iot.UpdateIndexingConfigurationInput) (*iot.UpdateIndexingConfigurationOutput, error) {
		if t := in.ThingIndexingConfiguration; t != nil {
			if err := validateThingIndexing(t); err != nil {
				return nil, err
			}
		}
		if g := in.ThingGroupIndexingConfiguration; g != nil {
			if m := g.ThingGroupIndexingMode; !slices.Contains(m.Values(), m) {
				return nil, invalid("thingGroupIndexingConfiguration.thingGroupIndexingMode: %q is not one of %v", m, m.Values())
			}
			if err := validateCustomFields("thingGroupIndexingConfiguration", g.CustomFields, managedGroupFields(types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOn}), true); err != nil {
				return nil, err
			}
		}
		r.mu.RLock() // the dynamic groups; mu before settings.mu, as everywhere
		defer r.mu.RUnlock()
		r.settings.mu.Lock()
		defer r.settings.mu.Unlock()
		if t := in.ThingIndexingConfiguration; t != nil {
			next := cloneThingIndexing(*t)
			next.ManagedFields = nil
			for _, name := range r.sortedDynamicGroups() {
				g := r.groups[name]
				if miss := fleetquery.Missing(&next, fleetquery.Needs(g.dynamic.query, nil)); len(miss) > 0 {
					return nil, invalid("Dynamic thing group %s needs %s; delete it before lowering the indexing configuration", name, strings.Join(miss, ", "))
				}
			}
			r.settings.indexing.thing = next
		}
		if g := in.ThingGroupIndexingConfiguration; g != nil {
			next := *g
			next.CustomFields, next.ManagedFields = slices.Clone(g.CustomFields), nil
			r.settings.indexing.group = next
		}
		return &iot.UpdateIndexingConfigurationOutput{}, nil
	})
}

func validateThingIndexing(t *types.ThingIndexingConfiguration) error {
	const p = "thingIndexingConfiguration."
	mode := t.ThingIndexingMode
	if !slices.Contains(mode.Values(), mode) {
		return invalid(p+"thingIndexingMode: %q is not one of %v", mode, mode.Values())
	}
	on := mode != types.ThingIndexingModeOff
	if c := t.ThingConnectivityIndexingMode; c != "" {
		if !slices.Contains(c.Values(), c) {
			return invalid(p+"thingConnectivityIndexingMode: %q is not one of %v", c, c.Values())
		}
		if c == types.ThingConnectivityIndexingModeStatus && !on {
			return invalid(p + "thingConnectivityIndexingMode STATUS needs thingIndexingMode REGISTRY or REGISTRY_AND_SHADOW")
		}
	}
	if d := t.DeviceDefenderIndexingMode; d != "" {
		if !slices.Contains(d.Values(), d) {
			return invalid(p+"deviceDefenderIndexingMode: %q is not one of %v", d, d.Values())
		}
		if d == types.DeviceDefenderIndexingModeViolations && !on {
			return invalid(p + "deviceDefenderIndexingMode VIOLATIONS needs thingIndexingMode REGISTRY or REGISTRY_AND_SHADOW")
		}
	}
	namedOn := false
	if n := t.NamedShadowIndexingMode; n != "" {
		if !slices.Contains(n.Values(), n) {
			return invalid(p+"namedShadowIndexingMode: %q is not one of %v", n, n.Values())
		}
		namedOn = n == types.NamedShadowIndexingModeOn
		if namedOn && mode != types.ThingIndexingModeRegistryAndShadow {
			return invalid(p + "namedShadowIndexingMode ON needs thingIndexingMode REGISTRY_AND_SHADOW")
		}
	}
	if f := t.Filter; f != nil && len(f.NamedShadowNames) > 0 {
		if !namedOn {
			return invalid(p + "filter.namedShadowNames needs namedShadowIndexingMode ON")
		}
		if len(f.NamedShadowNames) > maxIndexedNamedShadows {
			return invalid(p+"filter.namedShadowNames: %d names, the limit is %d", len(f.NamedShadowNames), maxIndexedNamedShadows)
		}
		for _, n := range f.NamedShadowNames {
			if n == "" {
				return invalid(p + "filter.namedShadowNames: an empty name")
			}
		}
	}
	all := types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus}
	if err := validateCustomFields("thingIndexingConfiguration", t.CustomFields, managedThingFields(all), on); err != nil {
		return err
	}
	for _, cf := range t.CustomFields {
		if strings.HasPrefix(aws.ToString(cf.Name), "shadow.") && mode != types.ThingIndexingModeRegistryAndShadow {
			return invalid(p+"customFields: %s is a shadow field and needs thingIndexingMode REGISTRY_AND_SHADOW", aws.ToString(cf.Name))
		}
	}
	return nil
}

func validateCustomFields(where string, fs []types.Field, managed []types.Field, on bool) error {
	if len(fs) > 0 && !on {
		return invalid("%s.customFields need indexing on", where)
	}
	seen := map[string]bool{}
	for _, f := range fs {
		name := aws.ToString(f.Name)
		switch {
		case name == "":
			return invalid("%s.customFields: a field without a name", where)
		case f.Type != types.FieldTypeString && f.Type != types.FieldTypeNumber && f.Type != types.FieldTypeBoolean:
			return invalid("%s.customFields: %s has type %q, not String, Number or Boolean", where, name, f.Type)
		case slices.ContainsFunc(managed, func(m types.Field) bool { return aws.ToString(m.Name) == name }):
			return invalid("%s.customFields: %s is a managed field", where, name)
		case seen[name]:
			return invalid("%s.customFields: %s is listed twice", where, name)
		}
		seen[name] = true
	}
	return nil
}

// thingIndexing returns the thing-indexing configuration in force.
func (r *Registry) thingIndexing() types.ThingIndexingConfiguration {
	r.settings.mu.RLock()
	defer r.settings.mu.RUnlock()
	return cloneThingIndexing(r.settings.indexing.thing)
}
