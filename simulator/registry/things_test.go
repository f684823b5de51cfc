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

func TestCreateThing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThingType(t, "sensor")
	f.mustCreateThingType(t, "old")
	if _, err := f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("old")}); err != nil {
		t.Fatal(err)
	}
	first := f.mustCreateThing(t, "dup", map[string]string{"a": "1"}, "sensor")

	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	tooMany := maps.Clone(many)
	tooMany["k50"] = "v"
	huge := map[string]string{}
	for i := range 50 {
		huge[fmt.Sprintf("k%d", i)] = strings.Repeat("é", 800) // 800 characters, 1600 bytes: 50 of them > 47 KB
	}

	tests := []struct {
		name string
		in   *iot.CreateThingInput
		want string
	}{
		{"plain", &iot.CreateThingInput{ThingName: aws.String("t-1:a_b")}, ""},
		{"with type", &iot.CreateThingInput{ThingName: aws.String("typed"), ThingTypeName: aws.String("sensor")}, ""},
		{"50 attributes without type", &iot.CreateThingInput{ThingName: aws.String("many"), AttributePayload: &types.AttributePayload{Attributes: many}}, ""},
		{"identical again", &iot.CreateThingInput{ThingName: aws.String("dup"), ThingTypeName: aws.String("sensor"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1"}}}, ""},
		{"different attributes", &iot.CreateThingInput{ThingName: aws.String("dup"), ThingTypeName: aws.String("sensor"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "2"}}}, "ResourceAlreadyExistsException"},
		{"different type", &iot.CreateThingInput{ThingName: aws.String("dup"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1"}}}, "ResourceAlreadyExistsException"},
		{"missing name", &iot.CreateThingInput{}, "params"},
		{"empty name", &iot.CreateThingInput{ThingName: aws.String("")}, "InvalidRequestException"},
		{"bad name", &iot.CreateThingInput{ThingName: aws.String("a/b")}, "InvalidRequestException"},
		{"long name", &iot.CreateThingInput{ThingName: aws.String(strings.Repeat("a", 129))}, "InvalidRequestException"},
		{"unknown type", &iot.CreateThingInput{ThingName: aws.String("x1"), ThingTypeName: aws.String("nope")}, "ResourceNotFoundException"},
		{"deprecated type", &iot.CreateThingInput{ThingName: aws.String("x2"), ThingTypeName: aws.String("old")}, "InvalidRequestException"},
		{"billing group", &iot.CreateThingInput{ThingName: aws.String("x3"), BillingGroupName: aws.String("bg")}, "ResourceNotFoundException"},
		{"bad attribute name", &iot.CreateThingInput{ThingName: aws.String("x4"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"bad name": "v"}}}, "InvalidRequestException"},
		{"long attribute value", &iot.CreateThingInput{ThingName: aws.String("x5"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"k": strings.Repeat("v", 801)}}}, "InvalidRequestException"},
		{"51 attributes", &iot.CreateThingInput{ThingName: aws.String("x6"), AttributePayload: &types.AttributePayload{Attributes: tooMany}}, "InvalidRequestException"},
		{"payload over 47KB", &iot.CreateThingInput{ThingName: aws.String("x7"), AttributePayload: &types.AttributePayload{Attributes: huge}}, "InvalidRequestException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.CreateThing(ctx, tc.in)
			wantErr(t, err, tc.want)
			if err != nil {
				if tc.want == "ResourceAlreadyExistsException" {
					e := mustAs[*types.ResourceAlreadyExistsException](t, err)
					if aws.ToString(e.ResourceId) != *first.ThingId {
						t.Errorf("ResourceId = %v, want %s", aws.ToString(e.ResourceId), *first.ThingId)
					}
				}
				return
			}
			want := "arn:aws:iot:eu-west-1:123456789012:thing/" + *tc.in.ThingName
			if *out.ThingArn != want || *out.ThingName != *tc.in.ThingName || !isUUID(*out.ThingId) {
				t.Errorf("output = %s %s %s", *out.ThingArn, *out.ThingName, *out.ThingId)
			}
		})
	}
	if got := f.mustDescribeThing(t, "dup"); got.Version != 1 || *got.ThingId != *first.ThingId {
		t.Errorf("idempotent create changed the thing: version %d id %s", got.Version, *got.ThingId)
	}
}

func TestBadAttributeErrorNamesAttribute(t *testing.T) {
	f := newFixture(t)
	_, err := f.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("x"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"ok": "v", "b@d!": "v"}}})
	e := mustAs[*types.InvalidRequestException](t, err)
	if !strings.Contains(aws.ToString(e.Message), "b@d!") {
		t.Errorf("message %q does not name the attribute", aws.ToString(e.Message))
	}
}

func TestDescribeThing(t *testing.T) {
	f := newFixture(t)
	f.mustCreateThingType(t, "sensor")
	created := f.mustCreateThing(t, "dev", map[string]string{"a": "1", "empty": ""}, "sensor")
	got := f.mustDescribeThing(t, "dev")
	if *got.ThingId != *created.ThingId || *got.ThingArn != *created.ThingArn || *got.ThingName != "dev" ||
		aws.ToString(got.ThingTypeName) != "sensor" || got.Version != 1 || aws.ToString(got.DefaultClientId) != "dev" {
		t.Errorf("DescribeThing = %+v", got)
	}
	if !maps.Equal(got.Attributes, map[string]string{"a": "1"}) {
		t.Errorf("attributes = %v, want only a=1 (empty values are not stored)", got.Attributes)
	}
	got.Attributes["a"] = "mutated"
	if again := f.mustDescribeThing(t, "dev"); again.Attributes["a"] != "1" {
		t.Error("DescribeThing returned the registry's own map")
	}
	_, err := f.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String("missing")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.DescribeThing(context.Background(), nil)
	wantErr(t, err, "params")
}

func TestUpdateThingAttributes(t *testing.T) {
	base := map[string]string{"a": "1", "b": "2"}
	tests := []struct {
		name    string
		payload *types.AttributePayload
		want    map[string]string
	}{
		{"nil payload keeps", nil, base},
		{"replace", &types.AttributePayload{Attributes: map[string]string{"c": "3"}}, map[string]string{"c": "3"}},
		{"replace with empty clears", &types.AttributePayload{Attributes: map[string]string{}}, map[string]string{}},
		{"replace drops empty values", &types.AttributePayload{Attributes: map[string]string{"a": "", "c": "3"}}, map[string]string{"c": "3"}},
		{"merge adds and updates", &types.AttributePayload{Merge: true, Attributes: map[string]string{"b": "20", "c": "3"}}, map[string]string{"a": "1", "b": "20", "c": "3"}},
		{"merge empty removes", &types.AttributePayload{Merge: true, Attributes: map[string]string{"a": ""}}, map[string]string{"b": "2"}},
		{"merge removing missing key", &types.AttributePayload{Merge: true, Attributes: map[string]string{"zz": ""}}, base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.mustCreateThing(t, "dev", base, "")
			if _, err := f.UpdateThing(context.Background(), &iot.UpdateThingInput{ThingName: aws.String("dev"), AttributePayload: tc.payload}); err != nil {
				t.Fatal(err)
			}
			got := f.mustDescribeThing(t, "dev")
			if !maps.Equal(got.Attributes, tc.want) {
				t.Errorf("attributes = %v, want %v", got.Attributes, tc.want)
			}
			if got.Version != 2 {
				t.Errorf("version = %d, want 2", got.Version)
			}
		})
	}
}

func TestUpdateThingMergeLimit(t *testing.T) {
	f := newFixture(t)
	attrs := map[string]string{}
	for i := range 50 {
		attrs[fmt.Sprintf("k%d", i)] = "v"
	}
	f.mustCreateThing(t, "dev", attrs, "")
	_, err := f.UpdateThing(context.Background(), &iot.UpdateThingInput{ThingName: aws.String("dev"),
		AttributePayload: &types.AttributePayload{Merge: true, Attributes: map[string]string{"one-more": "v"}}})
	wantErr(t, err, "InvalidRequestException")
	// Removing one and adding one in the same merge stays within the limit.
	_, err = f.UpdateThing(context.Background(), &iot.UpdateThingInput{ThingName: aws.String("dev"),
		AttributePayload: &types.AttributePayload{Merge: true, Attributes: map[string]string{"k0": "", "one-more": "v"}}})
	wantErr(t, err, "")
	if got := f.mustDescribeThing(t, "dev"); got.Version != 2 || len(got.Attributes) != 50 {
		t.Errorf("version %d, %d attributes; want 2, 50 (a failed update must not change the thing)", got.Version, len(got.Attributes))
	}
}

func TestUpdateThingTypeAndVersion(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThingType(t, "a")
	f.mustCreateThingType(t, "b")
	f.mustCreateThingType(t, "dep")
	if _, err := f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("dep")}); err != nil {
		t.Fatal(err)
	}
	f.mustCreateThing(t, "dev", nil, "a")

	steps := []struct {
		name     string
		in       *iot.UpdateThingInput
		want     string
		wantType string
		wantVer  int64
	}{
		{"change type", &iot.UpdateThingInput{ThingTypeName: aws.String("b")}, "", "b", 2},
		{"matching expected version", &iot.UpdateThingInput{ExpectedVersion: aws.Int64(2)}, "", "b", 3},
		{"stale expected version", &iot.UpdateThingInput{ExpectedVersion: aws.Int64(2), ThingTypeName: aws.String("a")}, "VersionConflictException", "b", 3},
		{"unknown type", &iot.UpdateThingInput{ThingTypeName: aws.String("nope")}, "ResourceNotFoundException", "b", 3},
		{"deprecated type", &iot.UpdateThingInput{ThingTypeName: aws.String("dep")}, "InvalidRequestException", "b", 3},
		{"both type and remove", &iot.UpdateThingInput{ThingTypeName: aws.String("a"), RemoveThingType: true}, "InvalidRequestException", "b", 3},
		{"remove type", &iot.UpdateThingInput{RemoveThingType: true}, "", "", 4},
		{"missing thing", &iot.UpdateThingInput{ThingName: aws.String("ghost")}, "ResourceNotFoundException", "", 4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.in.ThingName == nil {
				s.in.ThingName = aws.String("dev")
			}
			_, err := f.UpdateThing(ctx, s.in)
			wantErr(t, err, s.want)
			got := f.mustDescribeThing(t, "dev")
			if aws.ToString(got.ThingTypeName) != s.wantType || got.Version != s.wantVer {
				t.Errorf("type %q version %d, want %q %d", aws.ToString(got.ThingTypeName), got.Version, s.wantType, s.wantVer)
			}
		})
	}
	if _, err := f.UpdateThing(ctx, nil); err == nil {
		t.Error("UpdateThing(nil) succeeded")
	}
}

func TestDeleteThing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThingType(t, "ty")
	f.mustCreateThing(t, "dev", nil, "ty")
	f.mustCreateGroup(t, "g", "")
	if _, err := f.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("dev"), ThingGroupName: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	arn, _ := f.mustRegisterCert(t, types.CertificateStatusActive)
	if _, err := f.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev"), Principal: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}

	_, err := f.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev")})
	wantErr(t, err, "InvalidRequestException") // principal attached
	if _, err := f.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev"), Principal: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev"), ExpectedVersion: aws.Int64(7)})
	wantErr(t, err, "VersionConflictException")
	_, err = f.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev"), ExpectedVersion: aws.Int64(1)})
	wantErr(t, err, "")
	_, err = f.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev")})
	wantErr(t, err, "") // deleting a missing thing succeeds

	in, err := f.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("g")})
	if err != nil || len(in.Things) != 0 {
		t.Errorf("group still lists %v (%v)", in.Things, err)
	}
	// The type is no longer in use, so it can go once deprecated.
	if _, err := f.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("ty")}); err != nil {
		t.Fatal(err)
	}
	_, err = f.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("ty")})
	wantErr(t, err, "")
	// The name can be reused, with a new id.
	f.mustCreateThing(t, "dev", nil, "")
}

func TestListThingsFiltersAndPaginator(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThingType(t, "cam")
	for i := range 23 {
		typ := ""
		if i%2 == 0 {
			typ = "cam"
		}
		f.mustCreateThing(t, fmt.Sprintf("t%02d", i), map[string]string{"floor": fmt.Sprintf("f%d", i%3), "rack": "r1"}, typ)
	}
	collect := func(in *iot.ListThingsInput, limit int32) []string {
		t.Helper()
		var names []string
		p := iot.NewListThingsPaginator(f, in, func(o *iot.ListThingsPaginatorOptions) { o.Limit = limit })
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("NextPage: %v", err)
			}
			if int32(len(out.Things)) > limit {
				t.Fatalf("page of %d > limit %d", len(out.Things), limit)
			}
			pages++
			for _, th := range out.Things {
				names = append(names, *th.ThingName)
			}
		}
		return names
	}
	all := collect(&iot.ListThingsInput{}, 5)
	if len(all) != 23 || all[0] != "t00" || all[22] != "t22" {
		t.Fatalf("all things = %v", all)
	}
	tests := []struct {
		name string
		in   *iot.ListThingsInput
		want int
	}{
		{"by type", &iot.ListThingsInput{ThingTypeName: aws.String("cam")}, 12},
		{"by attribute value", &iot.ListThingsInput{AttributeName: aws.String("floor"), AttributeValue: aws.String("f1")}, 8},
		{"by attribute name", &iot.ListThingsInput{AttributeName: aws.String("rack")}, 23},
		{"by prefix", &iot.ListThingsInput{AttributeName: aws.String("floor"), AttributeValue: aws.String("f"), UsePrefixAttributeValue: true}, 23},
		{"type and attribute", &iot.ListThingsInput{ThingTypeName: aws.String("cam"), AttributeName: aws.String("floor"), AttributeValue: aws.String("f0")}, 4},
		{"no match", &iot.ListThingsInput{AttributeName: aws.String("floor"), AttributeValue: aws.String("f9")}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := collect(tc.in, 3); len(got) != tc.want {
				t.Errorf("got %d things %v, want %d", len(got), got, tc.want)
			}
		})
	}
	_, err := f.ListThings(ctx, &iot.ListThingsInput{AttributeValue: aws.String("x")})
	wantErr(t, err, "InvalidRequestException")
}

func TestPaginationTokens(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for i := range 6 {
		f.mustCreateThing(t, fmt.Sprintf("t%d", i), nil, "")
	}
	page1, err := f.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(2)})
	if err != nil || len(page1.Things) != 2 || page1.NextToken == nil {
		t.Fatalf("page 1 = %+v, %v", page1, err)
	}
	// Changes between pages neither repeat nor skip the remaining entries.
	if _, err := f.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("t1")}); err != nil {
		t.Fatal(err)
	}
	f.mustCreateThing(t, "t0a", nil, "")
	page2, err := f.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(10), NextToken: page1.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, th := range page2.Things {
		got = append(got, *th.ThingName)
	}
	if strings.Join(got, ",") != "t2,t3,t4,t5" || page2.NextToken != nil {
		t.Errorf("page 2 = %v (next %v), want t2..t5 and no token", got, page2.NextToken)
	}

	bad := []struct {
		name string
		in   *iot.ListThingsInput
	}{
		{"garbage token", &iot.ListThingsInput{NextToken: aws.String("!!not a token")}},
		{"base64 of junk", &iot.ListThingsInput{NextToken: aws.String("aGVsbG8")}},
		{"zero page size", &iot.ListThingsInput{MaxResults: aws.Int32(0)}},
		{"page size too large", &iot.ListThingsInput{MaxResults: aws.Int32(251)}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.ListThings(ctx, tc.in)
			wantErr(t, err, "InvalidRequestException")
		})
	}
	// A token from another operation is rejected.
	groupsToken := encodeToken("ListThingGroups", "x")
	_, err = f.ListThings(ctx, &iot.ListThingsInput{NextToken: groupsToken})
	wantErr(t, err, "InvalidRequestException")
}
