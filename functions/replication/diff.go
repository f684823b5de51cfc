package replication

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// Diff compares the replicated registry of two Regions and returns one
// human-readable line per difference (sorted; empty when the target equals the
// source): thing types (properties, deprecation), static thing groups (parent,
// description, attributes), things (type, attributes, group memberships, attached
// certificates), those certificates (status, attached policies) and those policies
// (default document, with the Region in its ARNs rewritten from sourceRegion to
// targetRegion). Certificates and policies not reachable from a thing are not
// compared, as they are not replicated.
//
// Diff is a verification tool (tests, the CLI's verify): it holds both Regions'
// resource names in memory, unlike Reconcile.
func Diff(ctx context.Context, source, target IoT, sourceRegion, targetRegion string) ([]string, error) {
	d := differ{src: source, tgt: target, srcRegion: sourceRegion, tgtRegion: targetRegion}
	for _, step := range []func(context.Context) error{d.thingTypes, d.thingGroups, d.things} {
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
	}
	sort.Strings(d.out)
	return d.out, nil
}

type differ struct {
	src, tgt             IoT
	srcRegion, tgtRegion string
	out                  []string
	policiesDone         map[string]bool
}

func (d *differ) addf(format string, args ...any) {
	d.out = append(d.out, fmt.Sprintf(format, args...))
}

// compareNames reports names only on one side and returns those on both.
func (d *differ) compareNames(kind string, src, tgt []string) []string {
	s, t := set(src), set(tgt)
	var both []string
	for _, n := range src {
		if t[n] {
			both = append(both, n)
		} else {
			d.addf("%s %s: missing in target", kind, n)
		}
	}
	for _, n := range tgt {
		if !s[n] {
			d.addf("%s %s: only in target", kind, n)
		}
	}
	return both
}

// names reads the source's and the target's lists whole.
func (d *differ) names(ctx context.Context, src, tgt NameLister) (s, t []string, err error) {
	if s, err = collectNames(ctx, src); err != nil {
		return nil, nil, err
	}
	if t, err = collectNames(ctx, tgt); err != nil {
		return nil, nil, err
	}
	return s, t, nil
}

func (d *differ) thingTypes(ctx context.Context) error {
	src, tgt, err := d.names(ctx, ThingTypeNames(d.src), ThingTypeNames(d.tgt))
	if err != nil {
		return err
	}
	for _, n := range d.compareNames("thing type", src, tgt) {
		s, err := d.src.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(n)})
		if err != nil {
			return fmt.Errorf("describe thing type %s: %w", n, err)
		}
		t, err := d.tgt.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(n)})
		if err != nil {
			return fmt.Errorf("describe thing type %s: %w", n, err)
		}
		sd := s.ThingTypeMetadata != nil && s.ThingTypeMetadata.Deprecated
		td := t.ThingTypeMetadata != nil && t.ThingTypeMetadata.Deprecated
		if sd != td {
			d.addf("thing type %s: deprecated %t in source, %t in target", n, sd, td)
		}
		if !sameTypeProperties(s.ThingTypeProperties, t.ThingTypeProperties) {
			d.addf("thing type %s: properties differ", n)
		}
	}
	return nil
}

func (d *differ) thingGroups(ctx context.Context) error {
	src, tgt, err := d.names(ctx, ThingGroupNames(d.src), ThingGroupNames(d.tgt))
	if err != nil {
		return err
	}
	for _, n := range d.compareNames("thing group", src, tgt) {
		s, err := d.src.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(n)})
		if err != nil {
			return fmt.Errorf("describe thing group %s: %w", n, err)
		}
		t, err := d.tgt.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(n)})
		if err != nil {
			return fmt.Errorf("describe thing group %s: %w", n, err)
		}
		if sp, tp := ThingGroupParent(s), ThingGroupParent(t); sp != tp {
			d.addf("thing group %s: parent %q in source, %q in target", n, sp, tp)
		}
		sp, tp := ThingGroupProperties(s), ThingGroupProperties(t)
		if a, b := aws.ToString(sp.ThingGroupDescription), aws.ToString(tp.ThingGroupDescription); a != b {
			d.addf("thing group %s: description %q in source, %q in target", n, a, b)
		}
		if a, b := ThingGroupAttributes(sp), ThingGroupAttributes(tp); !maps.Equal(a, b) {
			d.addf("thing group %s: attributes %v in source, %v in target", n, a, b)
		}
	}
	return nil
}

func (d *differ) things(ctx context.Context) error {
	src, tgt, err := d.names(ctx, ThingNames(d.src), ThingNames(d.tgt))
	if err != nil {
		return err
	}
	d.policiesDone = map[string]bool{}
	for _, n := range d.compareNames("thing", src, tgt) {
		if err := d.thing(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) thing(ctx context.Context, n string) error {
	s, err := d.src.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(n)})
	if err != nil {
		return fmt.Errorf("describe thing %s: %w", n, err)
	}
	t, err := d.tgt.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(n)})
	if err != nil {
		return fmt.Errorf("describe thing %s: %w", n, err)
	}
	if a, b := aws.ToString(s.ThingTypeName), aws.ToString(t.ThingTypeName); a != b {
		d.addf("thing %s: type %q in source, %q in target", n, a, b)
	}
	if !maps.Equal(s.Attributes, t.Attributes) {
		d.addf("thing %s: attributes %v in source, %v in target", n, s.Attributes, t.Attributes)
	}
	sg, err := ListThingGroupsForThing(ctx, d.src, n)
	if err != nil {
		return fmt.Errorf("list groups of thing %s: %w", n, err)
	}
	tg, err := ListThingGroupsForThing(ctx, d.tgt, n)
	if err != nil {
		return fmt.Errorf("list groups of thing %s: %w", n, err)
	}
	slices.Sort(sg)
	slices.Sort(tg)
	if !slices.Equal(sg, tg) {
		d.addf("thing %s: groups %v in source, %v in target", n, sg, tg)
	}

	sc, err := ThingCertificates(ctx, d.src, n)
	if err != nil {
		return fmt.Errorf("list principals of thing %s: %w", n, err)
	}
	tc, err := ThingCertificates(ctx, d.tgt, n)
	if err != nil {
		return fmt.Errorf("list principals of thing %s: %w", n, err)
	}
	ids := slices.Sorted(maps.Keys(sc))
	both := d.compareNames("thing "+n+": certificate", ids, slices.Sorted(maps.Keys(tc)))
	for _, id := range both {
		if err := d.certificate(ctx, id, sc[id], tc[id]); err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) certificate(ctx context.Context, id, srcARN, tgtARN string) error {
	s, err := d.src.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		return fmt.Errorf("describe certificate %s: %w", id, err)
	}
	t, err := d.tgt.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		return fmt.Errorf("describe certificate %s: %w", id, err)
	}
	sd, td := s.CertificateDescription, t.CertificateDescription
	if sd == nil || td == nil {
		return fmt.Errorf("describe certificate %s: empty description", id)
	}
	if want := TargetCertificateStatus(sd.Status); td.Status != want {
		d.addf("certificate %s: status %s in target, want %s", id, td.Status, want)
	}
	if strings.TrimSpace(aws.ToString(sd.CertificatePem)) != strings.TrimSpace(aws.ToString(td.CertificatePem)) {
		d.addf("certificate %s: PEM differs", id)
	}
	sp, err := ListAttachedPolicies(ctx, d.src, srcARN)
	if err != nil {
		return fmt.Errorf("list policies of certificate %s: %w", id, err)
	}
	tp, err := ListAttachedPolicies(ctx, d.tgt, tgtARN)
	if err != nil {
		return fmt.Errorf("list policies of certificate %s: %w", id, err)
	}
	slices.Sort(sp)
	slices.Sort(tp)
	for _, p := range d.compareNames("certificate "+id+": policy", sp, tp) {
		if d.policiesDone[p] {
			continue
		}
		d.policiesDone[p] = true
		sg, err := d.src.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(p)})
		if err != nil {
			return fmt.Errorf("get policy %s: %w", p, err)
		}
		tg, err := d.tgt.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(p)})
		if err != nil {
			return fmt.Errorf("get policy %s: %w", p, err)
		}
		want := RewriteRegion(aws.ToString(sg.PolicyDocument), d.srcRegion, d.tgtRegion)
		if !SamePolicyDocument(want, aws.ToString(tg.PolicyDocument)) {
			d.addf("policy %s: document differs (Region-rewritten source vs target)", p)
		}
	}
	return nil
}
