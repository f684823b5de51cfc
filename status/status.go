// Package status is what `iotdr status` shows of a deployment (real, or the
// simulator's): which Region serves the fleet, what each Region still has to apply from
// the other (the failback catch-up gate's reading of the apply's progress, and apply
// failures waiting in its error table) and the conflicts recorded there.
//
// It reads, through SDK-shaped interfaces: Route 53's health-check status (which
// Region the failover records answer), and in each Region its own apply-mark table
// (one GetItem: applymark.Progress) and error table (a Scan: failures.Recorder). It
// changes nothing. It is not the gate: the probe decides (functions/probe.Gate); this
// package shows the same reading to an operator.
package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/readiness"
)

// MaxRecent bounds the conflict examples per Region.
const MaxRecent = 5

// Report is the status of a deployment.
type Report struct {
	Domain string `json:"domain"`
	// Serving is the Region the custom domain sends the fleet to, ServingRole its role
	// (primary or secondary), From how that is known: "dns" (the zone's answer, the
	// simulator) or "health" (Route 53's failover rule applied to the health checks:
	// the primary while it is healthy, else the secondary while it is, else the
	// primary).
	Serving     string   `json:"serving"`
	ServingRole string   `json:"serving_role"`
	From        string   `json:"from"`
	Regions     []Region `json:"regions"`
}

// Region is one Region's status. Backlog is the direction from the other Region into
// this one.
type Region struct {
	Role    string `json:"role"`
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
	// Health says how the health check sees the Region (checkers healthy, the reason).
	Health    string    `json:"health,omitempty"`
	Backlog   Backlog   `json:"backlog"`
	Conflicts Conflicts `json:"conflicts"`
	// Errors are what could not be read (the rest is shown anyway).
	Errors []string `json:"errors,omitempty"`
}

// Backlog is what a Region still has to apply from From.
type Backlog struct {
	From string `json:"from"`
	// Behind, Changes, OldestAgeS and Batches are the catch-up gate's reading of the
	// apply's leases (applymark.BacklogOf at the gate's defaults): Changes counts the
	// changes in the batches being applied, a lower bound of the backlog.
	Behind     bool    `json:"behind"`
	Changes    int     `json:"changes"`
	OldestAgeS float64 `json:"oldest_age_s"`
	Batches    int     `json:"batches"`
	// ApplyFailures are the changes whose apply failed and waits in the error table for
	// the redrive; OldestApplyFailureAgeS the age of the oldest record.
	ApplyFailures          int     `json:"apply_failures"`
	OldestApplyFailureAgeS float64 `json:"oldest_apply_failure_age_s"`
}

// Conflicts are the Region's conflict records (spec.StageConflict): resources changed
// in both Regions whose change in this Region lost.
type Conflicts struct {
	Count  int        `json:"count"`
	Recent []Conflict `json:"recent,omitempty"`
}

// Conflict is one conflict record.
type Conflict struct {
	Key        string `json:"key"`
	RecordedAt string `json:"recorded_at"`
	Cause      string `json:"cause"`
}

// Pipeline is one Region's tables, as the stacks name them.
type Pipeline struct {
	Region, Peer string
	// Marks and MarkTable: the Region's apply-mark table (the apply's progress item).
	Marks     applymark.ProgressTable
	MarkTable string
	// Errors and ErrorTable: the Region's error table.
	Errors     failures.Table
	ErrorTable string
}

// Read fills r's backlog and conflicts from p at now; what cannot be read is added to
// r.Errors.
func (p Pipeline) Read(ctx context.Context, r *Region, now time.Time) {
	r.Backlog.From = p.Peer
	prog := &applymark.Progress{Table: p.Marks, Name: p.MarkTable, Region: p.Region}
	if leases, err := prog.Leases(ctx); err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("apply progress (%s): %v", p.MarkTable, err))
	} else {
		b := applymark.BacklogOf(leases, now, probe.DefaultCatchUpMaxAge, probe.DefaultCatchUpLinger)
		r.Backlog.Behind, r.Backlog.Changes, r.Backlog.Batches, r.Backlog.OldestAgeS = b.Behind, b.Changes, b.Batches, seconds(b.OldestAge)
	}
	recs, err := (&failures.Recorder{Table: p.Errors, Name: p.ErrorTable}).List(ctx)
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("error table (%s): %v", p.ErrorTable, err))
		return
	}
	for _, f := range recs {
		if f.Stage == spec.StageApply {
			r.Backlog.ApplyFailures++
			if at, err := time.Parse(time.RFC3339Nano, f.RecordedAt); err == nil {
				r.Backlog.OldestApplyFailureAgeS = max(r.Backlog.OldestApplyFailureAgeS, seconds(now.Sub(at)))
			}
		}
	}
	r.Conflicts = ConflictsOf(recs)
}

// ConflictsOf counts the conflict records among an error table's records and keeps
// the MaxRecent newest.
func ConflictsOf(recs []failures.Failure) Conflicts {
	var conflicts []failures.Failure
	for _, f := range recs {
		if f.Stage == spec.StageConflict {
			conflicts = append(conflicts, f)
		}
	}
	// Newest first (RecordedAt is RFC 3339 in UTC: it sorts as text).
	slices.SortFunc(conflicts, func(a, b failures.Failure) int { return strings.Compare(b.RecordedAt, a.RecordedAt) })
	c := Conflicts{Count: len(conflicts)}
	for _, f := range conflicts[:min(MaxRecent, len(conflicts))] {
		c.Recent = append(c.Recent, Conflict{Key: f.Key, RecordedAt: f.RecordedAt, Cause: f.Cause})
	}
	return c
}

// Route53 is the health-check call status makes (*route53.Client).
type Route53 interface {
	GetHealthCheckStatus(ctx context.Context, in *r53.GetHealthCheckStatusInput, optFns ...func(*r53.Options)) (*r53.GetHealthCheckStatusOutput, error)
}

// Health reads a health check's status as Route 53 aggregates it.
func Health(ctx context.Context, c Route53, id string) (healthy bool, detail string, err error) {
	st, err := c.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return false, "", fmt.Errorf("health check %s: %w", id, err)
	}
	ok, n, failing := readiness.CheckersHealthy(st.HealthCheckObservations)
	if n == 0 {
		return false, "no checker has reported yet", nil
	}
	detail = fmt.Sprintf("%d of %d checkers healthy", ok, n)
	if failing != "" {
		detail += " (" + failing + ")"
	}
	return readiness.Healthy(ok, n), detail, nil
}

// ServingByHealth applies Route 53's failover rule to the Regions' health (primary
// first in regions): the primary while healthy, else the secondary while healthy, else
// the primary (Route 53 answers the primary when both are unhealthy).
func (rep *Report) ServingByHealth() {
	rep.From = "health"
	if len(rep.Regions) == 0 {
		return
	}
	pick := rep.Regions[0]
	if !pick.Healthy && len(rep.Regions) > 1 && rep.Regions[1].Healthy {
		pick = rep.Regions[1]
	}
	rep.Serving, rep.ServingRole = pick.Name, pick.Role
}

// Exit codes of `iotdr status`.
const (
	// ExitNormal: the fleet is on the primary and no Region is behind or has apply
	// failures waiting.
	ExitNormal = 0
	// ExitAttention: failed over, the serving Region unhealthy (both are), a Region
	// behind (catching up) or with apply failures waiting in its error table.
	ExitAttention = 1
	// ExitUnknown: some of the status could not be read (what could is shown).
	ExitUnknown = 2
)

// Exit is the report's exit code.
func (rep *Report) Exit() int {
	code := ExitNormal
	for _, r := range rep.Regions {
		if len(r.Errors) > 0 {
			return ExitUnknown
		}
		if r.Backlog.Behind || r.Backlog.ApplyFailures > 0 {
			code = ExitAttention
		}
	}
	if rep.ServingRole != spec.RolePrimary {
		code = ExitAttention
	}
	for _, r := range rep.Regions {
		if r.Name == rep.Serving && !r.Healthy { // both unhealthy: Route 53 answers the primary anyway
			code = ExitAttention
		}
	}
	return code
}

// Err joins the Regions' read errors (nil without any).
func (rep *Report) Err() error {
	var errs []error
	for _, r := range rep.Regions {
		for _, e := range r.Errors {
			errs = append(errs, fmt.Errorf("%s: %s", r.Name, e))
		}
	}
	return errors.Join(errs...)
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// Source is one Region of a real deployment, as its stack outputs name it.
type Source struct {
	Role, Name    string
	HealthCheckID string
	Pipeline      Pipeline
}

// Collect reads a deployment's status: each Region's health check (Route 53) and
// pipeline tables, primary first in sources; the serving Region follows from the
// health (ServingByHealth).
func Collect(ctx context.Context, domain string, route53 Route53, sources []Source, now time.Time) Report {
	rep := Report{Domain: domain}
	for _, s := range sources {
		r := Region{Role: s.Role, Name: s.Name}
		healthy, detail, err := Health(ctx, route53, s.HealthCheckID)
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
		r.Healthy, r.Health = healthy, detail
		s.Pipeline.Read(ctx, &r, now)
		rep.Regions = append(rep.Regions, r)
	}
	rep.ServingByHealth()
	return rep
}
