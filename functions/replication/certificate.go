package replication

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TargetCertificateStatus is the status replication gives a certificate in the
// target, given its status s in the source: s where RegisterCertificateWithoutCA and
// UpdateCertificate accept it (ACTIVE, INACTIVE, REVOKED), INACTIVE otherwise
// (transfer and activation states are per Region).
func TargetCertificateStatus(s types.CertificateStatus) types.CertificateStatus {
	switch s {
	case types.CertificateStatusActive, types.CertificateStatusInactive, types.CertificateStatusRevoked:
		return s
	}
	return types.CertificateStatusInactive
}

// syncCertificate registers the source certificate id in the target (or updates its
// status) and converges its policies. It returns the target certificate ARN, or ""
// when the certificate no longer exists in the source.
func (r *Replicator) syncCertificate(ctx context.Context, id string, rec *recorder, cache *runCache) (string, error) {
	sd, err := r.Source.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("describe certificate %s in %s: %w", id, r.SourceRegion, err)
	}
	src := sd.CertificateDescription
	if src == nil {
		return "", fmt.Errorf("describe certificate %s in %s: empty description", id, r.SourceRegion)
	}
	status := TargetCertificateStatus(src.Status)

	var tgtARN string
	td, err := r.Target.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	switch {
	case IsNotFound(err):
		tgtARN, err = r.registerCertificate(ctx, id, src.CertificatePem, status, rec)
		if err != nil {
			return "", err
		}
	case err != nil:
		return "", fmt.Errorf("describe certificate %s in %s: %w", id, r.TargetRegion, err)
	case td.CertificateDescription == nil:
		return "", fmt.Errorf("describe certificate %s in %s: empty description", id, r.TargetRegion)
	default:
		tgtARN = aws.ToString(td.CertificateDescription.CertificateArn)
		if td.CertificateDescription.Status != status {
			if err := r.setCertStatus(ctx, id, status); err != nil {
				return "", err
			}
			rec.add("set certificate %s %s", shortID(id), status)
		}
	}
	if err := r.syncCertPolicies(ctx, id, aws.ToString(src.CertificateArn), tgtARN, rec, cache); err != nil {
		return "", err
	}
	return tgtARN, nil
}

// registerCertificate copies a certificate into the target and returns the ARN that
// AWS returns for it (ids are the SHA-256 of the DER, so they match across Regions).
func (r *Replicator) registerCertificate(ctx context.Context, id string, pem *string, status types.CertificateStatus, rec *recorder) (string, error) {
	out, err := r.Target.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: pem, Status: status})
	if isAlreadyExists(err) {
		// Registered concurrently (a certificate shared by several things): use it,
		// and give it the right status.
		td, err := r.Target.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
		if err != nil {
			return "", fmt.Errorf("register certificate %s: describe after conflict: %w", id, err)
		}
		if d := td.CertificateDescription; d != nil && d.Status != status {
			if err := r.setCertStatus(ctx, id, status); err != nil {
				return "", err
			}
		}
		return aws.ToString(td.CertificateDescription.CertificateArn), nil
	}
	if err != nil {
		return "", fmt.Errorf("register certificate %s: %w", id, err)
	}
	if got := aws.ToString(out.CertificateId); got != id {
		r.log().WarnContext(ctx, "certificate registered under another id", "source_id", id, "target_id", got)
	}
	rec.add("registered certificate %s", shortID(aws.ToString(out.CertificateId)))
	return aws.ToString(out.CertificateArn), nil
}

func (r *Replicator) setCertStatus(ctx context.Context, id string, status types.CertificateStatus) error {
	_, err := r.Target.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: status})
	if err != nil {
		return fmt.Errorf("set certificate %s %s: %w", id, status, err)
	}
	return nil
}

// syncCertPolicies makes the target certificate carry exactly the policies the source
// certificate carries, each converged to the source's document.
func (r *Replicator) syncCertPolicies(ctx context.Context, id, srcARN, tgtARN string, rec *recorder, cache *runCache) error {
	srcPolicies, err := ListAttachedPolicies(ctx, r.Source, srcARN)
	if err != nil {
		return fmt.Errorf("list policies of certificate %s in %s: %w", id, r.SourceRegion, err)
	}
	tgtPolicies, err := ListAttachedPolicies(ctx, r.Target, tgtARN)
	if err != nil {
		return fmt.Errorf("list policies of certificate %s in %s: %w", id, r.TargetRegion, err)
	}
	attached := set(tgtPolicies)
	for _, p := range srcPolicies {
		if err := r.syncPolicy(ctx, p, rec, cache); err != nil {
			return fmt.Errorf("certificate %s: %w", id, err)
		}
		if attached[p] {
			continue
		}
		if _, err := r.Target.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(p), Target: aws.String(tgtARN)}); err != nil {
			return fmt.Errorf("attach policy %s to certificate %s: %w", p, id, err)
		}
		rec.add("attached policy %s to certificate %s", p, shortID(id))
	}
	wanted := set(srcPolicies)
	for _, p := range tgtPolicies {
		if wanted[p] {
			continue
		}
		if err := r.detachPolicy(ctx, p, id, tgtARN, rec); err != nil {
			return err
		}
		if err := r.cleanupPolicy(ctx, p, rec); err != nil {
			return err
		}
	}
	return nil
}

func (r *Replicator) detachPolicy(ctx context.Context, policy, id, tgtARN string, rec *recorder) error {
	_, err := r.Target.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(tgtARN)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach policy %s from certificate %s: %w", policy, id, err)
	}
	rec.add("detached policy %s from certificate %s", policy, shortID(id))
	return nil
}

// certificateUnused reports whether the target certificate may be deleted: no target
// thing other than thing uses it, and the source has it attached to no thing (or no
// longer has it).
func (r *Replicator) certificateUnused(ctx context.Context, id, tgtARN, thing string) (bool, error) {
	sd, err := r.Source.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	switch {
	case IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("describe certificate %s in %s: %w", id, r.SourceRegion, err)
	case sd.CertificateDescription != nil:
		used, err := attachedToOtherThing(ctx, r.Source, aws.ToString(sd.CertificateDescription.CertificateArn), "")
		if err != nil && !IsNotFound(err) {
			return false, fmt.Errorf("list things of certificate %s in %s: %w", id, r.SourceRegion, err)
		}
		if used {
			return false, nil
		}
	}
	used, err := attachedToOtherThing(ctx, r.Target, tgtARN, thing)
	if err != nil && !IsNotFound(err) {
		return false, fmt.Errorf("list things of certificate %s in %s: %w", id, r.TargetRegion, err)
	}
	return !used, nil
}

// releaseCertificate detaches the certificate from the target thing and, when nothing
// else uses it (see certificateUnused), detaches its policies, deactivates and deletes
// it, then deletes those policies nothing uses any more. The certificate is
// deactivated and stripped before it is detached so that a failure part-way leaves
// nothing usable behind.
func (r *Replicator) releaseCertificate(ctx context.Context, thing, id, tgtARN string, rec *recorder) error {
	unused, err := r.certificateUnused(ctx, id, tgtARN, thing)
	if err != nil {
		return err
	}
	var policies []string
	if unused {
		policies, err = ListAttachedPolicies(ctx, r.Target, tgtARN)
		if err != nil && !IsNotFound(err) {
			return fmt.Errorf("list policies of certificate %s: %w", id, err)
		}
		for _, p := range policies {
			if err := r.detachPolicy(ctx, p, id, tgtARN, rec); err != nil {
				return err
			}
		}
		err := r.setCertStatus(ctx, id, types.CertificateStatusInactive)
		if err != nil && !IsNotFound(err) {
			return err
		}
	}
	if err := r.detachPrincipal(ctx, thing, tgtARN, rec); err != nil {
		return err
	}
	if !unused {
		return nil
	}
	_, err = r.Target.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
	switch c := errorCode(err); {
	case err == nil:
		rec.add("deleted certificate %s", shortID(id))
	case c == "ResourceNotFoundException":
	case c == "DeleteConflictException" || c == "CertificateStateException":
		// Attached or activated again by a concurrent converge: keep it, and restore
		// the status and policies we just took away from it.
		r.log().InfoContext(ctx, "certificate in use again; restoring it", "certificate", id, "error", err.Error())
		if _, err := r.syncCertificate(ctx, id, rec, nil); err != nil {
			return fmt.Errorf("restore certificate %s: %w", id, err)
		}
		return nil
	default:
		return fmt.Errorf("delete certificate %s: %w", id, err)
	}
	for _, p := range policies {
		if err := r.cleanupPolicy(ctx, p, rec); err != nil {
			return err
		}
	}
	return nil
}

func (r *Replicator) detachPrincipal(ctx context.Context, thing, principal string, rec *recorder) error {
	_, err := r.Target.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach %s from thing %s: %w", principalLabel(principal), thing, err)
	}
	rec.add("detached %s from thing %s", principalLabel(principal), thing)
	return nil
}

func principalLabel(principal string) string {
	if id := CertificateID(principal); id != "" {
		return "certificate " + shortID(id)
	}
	return "principal " + principal
}
