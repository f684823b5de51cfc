package registry

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// fakeIndex is an IndexSource with fixed shadows and connections.
type fakeIndex struct {
	shadows   map[string]map[string]string // "<thing>/<shadow>" -> fields
	connected map[string]bool
}

func (f fakeIndex) ShadowFields(thing, shadowName string) (map[string]string, bool) {
	s, ok := f.shadows[thing+"/"+shadowName]
	return s, ok
}
func (f fakeIndex) Connected(thing string) bool { return f.connected[thing] }

func (f *fixture) setIndexing(t *testing.T, c types.ThingIndexingConfiguration) {
	t.Helper()
	if _, err := f.UpdateIndexingConfiguration(context.Background(), &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &c}); err != nil {
		t.Fatalf("UpdateIndexingConfiguration: %v", err)
	}
}

func (f *fixture) members(t *testing.T, group string) []string {
	t.Helper()
	out, err := f.ListThingsInThingGroup(context.Background(), &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group)})
	if err != nil {
		t.Fatalf("ListThingsInThingGroup(%s): %v", group, err)
	}
	return out.Things
}

func (f *fixture) groupsOf(t *testing.T, thing string) []string {
	t.Helper()
	out, err := f.ListThingGroupsForThing(context.Background(), &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)})
	if err != nil {
		t.Fatalf("ListThingGroupsForThing(%s): %v", thing, err)
	}
	var names []string
	for _, g := range out.ThingGroups {
		names = append(names, aws.ToString(g.GroupName))
	}
	return names
}

// TestDynamicGroupNeedsIndexing: a dynamic group is refused, naming what is missing,
// until fleet indexing covers its query; once it exists, indexing cannot be lowered
// under it.
func TestDynamicGroupNeedsIndexing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	create := func(name, q string) error {
		_, err := f.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String(name), QueryString: aws.String(q)})
		return err
	}
	f.setIndexing(t, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff})
	cases := []struct{ q, missing string }{
		{"attributes.model:TH*", "thingIndexingMode REGISTRY (it is OFF)"},
		{"shadow.reported.fw:1*", "thingIndexingMode REGISTRY_AND_SHADOW"},
		{"connectivity.connected:true", "thingConnectivityIndexingMode STATUS"},
		{"shadow.name.cfg.reported.on:true", "namedShadowIndexingMode ON"},
	}
	for _, c := range cases {
		err := create("g", c.q)
		wantErr(t, err, "InvalidRequestException")
		if err == nil || !strings.Contains(err.Error(), c.missing) {
			t.Errorf("%q: %v, want it to name %q", c.q, err, c.missing)
		}
	}
	f.setIndexing(t, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry})
	wantErr(t, create("g", "attributes.model:TH*"), "")
	wantErr(t, create("s", "shadow.reported.fw:1*"), "InvalidRequestException")
	f.setIndexing(t, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
		ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus})
	wantErr(t, create("s", "shadow.reported.fw:1* AND connectivity.connected:true"), "")
	wantErr(t, create("bad", "attributes.model:(a"), "InvalidQueryException")

	_, err := f.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry}})
	wantErr(t, err, "InvalidRequestException")
	if err == nil || !strings.Contains(err.Error(), "Dynamic thing group s") {
		t.Errorf("lowering under group s: %v", err)
	}
	wantErr(t, func() error {
		_, err := f.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("s")})
		return err
	}(), "")
	f.setIndexing(t, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry})
}

// TestDynamicGroupMembership: members are the things the query matches, in both
// listings, following changes to the things; things cannot be added or removed,
// and the group has no place in a hierarchy.
func TestDynamicGroupMembership(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.SetIndexSource(fakeIndex{
		shadows:   map[string]map[string]string{"a/": {"shadow.reported.fw": "2.0"}, "b/": {"shadow.reported.fw": "1.0"}},
		connected: map[string]bool{"a": true},
	})
	f.mustCreateThing(t, "a", map[string]string{"battery": "90", "model": "TH-200"}, "")
	f.mustCreateThing(t, "b", map[string]string{"battery": "40", "model": "TH-200"}, "")
	f.mustCreateThing(t, "c", map[string]string{"battery": "95", "model": "XL"}, "")
	if _, err := f.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("charged"),
		QueryString: aws.String("attributes.model:TH* AND attributes.battery>80"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}}}); err != nil {
		t.Fatal(err)
	}
	if got := f.members(t, "charged"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("members %v, want [a]", got)
	}
	if _, err := f.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("b"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"battery": "85"}, Merge: true}}); err != nil {
		t.Fatal(err)
	}
	if got := f.members(t, "charged"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after b charged: members %v, want [a b]", got)
	}
	wantErr(t, func() error {
		_, err := f.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("east")})
		return err
	}(), "")
	if _, err := f.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("east"), ThingName: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	if got := f.groupsOf(t, "a"); !slices.Equal(got, []string{"charged", "east"}) {
		t.Errorf("groups of a %v, want [charged east]", got)
	}
	if got := f.groupsOf(t, "c"); len(got) != 0 {
		t.Errorf("groups of c %v", got)
	}

	_, err := f.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("charged"), ThingName: aws.String("c")})
	wantErr(t, err, "InvalidRequestException")
	_, err = f.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingGroupName: aws.String("charged"), ThingName: aws.String("a")})
	wantErr(t, err, "InvalidRequestException")
	_, err = f.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("child"), ParentGroupName: aws.String("charged")})
	wantErr(t, err, "InvalidRequestException")
	_, err = f.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("charged")})
	wantErr(t, err, "ResourceAlreadyExistsException")
	_, err = f.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("charged"), ThingGroupProperties: &types.ThingGroupProperties{}})
	wantErr(t, err, "InvalidRequestException")
	_, err = f.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("charged")})
	wantErr(t, err, "InvalidRequestException")
	_, err = f.UpdateDynamicThingGroup(ctx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("east"), ThingGroupProperties: &types.ThingGroupProperties{}})
	wantErr(t, err, "InvalidRequestException")

	d, err := f.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("charged")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.QueryString) != "attributes.model:TH* AND attributes.battery>80" || aws.ToString(d.QueryVersion) != "2017-09-30" ||
		aws.ToString(d.IndexName) != "AWS_Things" || d.Status != types.DynamicGroupStatusActive {
		t.Errorf("describe %+v", d)
	}
	if s, _ := f.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("east")}); s.QueryString != nil {
		t.Error("a static group has a query")
	}

	// A new query, then shadow and connectivity fields once indexing has them.
	if _, err := f.UpdateDynamicThingGroup(ctx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("charged"),
		QueryString: aws.String("attributes.model:XL"), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("xl")}}); err != nil {
		t.Fatal(err)
	}
	if got := f.members(t, "charged"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("after the query changed: members %v, want [c]", got)
	}
	f.setIndexing(t, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
		ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus})
	if _, err := f.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("fw2-online"),
		QueryString: aws.String("shadow.reported.fw:2* AND connectivity.connected:true")}); err != nil {
		t.Fatal(err)
	}
	if got := f.members(t, "fw2-online"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("shadow and connectivity query: members %v, want [a]", got)
	}
	if _, err := f.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("charged")}); err != nil {
		t.Fatal(err)
	}
	_, err = f.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("charged")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("east")})
	wantErr(t, err, "InvalidRequestException")
}

// TestIndexingValidation: the combinations AWS refuses are refused; a full
// configuration reads back as set, with the managed fields of its modes.
func TestIndexingValidation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	bad := []types.ThingIndexingConfiguration{
		{ThingIndexingMode: "SOMETIMES"},
		{ThingIndexingMode: types.ThingIndexingModeOff, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus},
		{ThingIndexingMode: types.ThingIndexingModeRegistry, NamedShadowIndexingMode: types.NamedShadowIndexingModeOn},
		{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, Filter: &types.IndexingFilter{NamedShadowNames: []string{"cfg"}}},
		{ThingIndexingMode: types.ThingIndexingModeRegistry, CustomFields: []types.Field{{Name: aws.String("shadow.reported.x"), Type: types.FieldTypeNumber}}},
		{ThingIndexingMode: types.ThingIndexingModeRegistry, CustomFields: []types.Field{{Name: aws.String("attributes.x"), Type: "Date"}}},
		{ThingIndexingMode: types.ThingIndexingModeRegistry, CustomFields: []types.Field{{Name: aws.String("thingName"), Type: types.FieldTypeString}}},
		{ThingIndexingMode: types.ThingIndexingModeOff, CustomFields: []types.Field{{Name: aws.String("attributes.x"), Type: types.FieldTypeString}}},
	}
	for _, c := range bad {
		_, err := f.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &c})
		wantErr(t, err, "InvalidRequestException")
	}
	full := types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
		ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus, DeviceDefenderIndexingMode: types.DeviceDefenderIndexingModeViolations,
		NamedShadowIndexingMode: types.NamedShadowIndexingModeOn, Filter: &types.IndexingFilter{NamedShadowNames: []string{"cfg"}},
		CustomFields: []types.Field{{Name: aws.String("attributes.battery"), Type: types.FieldTypeNumber}}}
	if _, err := f.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &full,
		ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOn}}); err != nil {
		t.Fatal(err)
	}
	// An update of the thing-group configuration alone leaves thing indexing as it is.
	if _, err := f.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOn}}); err != nil {
		t.Fatal(err)
	}
	out, err := f.GetIndexingConfiguration(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := out.ThingIndexingConfiguration
	if got.ThingIndexingMode != full.ThingIndexingMode || got.ThingConnectivityIndexingMode != full.ThingConnectivityIndexingMode ||
		got.DeviceDefenderIndexingMode != full.DeviceDefenderIndexingMode || got.NamedShadowIndexingMode != full.NamedShadowIndexingMode ||
		!slices.Equal(got.Filter.NamedShadowNames, []string{"cfg"}) || len(got.CustomFields) != 1 {
		t.Errorf("read back %+v", got)
	}
	var managed []string
	for _, m := range got.ManagedFields {
		managed = append(managed, aws.ToString(m.Name))
	}
	for _, want := range []string{"thingName", "shadow.version", "connectivity.connected"} {
		if !slices.Contains(managed, want) {
			t.Errorf("managed fields %v lack %s", managed, want)
		}
	}
	if out.ThingGroupIndexingConfiguration.ThingGroupIndexingMode != types.ThingGroupIndexingModeOn {
		t.Errorf("thing group indexing %+v", out.ThingGroupIndexingConfiguration)
	}
}
