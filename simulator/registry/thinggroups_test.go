package registry

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThingTypes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	props := &types.ThingTypeProperties{ThingTypeDescription: aws.String("cams"), SearchableAttributes: []string{"b", "a"}}
	out, err := f.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("cam"), ThingTypeProperties: props})
	if err != nil {
		t.Fatal(err)
	}
	if *out.ThingTypeArn != "arn:aws:iot:eu-west-1:123456789012:thingtype/cam" || !isUUID(*out.ThingTypeId) {
		t.Errorf("CreateThingType = %+v", out)
	}
	tests := []struct {
		name string
		in   *iot.CreateThingTypeInput
		want string
	}{
		{"identical (attributes are a set)", &iot.CreateThingTypeInput{ThingTypeName: aws.String("cam"), ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("cams"), SearchableAttributes: []string{"a", "b"}}}, ""},
		{"different description", &iot.CreateThingTypeInput{ThingTypeName: aws.String("cam"), ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("x")}}, "ResourceAlreadyExistsException"},
		{"four searchable attributes", &iot.CreateThingTypeInput{ThingTypeName: aws.String("t4"), ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"a", "b", "c", "d"}}}, "InvalidRequestException"},
		{"bad name", &iot.CreateThingTypeInput{ThingTypeName: aws.String("a b")}, "InvalidRequestException"},
		{"missing name", &iot.CreateThingTypeInput{}, "params"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.CreateThingType(ctx, tc.in)
			wantErr(t, err, tc.want)
		})
	}
	describe := func() *iot.DescribeThingTypeOutput {
		t.Helper()
		d, err := f.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("cam")})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := describe()
	if *d.ThingTypeId != *out.ThingTypeId || *d.ThingTypeProperties.ThingTypeDescription != "cams" ||
		fmt.Sprint(d.ThingTypeProperties.SearchableAttributes) != "[a b]" || d.ThingTypeMetadata.Deprecated {
		t.Errorf("DescribeThingType = %+v", d)
	}
	f.mustCreateThing(t, "dev", nil, "cam")
	del := func() error {
		_, err := f.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("cam")})
		return err
	}
	wantErr(t, del(), "InvalidRequestException") // not deprecated
	f.clock.Advance(60e9)
	if _, err := f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("cam")}); err != nil {
		t.Fatal(err)
	}
	if m := describe().ThingTypeMetadata; !m.Deprecated || !m.DeprecationDate.Equal(f.clock.Now()) {
		t.Errorf("metadata after deprecate = %+v", m)
	}
	wantErr(t, del(), "InvalidRequestException") // still used by dev
	if _, err := f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("cam"), UndoDeprecate: true}); err != nil {
		t.Fatal(err)
	}
	if m := describe().ThingTypeMetadata; m.Deprecated || m.DeprecationDate != nil {
		t.Errorf("metadata after undo = %+v", m)
	}
	_, err = f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("ghost")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("ghost")})
	wantErr(t, err, "ResourceNotFoundException")

	for _, n := range []string{"z", "m", "b"} {
		f.mustCreateThingType(t, n)
	}
	var names []string
	p := iot.NewListThingTypesPaginator(f, &iot.ListThingTypesInput{}, func(o *iot.ListThingTypesPaginatorOptions) { o.Limit = 2 })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range page.ThingTypes {
			names = append(names, *tt.ThingTypeName)
		}
	}
	if strings.Join(names, ",") != "b,cam,m,z" {
		t.Errorf("thing types = %v", names)
	}
	one, err := f.ListThingTypes(ctx, &iot.ListThingTypesInput{ThingTypeName: aws.String("m")})
	if err != nil || len(one.ThingTypes) != 1 || *one.ThingTypes[0].ThingTypeName != "m" {
		t.Errorf("filtered list = %+v, %v", one, err)
	}
}

func TestThingGroupHierarchy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateGroup(t, "root", "")
	f.mustCreateGroup(t, "mid", "root")
	f.mustCreateGroup(t, "leaf", "mid")
	f.mustCreateGroup(t, "other", "root")

	d, err := f.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("leaf")})
	if err != nil {
		t.Fatal(err)
	}
	var chain []string
	for _, g := range d.ThingGroupMetadata.RootToParentThingGroups {
		chain = append(chain, *g.GroupName)
		if *g.GroupArn != "arn:aws:iot:eu-west-1:123456789012:thinggroup/"+*g.GroupName {
			t.Errorf("group ARN %s", *g.GroupArn)
		}
	}
	if aws.ToString(d.ThingGroupMetadata.ParentGroupName) != "mid" || strings.Join(chain, ",") != "root,mid" || d.Version != 1 {
		t.Errorf("DescribeThingGroup(leaf) = parent %v chain %v version %d", aws.ToString(d.ThingGroupMetadata.ParentGroupName), chain, d.Version)
	}

	tests := []struct {
		name string
		in   *iot.CreateThingGroupInput
		want string
	}{
		{"identical again", &iot.CreateThingGroupInput{ThingGroupName: aws.String("mid"), ParentGroupName: aws.String("root")}, ""},
		{"different parent", &iot.CreateThingGroupInput{ThingGroupName: aws.String("mid")}, "ResourceAlreadyExistsException"},
		{"missing parent", &iot.CreateThingGroupInput{ThingGroupName: aws.String("x"), ParentGroupName: aws.String("ghost")}, "ResourceNotFoundException"},
		{"bad name", &iot.CreateThingGroupInput{ThingGroupName: aws.String("a/b")}, "InvalidRequestException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.CreateThingGroup(ctx, tc.in)
			wantErr(t, err, tc.want)
		})
	}
	// Depth limit: root(1) mid(2) leaf(3) l4..l7 fit, l8 does not.
	parent := "leaf"
	for i := 4; i <= 7; i++ {
		f.mustCreateGroup(t, fmt.Sprintf("l%d", i), parent)
		parent = fmt.Sprintf("l%d", i)
	}
	_, err = f.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("l8"), ParentGroupName: aws.String(parent)})
	wantErr(t, err, "InvalidRequestException")

	list := func(in *iot.ListThingGroupsInput) string {
		t.Helper()
		var names []string
		p := iot.NewListThingGroupsPaginator(f, in, func(o *iot.ListThingGroupsPaginatorOptions) { o.Limit = 2 })
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range out.ThingGroups {
				names = append(names, *g.GroupName)
			}
		}
		return strings.Join(names, ",")
	}
	for _, tc := range []struct {
		name string
		in   *iot.ListThingGroupsInput
		want string
	}{
		{"all", &iot.ListThingGroupsInput{}, "l4,l5,l6,l7,leaf,mid,other,root"},
		{"roots only", &iot.ListThingGroupsInput{Recursive: aws.Bool(false)}, "root"},
		{"children", &iot.ListThingGroupsInput{ParentGroup: aws.String("root"), Recursive: aws.Bool(false)}, "mid,other"},
		// Unset Recursive lists all descendants, as AWS does.
		{"descendants by default", &iot.ListThingGroupsInput{ParentGroup: aws.String("mid")}, "l4,l5,l6,l7,leaf"},
		{"descendants", &iot.ListThingGroupsInput{ParentGroup: aws.String("mid"), Recursive: aws.Bool(true)}, "l4,l5,l6,l7,leaf"},
		{"prefix", &iot.ListThingGroupsInput{NamePrefixFilter: aws.String("l")}, "l4,l5,l6,l7,leaf"},
		{"children with prefix", &iot.ListThingGroupsInput{ParentGroup: aws.String("root"), Recursive: aws.Bool(false), NamePrefixFilter: aws.String("o")}, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.in); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	_, err = f.ListThingGroups(ctx, &iot.ListThingGroupsInput{ParentGroup: aws.String("ghost")})
	wantErr(t, err, "ResourceNotFoundException")

	del := func(name string) error {
		_, err := f.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(name)})
		return err
	}
	wantErr(t, del("mid"), "InvalidRequestException") // has children
	for _, g := range []string{"l7", "l6", "l5", "l4", "leaf", "mid"} {
		wantErr(t, del(g), "")
	}
	wantErr(t, del("mid"), "") // already gone
	if got := list(&iot.ListThingGroupsInput{ParentGroup: aws.String("root")}); got != "other" {
		t.Errorf("children of root after delete = %s", got)
	}
}

func TestUpdateThingGroup(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g"), ThingGroupProperties: &types.ThingGroupProperties{
		ThingGroupDescription: aws.String("d1"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1", "b": "2"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		in        *iot.UpdateThingGroupInput
		want      string
		wantAttrs map[string]string
		wantDesc  string
		wantVer   int64
	}{
		{"merge", &iot.UpdateThingGroupInput{ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{Merge: true, Attributes: map[string]string{"a": "", "c": "3"}}}},
			"", map[string]string{"b": "2", "c": "3"}, "d1", 2},
		{"replace and describe", &iot.UpdateThingGroupInput{ExpectedVersion: aws.Int64(2), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("d2"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"z": "9"}}}},
			"", map[string]string{"z": "9"}, "d2", 3},
		{"stale version", &iot.UpdateThingGroupInput{ExpectedVersion: aws.Int64(2), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("d3")}},
			"VersionConflictException", map[string]string{"z": "9"}, "d2", 3},
		{"clear description", &iot.UpdateThingGroupInput{ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("")}},
			"", map[string]string{"z": "9"}, "", 4},
		{"missing properties", &iot.UpdateThingGroupInput{}, "params", map[string]string{"z": "9"}, "", 4},
		{"missing group", &iot.UpdateThingGroupInput{ThingGroupName: aws.String("ghost"), ThingGroupProperties: &types.ThingGroupProperties{}}, "ResourceNotFoundException", map[string]string{"z": "9"}, "", 4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.in.ThingGroupName == nil {
				s.in.ThingGroupName = aws.String("g")
			}
			out, err := f.UpdateThingGroup(ctx, s.in)
			wantErr(t, err, s.want)
			if err == nil && out.Version != s.wantVer {
				t.Errorf("returned version %d, want %d", out.Version, s.wantVer)
			}
			d, err := f.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("g")})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(d.ThingGroupProperties.AttributePayload.Attributes, s.wantAttrs) ||
				aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != s.wantDesc || d.Version != s.wantVer {
				t.Errorf("group = attrs %v desc %q version %d", d.ThingGroupProperties.AttributePayload.Attributes,
					aws.ToString(d.ThingGroupProperties.ThingGroupDescription), d.Version)
			}
		})
	}
	_, err = f.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("g"), ExpectedVersion: aws.Int64(1)})
	wantErr(t, err, "VersionConflictException")
}

func TestThingGroupMembership(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateGroup(t, "root", "")
	f.mustCreateGroup(t, "child", "root")
	thing := f.mustCreateThing(t, "a", nil, "")
	f.mustCreateThing(t, "b", nil, "")
	groupARN := "arn:aws:iot:eu-west-1:123456789012:thinggroup/child"

	add := func(in *iot.AddThingToThingGroupInput) error {
		_, err := f.AddThingToThingGroup(ctx, in)
		return err
	}
	tests := []struct {
		name string
		in   *iot.AddThingToThingGroupInput
		want string
	}{
		{"by name", &iot.AddThingToThingGroupInput{ThingName: aws.String("a"), ThingGroupName: aws.String("root")}, ""},
		{"by ARN", &iot.AddThingToThingGroupInput{ThingArn: thing.ThingArn, ThingGroupArn: aws.String(groupARN)}, ""},
		{"again", &iot.AddThingToThingGroupInput{ThingName: aws.String("a"), ThingGroupName: aws.String("root")}, ""},
		{"b into child", &iot.AddThingToThingGroupInput{ThingName: aws.String("b"), ThingGroupName: aws.String("child")}, ""},
		{"missing thing", &iot.AddThingToThingGroupInput{ThingName: aws.String("ghost"), ThingGroupName: aws.String("root")}, "ResourceNotFoundException"},
		{"missing group", &iot.AddThingToThingGroupInput{ThingName: aws.String("a"), ThingGroupName: aws.String("ghost")}, "ResourceNotFoundException"},
		{"no group", &iot.AddThingToThingGroupInput{ThingName: aws.String("a")}, "InvalidRequestException"},
		{"foreign ARN", &iot.AddThingToThingGroupInput{ThingName: aws.String("a"), ThingGroupArn: aws.String("arn:aws:iot:us-east-1:123456789012:thinggroup/child")}, "InvalidRequestException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, add(tc.in), tc.want) })
	}
	groupsOf := func(thing string) string {
		t.Helper()
		var names []string
		p := iot.NewListThingGroupsForThingPaginator(f, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)}, func(o *iot.ListThingGroupsForThingPaginatorOptions) { o.Limit = 1 })
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range out.ThingGroups {
				names = append(names, *g.GroupName)
			}
		}
		return strings.Join(names, ",")
	}
	thingsIn := func(group string, recursive bool) string {
		t.Helper()
		var names []string
		p := iot.NewListThingsInThingGroupPaginator(f, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group), Recursive: recursive}, func(o *iot.ListThingsInThingGroupPaginatorOptions) { o.Limit = 1 })
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, out.Things...)
		}
		return strings.Join(names, ",")
	}
	if got := groupsOf("a"); got != "child,root" {
		t.Errorf("groups of a = %s", got)
	}
	if got := thingsIn("root", false); got != "a" {
		t.Errorf("things in root = %s", got)
	}
	if got := thingsIn("root", true); got != "a,b" {
		t.Errorf("things in root, recursive = %s", got)
	}
	if _, err := f.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("a"), ThingGroupArn: aws.String(groupARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("a"), ThingGroupName: aws.String("child")}); err != nil {
		t.Fatalf("removing a non-member: %v", err)
	}
	if got := groupsOf("a"); got != "root" {
		t.Errorf("groups of a after remove = %s", got)
	}
	// Deleting a group with members drops the memberships.
	if _, err := f.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("child")}); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf("b"); got != "" {
		t.Errorf("groups of b after its group was deleted = %s", got)
	}
	_, err := f.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("child")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("ghost")})
	wantErr(t, err, "ResourceNotFoundException")

	// At most 10 groups per thing.
	for i := range 10 {
		f.mustCreateGroup(t, fmt.Sprintf("g%d", i), "")
	}
	for i := range 9 {
		wantErr(t, add(&iot.AddThingToThingGroupInput{ThingName: aws.String("a"), ThingGroupName: aws.String(fmt.Sprintf("g%d", i))}), "")
	}
	wantErr(t, add(&iot.AddThingToThingGroupInput{ThingName: aws.String("a"), ThingGroupName: aws.String("g9")}), "InvalidRequestException")
}
