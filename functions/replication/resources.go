package replication

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Certificate converges one certificate on its own: registered with the source's
// status and policies while the source has it; when the source no longer has it, the
// target's copy is detached from every thing and policy, deactivated and deleted.
// Attaching it to things is the things' converge (see Thing).
func (r *Replicator) Certificate(ctx context.Context, id string) (Outcome, error) {
	rec := &recorder{}
	err := r.certificate(ctx, id, rec)
	return r.finish(ctx, "certificate", shortID(id), rec, 0, err)
}

func (r *Replicator) certificate(ctx context.Context, id string, rec *recorder) error {
	if id == "" || len(id) > 64 {
		return invalidf("certificate id %q: must be 1 to 64 characters", excerpt(id))
	}
	_, err := r.Source.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	switch {
	case err == nil:
		_, err := r.syncCertificate(ctx, id, rec, nil)
		return err
	case !IsNotFound(err):
		return fmt.Errorf("describe certificate %s in %s: %w", id, r.SourceRegion, err)
	}
	td, err := r.Target.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe certificate %s in %s: %w", id, r.TargetRegion, err)
	}
	arn := aws.ToString(td.CertificateDescription.CertificateArn)
	things, err := collect(ctx, iot.NewListPrincipalThingsPaginator(r.Target, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)}),
		func(o *iot.ListPrincipalThingsOutput) []string { return o.Things })
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("list things of certificate %s in %s: %w", id, r.TargetRegion, err)
	}
	// releaseCertificate deletes the certificate when it releases the last thing.
	for _, t := range things {
		if err := r.releaseCertificate(ctx, t, id, arn, rec); err != nil {
			return err
		}
	}
	if len(things) > 0 {
		return nil
	}
	policies, err := ListAttachedPolicies(ctx, r.Target, arn)
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("list policies of certificate %s: %w", id, err)
	}
	for _, p := range policies {
		if err := r.detachPolicy(ctx, p, id, arn, rec); err != nil {
			return err
		}
	}
	if td.CertificateDescription.Status == types.CertificateStatusActive {
		if err := r.setCertStatus(ctx, id, types.CertificateStatusInactive); err != nil && !IsNotFound(err) {
			return err
		}
	}
	_, err = r.Target.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete certificate %s: %w", id, err)
	}
	if err == nil {
		rec.add("deleted certificate %s", shortID(id))
	}
	for _, p := range policies {
		if err := r.cleanupPolicy(ctx, p, rec); err != nil {
			return err
		}
	}
	return nil
}

// Policy converges one policy's default document; a policy the source no longer has
// is deleted from the target once nothing there is attached to it.
func (r *Replicator) Policy(ctx context.Context, name string) (Outcome, error) {
	rec := &recorder{}
	err := r.policy(ctx, name, rec)
	return r.finish(ctx, "policy", name, rec, 0, err)
}

func (r *Replicator) policy(ctx context.Context, name string, rec *recorder) error {
	if name == "" || len(name) > 128 {
		return invalidf("policy name %q: must be 1 to 128 characters", excerpt(name))
	}
	_, err := r.Source.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	switch {
	case err == nil:
		return r.syncPolicy(ctx, name, rec, nil)
	case IsNotFound(err):
		return r.cleanupPolicy(ctx, name, rec)
	}
	return fmt.Errorf("get policy %s in %s: %w", name, r.SourceRegion, err)
}
