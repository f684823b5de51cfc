package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
)

// Registry behaviours: things, thing types, certificates and principals,
// policies, thing groups.
var registryBehaviours = []behaviour{
	{name: "thing/not-found", run: thingNotFound},
	{name: "thing/create-is-idempotent", run: thingCreateIdempotent},
	{
		name: "thing/create-conflicting-already-exists",
		// AWS: "If this call is made with the same thing name but different
		// configuration a ResourceAlreadyExistsException is thrown."
		// https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html
		motoDiffers: "moto's CreateThing silently replaces an existing thing with a different configuration " +
			"(AWS: ResourceAlreadyExistsException, https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html)",
		run: thingCreateConflict,
	},
	{
		name: "thing/delete-missing-succeeds",
		motoDiffers: "moto's DeleteThing of a missing thing fails with ResourceNotFoundException " +
			"(AWS: \"Returns successfully with no error if ... you specify a thing that doesn't exist\", " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteThing.html)",
		run: thingDeleteMissing,
	},
	{name: "thing/attribute-merge", run: thingAttributeMerge},
	{
		name: "thing/version-increments",
		motoDiffers: "moto neither increments a thing's version on UpdateThing nor checks ExpectedVersion " +
			"(AWS: VersionConflictException, https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateThing.html)",
		run: thingVersion,
	},
	{name: "thing/list-pagination", run: thingListPagination},
	{name: "thing/list-filters", run: thingListFilters},
	{name: "thing/type-association", run: thingTypeAssociation},
	{name: "thingtype/deprecate-undeprecate", run: thingTypeDeprecate},
	{
		name: "thingtype/delete-requires-deprecation",
		motoDiffers: "moto deletes a thing type that is not deprecated " +
			"(AWS: \"first mark it as deprecated by calling DeprecateThingType\", " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteThingType.html)",
		run: thingTypeDeleteRules,
	},
	{name: "certificate/register-describe", run: certRegisterDescribe},
	{
		name: "certificate/id-is-der-fingerprint",
		motoDiffers: "moto 5 derives a certificate's id from the SHA-256 of the PEM text unless its iot.use_valid_cert " +
			"setting is on, which moto_server cannot set (AWS: the id is the SHA-256 fingerprint of the DER certificate, " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_Certificate.html)",
		run: certificateIDIsFingerprint,
	},
	{name: "certificate/status-and-delete-rules", run: certStatusAndDelete},
	{name: "principal/attach-detach", run: principalAttachDetach},
	{name: "principal/thing-with-principal-not-deletable", run: thingWithPrincipalNotDeletable},
	{name: "policy/versions", run: policyVersions},
	{name: "policy/attach-detach-delete", run: policyAttach},
	{name: "group/tree", run: groupTree},
	{
		name: "group/missing-parent-not-found",
		motoDiffers: "moto_server answers CreateThingGroup under a missing parent with HTTP 500 (an UnboundLocalError in moto) " +
			"(AWS: ResourceNotFoundException, https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThingGroup.html)",
		run: groupMissingParent,
	},
	{
		name: "group/create-is-idempotent",
		motoDiffers: "moto rejects a repeated CreateThingGroup of a group created without properties as ResourceAlreadyExists " +
			"(AWS: \"If the ThingGroup that you create has the exact same attributes as an existing ThingGroup, you will get a 200 success response\", " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThingGroup.html)",
		run: groupCreateIdempotent,
	},
	{name: "group/membership", run: groupMembership},
	{name: "group/update-and-version", run: groupUpdate},
	{
		name: "group/attribute-merge",
		motoDiffers: "moto keeps a thing group attribute set to \"\" in a merging UpdateThingGroup " +
			"(AWS AttributePayload: \"To remove an attribute, call UpdateThing with an empty attribute value\", same payload type for groups, " +
			"https://docs.aws.amazon.com/iot/latest/apireference/API_AttributePayload.html)",
		run: groupAttributeMerge,
	},
	{
		name: "group/list-pagination",
		motoDiffers: "moto's ListThingGroups ignores maxResults and never returns a nextToken " +
			"(AWS: maxResults 1-250 with nextToken, https://docs.aws.amazon.com/iot/latest/apireference/API_ListThingGroups.html)",
		run: groupListPagination,
	},
}

func thingNotFound(ctx context.Context, t *testing.T, tg Target) {
	_, err := tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "DescribeThing", err)
	_, err = tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("nope"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1"}}})
	wantErr[*types.ResourceNotFoundException](t, "UpdateThing", err)
	_, err = tg.IoT.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "DescribeThingType", err)
	_, err = tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "DescribeThingGroup", err)
	_, err = tg.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "GetPolicy", err)
	_, id := newCertPEM(t, "unregistered")
	_, err = tg.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	wantErr[*types.ResourceNotFoundException](t, "DescribeCertificate", err)
	_, err = tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("typed"), ThingTypeName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "CreateThing with a missing type", err)
}

func groupMissingParent(ctx context.Context, t *testing.T, tg Target) {
	// CreateThingGroup's model does not list ResourceNotFoundException, so the SDK
	// surfaces it as a generic API error with that code, never as the typed one.
	_, err := tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("child"), ParentGroupName: aws.String("nope")})
	if api := wantErr[smithy.APIError](t, "CreateThingGroup under a missing parent", err); api.ErrorCode() != "ResourceNotFoundException" {
		t.Errorf("CreateThingGroup under a missing parent: code %s, want ResourceNotFoundException", api.ErrorCode())
	}
	if isErr[*types.ResourceNotFoundException](err) {
		t.Errorf("CreateThingGroup under a missing parent: a typed ResourceNotFoundException, which the SDK cannot produce for this operation")
	}
	_, err = tg.IoT.ListThingGroups(ctx, &iot.ListThingGroupsInput{ParentGroup: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "ListThingGroups under a missing parent", err)
}

func thingCreateIdempotent(ctx context.Context, t *testing.T, tg Target) {
	in := &iot.CreateThingInput{ThingName: aws.String("dev-1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"site": "a"}}}
	first := must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, in))
	if got, want := aws.ToString(first.ThingArn), tg.arn("thing", "dev-1"); got != want {
		t.Errorf("ThingArn = %q, want %q", got, want)
	}
	if aws.ToString(first.ThingId) == "" || aws.ToString(first.ThingName) != "dev-1" {
		t.Errorf("CreateThing output = %+v, want a ThingId and the name", first)
	}
	// AWS: the same name and configuration again succeeds.
	again := must[*iot.CreateThingOutput](t, "CreateThing again")(tg.IoT.CreateThing(ctx, in))
	if aws.ToString(again.ThingArn) != aws.ToString(first.ThingArn) {
		t.Errorf("repeated CreateThing ARN = %q, want %q", aws.ToString(again.ThingArn), aws.ToString(first.ThingArn))
	}
	// Other resources: creating an existing policy is always a conflict.
	doc := policyDoc("iot:Connect")
	must[*iot.CreatePolicyOutput](t, "CreatePolicy")(tg.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}))
	_, err := tg.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)})
	wantErr[*types.ResourceAlreadyExistsException](t, "CreatePolicy twice", err)
	// Registering the same certificate twice is a conflict too.
	pemText, _ := newCertPEM(t, "dup")
	must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(tg.IoT.RegisterCertificateWithoutCA(ctx,
		&iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText), Status: types.CertificateStatusActive}))
	_, err = tg.IoT.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText), Status: types.CertificateStatusActive})
	wantErr[*types.ResourceAlreadyExistsException](t, "RegisterCertificateWithoutCA twice", err)
}

func thingCreateConflict(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"site": "a"}}}))
	_, err := tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"site": "b"}}})
	wantErr[*types.ResourceAlreadyExistsException](t, "CreateThing with other attributes", err)
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("one")}}))
	_, err = tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("two")}})
	wantErr[*types.ResourceAlreadyExistsException](t, "CreateThingGroup with another description", err)
}

func thingDeleteMissing(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.DeleteThingOutput](t, "DeleteThing of a missing thing")(tg.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("nope")}))
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}))
	must[*iot.DeleteThingOutput](t, "DeleteThing")(tg.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-1")}))
	must[*iot.DeleteThingOutput](t, "DeleteThing again")(tg.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-1")}))
}

func describeAttrs(ctx context.Context, t *testing.T, tg Target, name string) map[string]string {
	t.Helper()
	out := must[*iot.DescribeThingOutput](t, "DescribeThing "+name)(tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)}))
	if out.Attributes == nil {
		return map[string]string{}
	}
	return out.Attributes
}

func thingAttributeMerge(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1", "b": "2"}}}))
	steps := []struct {
		attrs map[string]string
		merge bool
		want  map[string]string
	}{
		// Merge: new keys added, changed keys replaced, an empty value removes.
		{map[string]string{"b": "", "c": "3"}, true, map[string]string{"a": "1", "c": "3"}},
		{map[string]string{"a": "9"}, true, map[string]string{"a": "9", "c": "3"}},
		// No merge: the payload replaces every attribute.
		{map[string]string{"d": "4"}, false, map[string]string{"d": "4"}},
		{map[string]string{}, false, map[string]string{}},
	}
	for i, s := range steps {
		must[*iot.UpdateThingOutput](t, fmt.Sprintf("UpdateThing step %d", i))(tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{
			ThingName: aws.String("dev-1"), AttributePayload: &types.AttributePayload{Attributes: s.attrs, Merge: s.merge}}))
		if got := describeAttrs(ctx, t, tg, "dev-1"); !maps.Equal(got, s.want) {
			t.Errorf("step %d (merge=%v %v): attributes = %v, want %v", i, s.merge, s.attrs, got, s.want)
		}
	}
}

func thingVersion(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}))
	v1 := must[*iot.DescribeThingOutput](t, "DescribeThing")(tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")})).Version
	must[*iot.UpdateThingOutput](t, "UpdateThing")(tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), ExpectedVersion: aws.Int64(v1),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1"}, Merge: true}}))
	v2 := must[*iot.DescribeThingOutput](t, "DescribeThing")(tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")})).Version
	if v2 != v1+1 {
		t.Errorf("version after update = %d, want %d", v2, v1+1)
	}
	_, err := tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), ExpectedVersion: aws.Int64(v1),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "2"}, Merge: true}})
	wantErr[*types.VersionConflictException](t, "UpdateThing with a stale ExpectedVersion", err)
}

func createThings(ctx context.Context, t *testing.T, tg Target, n int, in func(i int) *iot.CreateThingInput) []string {
	t.Helper()
	var names []string
	for i := range n {
		ci := in(i)
		must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, ci))
		names = append(names, aws.ToString(ci.ThingName))
	}
	return sorted(names)
}

func thingListPagination(ctx context.Context, t *testing.T, tg Target) {
	want := createThings(ctx, t, tg, 7, func(i int) *iot.CreateThingInput {
		return &iot.CreateThingInput{ThingName: aws.String(fmt.Sprintf("dev-%02d", i))}
	})
	// By hand: pages of at most 3, a NextToken on every page but the last.
	var got []string
	var token *string
	pages := 0
	for {
		out := must[*iot.ListThingsOutput](t, "ListThings")(tg.IoT.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(3), NextToken: token}))
		pages++
		if len(out.Things) > 3 {
			t.Fatalf("page %d has %d things, MaxResults is 3", pages, len(out.Things))
		}
		for _, th := range out.Things {
			got = append(got, aws.ToString(th.ThingName))
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		if pages > 10 {
			t.Fatal("ListThings never stops returning a NextToken")
		}
		token = out.NextToken
	}
	if pages != 3 {
		t.Errorf("7 things in pages of 3 took %d pages, want 3", pages)
	}
	if got = sorted(got); !slices.Equal(got, want) {
		t.Errorf("paged ListThings = %v, want each of %v exactly once", got, want)
	}
	// Through the SDK's paginator.
	got = nil
	p := iot.NewListThingsPaginator(tg.IoT, &iot.ListThingsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out := must[*iot.ListThingsOutput](t, "ListThings paginator")(p.NextPage(ctx))
		for _, th := range out.Things {
			got = append(got, aws.ToString(th.ThingName))
		}
	}
	if got = sorted(got); !slices.Equal(got, want) {
		t.Errorf("paginated ListThings = %v, want %v", got, want)
	}
}

func thingListFilters(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingTypeOutput](t, "CreateThingType")(tg.IoT.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor")}))
	createThings(ctx, t, tg, 4, func(i int) *iot.CreateThingInput {
		in := &iot.CreateThingInput{ThingName: aws.String(fmt.Sprintf("dev-%d", i)),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"site": []string{"a", "b"}[i%2]}}}
		if i < 2 {
			in.ThingTypeName = aws.String("sensor")
		}
		return in
	})
	list := func(in *iot.ListThingsInput) []string {
		t.Helper()
		var names []string
		p := iot.NewListThingsPaginator(tg.IoT, in)
		for p.HasMorePages() {
			for _, th := range must[*iot.ListThingsOutput](t, "ListThings")(p.NextPage(ctx)).Things {
				names = append(names, aws.ToString(th.ThingName))
			}
		}
		return sorted(names)
	}
	if got, want := list(&iot.ListThingsInput{ThingTypeName: aws.String("sensor")}), []string{"dev-0", "dev-1"}; !slices.Equal(got, want) {
		t.Errorf("ListThings by type = %v, want %v", got, want)
	}
	if got, want := list(&iot.ListThingsInput{AttributeName: aws.String("site"), AttributeValue: aws.String("b")}), []string{"dev-1", "dev-3"}; !slices.Equal(got, want) {
		t.Errorf("ListThings by attribute = %v, want %v", got, want)
	}
}

func thingTypeAssociation(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingTypeOutput](t, "CreateThingType")(tg.IoT.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor")}))
	must[*iot.CreateThingTypeOutput](t, "CreateThingType")(tg.IoT.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("camera")}))
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("sensor")}))
	typeOf := func() string {
		t.Helper()
		return aws.ToString(must[*iot.DescribeThingOutput](t, "DescribeThing")(tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")})).ThingTypeName)
	}
	if got := typeOf(); got != "sensor" {
		t.Errorf("type = %q, want sensor", got)
	}
	must[*iot.UpdateThingOutput](t, "UpdateThing type")(tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("camera")}))
	if got := typeOf(); got != "camera" {
		t.Errorf("type after change = %q, want camera", got)
	}
	_, err := tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("camera"), RemoveThingType: true})
	wantErr[*types.InvalidRequestException](t, "UpdateThing with a type and RemoveThingType", err)
	must[*iot.UpdateThingOutput](t, "UpdateThing RemoveThingType")(tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), RemoveThingType: true}))
	if got := typeOf(); got != "" {
		t.Errorf("type after RemoveThingType = %q, want none", got)
	}
	_, err = tg.IoT.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "UpdateThing to a missing type", err)
}

func thingTypeDeprecate(ctx context.Context, t *testing.T, tg Target) {
	out := must[*iot.CreateThingTypeOutput](t, "CreateThingType")(tg.IoT.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor"),
		ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("temp"), SearchableAttributes: []string{"site"}}}))
	if got, want := aws.ToString(out.ThingTypeArn), tg.arn("thingtype", "sensor"); got != want {
		t.Errorf("ThingTypeArn = %q, want %q", got, want)
	}
	describe := func() *iot.DescribeThingTypeOutput {
		t.Helper()
		return must[*iot.DescribeThingTypeOutput](t, "DescribeThingType")(tg.IoT.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("sensor")}))
	}
	d := describe()
	if d.ThingTypeMetadata == nil || d.ThingTypeMetadata.Deprecated {
		t.Fatalf("new type metadata = %+v, want not deprecated", d.ThingTypeMetadata)
	}
	if p := d.ThingTypeProperties; p == nil || aws.ToString(p.ThingTypeDescription) != "temp" || !slices.Equal(p.SearchableAttributes, []string{"site"}) {
		t.Errorf("properties = %+v, want description temp and searchable [site]", p)
	}
	must[*iot.DeprecateThingTypeOutput](t, "DeprecateThingType")(tg.IoT.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("sensor")}))
	if m := describe().ThingTypeMetadata; m == nil || !m.Deprecated {
		t.Errorf("after deprecation metadata = %+v, want deprecated", m)
	}
	// AWS: things cannot be associated with a deprecated type.
	_, err := tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("sensor")})
	wantErr[*types.InvalidRequestException](t, "CreateThing with a deprecated type", err)
	must[*iot.DeprecateThingTypeOutput](t, "DeprecateThingType undo")(tg.IoT.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("sensor"), UndoDeprecate: true}))
	if m := describe().ThingTypeMetadata; m == nil || m.Deprecated {
		t.Errorf("after undo metadata = %+v, want not deprecated", m)
	}
	must[*iot.CreateThingOutput](t, "CreateThing with the type again usable")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1"), ThingTypeName: aws.String("sensor")}))
	_, err = tg.IoT.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "DeprecateThingType of a missing type", err)
}

func thingTypeDeleteRules(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingTypeOutput](t, "CreateThingType")(tg.IoT.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor")}))
	_, err := tg.IoT.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("sensor")})
	wantErr[*types.InvalidRequestException](t, "DeleteThingType of a type not deprecated", err)
}

func certRegisterDescribe(ctx context.Context, t *testing.T, tg Target) {
	pemText, _ := newCertPEM(t, "dev-1")
	out := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(tg.IoT.RegisterCertificateWithoutCA(ctx,
		&iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText), Status: types.CertificateStatusActive}))
	id := aws.ToString(out.CertificateId)
	if got, want := aws.ToString(out.CertificateArn), tg.arn("cert", id); got != want {
		t.Errorf("CertificateArn = %q, want %q", got, want)
	}
	d := must[*iot.DescribeCertificateOutput](t, "DescribeCertificate")(tg.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})).CertificateDescription
	if d == nil {
		t.Fatal("DescribeCertificate returned no description")
	}
	if d.Status != types.CertificateStatusActive || aws.ToString(d.CertificateId) != id || aws.ToString(d.CertificateArn) != aws.ToString(out.CertificateArn) {
		t.Errorf("description = status %s id %s arn %s, want ACTIVE %s %s", d.Status, aws.ToString(d.CertificateId), aws.ToString(d.CertificateArn), id, aws.ToString(out.CertificateArn))
	}
	if !samePEM(aws.ToString(d.CertificatePem), pemText) {
		t.Errorf("described PEM differs from the registered certificate")
	}
	listed := false
	p := iot.NewListCertificatesPaginator(tg.IoT, &iot.ListCertificatesInput{})
	for p.HasMorePages() {
		for _, c := range must[*iot.ListCertificatesOutput](t, "ListCertificates")(p.NextPage(ctx)).Certificates {
			listed = listed || aws.ToString(c.CertificateId) == id
		}
	}
	if !listed {
		t.Errorf("ListCertificates does not list %s", id)
	}
}

// certificateIDIsFingerprint is split from certRegisterDescribe because moto
// differs only here.
func certificateIDIsFingerprint(ctx context.Context, t *testing.T, tg Target) {
	pemText, fp := newCertPEM(t, "dev-1")
	out := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(tg.IoT.RegisterCertificateWithoutCA(ctx,
		&iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText), Status: types.CertificateStatusActive}))
	if got := aws.ToString(out.CertificateId); got != fp {
		t.Errorf("CertificateId = %s, want the SHA-256 fingerprint of the DER %s", got, fp)
	}
}

func registerCert(ctx context.Context, t *testing.T, tg Target, cn string, status types.CertificateStatus) (id, arn string) {
	t.Helper()
	pemText, _ := newCertPEM(t, cn)
	out := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(tg.IoT.RegisterCertificateWithoutCA(ctx,
		&iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(pemText), Status: status}))
	return aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn)
}

func certStatus(ctx context.Context, t *testing.T, tg Target, id string) types.CertificateStatus {
	t.Helper()
	return must[*iot.DescribeCertificateOutput](t, "DescribeCertificate")(tg.IoT.DescribeCertificate(ctx,
		&iot.DescribeCertificateInput{CertificateId: aws.String(id)})).CertificateDescription.Status
}

func certStatusAndDelete(ctx context.Context, t *testing.T, tg Target) {
	id, arn := registerCert(ctx, t, tg, "dev-1", types.CertificateStatusActive)
	// AWS: an ACTIVE certificate cannot be deleted.
	_, err := tg.IoT.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
	wantErr[*types.CertificateStateException](t, "DeleteCertificate of an ACTIVE certificate", err)
	for _, s := range []types.CertificateStatus{types.CertificateStatusInactive, types.CertificateStatusActive, types.CertificateStatusInactive} {
		must[*iot.UpdateCertificateOutput](t, "UpdateCertificate "+string(s))(tg.IoT.UpdateCertificate(ctx,
			&iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: s}))
		if got := certStatus(ctx, t, tg, id); got != s {
			t.Errorf("status after UpdateCertificate %s = %s", s, got)
		}
	}
	// Attached to a thing: DeleteConflictException.
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}))
	must[*iot.AttachThingPrincipalOutput](t, "AttachThingPrincipal")(tg.IoT.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(arn)}))
	_, err = tg.IoT.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
	wantErr[*types.DeleteConflictException](t, "DeleteCertificate attached to a thing", err)
	must[*iot.DetachThingPrincipalOutput](t, "DetachThingPrincipal")(tg.IoT.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(arn)}))
	// A policy attached: DeleteConflictException unless ForceDelete.
	must[*iot.CreatePolicyOutput](t, "CreatePolicy")(tg.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(policyDoc("iot:Connect"))}))
	must[*iot.AttachPolicyOutput](t, "AttachPolicy")(tg.IoT.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: aws.String(arn)}))
	_, err = tg.IoT.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
	wantErr[*types.DeleteConflictException](t, "DeleteCertificate with a policy attached", err)
	must[*iot.DeleteCertificateOutput](t, "DeleteCertificate ForceDelete")(tg.IoT.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id), ForceDelete: true}))
	_, err = tg.IoT.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	wantErr[*types.ResourceNotFoundException](t, "DescribeCertificate after delete", err)
}

func principalAttachDetach(ctx context.Context, t *testing.T, tg Target) {
	_, arn := registerCert(ctx, t, tg, "dev-1", types.CertificateStatusActive)
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}))
	_, err := tg.IoT.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("nope"), Principal: aws.String(arn)})
	wantErr[*types.ResourceNotFoundException](t, "AttachThingPrincipal to a missing thing", err)
	for range 2 { // attaching twice is harmless
		must[*iot.AttachThingPrincipalOutput](t, "AttachThingPrincipal")(tg.IoT.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(arn)}))
	}
	principals := must[*iot.ListThingPrincipalsOutput](t, "ListThingPrincipals")(tg.IoT.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev-1")})).Principals
	if !slices.Equal(principals, []string{arn}) {
		t.Errorf("ListThingPrincipals = %v, want [%s]", principals, arn)
	}
	things := must[*iot.ListPrincipalThingsOutput](t, "ListPrincipalThings")(tg.IoT.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)})).Things
	if !slices.Equal(things, []string{"dev-1"}) {
		t.Errorf("ListPrincipalThings = %v, want [dev-1]", things)
	}
	must[*iot.DetachThingPrincipalOutput](t, "DetachThingPrincipal")(tg.IoT.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(arn)}))
	if p := must[*iot.ListThingPrincipalsOutput](t, "ListThingPrincipals")(tg.IoT.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("dev-1")})).Principals; len(p) != 0 {
		t.Errorf("ListThingPrincipals after detach = %v, want none", p)
	}
	if th := must[*iot.ListPrincipalThingsOutput](t, "ListPrincipalThings")(tg.IoT.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)})).Things; len(th) != 0 {
		t.Errorf("ListPrincipalThings after detach = %v, want none", th)
	}
}

func thingWithPrincipalNotDeletable(ctx context.Context, t *testing.T, tg Target) {
	_, arn := registerCert(ctx, t, tg, "dev-1", types.CertificateStatusActive)
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}))
	must[*iot.AttachThingPrincipalOutput](t, "AttachThingPrincipal")(tg.IoT.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(arn)}))
	// AWS refuses to delete a thing that still has principals attached.
	_, err := tg.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-1")})
	wantErr[*types.InvalidRequestException](t, "DeleteThing with a principal attached", err)
	must[*iot.DetachThingPrincipalOutput](t, "DetachThingPrincipal")(tg.IoT.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-1"), Principal: aws.String(arn)}))
	must[*iot.DeleteThingOutput](t, "DeleteThing")(tg.IoT.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev-1")}))
	_, err = tg.IoT.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("dev-1")})
	wantErr[*types.ResourceNotFoundException](t, "DescribeThing after delete", err)
}

func policyDoc(action string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"*"}]}`
}

func policyVersions(ctx context.Context, t *testing.T, tg Target) {
	created := must[*iot.CreatePolicyOutput](t, "CreatePolicy")(tg.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(policyDoc("iot:Connect"))}))
	if aws.ToString(created.PolicyVersionId) != "1" || aws.ToString(created.PolicyArn) != tg.arn("policy", "p") {
		t.Errorf("CreatePolicy = version %q arn %q, want 1 %s", aws.ToString(created.PolicyVersionId), aws.ToString(created.PolicyArn), tg.arn("policy", "p"))
	}
	get := func() *iot.GetPolicyOutput {
		t.Helper()
		return must[*iot.GetPolicyOutput](t, "GetPolicy")(tg.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("p")}))
	}
	if g := get(); aws.ToString(g.DefaultVersionId) != "1" || !sameJSON(aws.ToString(g.PolicyDocument), policyDoc("iot:Connect")) {
		t.Errorf("GetPolicy = default %q doc %s", aws.ToString(g.DefaultVersionId), aws.ToString(g.PolicyDocument))
	}
	v2 := must[*iot.CreatePolicyVersionOutput](t, "CreatePolicyVersion")(tg.IoT.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
		PolicyName: aws.String("p"), PolicyDocument: aws.String(policyDoc("iot:Publish")), SetAsDefault: true}))
	if aws.ToString(v2.PolicyVersionId) != "2" || !v2.IsDefaultVersion {
		t.Errorf("CreatePolicyVersion = %q default %v, want 2 true", aws.ToString(v2.PolicyVersionId), v2.IsDefaultVersion)
	}
	if g := get(); aws.ToString(g.DefaultVersionId) != "2" || !sameJSON(aws.ToString(g.PolicyDocument), policyDoc("iot:Publish")) {
		t.Errorf("GetPolicy after SetAsDefault = default %q doc %s", aws.ToString(g.DefaultVersionId), aws.ToString(g.PolicyDocument))
	}
	// Without SetAsDefault the default stays.
	for _, a := range []string{"iot:Subscribe", "iot:Receive", "iot:GetThingShadow"} {
		v := must[*iot.CreatePolicyVersionOutput](t, "CreatePolicyVersion")(tg.IoT.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
			PolicyName: aws.String("p"), PolicyDocument: aws.String(policyDoc(a))}))
		if v.IsDefaultVersion {
			t.Errorf("version %s created without SetAsDefault is the default", aws.ToString(v.PolicyVersionId))
		}
	}
	versions := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for _, v := range must[*iot.ListPolicyVersionsOutput](t, "ListPolicyVersions")(tg.IoT.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("p")})).PolicyVersions {
			out[aws.ToString(v.VersionId)] = v.IsDefaultVersion
		}
		return out
	}
	if got, want := versions(), map[string]bool{"1": false, "2": true, "3": false, "4": false, "5": false}; !maps.Equal(got, want) {
		t.Errorf("ListPolicyVersions = %v, want %v", got, want)
	}
	// AWS: at most five versions.
	_, err := tg.IoT.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(policyDoc("iot:UpdateThingShadow"))})
	wantErr[*types.VersionsLimitExceededException](t, "a sixth CreatePolicyVersion", err)
	// The default version cannot be deleted; others can.
	// AWS: "You cannot delete the default version of a policy using this
	// action" (API_DeletePolicyVersion.html), without naming the exception:
	// the fake answers DeleteConflictException (as for DeletePolicy), moto
	// InvalidRequestException; both are refusals a caller must not retry.
	_, err = tg.IoT.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("2")})
	if !isErr[*types.DeleteConflictException](err) && !isErr[*types.InvalidRequestException](err) {
		t.Fatalf("DeletePolicyVersion of the default: err = %v, want DeleteConflictException or InvalidRequestException", err)
	}
	must[*iot.DeletePolicyVersionOutput](t, "DeletePolicyVersion")(tg.IoT.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("1")}))
	must[*iot.SetDefaultPolicyVersionOutput](t, "SetDefaultPolicyVersion")(tg.IoT.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("3")}))
	if got, want := versions(), map[string]bool{"2": false, "3": true, "4": false, "5": false}; !maps.Equal(got, want) {
		t.Errorf("ListPolicyVersions after delete and SetDefault = %v, want %v", got, want)
	}
	_, err = tg.IoT.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, "ListPolicyVersions of a missing policy", err)
	// AWS: a policy with non-default versions cannot be deleted.
	_, err = tg.IoT.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")})
	wantErr[*types.DeleteConflictException](t, "DeletePolicy with non-default versions", err)
	for _, v := range []string{"2", "4", "5"} {
		must[*iot.DeletePolicyVersionOutput](t, "DeletePolicyVersion "+v)(tg.IoT.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String(v)}))
	}
	must[*iot.DeletePolicyOutput](t, "DeletePolicy")(tg.IoT.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")}))
	_, err = tg.IoT.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("p")})
	wantErr[*types.ResourceNotFoundException](t, "GetPolicy after delete", err)
}

func policyAttach(ctx context.Context, t *testing.T, tg Target) {
	_, arn := registerCert(ctx, t, tg, "dev-1", types.CertificateStatusActive)
	must[*iot.CreatePolicyOutput](t, "CreatePolicy")(tg.IoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(policyDoc("iot:Connect"))}))
	_, err := tg.IoT.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("nope"), Target: aws.String(arn)})
	wantErr[*types.ResourceNotFoundException](t, "AttachPolicy of a missing policy", err)
	for range 2 { // attaching twice is harmless
		must[*iot.AttachPolicyOutput](t, "AttachPolicy")(tg.IoT.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: aws.String(arn)}))
	}
	attached := func() []string {
		t.Helper()
		var names []string
		for _, p := range must[*iot.ListAttachedPoliciesOutput](t, "ListAttachedPolicies")(tg.IoT.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})).Policies {
			names = append(names, aws.ToString(p.PolicyName))
		}
		return names
	}
	targets := func() []string {
		t.Helper()
		return must[*iot.ListTargetsForPolicyOutput](t, "ListTargetsForPolicy")(tg.IoT.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p")})).Targets
	}
	if got := attached(); !slices.Equal(got, []string{"p"}) {
		t.Errorf("ListAttachedPolicies = %v, want [p]", got)
	}
	if got := targets(); !slices.Equal(got, []string{arn}) {
		t.Errorf("ListTargetsForPolicy = %v, want [%s]", got, arn)
	}
	// AWS: a policy attached to a certificate cannot be deleted.
	_, err = tg.IoT.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")})
	wantErr[*types.DeleteConflictException](t, "DeletePolicy while attached", err)
	must[*iot.DetachPolicyOutput](t, "DetachPolicy")(tg.IoT.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("p"), Target: aws.String(arn)}))
	if got := attached(); len(got) != 0 {
		t.Errorf("ListAttachedPolicies after detach = %v, want none", got)
	}
	if got := targets(); len(got) != 0 {
		t.Errorf("ListTargetsForPolicy after detach = %v, want none", got)
	}
	must[*iot.DeletePolicyOutput](t, "DeletePolicy")(tg.IoT.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")}))
}

func groupNames(refs []types.GroupNameAndArn) []string {
	var out []string
	for _, g := range refs {
		out = append(out, aws.ToString(g.GroupName))
	}
	return sorted(out)
}

func listGroups(ctx context.Context, t *testing.T, tg Target, in *iot.ListThingGroupsInput) []string {
	t.Helper()
	var refs []types.GroupNameAndArn
	p := iot.NewListThingGroupsPaginator(tg.IoT, in)
	for p.HasMorePages() {
		refs = append(refs, must[*iot.ListThingGroupsOutput](t, "ListThingGroups")(p.NextPage(ctx)).ThingGroups...)
	}
	return groupNames(refs)
}

func groupTree(ctx context.Context, t *testing.T, tg Target) {
	for _, g := range []struct{ name, parent string }{{"root", ""}, {"mid", "root"}, {"leaf", "mid"}, {"other", "root"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
		if g.parent != "" {
			in.ParentGroupName = aws.String(g.parent)
		}
		out := must[*iot.CreateThingGroupOutput](t, "CreateThingGroup "+g.name)(tg.IoT.CreateThingGroup(ctx, in))
		if got, want := aws.ToString(out.ThingGroupArn), tg.arn("thinggroup", g.name); got != want {
			t.Errorf("ThingGroupArn = %q, want %q", got, want)
		}
	}
	d := must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup leaf")(tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("leaf")}))
	if d.ThingGroupMetadata == nil {
		t.Fatal("DescribeThingGroup returned no metadata")
	}
	if got := aws.ToString(d.ThingGroupMetadata.ParentGroupName); got != "mid" {
		t.Errorf("ParentGroupName = %q, want mid", got)
	}
	var chain []string
	for _, g := range d.ThingGroupMetadata.RootToParentThingGroups {
		chain = append(chain, aws.ToString(g.GroupName))
		if want := tg.arn("thinggroup", aws.ToString(g.GroupName)); aws.ToString(g.GroupArn) != want {
			t.Errorf("RootToParentThingGroups ARN = %q, want %q", aws.ToString(g.GroupArn), want)
		}
	}
	if want := []string{"root", "mid"}; !slices.Equal(chain, want) {
		t.Errorf("RootToParentThingGroups = %v, want %v (root first)", chain, want)
	}
	if m := must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup root")(tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("root")})).ThingGroupMetadata; m != nil &&
		(aws.ToString(m.ParentGroupName) != "" || len(m.RootToParentThingGroups) != 0) {
		t.Errorf("root group metadata = parent %q chain %v, want neither", aws.ToString(m.ParentGroupName), m.RootToParentThingGroups)
	}
	if got, want := listGroups(ctx, t, tg, &iot.ListThingGroupsInput{ParentGroup: aws.String("root"), Recursive: aws.Bool(false)}), []string{"mid", "other"}; !slices.Equal(got, want) {
		t.Errorf("ListThingGroups ParentGroup=root Recursive=false = %v, want the direct children %v", got, want)
	}
	if got, want := listGroups(ctx, t, tg, &iot.ListThingGroupsInput{ParentGroup: aws.String("root"), Recursive: aws.Bool(true)}), []string{"leaf", "mid", "other"}; !slices.Equal(got, want) {
		t.Errorf("ListThingGroups ParentGroup=root Recursive=true = %v, want %v", got, want)
	}
	// Recursive has no documented default (API_ListThingGroups.html: "If
	// true, return child groups as well"); AWS answers an unset one with all
	// descendants, as the real-AWS output quoted in getmoto/moto#2961 shows.
	if got, want := listGroups(ctx, t, tg, &iot.ListThingGroupsInput{ParentGroup: aws.String("root")}), []string{"leaf", "mid", "other"}; !slices.Equal(got, want) {
		t.Errorf("ListThingGroups ParentGroup=root, Recursive unset = %v, want all descendants %v", got, want)
	}
	if got, want := listGroups(ctx, t, tg, &iot.ListThingGroupsInput{}), []string{"leaf", "mid", "other", "root"}; !slices.Equal(got, want) {
		t.Errorf("ListThingGroups = %v, want %v", got, want)
	}
	if got, want := listGroups(ctx, t, tg, &iot.ListThingGroupsInput{NamePrefixFilter: aws.String("o")}), []string{"other"}; !slices.Equal(got, want) {
		t.Errorf("ListThingGroups NamePrefixFilter=o = %v, want %v", got, want)
	}
	// Deleting a missing group succeeds (AWS DeleteThingGroup is idempotent).
	must[*iot.DeleteThingGroupOutput](t, "DeleteThingGroup of a missing group")(tg.IoT.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("nope")}))
	must[*iot.DeleteThingGroupOutput](t, "DeleteThingGroup leaf")(tg.IoT.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("leaf")}))
	if got, want := listGroups(ctx, t, tg, &iot.ListThingGroupsInput{ParentGroup: aws.String("mid"), Recursive: aws.Bool(false)}), []string(nil); !slices.Equal(got, want) {
		t.Errorf("children of mid after deleting leaf = %v, want none", got)
	}
}

func groupMembership(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g")}))
	must[*iot.CreateThingOutput](t, "CreateThing")(tg.IoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}))
	_, err := tg.IoT.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("nope"), ThingName: aws.String("dev-1")})
	wantErr[*types.ResourceNotFoundException](t, "AddThingToThingGroup to a missing group", err)
	for range 2 { // adding twice is harmless
		must[*iot.AddThingToThingGroupOutput](t, "AddThingToThingGroup")(tg.IoT.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("g"), ThingName: aws.String("dev-1")}))
	}
	groups := func() []string {
		t.Helper()
		return groupNames(must[*iot.ListThingGroupsForThingOutput](t, "ListThingGroupsForThing")(tg.IoT.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("dev-1")})).ThingGroups)
	}
	members := func() []string {
		t.Helper()
		return must[*iot.ListThingsInThingGroupOutput](t, "ListThingsInThingGroup")(tg.IoT.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("g")})).Things
	}
	if got := groups(); !slices.Equal(got, []string{"g"}) {
		t.Errorf("ListThingGroupsForThing = %v, want [g]", got)
	}
	if got := members(); !slices.Equal(got, []string{"dev-1"}) {
		t.Errorf("ListThingsInThingGroup = %v, want [dev-1]", got)
	}
	must[*iot.RemoveThingFromThingGroupOutput](t, "RemoveThingFromThingGroup")(tg.IoT.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingGroupName: aws.String("g"), ThingName: aws.String("dev-1")}))
	if got := groups(); len(got) != 0 {
		t.Errorf("ListThingGroupsForThing after remove = %v, want none", got)
	}
	if got := members(); len(got) != 0 {
		t.Errorf("ListThingsInThingGroup after remove = %v, want none", got)
	}
}

func groupUpdate(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("d1"),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1", "b": "2"}}}}))
	d := must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("g")}))
	v1 := d.Version
	up := must[*iot.UpdateThingGroupOutput](t, "UpdateThingGroup")(tg.IoT.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("g"), ExpectedVersion: aws.Int64(v1),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("d2"),
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"c": "3"}, Merge: true}}}))
	if up.Version != v1+1 {
		t.Errorf("UpdateThingGroup version = %d, want %d", up.Version, v1+1)
	}
	d = must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("g")}))
	props := d.ThingGroupProperties
	if props == nil || aws.ToString(props.ThingGroupDescription) != "d2" || props.AttributePayload == nil ||
		!maps.Equal(props.AttributePayload.Attributes, map[string]string{"a": "1", "b": "2", "c": "3"}) {
		t.Errorf("properties after update = %+v, want description d2 and attributes a=1 b=2 c=3", props)
	}
	if d.Version != v1+1 {
		t.Errorf("described version = %d, want %d", d.Version, v1+1)
	}
	_, err := tg.IoT.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("g"), ExpectedVersion: aws.Int64(v1),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("d3")}})
	wantErr[*types.VersionConflictException](t, "UpdateThingGroup with a stale ExpectedVersion", err)
	_, err = tg.IoT.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("nope"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("x")}})
	wantErr[*types.ResourceNotFoundException](t, "UpdateThingGroup of a missing group", err)
}

func groupListPagination(ctx context.Context, t *testing.T, tg Target) {
	var want []string
	for i := range 5 {
		n := fmt.Sprintf("g-%d", i)
		must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(n)}))
		want = append(want, n)
	}
	var got []string
	pages := 0
	p := iot.NewListThingGroupsPaginator(tg.IoT, &iot.ListThingGroupsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out := must[*iot.ListThingGroupsOutput](t, "ListThingGroups")(p.NextPage(ctx))
		if len(out.ThingGroups) > 2 {
			t.Fatalf("page of %d groups, MaxResults is 2", len(out.ThingGroups))
		}
		pages++
		got = append(got, groupNames(out.ThingGroups)...)
	}
	if pages != 3 {
		t.Errorf("5 groups in pages of 2 took %d pages, want 3", pages)
	}
	if got = sorted(got); !slices.Equal(got, want) {
		t.Errorf("paginated ListThingGroups = %v, want %v", got, want)
	}
}

func groupCreateIdempotent(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("root")}))
	in := &iot.CreateThingGroupInput{ThingGroupName: aws.String("leaf"), ParentGroupName: aws.String("root"),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("d")}}
	first := must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(tg.IoT.CreateThingGroup(ctx, in))
	again := must[*iot.CreateThingGroupOutput](t, "CreateThingGroup again")(tg.IoT.CreateThingGroup(ctx, in))
	if aws.ToString(again.ThingGroupArn) != aws.ToString(first.ThingGroupArn) || aws.ToString(again.ThingGroupId) != aws.ToString(first.ThingGroupId) {
		t.Errorf("repeated CreateThingGroup = %s %s, want the existing %s %s", aws.ToString(again.ThingGroupArn), aws.ToString(again.ThingGroupId),
			aws.ToString(first.ThingGroupArn), aws.ToString(first.ThingGroupId))
	}
	// The same without properties.
	bare := &iot.CreateThingGroupInput{ThingGroupName: aws.String("bare"), ParentGroupName: aws.String("root")}
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup bare")(tg.IoT.CreateThingGroup(ctx, bare))
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup bare again")(tg.IoT.CreateThingGroup(ctx, bare))
}

func groupAttributeMerge(ctx context.Context, t *testing.T, tg Target) {
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(tg.IoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g"),
		ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "1", "b": "2"}}}}))
	must[*iot.UpdateThingGroupOutput](t, "UpdateThingGroup")(tg.IoT.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("g"),
		ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"b": "", "c": "3"}, Merge: true}}}))
	d := must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(tg.IoT.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("g")}))
	var got map[string]string
	if p := d.ThingGroupProperties; p != nil && p.AttributePayload != nil {
		got = p.AttributePayload.Attributes
	}
	if want := map[string]string{"a": "1", "c": "3"}; !maps.Equal(got, want) {
		t.Errorf("attributes after merge = %v, want %v", got, want)
	}
}
