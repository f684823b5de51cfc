package e2e

import (
	"context"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// account is the World's default account.
const account = "123456789012"

// tagsOf returns the tags of the resource of type typ ("thinggroup", ...) named name
// in r.
func tagsOf(t testing.TB, _ *simulator.World, r *simulator.Region, typ, name string) map[string]string {
	t.Helper()
	arn := "arn:aws:iot:" + r.Name + ":" + account + ":" + typ + "/" + name
	tags, err := replication.ListTags(context.Background(), r.Registry, arn)
	if err != nil {
		t.Fatalf("tags of %s in %s: %v", arn, r.Name, err)
	}
	return tags
}

func tag(t testing.TB, _ *simulator.World, r *simulator.Region, typ, name string, kv ...string) {
	t.Helper()
	var tags []iottypes.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, iottypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	must(t)(r.Registry.TagResource(context.Background(), &iot.TagResourceInput{
		ResourceArn: aws.String("arn:aws:iot:" + r.Name + ":" + account + ":" + typ + "/" + name), Tags: tags}))
}

// TestTagsReplicateBothWays: tags on a thing type, a thing group, a billing group and
// a policy a device uses raise no events; the capture of the resource's own change
// (a thing group created with tags) carries them at once, the sweep the rest. The
// secondary gets exactly the primary's tags; the apply's tagging does not come back
// (sweeps of both Regions write nothing); tags changed in the secondary (a value
// changed, a key removed) flow back to the primary.
func TestTagsReplicateBothWays(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	createType(t, w, "sensor")
	createPolicy(t, w, "telemetry", policyDoc(w.Primary.Name))
	provision(t, w, simulator.Device{Thing: "dev-t", ThingType: "sensor", ExtraPolicies: []string{"telemetry"}})
	must(t)(w.Primary.Registry.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("site-1"),
		Tags: []iottypes.Tag{{Key: aws.String("owner"), Value: aws.String("ops")}}}))
	must(t)(w.Primary.Registry.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("plan-t")}))
	settle(t, w)
	if got := tagsOf(t, w, w.Secondary, "thinggroup", "site-1"); !maps.Equal(got, map[string]string{"owner": "ops"}) {
		t.Errorf("site-1's tags in the secondary after its created event = %v, want the primary's", got)
	}

	tag(t, w, w.Primary, "thingtype", "sensor", "cost-centre", "42", "env", "prod")
	tag(t, w, w.Primary, "thinggroup", "site-1", "env", "prod")
	tag(t, w, w.Primary, "billinggroup", "plan-t", "plan", "gold")
	tag(t, w, w.Primary, "policy", "telemetry", "reviewed", "2026-12")
	sweep(t, w, w.Primary)
	for _, c := range []struct {
		typ, name string
		want      map[string]string
	}{
		{"thingtype", "sensor", map[string]string{"cost-centre": "42", "env": "prod"}},
		{"thinggroup", "site-1", map[string]string{"owner": "ops", "env": "prod"}},
		{"billinggroup", "plan-t", map[string]string{"plan": "gold"}},
		{"policy", "telemetry", map[string]string{"reviewed": "2026-12"}},
	} {
		if got := tagsOf(t, w, w.Secondary, c.typ, c.name); !maps.Equal(got, c.want) {
			t.Errorf("%s %s tags in the secondary = %v, want %v", c.typ, c.name, got, c.want)
		}
	}
	writes := tableWrites(w)
	sweep(t, w, w.Secondary)
	sweep(t, w, w.Primary)
	if n := tableWrites(w) - writes; n != 0 {
		t.Errorf("sweeps after the tags were applied wrote %d items, want 0 (the apply came back)", n)
	}

	// Failed over: the secondary changes a value and removes a key.
	tag(t, w, w.Secondary, "thingtype", "sensor", "cost-centre", "43")
	must(t)(w.Secondary.Registry.UntagResource(ctx, &iot.UntagResourceInput{
		ResourceArn: aws.String("arn:aws:iot:" + w.Secondary.Name + ":" + account + ":thingtype/sensor"), TagKeys: []string{"env"}}))
	sweep(t, w, w.Secondary)
	if got := tagsOf(t, w, w.Primary, "thingtype", "sensor"); !maps.Equal(got, map[string]string{"cost-centre": "43"}) {
		t.Errorf("sensor's tags in the primary after failback = %v, want the secondary's", got)
	}
	assertConverged(t, w)
}

// TestOnboardingTagsReplicateBothWays: the tags of role aliases, provisioning
// templates and CA certificates (given at creation, or with TagResource) reach the
// secondary with the primary's sweep; the apply's tagging does not come back (sweeps
// of both Regions write nothing); a tag change made in the secondary flows back; a
// resource's delete tombstones its tags item too.
func TestOnboardingTagsReplicateBothWays(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	owner := []iottypes.Tag{{Key: aws.String("owner"), Value: aws.String("fleet")}}
	must(t)(w.Primary.Registry.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("camera"), RoleArn: aws.String(onboardRole), Tags: owner}))
	must(t)(w.Primary.Registry.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("claim"), TemplateBody: aws.String(onboardBody), ProvisioningRoleArn: aws.String(onboardRole), Tags: owner,
	}))
	ca := must(t)(pki.NewCA("tagged CA")).(*pki.CA)
	must(t)(w.Primary.Registry.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(string(ca.CertPEM())), CertificateMode: iottypes.CertificateModeSniOnly, SetAsActive: true, Tags: owner,
	}))
	caID := pki.Fingerprint(ca.Cert().Raw)
	tag(t, w, w.Primary, "cacert", caID, "env", "prod")
	sweep(t, w, w.Primary)
	resources := []struct{ typ, kind, name string }{
		{"rolealias", spec.KindRoleAlias, "camera"}, {"provisioningtemplate", spec.KindProvisioningTemplate, "claim"}, {"cacert", spec.KindCACertificate, caID},
	}
	for _, r := range resources {
		want := map[string]string{"owner": "fleet"}
		if r.typ == "cacert" {
			want["env"] = "prod"
		}
		if got := tagsOf(t, w, w.Secondary, r.typ, r.name); !maps.Equal(got, want) {
			t.Errorf("%s %s tags in the secondary = %v, want %v", r.typ, r.name, got, want)
		}
	}
	if n := sweepWrites(t, w, w.Secondary, w.Primary); n != 0 {
		t.Errorf("sweeps after the tags were applied wrote %d items, want 0 (the apply came back)", n)
	}

	// Failed over: the secondary retags the template and the CA.
	tag(t, w, w.Secondary, "provisioningtemplate", "claim", "owner", "onboarding")
	must(t)(w.Secondary.Registry.UntagResource(ctx, &iot.UntagResourceInput{
		ResourceArn: aws.String("arn:aws:iot:" + w.Secondary.Name + ":" + account + ":cacert/" + caID), TagKeys: []string{"env"}}))
	sweep(t, w, w.Secondary)
	if got := tagsOf(t, w, w.Primary, "provisioningtemplate", "claim"); !maps.Equal(got, map[string]string{"owner": "onboarding"}) {
		t.Errorf("claim's tags in the primary after failback = %v, want the secondary's", got)
	}
	if got := tagsOf(t, w, w.Primary, "cacert", caID); !maps.Equal(got, map[string]string{"owner": "fleet"}) {
		t.Errorf("the CA's tags in the primary after failback = %v, want the secondary's", got)
	}

	must(t)(w.Primary.Registry.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String("camera")}))
	sweep(t, w, w.Primary)
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		it, ok, err := r.Capturer.Store.Get(ctx, spec.KindTags, spec.TagsKey(spec.KindRoleAlias, "camera"))
		if err != nil || !ok || !it.Deleted {
			t.Errorf("%s's tags item of the deleted role alias: found %v (%v), deleted %v; want a tombstone", r.Name, ok, err, it.Deleted)
		}
	}
	assertConverged(t, w)
}
