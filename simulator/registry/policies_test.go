package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestThingPrincipals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreateThing(t, "a", nil, "")
	f.mustCreateThing(t, "b", nil, "")
	arn, _ := f.mustRegisterCert(t, types.CertificateStatusActive)
	excl, _ := f.mustRegisterCert(t, types.CertificateStatusActive)
	f.pub.take() // setup events
	attach := func(thing, principal string, typ types.ThingPrincipalType) error {
		_, err := f.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal), ThingPrincipalType: typ})
		return err
	}
	tests := []struct {
		name, thing, principal string
		typ                    types.ThingPrincipalType
		want                   string
	}{
		{"attach", "a", arn, "", ""},
		{"attach again", "a", arn, "", ""},
		{"second thing", "b", arn, types.ThingPrincipalTypeNonExclusiveThing, ""},
		{"exclusive", "a", excl, types.ThingPrincipalTypeExclusiveThing, ""},
		{"exclusive elsewhere", "b", excl, "", "InvalidRequestException"},
		{"exclusive while shared", "a", arn, types.ThingPrincipalTypeExclusiveThing, "InvalidRequestException"},
		{"missing thing", "ghost", arn, "", "ResourceNotFoundException"},
		{"unknown certificate", "a", "arn:aws:iot:eu-west-1:123456789012:cert/" + strings.Repeat("0", 64), "", "ResourceNotFoundException"},
		{"other region's certificate", "a", strings.Replace(arn, testRegion, "us-east-1", 1), "", "InvalidRequestException"},
		{"cognito principal", "a", "eu-west-1:1234", "", "InvalidRequestException"},
		{"bad principal type", "a", arn, "BOGUS", "InvalidRequestException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, attach(tc.thing, tc.principal, tc.typ), tc.want)
		})
	}
	principals, err := f.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{arn, excl}
	if arn > excl {
		want = []string{excl, arn}
	}
	if fmt.Sprint(principals.Principals) != fmt.Sprint(want) {
		t.Errorf("principals of a = %v, want %v", principals.Principals, want)
	}
	var things []string
	p := iot.NewListPrincipalThingsPaginator(f, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)}, func(o *iot.ListPrincipalThingsPaginatorOptions) { o.Limit = 1 })
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		things = append(things, out.Things...)
	}
	if fmt.Sprint(things) != "[a b]" {
		t.Errorf("things of principal = %v", things)
	}
	// Detach, twice; the exclusive certificate becomes free for b.
	for range 2 {
		if _, err := f.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("a"), Principal: aws.String(excl)}); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, attach("b", excl, ""), "")
	_, err = f.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("ghost"), Principal: aws.String(excl)})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("ghost")})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("a")})
	wantErr(t, err, "params")
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("attach/detach published %d events, want none: %v", len(got), got[0].Topic)
	}
}

func TestPolicyVersions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	out, err := f.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(testPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	if *out.PolicyArn != "arn:aws:iot:eu-west-1:123456789012:policy/p" || *out.PolicyVersionId != "1" || *out.PolicyDocument != testPolicy {
		t.Errorf("CreatePolicy = %+v", out)
	}
	doc := func(n int) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"v%d"}]}`, n)
	}
	for i := 2; i <= 5; i++ {
		v, err := f.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc(i)), SetAsDefault: i == 3})
		if err != nil {
			t.Fatal(err)
		}
		if *v.PolicyVersionId != fmt.Sprint(i) || v.IsDefaultVersion != (i == 3) {
			t.Errorf("version %d = %+v", i, v)
		}
	}
	_, err = f.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc(6))})
	wantErr(t, err, "VersionsLimitExceededException")

	get := func() *iot.GetPolicyOutput {
		t.Helper()
		g, err := f.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("p")})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := get(); *g.DefaultVersionId != "3" || *g.PolicyDocument != doc(3) || *g.PolicyArn != *out.PolicyArn {
		t.Errorf("GetPolicy = %+v", g)
	}
	versions, err := f.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("p")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range versions.PolicyVersions {
		ids = append(ids, *v.VersionId)
		if v.IsDefaultVersion != (*v.VersionId == "3") {
			t.Errorf("version %s default = %v", *v.VersionId, v.IsDefaultVersion)
		}
	}
	if strings.Join(ids, ",") != "5,4,3,2,1" {
		t.Errorf("versions = %v", ids)
	}

	delVersion := func(id string) error {
		_, err := f.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String(id)})
		return err
	}
	wantErr(t, delVersion("3"), "DeleteConflictException")
	wantErr(t, delVersion("9"), "ResourceNotFoundException")
	wantErr(t, delVersion("x"), "InvalidRequestException")
	wantErr(t, delVersion("5"), "")
	// A freed slot allows a new version; ids are not reused.
	v, err := f.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc(6))})
	if err != nil || *v.PolicyVersionId != "6" {
		t.Fatalf("CreatePolicyVersion after delete = %v, %v", v, err)
	}
	_, err = f.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("6")})
	wantErr(t, err, "")
	if g := get(); *g.DefaultVersionId != "6" {
		t.Errorf("default = %s, want 6", *g.DefaultVersionId)
	}
	if d, _ := f.PolicyDocument("p"); d != doc(6) {
		t.Errorf("PolicyDocument = %s", d)
	}
	_, err = f.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("p"), PolicyVersionId: aws.String("5")})
	wantErr(t, err, "ResourceNotFoundException")

	_, err = f.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")})
	wantErr(t, err, "DeleteConflictException") // non-default versions remain
	for _, id := range []string{"1", "2", "3", "4"} {
		wantErr(t, delVersion(id), "")
	}
	_, err = f.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p")})
	wantErr(t, err, "")
	_, err = f.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("p")})
	wantErr(t, err, "ResourceNotFoundException")
}

func TestCreatePolicyErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustCreatePolicy(t, "taken")
	long := `{"Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"` + strings.Repeat("a", 2048) + `"}]}`
	tests := []struct {
		name, policy, doc, want string
	}{
		{"ok with spaces", "ok", "{\n  \"Statement\": []\n}", ""},
		{"exists", "taken", testPolicy, "ResourceAlreadyExistsException"},
		{"not JSON", "p1", `{"Statement":`, "MalformedPolicyException"},
		{"JSON array", "p2", `[1]`, "MalformedPolicyException"},
		{"no statement", "p3", `{"Version":"2012-10-17"}`, "MalformedPolicyException"},
		{"too long", "p4", long, "MalformedPolicyException"},
		{"bad name", "a b", testPolicy, "InvalidRequestException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(tc.policy), PolicyDocument: aws.String(tc.doc)})
			wantErr(t, err, tc.want)
		})
	}
	_, err := f.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("taken"), PolicyDocument: aws.String("nope")})
	wantErr(t, err, "MalformedPolicyException")
	_, err = f.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("ghost"), PolicyDocument: aws.String(testPolicy)})
	wantErr(t, err, "ResourceNotFoundException")
	_, err = f.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("x")})
	wantErr(t, err, "params")
}

func TestPolicyAttachments(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	arn, _ := f.mustRegisterCert(t, types.CertificateStatusActive)
	other, _ := f.mustRegisterCert(t, types.CertificateStatusActive)
	for i := range 11 {
		f.mustCreatePolicy(t, fmt.Sprintf("p%02d", i))
	}
	attach := func(policy, target string) error {
		_, err := f.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(target)})
		return err
	}
	for i := range 10 {
		wantErr(t, attach(fmt.Sprintf("p%02d", i), arn), "")
	}
	wantErr(t, attach("p00", arn), "")                       // already attached: no-op
	wantErr(t, attach("p10", arn), "LimitExceededException") // 11th policy
	wantErr(t, attach("ghost", arn), "ResourceNotFoundException")
	wantErr(t, attach("p10", "arn:aws:iot:eu-west-1:123456789012:thinggroup/g"), "InvalidRequestException")
	wantErr(t, attach("p00", other), "")

	var names []string
	p := iot.NewListAttachedPoliciesPaginator(f, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)}, func(o *iot.ListAttachedPoliciesPaginatorOptions) { o.Limit = 4 })
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, pol := range out.Policies {
			names = append(names, *pol.PolicyName)
			if *pol.PolicyArn != "arn:aws:iot:eu-west-1:123456789012:policy/"+*pol.PolicyName {
				t.Errorf("policy ARN %s", *pol.PolicyArn)
			}
		}
	}
	if len(names) != 10 || names[0] != "p00" || names[9] != "p09" {
		t.Errorf("attached policies = %v", names)
	}
	var targets []string
	tp := iot.NewListTargetsForPolicyPaginator(f, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p00")}, func(o *iot.ListTargetsForPolicyPaginatorOptions) { o.Limit = 1 })
	for tp.HasMorePages() {
		out, err := tp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, out.Targets...)
	}
	if len(targets) != 2 {
		t.Errorf("targets of p00 = %v", targets)
	}

	_, err := f.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p00")})
	wantErr(t, err, "DeleteConflictException")
	for _, target := range []string{arn, other, arn} {
		if _, err := f.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("p00"), Target: aws.String(target)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("p00")})
	wantErr(t, err, "")
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("policy calls published %d events, want none", len(got))
	}
}

func TestListPolicies(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, n := range []string{"c", "a", "e", "b", "d"} {
		f.mustCreatePolicy(t, n)
	}
	for _, tc := range []struct {
		asc  bool
		want string
	}{{true, "a,b,c,d,e"}, {false, "e,d,c,b,a"}} {
		var got []string
		p := iot.NewListPoliciesPaginator(f, &iot.ListPoliciesInput{AscendingOrder: tc.asc}, func(o *iot.ListPoliciesPaginatorOptions) { o.Limit = 2 })
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, pol := range out.Policies {
				got = append(got, *pol.PolicyName)
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("ascending=%v: %v, want %s", tc.asc, got, tc.want)
		}
	}
}
