package registry

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestRegisterCertificateWithoutCA(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dupPEM, dupID := certPEM(t)
	if _, err := f.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(dupPEM)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		status     types.CertificateStatus
		pem        *string
		want       string
		wantStatus types.CertificateStatus
	}{
		{"default status is INACTIVE", "", nil, "", types.CertificateStatusInactive},
		{"active", types.CertificateStatusActive, nil, "", types.CertificateStatusActive},
		{"revoked", types.CertificateStatusRevoked, nil, "", types.CertificateStatusRevoked},
		{"pending transfer is not a registration status", types.CertificateStatusPendingTransfer, nil, "InvalidRequestException", ""},
		{"duplicate", "", aws.String(dupPEM), "ResourceAlreadyExistsException", ""},
		{"not PEM", "", aws.String("hello"), "CertificateValidationException", ""},
		{"PEM but not a certificate", "", aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))), "CertificateValidationException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, id := certPEM(t)
			if tc.pem != nil {
				p, id = *tc.pem, dupID
			}
			out, err := f.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(p), Status: tc.status})
			wantErr(t, err, tc.want)
			if tc.want == "ResourceAlreadyExistsException" {
				e := mustAs[*types.ResourceAlreadyExistsException](t, err)
				if aws.ToString(e.ResourceId) != dupID {
					t.Errorf("ResourceId = %s, want %s", aws.ToString(e.ResourceId), dupID)
				}
			}
			if err != nil {
				return
			}
			wantARN := "arn:aws:iot:eu-west-1:123456789012:cert/" + id
			if *out.CertificateId != id || *out.CertificateArn != wantARN {
				t.Errorf("id/arn = %s %s, want %s %s", *out.CertificateId, *out.CertificateArn, id, wantARN)
			}
			d, err := f.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId})
			if err != nil {
				t.Fatal(err)
			}
			cd := d.CertificateDescription
			if cd.Status != tc.wantStatus || cd.CertificateMode != types.CertificateModeSniOnly || *cd.CertificateArn != wantARN ||
				!cd.CreationDate.Equal(f.clock.Now()) || aws.ToString(cd.OwnedBy) != testAccount || cd.Validity == nil {
				t.Errorf("description = %+v", cd)
			}
			// The stored PEM is the same certificate.
			block, _ := pem.Decode([]byte(*cd.CertificatePem))
			if block == nil || fingerprint(block.Bytes) != id {
				t.Error("DescribeCertificate PEM does not decode to the registered certificate")
			}
		})
	}
	_, err := f.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{})
	wantErr(t, err, "params")
}

func TestRegisterCertificateWithCA(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	caPEM, _, ca, caKey := makeCert(t, nil, nil)
	devPEM, _, _, _ := makeCert(t, ca, caKey)
	otherCAPEM, _, _, _ := makeCert(t, nil, nil)

	//lint:ignore SA1019 the deprecated flag is still accepted by AWS
	out, err := f.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(devPEM), CaCertificatePem: aws.String(caPEM), SetAsActive: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: out.CertificateId})
	if err != nil {
		t.Fatal(err)
	}
	if d.CertificateDescription.Status != types.CertificateStatusActive || d.CertificateDescription.CaCertificateId == nil ||
		d.CertificateDescription.CertificateMode != types.CertificateModeDefault {
		t.Errorf("description = %+v", d.CertificateDescription)
	}
	dev2, _, _, _ := makeCert(t, ca, caKey)
	_, err = f.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(dev2), CaCertificatePem: aws.String(otherCAPEM)})
	wantErr(t, err, "CertificateValidationException")
	// Status wins over SetAsActive; no CA is fine.
	//lint:ignore SA1019 the deprecated flag is still accepted by AWS
	out, err = f.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(dev2), SetAsActive: aws.Bool(true), Status: types.CertificateStatusInactive})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := f.CertificateByFingerprint(*out.CertificateId); info.Status != "INACTIVE" {
		t.Errorf("status = %s, want INACTIVE", info.Status)
	}
}

func TestCertificateLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	arn, id := f.mustRegisterCert(t, types.CertificateStatusActive)
	f.mustCreateThing(t, "dev", nil, "")
	f.mustCreatePolicy(t, "p")
	if _, err := f.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("dev"), Principal: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("p"), Target: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	del := func(force bool) error {
		_, err := f.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id), ForceDelete: force})
		return err
	}
	update := func(s types.CertificateStatus) error {
		_, err := f.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: s})
		return err
	}
	wantErr(t, del(false), "CertificateStateException") // still ACTIVE
	wantErr(t, update(types.CertificateStatusInactive), "")
	wantErr(t, del(false), "DeleteConflictException") // thing attached
	if _, err := f.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("dev"), Principal: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, del(false), "DeleteConflictException") // policy attached
	wantErr(t, update(types.CertificateStatusRevoked), "")
	wantErr(t, update(types.CertificateStatusActive), "CertificateStateException")
	wantErr(t, update(types.CertificateStatusPendingTransfer), "InvalidRequestException")
	wantErr(t, del(true), "") // ForceDelete detaches the policy
	if _, ok := f.CertificateByFingerprint(id); ok {
		t.Error("certificate still present")
	}
	targets, err := f.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("p")})
	if err != nil || len(targets.Targets) != 0 {
		t.Errorf("policy targets after force delete = %v, %v", targets, err)
	}
	wantErr(t, del(false), "ResourceNotFoundException")
	_, err = f.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String("not-hex")})
	wantErr(t, err, "InvalidRequestException")
	_, err = f.UpdateCertificate(ctx, &iot.UpdateCertificateInput{})
	wantErr(t, err, "params")
}

func TestUpdateCertificateVersioning(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, id := f.mustRegisterCert(t, "")
	f.clock.Advance(1e9)
	if _, err := f.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusActive}); err != nil {
		t.Fatal(err)
	}
	d, err := f.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	cd := d.CertificateDescription
	if cd.Status != types.CertificateStatusActive || aws.ToInt32(cd.CustomerVersion) != 2 || !cd.LastModifiedDate.Equal(f.clock.Now()) {
		t.Errorf("after update: status %s version %d modified %v", cd.Status, aws.ToInt32(cd.CustomerVersion), cd.LastModifiedDate)
	}
}

func TestListCertificatesPaginator(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var ids []string
	for range 7 {
		_, id := f.mustRegisterCert(t, "")
		ids = append(ids, id)
		f.clock.Advance(1e9)
	}
	for _, asc := range []bool{true, false} {
		t.Run(fmt.Sprintf("ascending=%v", asc), func(t *testing.T) {
			p := iot.NewListCertificatesPaginator(f, &iot.ListCertificatesInput{AscendingOrder: asc}, func(o *iot.ListCertificatesPaginatorOptions) { o.Limit = 3 })
			var got []string
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range out.Certificates {
					got = append(got, *c.CertificateId)
				}
			}
			if len(got) != len(ids) {
				t.Fatalf("got %d certificates, want %d", len(got), len(ids))
			}
			for i := range ids {
				want := ids[i]
				if !asc {
					want = ids[len(ids)-1-i]
				}
				if got[i] != want {
					t.Errorf("position %d = %s, want %s", i, got[i], want)
				}
			}
		})
	}
}

func TestCertificateByFingerprint(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	arn, id := f.mustRegisterCert(t, types.CertificateStatusActive)
	f.mustCreateThing(t, "b", nil, "")
	f.mustCreateThing(t, "a", nil, "")
	f.mustCreatePolicy(t, "pol")
	for _, th := range []string{"b", "a"} {
		if _, err := f.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(th), Principal: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("pol"), Target: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	info, ok := f.CertificateByFingerprint(id)
	if !ok || info.ARN != arn || info.Status != "ACTIVE" || fmt.Sprint(info.Things) != "[a b]" || fmt.Sprint(info.Policies) != "[pol]" {
		t.Fatalf("CertInfo = %+v, %v", info, ok)
	}
	block, _ := pem.Decode([]byte(info.PEM))
	if block == nil {
		t.Fatal("CertInfo.PEM is not PEM")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatalf("CertInfo.PEM: %v", err)
	}
	if _, ok := f.CertificateByFingerprint("00"); ok {
		t.Error("unknown fingerprint found")
	}
	if doc, ok := f.PolicyDocument("pol"); !ok || doc != testPolicy {
		t.Errorf("PolicyDocument = %q, %v", doc, ok)
	}
	if _, ok := f.PolicyDocument("nope"); ok {
		t.Error("unknown policy found")
	}
}
