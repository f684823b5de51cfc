package replication

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Thing converges one thing to the source's current state: the thing with its type
// and attributes, the certificates attached to it (registered in the target), their
// policies (Region rewritten) and attachments, and its static group memberships. A
// thing absent from the source is deleted from the target, together with the
// certificates and policies nothing else uses.
func (r *Replicator) Thing(ctx context.Context, name string) (Outcome, error) {
	return r.convergeThing(ctx, name, nil)
}

func (r *Replicator) convergeThing(ctx context.Context, name string, cache *runCache) (Outcome, error) {
	rec := &recorder{}
	n, err := r.thing(ctx, name, rec, cache)
	return r.finish(ctx, "thing", name, rec, n, err)
}

// errSourceGone says the source resource vanished while it was being read.
var errSourceGone = errors.New("gone from the source")

func (r *Replicator) thing(ctx context.Context, name string, rec *recorder, cache *runCache) (int, error) {
	if err := validName("thing", name); err != nil {
		return 0, err
	}
	src, err := r.Source.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	if IsNotFound(err) {
		return 0, r.deleteThing(ctx, name, rec)
	}
	if err != nil {
		return 0, fmt.Errorf("describe in %s: %w", r.SourceRegion, err)
	}
	billing, err := r.syncThing(ctx, src, rec)
	if err != nil {
		return 0, err
	}
	n, err := r.syncPrincipals(ctx, name, rec, cache)
	if errors.Is(err, errSourceGone) {
		return 0, r.deleteThing(ctx, name, rec)
	}
	if err != nil {
		return n, err
	}
	if err := r.memberships(ctx, name, rec); err != nil && !errors.Is(err, errSourceGone) {
		return n, err
	}
	return n, r.billingMembership(ctx, name, aws.ToString(src.BillingGroupName), billing, rec)
}

// syncThing creates the target thing or updates its type and attributes to equal the
// source's.
func (r *Replicator) syncThing(ctx context.Context, src *iot.DescribeThingOutput, rec *recorder) (billing string, err error) {
	name := aws.ToString(src.ThingName)
	srcType := aws.ToString(src.ThingTypeName)
	for attempt := 0; ; attempt++ {
		tgt, err := r.Target.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
		if IsNotFound(err) {
			in := &iot.CreateThingInput{ThingName: aws.String(name), ThingTypeName: src.ThingTypeName}
			if len(src.Attributes) > 0 {
				in.AttributePayload = &types.AttributePayload{Attributes: src.Attributes}
			}
			err := r.withType(ctx, srcType, rec, func() error {
				_, err := r.Target.CreateThing(ctx, in)
				return err
			})
			if isAlreadyExists(err) && attempt == 0 {
				continue // created concurrently: compare
			}
			if err != nil {
				return "", fmt.Errorf("create: %w", err)
			}
			rec.add("created thing %s", name)
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("describe in %s: %w", r.TargetRegion, err)
		}
		billing = aws.ToString(tgt.BillingGroupName)
		tgtType := aws.ToString(tgt.ThingTypeName)
		sameType := srcType == tgtType
		sameAttrs := maps.Equal(src.Attributes, tgt.Attributes)
		if sameType && sameAttrs {
			return billing, nil
		}
		in := &iot.UpdateThingInput{ThingName: aws.String(name)}
		var what []string
		if !sameAttrs {
			// Replace, not merge: keys the source no longer has go away.
			in.AttributePayload = &types.AttributePayload{Attributes: fullAttrs(src.Attributes), Merge: false}
			what = append(what, "attributes")
		}
		typ := ""
		if !sameType {
			if srcType == "" {
				in.RemoveThingType = true
				what = append(what, "removed type "+tgtType)
			} else {
				in.ThingTypeName = aws.String(srcType)
				typ = srcType
				what = append(what, "type "+srcType)
			}
		}
		err = r.withType(ctx, typ, rec, func() error {
			_, err := r.Target.UpdateThing(ctx, in)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("update: %w", err)
		}
		rec.add("updated thing %s (%s)", name, strings.Join(what, ", "))
		return billing, nil
	}
}

// withType runs fn, which associates a thing with the thing type typ ("" for none),
// after making sure the type exists in the target. AWS refuses to associate a thing
// with a deprecated type, which the source may still have (things keep a type that
// is deprecated later), so a deprecated target type is undeprecated around fn and
// then converged back to the source's state.
func (r *Replicator) withType(ctx context.Context, typ string, rec *recorder, fn func() error) error {
	if typ == "" {
		return fn()
	}
	d, err := r.Target.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(typ)})
	if IsNotFound(err) {
		if err := r.thingType(ctx, typ, rec); err != nil {
			return fmt.Errorf("thing type %s: %w", typ, err)
		}
		d, err = r.Target.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(typ)})
	}
	if err != nil {
		// NotFound here means the source has no such type either: a race with its
		// deletion, transient.
		return fmt.Errorf("describe thing type %s in %s: %w", typ, r.TargetRegion, err)
	}
	if d.ThingTypeMetadata == nil || !d.ThingTypeMetadata.Deprecated {
		return fn()
	}
	if _, err := r.Target.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String(typ), UndoDeprecate: true}); err != nil {
		return fmt.Errorf("undeprecate thing type %s: %w", typ, err)
	}
	fnErr := fn()
	if err := r.thingType(ctx, typ, rec); err != nil {
		return errors.Join(fnErr, fmt.Errorf("thing type %s: %w", typ, err))
	}
	return fnErr
}

// syncPrincipals makes the target thing have exactly the source thing's certificates,
// each registered and converged. It returns how many certificates the source thing
// has, or errSourceGone when the source thing vanished meanwhile.
func (r *Replicator) syncPrincipals(ctx context.Context, name string, rec *recorder, cache *runCache) (int, error) {
	srcPrincipals, err := ListThingPrincipals(ctx, r.Source, name)
	if IsNotFound(err) {
		return 0, errSourceGone
	}
	if err != nil {
		return 0, fmt.Errorf("list principals in %s: %w", r.SourceRegion, err)
	}
	tgtCerts, err := ThingCertificates(ctx, r.Target, name) // id -> target ARN
	if err != nil {
		return 0, fmt.Errorf("list principals in %s: %w", r.TargetRegion, err)
	}

	wanted := make(map[string]bool, len(srcPrincipals))
	for _, p := range srcPrincipals {
		id := CertificateID(p)
		if id == "" {
			r.log().DebugContext(ctx, "principal is not a certificate; not replicated", "thing", name, "principal", p)
			continue
		}
		tgtARN, err := r.syncCertificate(ctx, id, rec, cache)
		if err != nil {
			return len(wanted), err
		}
		if tgtARN == "" {
			continue // deleted in the source since it was listed
		}
		wanted[id] = true
		if _, ok := tgtCerts[id]; ok {
			continue
		}
		_, err = r.Target.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(name), Principal: aws.String(tgtARN)})
		if err != nil {
			return len(wanted), fmt.Errorf("attach certificate %s: %w", id, err)
		}
		rec.add("attached certificate %s to thing %s", shortID(id), name)
	}

	stale := make([]string, 0, len(tgtCerts))
	for id := range tgtCerts {
		if !wanted[id] {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	for _, id := range stale {
		if err := r.releaseCertificate(ctx, name, id, tgtCerts[id], rec); err != nil {
			return len(wanted), err
		}
	}
	return len(wanted), nil
}

// deleteThing removes the thing from the target: its certificates are released (and
// deleted when nothing else uses them), other principals detached, then the thing
// deleted.
func (r *Replicator) deleteThing(ctx context.Context, name string, rec *recorder) error {
	principals, err := ListThingPrincipals(ctx, r.Target, name)
	if IsNotFound(err) {
		return nil // already gone
	}
	if err != nil {
		return fmt.Errorf("list principals in %s: %w", r.TargetRegion, err)
	}
	for _, p := range principals {
		if id := CertificateID(p); id != "" {
			err = r.releaseCertificate(ctx, name, id, p, rec)
		} else {
			err = r.detachPrincipal(ctx, name, p, rec)
		}
		if err != nil {
			return err
		}
	}
	_, err = r.Target.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(name)})
	switch {
	case IsNotFound(err):
		return nil
	case err != nil:
		// AWS detaches principals asynchronously and refuses (InvalidRequestException)
		// to delete a thing that still has some: retry.
		return fmt.Errorf("delete: %w", retryable{err})
	}
	rec.add("deleted thing %s", name)
	return nil
}
