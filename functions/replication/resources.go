package replication

import (
	"context"
	"errors"
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
	sd, err := r.Source.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	switch {
	case err == nil:
		tgtARN, err := r.syncCertificate(ctx, id, rec, nil)
		if err != nil || tgtARN == "" {
			return err
		}
		return r.attachToThings(ctx, id, aws.ToString(sd.CertificateDescription.CertificateArn), tgtARN, rec)
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
	things, err := ListPrincipalThings(ctx, r.Target, arn)
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

// attachToThings attaches the certificate to the target things the source has it on.
// A thing's own converge does this too; doing it here as well means the order in
// which a thing and its certificate reach the target does not matter.
func (r *Replicator) attachToThings(ctx context.Context, id, srcARN, tgtARN string, rec *recorder) error {
	things, err := ListPrincipalThings(ctx, r.Source, srcARN)
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("list things of certificate %s in %s: %w", id, r.SourceRegion, err)
	}
	for _, t := range things {
		have, err := ThingCertificates(ctx, r.Target, t)
		if IsNotFound(err) {
			continue // the thing is not in the target yet; its converge attaches
		}
		if err != nil {
			return fmt.Errorf("list principals of thing %s in %s: %w", t, r.TargetRegion, err)
		}
		if _, ok := have[id]; ok {
			continue
		}
		_, err = r.Target.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(t), Principal: aws.String(tgtARN)})
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("attach certificate %s to thing %s: %w", id, t, err)
		}
		rec.add("attached certificate %s to thing %s", shortID(id), t)
	}
	return nil
}

// Principals converges only the certificates attached to one thing (each registered
// with its policies); a thing the target does not have yet is converged whole.
func (r *Replicator) Principals(ctx context.Context, thing string) (Outcome, error) {
	rec := &recorder{}
	if err := validName("thing", thing); err != nil {
		return r.finish(ctx, "principals of thing", thing, rec, 0, err)
	}
	_, err := r.Target.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
	if IsNotFound(err) {
		n, err := r.thing(ctx, thing, rec, nil)
		return r.finish(ctx, "thing", thing, rec, n, err)
	}
	if err != nil {
		return r.finish(ctx, "principals of thing", thing, rec, 0, fmt.Errorf("describe in %s: %w", r.TargetRegion, err))
	}
	n, err := r.syncPrincipals(ctx, thing, rec, nil)
	if errors.Is(err, errSourceGone) {
		n, err = r.thing(ctx, thing, rec, nil) // gone from the source: converge the delete
	}
	return r.finish(ctx, "principals of thing", thing, rec, n, err)
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
