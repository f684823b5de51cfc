package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// ThingType compares one thing type: missing or extra in the target, deprecation,
// description, searchable attributes and MQTT 5 propagating attributes.
func (c *Comparer) ThingType(ctx context.Context, name string) ([]Difference, error) {
	s, err := c.Source.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
	sMissing := replication.IsNotFound(err)
	if err != nil && !sMissing {
		return nil, fmt.Errorf("describe thing type %s in %s: %w", name, c.SourceRegion, err)
	}
	t, err := c.Target.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(name)})
	tMissing := replication.IsNotFound(err)
	if err != nil && !tMissing {
		return nil, fmt.Errorf("describe thing type %s in %s: %w", name, c.TargetRegion, err)
	}
	switch {
	case sMissing && tMissing:
		return nil, nil
	case sMissing:
		return []Difference{{Kind: Extra, Resource: ThingType, Name: name}}, nil
	case tMissing:
		return []Difference{{Kind: Missing, Resource: ThingType, Name: name}}, nil
	}
	var out []Difference
	diff := func(field, a, b string) {
		if a != b {
			out = append(out, Difference{Kind: Different, Resource: ThingType, Name: name, Field: field, Source: a, Target: b})
		}
	}
	sd := s.ThingTypeMetadata != nil && s.ThingTypeMetadata.Deprecated
	td := t.ThingTypeMetadata != nil && t.ThingTypeMetadata.Deprecated
	diff("deprecated", fmt.Sprint(sd), fmt.Sprint(td))
	sp, tp := typeProps(s.ThingTypeProperties), typeProps(t.ThingTypeProperties)
	diff("description", quote(sp.ThingTypeDescription), quote(tp.ThingTypeDescription))
	diff("searchable attributes", sortedList(sp.SearchableAttributes), sortedList(tp.SearchableAttributes))
	diff("propagating attributes", propagatingString(sp), propagatingString(tp))
	return out, nil
}

// propagatingString lists a type's MQTT 5 propagating attributes in their order (the
// order of the user properties on a message), key=source each.
func propagatingString(p *types.ThingTypeProperties) string {
	if p.Mqtt5Configuration == nil {
		return "[]"
	}
	var parts []string
	for _, pa := range p.Mqtt5Configuration.PropagatingAttributes {
		src := "thing:" + aws.ToString(pa.ThingAttribute)
		if pa.ConnectionAttribute != nil {
			src = "connection:" + aws.ToString(pa.ConnectionAttribute)
		}
		parts = append(parts, aws.ToString(pa.UserPropertyKey)+"="+src)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func typeProps(p *types.ThingTypeProperties) *types.ThingTypeProperties {
	if p == nil {
		return &types.ThingTypeProperties{}
	}
	return p
}

// ThingGroup compares one thing group: missing or extra in the target, its kind
// (static or dynamic), parent, description and attributes, and a dynamic group's
// query string. Members of dynamic groups are each Region's own to derive and are
// not compared.
func (c *Comparer) ThingGroup(ctx context.Context, name string) ([]Difference, error) {
	s, err := c.Source.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
	sMissing := replication.IsNotFound(err)
	if err != nil && !sMissing {
		return nil, fmt.Errorf("describe thing group %s in %s: %w", name, c.SourceRegion, err)
	}
	t, err := c.Target.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
	tMissing := replication.IsNotFound(err)
	if err != nil && !tMissing {
		return nil, fmt.Errorf("describe thing group %s in %s: %w", name, c.TargetRegion, err)
	}
	switch {
	case sMissing && tMissing:
		return nil, nil
	case sMissing:
		return []Difference{{Kind: Extra, Resource: ThingGroup, Name: name}}, nil
	case tMissing:
		return []Difference{{Kind: Missing, Resource: ThingGroup, Name: name, Source: parentNote(replication.ThingGroupParent(s))}}, nil
	}
	var out []Difference
	diff := func(field, a, b string) {
		if a != b {
			out = append(out, Difference{Kind: Different, Resource: ThingGroup, Name: name, Field: field, Source: a, Target: b})
		}
	}
	diff("kind", groupKind(s), groupKind(t))
	diff("query", quote(s.QueryString), quote(t.QueryString))
	diff("parent", quote(aws.String(replication.ThingGroupParent(s))), quote(aws.String(replication.ThingGroupParent(t))))
	sp, tp := replication.ThingGroupProperties(s), replication.ThingGroupProperties(t)
	diff("description", quote(sp.ThingGroupDescription), quote(tp.ThingGroupDescription))
	if a, b := replication.ThingGroupAttributes(sp), replication.ThingGroupAttributes(tp); !maps.Equal(a, b) {
		diff("attributes", attrString(a), attrString(b))
	}
	return out, nil
}

func groupKind(d *iot.DescribeThingGroupOutput) string {
	if d.QueryString != nil {
		return "dynamic"
	}
	return "static"
}

func parentNote(parent string) string {
	if parent == "" {
		return ""
	}
	return "child of " + parent
}

// Thing compares one thing and what hangs off it: missing or extra in the target,
// type, attributes, group memberships, attached certificates (registered, attached,
// status), the policies attached to them (attached, default document modulo Region)
// and, when c.Shadows is set, its classic shadow. A thing missing from the target is
// one difference; what it carries is not listed separately.
func (c *Comparer) Thing(ctx context.Context, name string) ([]Difference, error) {
	s, err := c.Source.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	sMissing := replication.IsNotFound(err)
	if err != nil && !sMissing {
		return nil, fmt.Errorf("describe thing %s in %s: %w", name, c.SourceRegion, err)
	}
	t, err := c.Target.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	tMissing := replication.IsNotFound(err)
	if err != nil && !tMissing {
		return nil, fmt.Errorf("describe thing %s in %s: %w", name, c.TargetRegion, err)
	}
	switch {
	case sMissing && tMissing:
		return nil, nil
	case sMissing:
		return []Difference{{Kind: Extra, Resource: Thing, Name: name}}, nil
	case tMissing:
		return []Difference{{Kind: Missing, Resource: Thing, Name: name}}, nil
	}
	var out []Difference
	if a, b := aws.ToString(s.ThingTypeName), aws.ToString(t.ThingTypeName); a != b {
		out = append(out, Difference{Kind: Different, Resource: Thing, Name: name, Field: "type", Source: quote(&a), Target: quote(&b)})
	}
	if !maps.Equal(s.Attributes, t.Attributes) {
		out = append(out, Difference{Kind: Different, Resource: Thing, Name: name, Field: "attributes",
			Source: attrString(s.Attributes), Target: attrString(t.Attributes)})
	}
	if a, b := aws.ToString(s.BillingGroupName), aws.ToString(t.BillingGroupName); a != b {
		out = append(out, Difference{Kind: Different, Resource: Thing, Name: name, Field: "billing group", Source: quote(&a), Target: quote(&b)})
	}
	groups, err := c.memberships(ctx, name)
	if err != nil {
		return nil, err
	}
	out = append(out, groups...)
	certs, err := c.certificates(ctx, name)
	if err != nil {
		return nil, err
	}
	out = append(out, certs...)
	if c.Shadows {
		sh, err := c.Shadow(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, sh...)
		if sh, err = c.NamedShadows(ctx, name); err != nil {
			return nil, err
		}
		out = append(out, sh...)
	}
	return out, nil
}

func (c *Comparer) memberships(ctx context.Context, thing string) ([]Difference, error) {
	sg, err := thingGroups(ctx, c.Source, thing)
	if err != nil {
		return nil, fmt.Errorf("list groups of thing %s in %s: %w", thing, c.SourceRegion, err)
	}
	tg, err := thingGroups(ctx, c.Target, thing)
	if err != nil {
		return nil, fmt.Errorf("list groups of thing %s in %s: %w", thing, c.TargetRegion, err)
	}
	// A dynamic group's members are derived by each Region from its own things (the
	// thing's own differences are reported with it): only a difference is checked for
	// a dynamic group, one Describe in the Region that lists it.
	var out []Difference
	for _, side := range []struct {
		have, other []string
		c           IoT
		region      string
		kind        Kind
	}{{sg, tg, c.Source, c.SourceRegion, Missing}, {tg, sg, c.Target, c.TargetRegion, Extra}} {
		for _, g := range side.have {
			if slices.Contains(side.other, g) {
				continue
			}
			dyn, err := replication.IsDynamicGroup(ctx, side.c, g)
			if err != nil {
				return nil, fmt.Errorf("describe group %s in %s: %w", g, side.region, err)
			}
			if !dyn {
				out = append(out, Difference{Kind: side.kind, Resource: Membership, Name: thing + " -> " + g})
			}
		}
	}
	return out, nil
}

// certificates compares the certificates attached to the thing, by certificate id.
func (c *Comparer) certificates(ctx context.Context, thing string) ([]Difference, error) {
	sc, err := replication.ThingCertificates(ctx, c.Source, thing)
	if err != nil {
		return nil, fmt.Errorf("list principals of thing %s in %s: %w", thing, c.SourceRegion, err)
	}
	tc, err := replication.ThingCertificates(ctx, c.Target, thing)
	if err != nil {
		return nil, fmt.Errorf("list principals of thing %s in %s: %w", thing, c.TargetRegion, err)
	}
	var out []Difference
	for _, id := range slices.Sorted(maps.Keys(sc)) {
		d, err := c.certificate(ctx, thing, id, sc[id], tc[id])
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
	}
	for _, id := range slices.Sorted(maps.Keys(tc)) {
		if _, ok := sc[id]; !ok {
			out = append(out, Difference{Kind: Extra, Resource: CertAttachment, Name: thing + " -> " + id})
		}
	}
	return out, nil
}

// certificate compares one certificate attached to thing in the source; tgtARN is
// its ARN among the target thing's principals ("" when not attached there).
func (c *Comparer) certificate(ctx context.Context, thing, id, srcARN, tgtARN string) ([]Difference, error) {
	s, err := c.Source.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if replication.IsNotFound(err) {
		return nil, nil // deleted in the source meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("describe certificate %s in %s: %w", id, c.SourceRegion, err)
	}
	t, err := c.Target.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if replication.IsNotFound(err) {
		return []Difference{{Kind: Missing, Resource: Certificate, Name: id, Source: "attached to thing " + thing}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe certificate %s in %s: %w", id, c.TargetRegion, err)
	}
	sd, td := s.CertificateDescription, t.CertificateDescription
	if sd == nil || td == nil {
		return nil, fmt.Errorf("describe certificate %s: empty description", id)
	}
	var out []Difference
	if tgtARN == "" {
		out = append(out, Difference{Kind: Missing, Resource: CertAttachment, Name: thing + " -> " + id})
		tgtARN = aws.ToString(td.CertificateArn)
	}
	if want := replication.TargetCertificateStatus(sd.Status); td.Status != want {
		out = append(out, Difference{Kind: Different, Resource: Certificate, Name: id, Field: "status", Source: string(want), Target: string(td.Status)})
	}
	if strings.TrimSpace(aws.ToString(sd.CertificatePem)) != strings.TrimSpace(aws.ToString(td.CertificatePem)) {
		out = append(out, Difference{Kind: Different, Resource: Certificate, Name: id, Field: "PEM", Source: "(source PEM)", Target: "(another PEM)"})
	}
	sp, err := attachedPolicies(ctx, c.Source, srcARN)
	if err != nil {
		return nil, fmt.Errorf("list policies of certificate %s in %s: %w", id, c.SourceRegion, err)
	}
	tp, err := attachedPolicies(ctx, c.Target, tgtARN)
	if err != nil && !replication.IsNotFound(err) {
		return nil, fmt.Errorf("list policies of certificate %s in %s: %w", id, c.TargetRegion, err)
	}
	for _, p := range sp {
		d, err := c.policy(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
		if !slices.Contains(tp, p) && !(len(d) > 0 && d[0].Kind == Missing) {
			out = append(out, Difference{Kind: Missing, Resource: PolicyAttachment, Name: id + " -> " + p})
		}
	}
	for _, p := range tp {
		if !slices.Contains(sp, p) {
			out = append(out, Difference{Kind: Extra, Resource: PolicyAttachment, Name: id + " -> " + p})
		}
	}
	return out, nil
}

// policy compares one policy's default document, once per Comparer. A policy missing
// from the target is reported as Missing every time it is met, so that a dry run
// shows it for every thing that needs it.
func (c *Comparer) policy(ctx context.Context, name string) ([]Difference, error) {
	if _, done := c.policies.Load(name); done {
		return nil, nil
	}
	s, err := c.Source.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if replication.IsNotFound(err) {
		return nil, nil // deleted meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("get policy %s in %s: %w", name, c.SourceRegion, err)
	}
	t, err := c.Target.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if replication.IsNotFound(err) {
		return []Difference{{Kind: Missing, Resource: Policy, Name: name}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get policy %s in %s: %w", name, c.TargetRegion, err)
	}
	if _, dup := c.policies.LoadOrStore(name, struct{}{}); dup {
		return nil, nil // compared concurrently
	}
	want := replication.RewriteRegion(aws.ToString(s.PolicyDocument), c.SourceRegion, c.TargetRegion)
	got := aws.ToString(t.PolicyDocument)
	tags, err := c.tagsByARN(ctx, spec.KindPolicy, name, aws.ToString(s.PolicyArn), aws.ToString(t.PolicyArn))
	if err != nil || replication.SamePolicyDocument(want, got) {
		return tags, err
	}
	return append([]Difference{{Kind: Different, Resource: Policy, Name: name, Field: "document",
		Source: excerpt(replication.CompactPolicyDocument(want)), Target: excerpt(replication.CompactPolicyDocument(got))}}, tags...), nil
}

// Shadow compares the classic (unnamed) shadow of one thing: missing or extra in the
// target, and its desired and reported state (metadata, version and delta are per
// Region and ignored).
func (c *Comparer) Shadow(ctx context.Context, thing string) ([]Difference, error) {
	return c.shadow(ctx, thing, "")
}

// NamedShadows compares every named shadow either Region has for the thing (listed
// with ListNamedShadowsForThing in both) as Shadow compares the classic one.
func (c *Comparer) NamedShadows(ctx context.Context, thing string) ([]Difference, error) {
	if c.SourceShadows == nil || c.TargetShadows == nil {
		return nil, fmt.Errorf("named shadows of thing %s: no data-plane clients", thing)
	}
	src, err := replication.NamedShadowNames(ctx, c.SourceShadows, thing)
	if err != nil {
		return nil, fmt.Errorf("list named shadows of %s in %s: %w", thing, c.SourceRegion, err)
	}
	tgt, err := replication.NamedShadowNames(ctx, c.TargetShadows, thing)
	if err != nil {
		return nil, fmt.Errorf("list named shadows of %s in %s: %w", thing, c.TargetRegion, err)
	}
	names := slices.Concat(src, tgt)
	slices.Sort(names)
	var out []Difference
	for _, n := range slices.Compact(names) {
		d, err := c.shadow(ctx, thing, n)
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
	}
	return out, nil
}

// shadow compares one shadow: the classic one when shadow is "".
func (c *Comparer) shadow(ctx context.Context, thing, shadow string) ([]Difference, error) {
	res, name, what := Shadow, thing, "shadow of "+thing
	var sn *string
	if shadow != "" {
		res, name, what, sn = NamedShadow, thing+"/"+shadow, "named shadow "+thing+"/"+shadow, aws.String(shadow)
	}
	if c.SourceShadows == nil || c.TargetShadows == nil {
		return nil, fmt.Errorf("%s: no data-plane clients", what)
	}
	s, err := c.SourceShadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: sn})
	sMissing := replication.IsNotFound(err)
	if err != nil && !sMissing {
		return nil, fmt.Errorf("get %s in %s: %w", what, c.SourceRegion, err)
	}
	t, err := c.TargetShadows.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: aws.String(thing), ShadowName: sn})
	tMissing := replication.IsNotFound(err)
	if err != nil && !tMissing {
		return nil, fmt.Errorf("get %s in %s: %w", what, c.TargetRegion, err)
	}
	switch {
	case sMissing && tMissing:
		return nil, nil
	case sMissing:
		return []Difference{{Kind: Extra, Resource: res, Name: name}}, nil
	case tMissing:
		return []Difference{{Kind: Missing, Resource: res, Name: name}}, nil
	}
	ss, err := replication.ShadowState(s.Payload)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", what, c.SourceRegion, err)
	}
	ts, err := replication.ShadowState(t.Payload)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", what, c.TargetRegion, err)
	}
	var out []Difference
	for _, sec := range replication.ShadowSections() {
		if !reflect.DeepEqual(ss[sec], ts[sec]) {
			out = append(out, Difference{Kind: Different, Resource: res, Name: name, Field: "state." + sec,
				Source: excerpt(jsonString(ss[sec])), Target: excerpt(jsonString(ts[sec]))})
		}
	}
	return out, nil
}

func jsonString(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// thingGroups returns the groups of a thing, sorted.
func thingGroups(ctx context.Context, c IoT, thing string) ([]string, error) {
	out, err := replication.ListThingGroupsForThing(ctx, c, thing)
	slices.Sort(out)
	return out, err
}

// attachedPolicies returns the names of the policies attached to target, sorted.
func attachedPolicies(ctx context.Context, c IoT, target string) ([]string, error) {
	out, err := replication.ListAttachedPolicies(ctx, c, target)
	slices.Sort(out)
	return out, err
}

// attrString renders attributes sorted by key: {k1=v1, k2=v2}.
func attrString(m map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + m[k])
	}
	b.WriteByte('}')
	return excerpt(b.String())
}

func sortedList(s []string) string {
	s = slices.Clone(s)
	slices.Sort(s)
	return "[" + strings.Join(s, ", ") + "]"
}

func quote(s *string) string { return fmt.Sprintf("%q", aws.ToString(s)) }
