package fleetquery

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// modeRank orders the thing-indexing modes by what they index.
var modeRank = map[types.ThingIndexingMode]int{
	"": 0, types.ThingIndexingModeOff: 0, types.ThingIndexingModeRegistry: 1, types.ThingIndexingModeRegistryAndShadow: 2,
}

// Needs returns the least thing-indexing configuration under which query can run:
// REGISTRY at least; REGISTRY_AND_SHADOW for a shadow.* field; for a
// shadow.name.<name>.* field also named-shadow indexing ON with the name in the
// filter; thingConnectivityIndexingMode STATUS for connectivity.*;
// deviceDefenderIndexingMode VIOLATIONS for deviceDefender.*; and the custom
// fields of source (the configuration where the query was written; nil for none)
// that the query names, so that aggregations over them keep their types.
func Needs(query string, source *types.ThingIndexingConfiguration) *types.ThingIndexingConfiguration {
	need := &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry}
	fields := Fields(query)
	var named []string
	for _, f := range fields {
		switch {
		case strings.HasPrefix(f, "shadow.name."):
			need.ThingIndexingMode = types.ThingIndexingModeRegistryAndShadow
			need.NamedShadowIndexingMode = types.NamedShadowIndexingModeOn
			if name, _, ok := strings.Cut(strings.TrimPrefix(f, "shadow.name."), "."); ok && name != "" {
				named = append(named, name)
			}
		case strings.HasPrefix(f, "shadow."):
			need.ThingIndexingMode = types.ThingIndexingModeRegistryAndShadow
		case strings.HasPrefix(f, "connectivity."):
			need.ThingConnectivityIndexingMode = types.ThingConnectivityIndexingModeStatus
		case strings.HasPrefix(f, "deviceDefender."):
			need.DeviceDefenderIndexingMode = types.DeviceDefenderIndexingModeViolations
		}
	}
	if len(named) > 0 {
		slices.Sort(named)
		need.Filter = &types.IndexingFilter{NamedShadowNames: slices.Compact(named)}
	}
	if source != nil {
		for _, cf := range source.CustomFields {
			if slices.Contains(fields, derefString(cf.Name)) {
				need.CustomFields = append(need.CustomFields, cf)
			}
		}
	}
	return need
}

// Missing lists, one phrase each, what need asks for that have lacks (have may be
// nil: indexing off). Custom fields are compared by name.
func Missing(have, need *types.ThingIndexingConfiguration) []string {
	if have == nil {
		have = &types.ThingIndexingConfiguration{}
	}
	var out []string
	if modeRank[have.ThingIndexingMode] < modeRank[need.ThingIndexingMode] {
		out = append(out, fmt.Sprintf("thingIndexingMode %s (it is %s)", need.ThingIndexingMode, orOff(string(have.ThingIndexingMode))))
	}
	if need.ThingConnectivityIndexingMode == types.ThingConnectivityIndexingModeStatus && have.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus {
		out = append(out, "thingConnectivityIndexingMode STATUS")
	}
	if need.DeviceDefenderIndexingMode == types.DeviceDefenderIndexingModeViolations && have.DeviceDefenderIndexingMode != types.DeviceDefenderIndexingModeViolations {
		out = append(out, "deviceDefenderIndexingMode VIOLATIONS")
	}
	if need.NamedShadowIndexingMode == types.NamedShadowIndexingModeOn && have.NamedShadowIndexingMode != types.NamedShadowIndexingModeOn {
		out = append(out, "namedShadowIndexingMode ON")
	}
	for _, n := range namedShadows(need) {
		if !slices.Contains(namedShadows(have), n) {
			out = append(out, fmt.Sprintf("named shadow %s in filter.namedShadowNames", n))
		}
	}
	for _, cf := range need.CustomFields {
		if !hasField(have.CustomFields, derefString(cf.Name)) {
			out = append(out, fmt.Sprintf("custom field %s (%s)", derefString(cf.Name), cf.Type))
		}
	}
	return out
}

// Merge raises have to need and keeps everything else have holds: the mode is the
// higher of the two, connectivity, Device Defender and named-shadow indexing are
// switched on when need asks, named shadows and custom fields are the union (a
// custom field have already holds keeps have's type), geo-location filters are
// kept. Nothing is ever lowered. changed reports whether the result differs from
// have. Managed fields are left out of the result: AWS sets them and refuses them
// from callers.
func Merge(have, need *types.ThingIndexingConfiguration) (merged *types.ThingIndexingConfiguration, changed bool) {
	out := types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}
	if have != nil {
		out = *have
		out.CustomFields = slices.Clone(have.CustomFields)
		if have.Filter != nil {
			f := *have.Filter
			f.NamedShadowNames = slices.Clone(f.NamedShadowNames)
			out.Filter = &f
		}
	}
	out.ManagedFields = nil
	if len(Missing(have, need)) == 0 {
		return &out, false
	}
	if modeRank[out.ThingIndexingMode] < modeRank[need.ThingIndexingMode] {
		out.ThingIndexingMode = need.ThingIndexingMode
	}
	if need.ThingConnectivityIndexingMode == types.ThingConnectivityIndexingModeStatus {
		out.ThingConnectivityIndexingMode = types.ThingConnectivityIndexingModeStatus
	}
	if need.DeviceDefenderIndexingMode == types.DeviceDefenderIndexingModeViolations {
		out.DeviceDefenderIndexingMode = types.DeviceDefenderIndexingModeViolations
	}
	if need.NamedShadowIndexingMode == types.NamedShadowIndexingModeOn {
		out.NamedShadowIndexingMode = types.NamedShadowIndexingModeOn
	}
	for _, n := range namedShadows(need) {
		if out.Filter == nil {
			out.Filter = &types.IndexingFilter{}
		}
		if !slices.Contains(out.Filter.NamedShadowNames, n) {
			out.Filter.NamedShadowNames = append(out.Filter.NamedShadowNames, n)
		}
	}
	for _, cf := range need.CustomFields {
		if !hasField(out.CustomFields, derefString(cf.Name)) {
			out.CustomFields = append(out.CustomFields, cf)
		}
	}
	return &out, true
}

func namedShadows(c *types.ThingIndexingConfiguration) []string {
	if c == nil || c.Filter == nil {
		return nil
	}
	return c.Filter.NamedShadowNames
}

func hasField(fs []types.Field, name string) bool {
	return slices.ContainsFunc(fs, func(f types.Field) bool { return derefString(f.Name) == name })
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orOff(s string) string {
	if s == "" {
		return "OFF"
	}
	return s
}
