package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	probefn "github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/simulator"
)

// probeAnswer is the part of the probe's JSON body the test reads.
type probeAnswer struct {
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Backlog *struct {
		Behind     bool    `json:"behind"`
		Changes    int     `json:"changes"`
		OldestAgeS float64 `json:"oldestAgeS"`
		Serving    bool    `json:"serving"`
	} `json:"backlog"`
}

// TestFailbackWaitsForCatchUp: the primary fails, the fleet's Region (the secondary)
// is changed, and the primary comes back with its apply stalled (PauseApply), so the
// changes reach its replica but are not applied: its probe answers 503 "catching up"
// with the backlog although its broker round-trips, and DNS stays on the secondary.
// Once the apply resumes and drains, the probe answers healthy and DNS returns to the
// primary, which by then holds every change.
func TestFailbackWaitsForCatchUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := newWorld(t, simulator.Options{})
	const n = 8
	for i := range n {
		provision(t, w, simulator.Device{Thing: fmt.Sprintf("cu-%02d", i)})
	}
	settle(t, w)
	const interval, threshold = 100 * time.Millisecond, 3
	edge, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: interval, FailureThreshold: threshold, TTL: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	p, s := w.Primary, w.Secondary
	waitUntil(t, ctx, "DNS answers the primary", func() bool { return answers(edge, "PRIMARY") })

	w.SetRegionDown(p, true)
	waitUntil(t, ctx, "DNS answers the secondary", func() bool { return answers(edge, "SECONDARY") })
	for i := range n {
		if _, err := s.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(fmt.Sprintf("cu-%02d", i)),
			AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"failover": "made-in-secondary"}}}); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, w) // captured in the secondary; replication to the primary is held by its outage

	p.PauseApply()
	restored := time.Now()
	w.SetRegionDown(p, false)
	var seen probeAnswer
	waitUntil(t, ctx, "the primary's probe answers catching up", func() bool {
		code, body, err := edge.Probe(ctx, p.Name)
		if err != nil || code != http.StatusServiceUnavailable || json.Unmarshal(body, &seen) != nil {
			return false
		}
		return seen.Reason == probefn.ReasonCatchingUp
	})
	if seen.Backlog == nil || !seen.Backlog.Behind || seen.Backlog.Changes < 1 || seen.Backlog.OldestAgeS <= 0 || seen.Backlog.Serving {
		t.Fatalf("catching up without the backlog: %+v", seen.Backlog)
	}
	t.Logf("primary catching up: %d changes held, the oldest %.3fs old", seen.Backlog.Changes, seen.Backlog.OldestAgeS)
	// While the apply is stalled the gate holds: over several times the health checks'
	// reaction time (threshold x interval) DNS never answers the primary.
	hold := time.Now().Add(4 * threshold * interval)
	for time.Now().Before(hold) {
		if answers(edge, "PRIMARY") {
			t.Fatalf("DNS answers the primary while it has %d changes to apply", seen.Backlog.Changes)
		}
		if code, _, err := edge.Probe(ctx, p.Name); err == nil && code == http.StatusOK {
			t.Fatal("the primary's probe answered healthy while its apply is stalled with a backlog")
		}
		time.Sleep(interval / 4) // pacing the observation, not waiting for a condition
	}

	resumed := time.Now()
	p.ResumeApply()
	waitUntil(t, ctx, "DNS answers the primary again", func() bool { return answers(edge, "PRIMARY") })
	var back time.Time
	for _, a := range edge.Zone.Answers() {
		if a.Which == "PRIMARY" && a.At.After(restored) {
			back = a.At
			break
		}
	}
	if !back.After(resumed) {
		t.Fatalf("DNS returned to the primary at %s, before its apply resumed at %s", back.Format(time.StampMilli), resumed.Format(time.StampMilli))
	}
	// The gate sees the batches the apply holds; a record the stream had not yet
	// handed to the apply when its held batch drained is not in them (the documented
	// limit, docs/architecture.md "The catch-up gate"): it is applied just after.
	settle(t, w)
	for i := range n {
		thing := fmt.Sprintf("cu-%02d", i)
		out, err := p.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Attributes["failover"]; got != "made-in-secondary" {
			t.Errorf("after failback %s has failover=%q in the primary", thing, got)
		}
	}
	t.Logf("restored -> resumed %s, resumed -> DNS on the primary %s", resumed.Sub(restored).Round(time.Millisecond), back.Sub(resumed).Round(time.Millisecond))
}

// answers reports whether DNS answers which (PRIMARY or SECONDARY) for the domain.
func answers(e *simulator.Edge, which string) bool {
	a, ok := e.Zone.Resolve(e.Zone.Domain())
	return ok && a.Which == which
}
