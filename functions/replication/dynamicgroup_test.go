package replication

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func (e *env) withDynamic() *env {
	e.r.SourceIndexing, e.r.TargetDynamic = &SourceIndexing{IoT: e.src}, e.tgt
	return e
}

func setIndexing(t *testing.T, e *env, reg interface {
	UpdateIndexingConfiguration(ctx context.Context, in *iot.UpdateIndexingConfigurationInput, optFns ...func(*iot.Options)) (*iot.UpdateIndexingConfigurationOutput, error)
}, c types.ThingIndexingConfiguration) {
	t.Helper()
	must(reg.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &c}))(t)
}

func indexingOf(t *testing.T, e *env, reg IndexingReader) types.ThingIndexingConfiguration {
	t.Helper()
	return *must(reg.GetIndexingConfiguration(e.ctx, &iot.GetIndexingConfigurationInput{}))(t).ThingIndexingConfiguration
}

func fieldNames(fs []types.Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, aws.ToString(f.Name)+":"+string(f.Type))
	}
	slices.Sort(out)
	return out
}

// TestDynamicGroupKeepsTargetIndexing: a target whose account has shadow and
// connectivity indexing and custom fields set by others keeps all of them; only the
// custom field the query needs (from the source) is added; a second converge writes
// nothing.
func TestDynamicGroupKeepsTargetIndexing(t *testing.T) {
	e := newEnv(t).withDynamic()
	setIndexing(t, e, e.src, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry,
		CustomFields: []types.Field{{Name: aws.String("attributes.battery"), Type: types.FieldTypeNumber}, {Name: aws.String("attributes.unused"), Type: types.FieldTypeString}}})
	setIndexing(t, e, e.tgt, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
		ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
		NamedShadowIndexingMode:       types.NamedShadowIndexingModeOn, Filter: &types.IndexingFilter{NamedShadowNames: []string{"ops"}},
		CustomFields: []types.Field{{Name: aws.String("attributes.site"), Type: types.FieldTypeString}}})
	must(e.tgt.UpdateIndexingConfiguration(e.ctx, &iot.UpdateIndexingConfigurationInput{
		ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOn}}))(t)
	must(e.src.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("charged"),
		QueryString:          aws.String("attributes.battery>80"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("fleet above 80%")}}))(t)

	out := must(e.r.ThingGroup(e.ctx, "charged"))(t)
	if len(out.Changes) != 2 {
		t.Errorf("changes %v, want the indexing raise and the create", out.Changes)
	}
	got := indexingOf(t, e, e.tgt)
	if got.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || got.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus ||
		got.NamedShadowIndexingMode != types.NamedShadowIndexingModeOn || !slices.Equal(got.Filter.NamedShadowNames, []string{"ops"}) {
		t.Errorf("target indexing lowered or lost: %+v", got)
	}
	if f := fieldNames(got.CustomFields); !slices.Equal(f, []string{"attributes.battery:Number", "attributes.site:String"}) {
		t.Errorf("custom fields %v, want the target's own and the one the query needs", f)
	}
	gi := must(e.tgt.GetIndexingConfiguration(e.ctx, nil))(t).ThingGroupIndexingConfiguration
	if gi.ThingGroupIndexingMode != types.ThingGroupIndexingModeOn {
		t.Errorf("thing-group indexing %s: the merge must leave it", gi.ThingGroupIndexingMode)
	}
	d := must(e.tgt.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("charged")}))(t)
	if aws.ToString(d.QueryString) != "attributes.battery>80" || aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != "fleet above 80%" {
		t.Errorf("target group %+v", d)
	}
	if again := must(e.r.ThingGroup(e.ctx, "charged"))(t); len(again.Changes) != 0 {
		t.Errorf("second converge changed %v", again.Changes)
	}
}

// TestDynamicGroupRaisesIndexingFromOff: a target with indexing OFF is raised to
// exactly what the query needs, the group follows a query change and a delete, and
// memberships of things in it are the target's own.
func TestDynamicGroupRaisesIndexingFromOff(t *testing.T) {
	e := newEnv(t).withDynamic()
	setIndexing(t, e, e.src, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
		ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus})
	setIndexing(t, e, e.tgt, types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff})
	thing := func(reg interface {
		CreateThing(ctx context.Context, in *iot.CreateThingInput, optFns ...func(*iot.Options)) (*iot.CreateThingOutput, error)
	}, name, model string) {
		must(reg.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String(name), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"model": model}}}))(t)
	}
	thing(e.src, "t1", "TH-200")
	thing(e.tgt, "t1", "TH-200")
	thing(e.src, "t2", "TH-200") // in the group in the source only: its attribute change has not arrived
	thing(e.tgt, "t2", "XL")
	thing(e.src, "t3", "XL") // and the other way round
	thing(e.tgt, "t3", "TH-100")
	must(e.src.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("th"),
		QueryString: aws.String("attributes.model:TH* OR connectivity.connected:true")}))(t)
	must(e.r.ThingGroup(e.ctx, "th"))(t)
	got := indexingOf(t, e, e.tgt)
	if got.ThingIndexingMode != types.ThingIndexingModeRegistry || got.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus {
		t.Errorf("target raised to %+v, want REGISTRY with connectivity STATUS", got)
	}
	// Memberships: each Region's query decides; converging memberships neither adds
	// a thing to the dynamic group nor removes one (AWS refuses both).
	for _, th := range []string{"t1", "t2", "t3"} {
		if out := must(e.r.Memberships(e.ctx, th))(t); len(out.Changes) != 0 {
			t.Errorf("memberships of %s changed %v", th, out.Changes)
		}
	}
	if m := must(e.tgt.ListThingsInThingGroup(e.ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("th")}))(t).Things; !slices.Equal(m, []string{"t1", "t3"}) {
		t.Errorf("target members %v, want its own matches [t1 t3]", m)
	}

	must(e.src.UpdateDynamicThingGroup(e.ctx, &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String("th"),
		QueryString: aws.String("shadow.reported.fw:2*"), ThingGroupProperties: &types.ThingGroupProperties{}}))(t)
	must(e.r.ThingGroup(e.ctx, "th"))(t)
	if m := indexingOf(t, e, e.tgt).ThingIndexingMode; m != types.ThingIndexingModeRegistryAndShadow {
		t.Errorf("after a shadow query: mode %s", m)
	}
	if q := aws.ToString(must(e.tgt.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("th")}))(t).QueryString); q != "shadow.reported.fw:2*" {
		t.Errorf("target query %q", q)
	}

	must(e.src.DeleteDynamicThingGroup(e.ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("th")}))(t)
	must(e.r.ThingGroup(e.ctx, "th"))(t)
	if _, err := e.tgt.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("th")}); !IsNotFound(err) {
		t.Errorf("deleted group still in the target: %v", err)
	}
	if m := indexingOf(t, e, e.tgt); m.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || m.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus {
		t.Errorf("the delete lowered indexing: %+v", m)
	}
}

// TestGroupChangesKind: a static group replaced by a dynamic one of the same name
// (and back) is replaced in the target.
func TestGroupChangesKind(t *testing.T) {
	e := newEnv(t).withDynamic()
	must(e.tgt.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g")}))(t)
	must(e.src.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("g"), QueryString: aws.String("thingName:a*")}))(t)
	must(e.r.ThingGroup(e.ctx, "g"))(t)
	if d := must(e.tgt.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("g")}))(t); !isDynamic(d) {
		t.Error("target group still static")
	}
	must(e.src.DeleteDynamicThingGroup(e.ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("g")}))(t)
	must(e.src.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g")}))(t)
	must(e.r.ThingGroup(e.ctx, "g"))(t)
	if d := must(e.tgt.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("g")}))(t); isDynamic(d) {
		t.Error("target group still dynamic")
	}
}

// TestDynamicGroupWithoutClient: without TargetDynamic a dynamic group is left out,
// as before, and nothing fails.
func TestDynamicGroupWithoutClient(t *testing.T) {
	e := newEnv(t)
	must(e.src.CreateDynamicThingGroup(e.ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("g"), QueryString: aws.String("thingName:a*")}))(t)
	must(e.r.ThingGroup(e.ctx, "g"))(t)
	if _, err := e.tgt.DescribeThingGroup(e.ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("g")}); !IsNotFound(err) {
		t.Errorf("group created without a dynamic-group client: %v", err)
	}
}
