package fleetquery

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// rec is a thing as a map of fields.
type rec map[string][]string

func (r rec) Values(f string) ([]string, bool) { v, ok := r[f]; return v, ok }
func (r rec) Any() []string {
	var out []string
	for _, f := range []string{"thingName", "attributes.model"} {
		out = append(out, r[f]...)
	}
	return out
}

func TestMatch(t *testing.T) {
	thing := rec{
		"thingName":              {"sensor-17"},
		"attributes.model":       {"TH-200"},
		"attributes.battery":     {"81"},
		"attributes.floor":       {"-2"},
		"thingGroupNames":        {"east", "cold"},
		"shadow.reported.fw":     {"1.4.2"},
		"connectivity.connected": {"true"},
	}
	cases := []struct {
		q    string
		want bool
	}{
		{"thingName:sensor-17", true},
		{"thingName:SENSOR-17", true}, // search is case-insensitive
		{"thingName:sensor-1", false},
		{"thingName:sensor*", true},
		{"thingName:sens?r-17", true},
		{"thingName:*", true},
		{"attributes.missing:*", false},
		{"attributes.model:TH-200 AND attributes.battery>80", true},
		{"attributes.model:TH-200 attributes.battery>81", false}, // default AND
		{"attributes.battery>=81", true},
		{"attributes.battery<100", true},
		{"attributes.battery<=80", false},
		{"attributes.battery:[80 TO 90]", true},
		{"attributes.battery:{81 TO 90]", false},
		{"attributes.battery:[* TO 81]", true},
		{"attributes.floor:[-5 TO -1]", true},
		{"attributes.floor>-3", true},
		{"thingGroupNames:cold", true},
		{"thingGroupNames:west OR thingGroupNames:east", true},
		{"NOT thingGroupNames:east", false},
		{"-thingGroupNames:west", true},
		{"thingName:(sensor* AND -plasma)", true},
		{"thingName:(plasma OR tv*)", false},
		{"(attributes.model:XX OR attributes.battery>50) AND connectivity.connected:true", true},
		{`shadow.reported.fw:"1.4.2"`, true},
		{"sensor-17", true}, // a bare term: any registry value
		{"th-200", true},
		{"nothing-here", false},
	}
	for _, c := range cases {
		q, err := Parse(c.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.q, err)
			continue
		}
		if got := q.Match(thing); got != c.want {
			t.Errorf("%q matched %v, want %v", c.q, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, q := range []string{"", "thingName:", "(thingName:a", "thingName:[1 TO", "attributes.x>", "thingName:a;b", "thingName:(attributes.x:1)", "OR"} {
		if _, err := Parse(q); err == nil {
			t.Errorf("Parse(%q) accepted", q)
		}
	}
}

func TestFields(t *testing.T) {
	got := Fields("attributes.model:TH* AND (shadow.reported.fw:1.4 OR -connectivity.connected:true) shadow.name.cfg.desired.mode>2 NOT thingName:x")
	want := []string{"attributes.model", "connectivity.connected", "shadow.name.cfg.desired.mode", "shadow.reported.fw", "thingName"}
	if !slices.Equal(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
}

func TestNeeds(t *testing.T) {
	src := &types.ThingIndexingConfiguration{CustomFields: []types.Field{
		{Name: aws.String("attributes.battery"), Type: types.FieldTypeNumber},
		{Name: aws.String("attributes.other"), Type: types.FieldTypeString},
	}}
	n := Needs("attributes.battery>80 AND shadow.name.cfg.reported.on:true AND connectivity.connected:true", src)
	if n.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || n.NamedShadowIndexingMode != types.NamedShadowIndexingModeOn ||
		n.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus || n.Filter == nil || !slices.Equal(n.Filter.NamedShadowNames, []string{"cfg"}) {
		t.Errorf("needs %+v", n)
	}
	if len(n.CustomFields) != 1 || aws.ToString(n.CustomFields[0].Name) != "attributes.battery" {
		t.Errorf("custom fields %+v: want only the one the query names", n.CustomFields)
	}
	if n := Needs("thingName:a*", nil); n.ThingIndexingMode != types.ThingIndexingModeRegistry || n.ThingConnectivityIndexingMode != "" || n.Filter != nil {
		t.Errorf("registry-only query needs %+v", n)
	}
}

// TestMergeKeepsWhatOthersSet: the target's settings made by other users of the
// account survive, only what the query needs is raised, and nothing is lowered.
func TestMergeKeepsWhatOthersSet(t *testing.T) {
	have := &types.ThingIndexingConfiguration{
		ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
		NamedShadowIndexingMode: types.NamedShadowIndexingModeOn,
		Filter:                  &types.IndexingFilter{NamedShadowNames: []string{"ops"}, GeoLocations: []types.GeoLocationTarget{{Name: aws.String("shadow.reported.loc")}}},
		CustomFields:            []types.Field{{Name: aws.String("attributes.site"), Type: types.FieldTypeString}},
		ManagedFields:           []types.Field{{Name: aws.String("thingName"), Type: types.FieldTypeString}},
	}
	need := &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry,
		NamedShadowIndexingMode: types.NamedShadowIndexingModeOn, Filter: &types.IndexingFilter{NamedShadowNames: []string{"cfg"}},
		CustomFields: []types.Field{{Name: aws.String("attributes.battery"), Type: types.FieldTypeNumber}}}
	got, changed := Merge(have, need)
	if !changed {
		t.Fatal("merge reported no change")
	}
	if got.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || got.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus {
		t.Errorf("modes lowered: %+v", got)
	}
	if !slices.Equal(got.Filter.NamedShadowNames, []string{"ops", "cfg"}) || len(got.Filter.GeoLocations) != 1 {
		t.Errorf("filter %+v", got.Filter)
	}
	var names []string
	for _, f := range got.CustomFields {
		names = append(names, aws.ToString(f.Name))
	}
	if !slices.Equal(names, []string{"attributes.site", "attributes.battery"}) {
		t.Errorf("custom fields %v", names)
	}
	if got.ManagedFields != nil {
		t.Error("managed fields passed on (AWS refuses them)")
	}
	if len(have.Filter.NamedShadowNames) != 1 || len(have.CustomFields) != 1 {
		t.Error("merge modified its input")
	}
	if _, changed := Merge(got, need); changed {
		t.Error("a second merge changed something")
	}

	off, changed := Merge(nil, Needs("connectivity.connected:false", nil))
	if !changed || off.ThingIndexingMode != types.ThingIndexingModeRegistry || off.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus {
		t.Errorf("indexing OFF raised to %+v (changed %v)", off, changed)
	}
	if miss := strings.Join(Missing(nil, Needs("shadow.reported.x:1", nil)), "; "); miss != "thingIndexingMode REGISTRY_AND_SHADOW (it is OFF)" {
		t.Errorf("missing %q", miss)
	}
}
