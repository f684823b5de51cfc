package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// sweepWrites sweeps each Region in turn and returns how many items the sweeps (and
// the applies they caused) wrote to the state table.
func sweepWrites(t testing.TB, w *simulator.World, regions ...*simulator.Region) int64 {
	t.Helper()
	before := tableWrites(w)
	for _, r := range regions {
		sweep(t, w, r)
	}
	return tableWrites(w) - before
}

// noFailures fails t for any record in either Region's error table.
func noFailures(t testing.TB, w *simulator.World) {
	t.Helper()
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		if n := r.Errors.Len(); n != 0 {
			t.Errorf("%d error-table records in %s", n, r.Name)
		}
	}
}

// sweptKind is one of the kinds only the sweep captures, with what a test does to one
// resource of it in a Region.
type sweptKind struct {
	kind string
	// create makes a resource named (or seeded) by suffix and returns its item name.
	create func(t *testing.T, r *simulator.Region, suffix string) string
	// exists reports whether r has it; remove deletes it there.
	exists func(t *testing.T, r *simulator.Region, name string) bool
	remove func(t *testing.T, r *simulator.Region, name string)
}

func sweptKinds() []sweptKind {
	ctx := context.Background()
	found := func(t *testing.T, err error) bool {
		t.Helper()
		if err != nil && !replication.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	return []sweptKind{
		{
			kind: spec.KindBillingGroup,
			create: func(t *testing.T, r *simulator.Region, suffix string) string {
				must(t)(r.Registry.CreateBillingGroup(ctx, &iot.CreateBillingGroupInput{BillingGroupName: aws.String("plan-" + suffix)}))
				return "plan-" + suffix
			},
			exists: func(t *testing.T, r *simulator.Region, name string) bool {
				_, err := r.Registry.DescribeBillingGroup(ctx, &iot.DescribeBillingGroupInput{BillingGroupName: aws.String(name)})
				return found(t, err)
			},
			remove: func(t *testing.T, r *simulator.Region, name string) {
				must(t)(r.Registry.DeleteBillingGroup(ctx, &iot.DeleteBillingGroupInput{BillingGroupName: aws.String(name)}))
			},
		},
		{
			kind: spec.KindRoleAlias,
			create: func(t *testing.T, r *simulator.Region, suffix string) string {
				must(t)(r.Registry.CreateRoleAlias(ctx, &iot.CreateRoleAliasInput{RoleAlias: aws.String("camera-" + suffix), RoleArn: aws.String(onboardRole)}))
				return "camera-" + suffix
			},
			exists: func(t *testing.T, r *simulator.Region, name string) bool {
				_, err := r.Registry.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String(name)})
				return found(t, err)
			},
			remove: func(t *testing.T, r *simulator.Region, name string) {
				must(t)(r.Registry.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String(name)}))
			},
		},
		{
			kind: spec.KindProvisioningTemplate,
			create: func(t *testing.T, r *simulator.Region, suffix string) string {
				must(t)(r.Registry.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
					TemplateName: aws.String("claim-" + suffix), TemplateBody: aws.String(onboardBody), ProvisioningRoleArn: aws.String(onboardRole),
				}))
				return "claim-" + suffix
			},
			exists: func(t *testing.T, r *simulator.Region, name string) bool {
				_, err := r.Registry.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String(name)})
				return found(t, err)
			},
			remove: func(t *testing.T, r *simulator.Region, name string) {
				must(t)(r.Registry.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String(name)}))
			},
		},
		{
			kind: spec.KindCACertificate,
			create: func(t *testing.T, r *simulator.Region, suffix string) string {
				ca := must(t)(pki.NewCA("CA " + suffix)).(*pki.CA)
				must(t)(r.Registry.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
					CaCertificate: aws.String(string(ca.CertPEM())), CertificateMode: types.CertificateModeSniOnly, SetAsActive: true,
				}))
				return pki.Fingerprint(ca.Cert().Raw)
			},
			exists: func(t *testing.T, r *simulator.Region, id string) bool {
				_, err := r.Registry.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
				return found(t, err)
			},
			remove: func(t *testing.T, r *simulator.Region, id string) {
				// AWS deletes only an inactive CA.
				must(t)(r.Registry.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id), NewStatus: types.CACertificateStatusInactive}))
				must(t)(r.Registry.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)}))
			},
		},
	}
}

// TestSweptKindsDeleteFromEitherRegion: billing groups, role aliases, provisioning
// templates and CA certificates raise no events, so only the sweep sees a delete, as
// "missing here". For each kind, both ways: a resource written in one Region and
// deleted in the other (the Region that did not write its item) is tombstoned by the
// deleter's sweep (one write) and deleted in the writer; the deleter's sweep before
// its apply had created the resource there writes nothing (missing there is not
// deleted there); sweeps of both Regions after the delete write nothing.
func TestSweptKindsDeleteFromEitherRegion(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	for _, k := range sweptKinds() {
		for _, tc := range []struct {
			way             string
			writer, deleter *simulator.Region
		}{
			{"p2s", w.Primary, w.Secondary},
			{"s2p", w.Secondary, w.Primary},
		} {
			t.Run(k.kind+"/"+tc.way, func(t *testing.T) {
				tc.deleter.PauseApply()
				t.Cleanup(tc.deleter.ResumeApply)
				name := k.create(t, tc.writer, tc.way)
				sweep(t, w, tc.writer)
				if n := sweepWrites(t, w, tc.deleter); n != 0 {
					t.Fatalf("a sweep of %s before its apply created the %s wrote %d items, want 0", tc.deleter.Name, k.kind, n)
				}
				tc.deleter.ResumeApply()
				settle(t, w)
				for _, r := range []*simulator.Region{tc.writer, tc.deleter} {
					if !k.exists(t, r, name) {
						t.Fatalf("%s %s missing in %s after the apply", k.kind, name, r.Name)
					}
				}

				k.remove(t, tc.deleter, name)
				if n := sweepWrites(t, w, tc.deleter); n != 1 {
					t.Errorf("the sweep of %s after the delete wrote %d items, want 1 (the tombstone)", tc.deleter.Name, n)
				}
				if k.exists(t, tc.writer, name) {
					t.Errorf("%s %s deleted in %s is still in %s", k.kind, name, tc.deleter.Name, tc.writer.Name)
				}
				for _, r := range []*simulator.Region{tc.writer, tc.deleter} {
					it, ok, err := r.Capturer.Store.Get(ctx, k.kind, name)
					if err != nil || !ok || !it.Deleted || it.Origin != tc.deleter.Name {
						t.Errorf("%s's item of the %s: found %v (%v), deleted %v, origin %s; want %s's tombstone", r.Name, k.kind, ok, err, it.Deleted, it.Origin, tc.deleter.Name)
					}
				}
				if n := sweepWrites(t, w, tc.writer, tc.deleter); n != 0 {
					t.Errorf("sweeps after the delete replicated wrote %d items, want 0", n)
				}
			})
		}
	}
	noFailures(t, w)
}
