package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// Sweep stages, in order.
const (
	SweepThingTypes  = "thing-types"
	SweepThingGroups = "thing-groups"
	// SweepBillingGroups pages through the Region's billing groups (when the
	// capturer has a billing-group client): they raise no registry events.
	SweepBillingGroups = "billing-groups"
	SweepThings        = "things"
	// SweepPolicyTags pages through the Region's policies and captures the tags of
	// those the table replicates (when the capturer has a tag client): policies are
	// captured with their certificates, and reading their tags on every thing's
	// capture would cost a call per certificate.
	SweepPolicyTags = "policy-tags"
	// SweepRetained pages through the Region's retained messages (when the capturer
	// has a data plane for them).
	SweepRetained = "retained"
	// SweepProvisioning pages through the Region's role aliases, provisioning
	// templates and CA certificates (when the capturer has a client for them).
	SweepProvisioning = "provisioning"
	// SweepTable pages through the state table and captures again every thing, thing
	// type, thing group, billing group, named shadow, retained message, role alias,
	// provisioning template and CA certificate this Region captured that
	// no longer exists here: a delete
	// whose event was lost (a broker outage drops registry events).
	SweepTable = "table"
)

// SweepState is the sweep state machine's input and each page's output.
type SweepState struct {
	// Stage is the list being paged ("" starts at the beginning).
	Stage string `json:"stage"`
	// Token resumes the stage's list.
	Token string `json:"token,omitempty"`
	// Done is true once every stage is paged through.
	Done bool `json:"done"`
	// Visited, Written count resources captured and items written so far.
	Visited int `json:"visited"`
	Written int `json:"written"`
	// Failed counts resources whose capture failed (each is in the error table).
	Failed int `json:"failed"`
}

// Sweeper is the sweep function: it pages through its own Region's thing types, thing
// groups and things (with their attachments and shadows) and captures each, which
// writes only what the table does not already hold. One invocation handles one page,
// so a fleet of any size fits Lambda's time limit; the state machine loops.
type Sweeper struct {
	Capturer *Capturer
	// PageSize is the things per page (default 100, at most 250).
	PageSize int32
	// Shadows includes each thing's classic and named shadows.
	Shadows bool
	// NamedShadowListRate paces ListNamedShadowsForThing, one call per thing
	// (requests per second; 0 means DefaultNamedShadowListRate, AWS's default quota).
	NamedShadowListRate float64
	paced               pacedLists
	Failures            interface {
		Record(ctx context.Context, stage, key, errName string, cause error, input []byte) error
	}
}

// Handle sweeps one page.
func (s *Sweeper) Handle(ctx context.Context, st SweepState) (SweepState, error) {
	if st.Done {
		return st, nil
	}
	if st.Stage == "" {
		st.Stage = SweepThingTypes
	}
	size := s.PageSize
	if size <= 0 || size > 250 {
		size = 100
	}
	if st.Stage == SweepTable {
		return s.table(ctx, st, size)
	}
	if st.Stage == SweepRetained {
		return s.retained(ctx, st)
	}
	if st.Stage == SweepPolicyTags {
		return s.policyTags(ctx, st, size)
	}
	if st.Stage == SweepProvisioning {
		return s.provisioning(ctx, st, size)
	}
	names, next, err := s.page(ctx, st.Stage, optional(st.Token), aws.Int32(size))
	var perm *replication.PermanentError
	if errors.As(err, &perm) {
		return st, perm // unwrapped: its type is the Lambda errorType the machine does not retry
	}
	if err != nil {
		return st, fmt.Errorf("capture: sweep %s: %w", st.Stage, err) // the state machine retries the page
	}
	for _, n := range names {
		res, key, err := s.one(ctx, st.Stage, n)
		st.Visited++
		st.Written += res.Written
		if err != nil {
			st.Failed++
			// One resource's failure must not stop the sweep: it is recorded for the
			// redrive and the page goes on.
			if rerr := s.Failures.Record(ctx, spec.StageCapture, key, "SweepCaptureFailed", err, nil); rerr != nil {
				return st, rerr
			}
		}
	}
	st.Token = aws.ToString(next)
	if st.Token == "" {
		switch st.Stage {
		case SweepThingTypes:
			st.Stage = SweepThingGroups
		case SweepThingGroups:
			st.Stage = SweepBillingGroups
		case SweepBillingGroups:
			st.Stage = SweepThings
		default:
			st.Stage = SweepPolicyTags
		}
	}
	return st, nil
}

// page lists one page of the stage's registry list.
func (s *Sweeper) page(ctx context.Context, stage string, tok *string, size *int32) (names []string, next *string, err error) {
	c := s.Capturer
	switch stage {
	case SweepThingTypes:
		out, err := c.IoT.ListThingTypes(ctx, &iot.ListThingTypesInput{NextToken: tok, MaxResults: size})
		if err != nil {
			return nil, nil, err
		}
		for _, t := range out.ThingTypes {
			names = append(names, aws.ToString(t.ThingTypeName))
		}
		return names, out.NextToken, nil
	case SweepThingGroups:
		out, err := c.IoT.ListThingGroups(ctx, &iot.ListThingGroupsInput{NextToken: tok, MaxResults: size})
		if err != nil {
			return nil, nil, err
		}
		for _, g := range out.ThingGroups {
			names = append(names, aws.ToString(g.GroupName))
		}
		return names, out.NextToken, nil
	case SweepBillingGroups:
		return c.billingGroupPage(ctx, tok, size)
	case SweepThings:
		out, err := c.IoT.ListThings(ctx, &iot.ListThingsInput{NextToken: tok, MaxResults: size})
		if err != nil {
			return nil, nil, err
		}
		for _, t := range out.Things {
			names = append(names, aws.ToString(t.ThingName))
		}
		return names, out.NextToken, nil
	}
	return nil, nil, permanent(fmt.Errorf("capture: unknown sweep stage %q", stage))
}

func (s *Sweeper) one(ctx context.Context, stage, name string) (Result, string, error) {
	var key string
	r, err := again(func() (Result, error) {
		r, k, err := s.capture(ctx, stage, name)
		key = k
		return r, err
	})
	return r, key, err
}

func (s *Sweeper) capture(ctx context.Context, stage, name string) (Result, string, error) {
	c := s.Capturer
	switch stage {
	case SweepThingTypes:
		r, err := c.ThingType(ctx, name, time.Time{})
		return r, spec.StateKey(spec.KindThingType, name), err
	case SweepThingGroups:
		r, err := c.ThingGroup(ctx, name, time.Time{})
		return r, spec.StateKey(spec.KindThingGroup, name), err
	case SweepBillingGroups:
		r, err := c.BillingGroup(ctx, name, time.Time{})
		return r, spec.StateKey(spec.KindBillingGroup, name), err
	}
	r, err := c.Thing(ctx, name, time.Time{})
	if err != nil || !s.Shadows {
		return r, spec.StateKey(spec.KindThing, name), err
	}
	sr, err := c.namedShadows(ctx, name, s.namedShadowLister())
	r.merge(sr)
	return r, spec.StateKey(spec.KindShadow, name), err
}

// retained sweeps one page of retained messages; without a data plane for them the
// stage is skipped.
func (s *Sweeper) retained(ctx context.Context, st SweepState) (SweepState, error) {
	c := s.Capturer
	if c.Retained != nil {
		visited, written, next, err := c.retainedSweepPage(ctx, optional(st.Token), func(key string, err error) error {
			st.Failed++
			return s.Failures.Record(ctx, spec.StageCapture, key, "SweepCaptureFailed", err, nil)
		})
		if err != nil {
			return st, fmt.Errorf("capture: sweep %s: %w", st.Stage, err) // the state machine retries the page
		}
		st.Visited += visited
		st.Written += written
		if st.Token = aws.ToString(next); st.Token != "" {
			return st, nil
		}
	}
	st.Stage, st.Token = SweepProvisioning, ""
	return st, nil
}

// provisioning sweeps one page of role aliases, provisioning templates or CA
// certificates; without a client for them the stage is skipped.
func (s *Sweeper) provisioning(ctx context.Context, st SweepState, size int32) (SweepState, error) {
	if s.Capturer.Provisioning != nil {
		visited, written, next, err := s.provisioningPage(ctx, st.Token, size, func(key string, err error) error {
			st.Failed++
			return s.Failures.Record(ctx, spec.StageCapture, key, "SweepCaptureFailed", err, nil)
		})
		st.Visited += visited
		st.Written += written
		if err != nil {
			return st, fmt.Errorf("capture: sweep %s: %w", st.Stage, err) // the state machine retries the page
		}
		if st.Token = next; next != "" {
			return st, nil
		}
	}
	st.Stage, st.Token = SweepTable, ""
	return st, nil
}

// table is the last stage: one page of the state table, each live thing, type, group,
// named shadow or retained-message item of this Region (and every Region's item of
// the kinds only the sweep captures, applymark.HeldKind) checked for existence with one Describe (or GetThingShadow,
// GetRetainedMessage) call, re-captured (which writes its tombstones) when it is gone.
func (s *Sweeper) table(ctx context.Context, st SweepState, size int32) (SweepState, error) {
	c := s.Capturer
	items, next, err := c.Store.ScanPage(ctx, st.Token, size)
	if err != nil {
		return st, fmt.Errorf("capture: sweep %s: %w", st.Stage, err)
	}
	for _, it := range items {
		// Another Region's retained message, billing group, role alias, provisioning
		// template or CA certificate is checked too: deleted here, where the apply had
		// created it, it raises no event either (Capturer.deletedHere).
		foreignHeld := applymark.HeldKind(it.Kind) && c.Held != nil
		if it.Deleted || (it.Origin != c.Region && !foreignHeld) {
			continue
		}
		gone, err := c.gone(ctx, it.Kind, it.Name)
		if err == nil && !gone {
			continue
		}
		var res Result
		if err == nil {
			st.Visited++
			res, err = c.Key(ctx, it.Key())
			st.Written += res.Written
		}
		if err != nil {
			st.Failed++
			if rerr := s.Failures.Record(ctx, spec.StageCapture, it.Key(), "SweepCaptureFailed", err, nil); rerr != nil {
				return st, rerr
			}
		}
	}
	st.Token = next
	st.Done = next == ""
	return st, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
