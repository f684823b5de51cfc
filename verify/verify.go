package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// IoT is the read-only subset of the AWS IoT control-plane client (*iot.Client) that
// the comparison uses, with the SDK's exact method signatures.
type IoT interface {
	ListThings(ctx context.Context, in *iot.ListThingsInput, optFns ...func(*iot.Options)) (*iot.ListThingsOutput, error)
	DescribeThing(ctx context.Context, in *iot.DescribeThingInput, optFns ...func(*iot.Options)) (*iot.DescribeThingOutput, error)
	ListThingTypes(ctx context.Context, in *iot.ListThingTypesInput, optFns ...func(*iot.Options)) (*iot.ListThingTypesOutput, error)
	DescribeThingType(ctx context.Context, in *iot.DescribeThingTypeInput, optFns ...func(*iot.Options)) (*iot.DescribeThingTypeOutput, error)
	ListThingGroups(ctx context.Context, in *iot.ListThingGroupsInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsOutput, error)
	DescribeThingGroup(ctx context.Context, in *iot.DescribeThingGroupInput, optFns ...func(*iot.Options)) (*iot.DescribeThingGroupOutput, error)
	ListThingGroupsForThing(ctx context.Context, in *iot.ListThingGroupsForThingInput, optFns ...func(*iot.Options)) (*iot.ListThingGroupsForThingOutput, error)
	ListThingPrincipals(ctx context.Context, in *iot.ListThingPrincipalsInput, optFns ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error)
	DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput, optFns ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error)
	ListAttachedPolicies(ctx context.Context, in *iot.ListAttachedPoliciesInput, optFns ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error)
	GetPolicy(ctx context.Context, in *iot.GetPolicyInput, optFns ...func(*iot.Options)) (*iot.GetPolicyOutput, error)
}

// Shadows is the subset of the AWS IoT data-plane client (*iotdataplane.Client) the
// shadow comparison uses (classic and named shadows).
type Shadows interface {
	GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error)
	ListNamedShadowsForThing(ctx context.Context, in *iotdataplane.ListNamedShadowsForThingInput, optFns ...func(*iotdataplane.Options)) (*iotdataplane.ListNamedShadowsForThingOutput, error)
}

// The production clients must satisfy the interfaces.
var (
	_ IoT     = (*iot.Client)(nil)
	_ Shadows = (*iotdataplane.Client)(nil)
)

// Kind classifies a difference.
type Kind string

// The kinds of difference, from the target (secondary) Region's point of view.
const (
	// Missing: the source has it, the target does not.
	Missing Kind = "missing"
	// Extra: the target has it, the source does not.
	Extra Kind = "extra"
	// Different: both have it, a field differs.
	Different Kind = "different"
)

// Kinds lists the kinds in report order.
var Kinds = []Kind{Missing, Extra, Different}

// Resource names what a difference is about.
type Resource string

// The resources compared.
const (
	ThingType        Resource = "thing type"
	ThingGroup       Resource = "thing group"
	Thing            Resource = "thing"
	Membership       Resource = "group membership"       // Name is "thing -> group"
	Certificate      Resource = "certificate"            // Name is the certificate id
	CertAttachment   Resource = "certificate attachment" // Name is "thing -> certificate id"
	Policy           Resource = "policy"
	PolicyAttachment Resource = "policy attachment" // Name is "certificate id -> policy"
	Shadow           Resource = "shadow"            // Name is the thing name
	NamedShadow      Resource = "named shadow"      // Name is "thing/shadow"
	RetainedMessage  Resource = "retained message"  // Name is the topic
)

// Difference is one way in which the target differs from the source.
type Difference struct {
	Kind     Kind     `json:"kind"`
	Resource Resource `json:"resource"`
	Name     string   `json:"name"`
	// Field is the differing field of a Different difference, e.g. "attributes".
	Field string `json:"field,omitempty"`
	// Source and Target are the field's values (Different), or context (Missing,
	// Extra), in short human-readable form.
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
}

// String renders d on one line, e.g. `thing dev-1: attributes differ: {a:1} in
// source, {a:2} in target`.
func (d Difference) String() string {
	switch d.Kind {
	case Missing:
		s := fmt.Sprintf("%s %s: missing in target", d.Resource, d.Name)
		if d.Source != "" {
			s += " (" + d.Source + ")"
		}
		return s
	case Extra:
		s := fmt.Sprintf("%s %s: extra in target", d.Resource, d.Name)
		if d.Target != "" {
			s += " (" + d.Target + ")"
		}
		return s
	}
	return fmt.Sprintf("%s %s: %s differs: %s in source, %s in target", d.Resource, d.Name, d.Field, d.Source, d.Target)
}

// Comparer compares resources of the source and target Regions. Its methods are safe
// for concurrent use. The zero value is not usable: set Source, Target and the
// Regions (and the shadow clients when Shadows is set).
type Comparer struct {
	// Source and Target are the control-plane clients of the primary and secondary.
	Source, Target IoT
	// SourceShadows and TargetShadows are the data-plane clients; needed when Shadows
	// is set.
	SourceShadows, TargetShadows Shadows
	// SourceRegion and TargetRegion name the Regions; policy documents are compared
	// after rewriting the one to the other in ARNs.
	SourceRegion, TargetRegion string
	// Shadows also compares classic shadows (Thing includes the thing's shadow).
	Shadows bool
	// SourceRetained and TargetRetained are the data-plane clients for retained
	// messages; needed when Retained is set.
	SourceRetained, TargetRetained Retained
	// Retained also compares the Regions' retained messages (a phase after things).
	Retained bool
	// SourceProvisioning and TargetProvisioning, when both set, add role aliases,
	// provisioning templates and CA certificates to Run (provisioning.go).
	SourceProvisioning, TargetProvisioning replication.ProvisioningReader

	// policies remembers the policy names whose documents were compared, so that a
	// policy shared by the fleet is read once per Comparer.
	policies sync.Map
	// noTags is set once the source endpoint answers that it does not implement
	// tagging (an emulator): tags are then not compared.
	noTags atomic.Bool
}

// RunOptions tunes Run.
type RunOptions struct {
	// Concurrency bounds how many resources are compared at once (default 8).
	Concurrency int
	// OnDifference receives every difference as it is found, never concurrently.
	OnDifference func(Difference)
}

// Report summarises a Run.
type Report struct {
	// ThingTypes, ThingGroups and Things count the resources checked (each name once,
	// from either Region).
	ThingTypes, ThingGroups, Things int
	// RoleAliases, ProvisioningTemplates and CACertificates count the onboarding
	// resources checked (with Comparer.SourceProvisioning).
	RoleAliases, ProvisioningTemplates, CACertificates int
	// BillingGroups counts the billing groups checked (0 when the clients cannot
	// list them).
	BillingGroups int
	// RetainedMessages counts the retained topics checked (Comparer.Retained).
	RetainedMessages int
	// Differences counts the differences by kind.
	Differences map[Kind]int
}

// Total returns the number of differences.
func (r Report) Total() int {
	n := 0
	for _, c := range r.Differences {
		n += c
	}
	return n
}

// DefaultConcurrency is Run's concurrency when RunOptions.Concurrency is not set.
const DefaultConcurrency = 8

// Run compares the two Regions: thing types, then thing groups, then things (with
// their memberships, certificates, policies, attachments and, when c.Shadows is set,
// shadows). Each phase first pages through the source and checks every resource
// against the target, then pages through the target and reports what the source
// lacks. It returns an error, and stops, when a list or describe call fails for
// another reason than the resource not existing.
func (c *Comparer) Run(ctx context.Context, opts RunOptions) (Report, error) {
	if c.Shadows && (c.SourceShadows == nil || c.TargetShadows == nil) {
		return Report{}, errors.New("verify: shadow comparison requested without data-plane clients")
	}
	if c.Retained && (c.SourceRetained == nil || c.TargetRetained == nil) {
		return Report{}, errors.New("verify: retained-message comparison requested without data-plane clients")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	run := &run{c: c, opts: opts, report: Report{Differences: map[Kind]int{}}}
	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"thing types", run.thingTypes},
		{"thing groups", run.thingGroups},
		{"onboarding resources", run.provisioning},
		{"billing groups", run.billingGroups},
		{"things", run.things},
	}
	if c.Retained {
		phases = append(phases, struct {
			name string
			fn   func(context.Context) error
		}{"retained messages", run.retainedMessages})
	}
	for _, ph := range phases {
		if err := ph.fn(ctx); err != nil {
			return run.report, fmt.Errorf("verify %s: %w", ph.name, err)
		}
	}
	return run.report, nil
}

type run struct {
	c    *Comparer
	opts RunOptions

	mu     sync.Mutex
	report Report
}

func (r *run) emit(counter *int, diffs []Difference) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*counter++
	for _, d := range diffs {
		r.report.Differences[d.Kind]++
		if r.opts.OnDifference != nil {
			r.opts.OnDifference(d)
		}
	}
}

// pool compares the names list yields on at most Concurrency goroutines (see
// replication.ForEachName); the first failure stops the phase.
func (r *run) pool(ctx context.Context, list replication.NameLister, work func(ctx context.Context, name string) error) error {
	return replication.ForEachName(ctx, r.opts.Concurrency, list, work)
}

// phase is one kind of resource as Run walks it.
type phase struct {
	resource Resource
	// counter is the Report field counting the kind's resources.
	counter *int
	// source and target list the kind's names in either Region.
	source, target replication.NameLister
	// compare compares a resource the source lists.
	compare func(ctx context.Context, name string) ([]Difference, error)
	// describe describes a resource in the source (only its error matters).
	describe func(ctx context.Context, name string) error
	// extra, when set, returns the differences of a resource only the target has
	// (none: not counted); by default it is one Extra difference.
	extra func(ctx context.Context, name string) ([]Difference, error)
}

// walk runs a phase: every name the source lists is compared against the target,
// then every name the target lists and the source lacks is reported.
func (r *run) walk(ctx context.Context, ph phase) error {
	err := r.pool(ctx, ph.source, func(ctx context.Context, name string) error {
		diffs, err := ph.compare(ctx, name)
		if err != nil {
			return err
		}
		r.emit(ph.counter, diffs)
		return nil
	})
	if err != nil {
		return err
	}
	return r.pool(ctx, ph.target, func(ctx context.Context, name string) error {
		err := ph.describe(ctx, name)
		switch {
		case err == nil:
			return nil // compared in the source pass
		case !replication.IsNotFound(err):
			return fmt.Errorf("describe %s %s in %s: %w", ph.resource, name, r.c.SourceRegion, err)
		case ph.extra == nil:
			r.emit(ph.counter, []Difference{{Kind: Extra, Resource: ph.resource, Name: name}})
			return nil
		}
		diffs, err := ph.extra(ctx, name)
		if err != nil || diffs == nil {
			return err
		}
		r.emit(ph.counter, diffs)
		return nil
	})
}

func (r *run) thingTypes(ctx context.Context) error {
	return r.walk(ctx, phase{
		resource: ThingType, counter: &r.report.ThingTypes,
		source: replication.ThingTypeNames(r.c.Source), target: replication.ThingTypeNames(r.c.Target),
		compare: r.c.withTags(spec.KindThingType, r.c.ThingType),
		describe: func(ctx context.Context, name string) error {
			_, err := r.c.Source.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: &name})
			return err
		},
	})
}

func (r *run) thingGroups(ctx context.Context) error {
	return r.walk(ctx, phase{
		resource: ThingGroup, counter: &r.report.ThingGroups,
		source: replication.ThingGroupNames(r.c.Source), target: replication.ThingGroupNames(r.c.Target),
		compare: r.c.withTags(spec.KindThingGroup, r.c.ThingGroup),
		describe: func(ctx context.Context, name string) error {
			_, err := r.c.Source.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: &name})
			return err
		},
		extra: func(ctx context.Context, name string) ([]Difference, error) {
			_, err := r.c.Target.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: &name})
			switch {
			case replication.IsNotFound(err):
				return nil, nil // deleted meanwhile
			case err != nil:
				return nil, fmt.Errorf("describe thing group %s in %s: %w", name, r.c.TargetRegion, err)
			}
			// Static or dynamic: both are replicated, and deletes too.
			return []Difference{{Kind: Extra, Resource: ThingGroup, Name: name}}, nil
		},
	})
}

func (r *run) things(ctx context.Context) error {
	return r.walk(ctx, phase{
		resource: Thing, counter: &r.report.Things,
		source: replication.ThingNames(r.c.Source), target: replication.ThingNames(r.c.Target),
		compare: r.c.Thing,
		describe: func(ctx context.Context, name string) error {
			_, err := r.c.Source.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: &name})
			return err
		},
	})
}

// excerpt shortens a value for a difference line.
func excerpt(s string) string {
	const max = 120
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
