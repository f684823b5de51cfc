package status

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// checks is a Route 53 fake: each health check's checkers' latest reports.
type checks map[string][]string

func (c checks) GetHealthCheckStatus(_ context.Context, in *r53.GetHealthCheckStatusInput, _ ...func(*r53.Options)) (*r53.GetHealthCheckStatusOutput, error) {
	reports, ok := c[aws.ToString(in.HealthCheckId)]
	if !ok {
		return nil, &r53types.NoSuchHealthCheck{Message: aws.String("no such health check")}
	}
	out := &r53.GetHealthCheckStatusOutput{}
	for _, s := range reports {
		out.HealthCheckObservations = append(out.HealthCheckObservations, r53types.HealthCheckObservation{StatusReport: &r53types.StatusReport{Status: aws.String(s)}})
	}
	return out, nil
}

const (
	ok200 = "Success: HTTP Status Code 200, OK"
	bad   = "Failure: HTTP Status Code 503, Service Unavailable"
)

type tables struct{ marks, errs *dynamo.Table }

func newTables(region string) tables {
	mt, et := spec.MarkTable(), spec.ErrorTable()
	return tables{
		marks: dynamo.NewTable(region, "123456789012", dynamo.Schema{Name: "marks", HashKey: mt.HashKey, TTLAttribute: mt.TTLAttribute}),
		errs:  dynamo.NewTable(region, "123456789012", dynamo.Schema{Name: "errors", HashKey: et.HashKey, TTLAttribute: et.TTLAttribute}),
	}
}

func (tb tables) source(role, region, peer, check string) Source {
	return Source{Role: role, Name: region, HealthCheckID: check,
		Pipeline: Pipeline{Region: region, Peer: peer, Marks: tb.marks, MarkTable: "marks", Errors: tb.errs, ErrorTable: "errors"}}
}

// holdOldBatch leaves an apply invocation of region holding a change captured in peer
// a minute ago.
func holdOldBatch(t *testing.T, tb tables, region, peer string) {
	t.Helper()
	p := &applymark.Progress{Table: tb.marks, Name: "marks", Region: region}
	entered, hold, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	h := p.Track(func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		close(entered)
		<-hold
		return events.DynamoDBEventResponse{}, nil
	})
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{Change: events.DynamoDBStreamRecord{NewImage: map[string]events.DynamoDBAttributeValue{
		spec.StateAttrOrigin:     events.NewStringAttribute(peer),
		spec.StateAttrCapturedAt: events.NewNumberAttribute(strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)),
	}}}}}
	go func() {
		defer close(done)
		_, _ = h(context.Background(), ev)
	}()
	<-entered
	t.Cleanup(func() { close(hold); <-done })
}

func record(t *testing.T, tb tables, stage, key, cause string, at time.Time) {
	t.Helper()
	rec := &failures.Recorder{Table: tb.errs, Name: "errors", Now: func() time.Time { return at }}
	if err := rec.Record(context.Background(), stage, key, "Test", errors.New(cause), nil); err != nil {
		t.Fatal(err)
	}
}

func TestCollect(t *testing.T) {
	const p, s = "us-east-1", "eu-west-1"
	now := time.Now()
	tests := []struct {
		name     string
		health   checks
		prepare  func(t *testing.T, pt, st tables)
		serving  string
		exit     int
		check    func(t *testing.T, rep Report)
		wantText []string
	}{
		{
			name: "the fleet on the primary, nothing behind", health: checks{"hp": {ok200, ok200, ok200}, "hs": {ok200, ok200, ok200}},
			serving: p, exit: ExitNormal,
			wantText: []string{"served by us-east-1 (primary), from the health checks", "eu-west-1 -> us-east-1"},
		},
		{
			name: "failed over: the primary's checks fail", health: checks{"hp": {bad, bad, ok200, bad, bad, bad}, "hs": {ok200, ok200, ok200}},
			serving: s, exit: ExitAttention,
			check: func(t *testing.T, rep Report) {
				if rep.Regions[0].Healthy || !strings.Contains(rep.Regions[0].Health, "1 of 6 checkers healthy (Failure: HTTP Status Code 503") {
					t.Errorf("primary health %v %q", rep.Regions[0].Healthy, rep.Regions[0].Health)
				}
			},
		},
		{
			name: "both unhealthy: Route 53 answers the primary", health: checks{"hp": {bad}, "hs": {bad}}, serving: p, exit: ExitAttention,
		},
		{
			name: "the primary catching up, with apply failures and conflicts", health: checks{"hp": {ok200}, "hs": {ok200}},
			prepare: func(t *testing.T, pt, _ tables) {
				holdOldBatch(t, pt, p, s)
				record(t, pt, spec.StageApply, "thing#a", "throttled", now.Add(-2*time.Minute))
				for i, k := range []string{"thing#c1", "thing#c2", "thing#c3", "thing#c4", "thing#c5", "thing#c6"} {
					record(t, pt, spec.StageConflict, k, "both changed "+k, now.Add(time.Duration(i-10)*time.Second))
				}
				record(t, pt, spec.StageCapture, "thing#x", "not a backlog", now)
			},
			serving: p, exit: ExitAttention,
			check: func(t *testing.T, rep Report) {
				b, c := rep.Regions[0].Backlog, rep.Regions[0].Conflicts
				if b.From != s || !b.Behind || b.Changes != 1 || b.Batches != 1 || b.OldestAgeS < 59 || b.ApplyFailures != 1 || b.OldestApplyFailureAgeS < 119 {
					t.Errorf("primary backlog %+v", b)
				}
				if c.Count != 6 || len(c.Recent) != MaxRecent || c.Recent[0].Key != "thing#c6" || c.Recent[0].Cause != "both changed thing#c6" {
					t.Errorf("primary conflicts %+v", c)
				}
				if sb := rep.Regions[1].Backlog; sb.Behind || sb.Changes != 0 || sb.ApplyFailures != 0 || rep.Regions[1].Conflicts.Count != 0 {
					t.Errorf("secondary %+v", rep.Regions[1])
				}
			},
			wantText: []string{"recent conflicts in us-east-1", "thing#c6"},
		},
		{
			name: "what cannot be read is reported, the rest shown", health: checks{"hp": {ok200}},
			serving: p, exit: ExitUnknown,
			check: func(t *testing.T, rep Report) {
				if len(rep.Regions[1].Errors) != 1 || !strings.Contains(rep.Regions[1].Errors[0], "health check hs") || len(rep.Regions[0].Errors) != 0 {
					t.Errorf("errors %v / %v", rep.Regions[0].Errors, rep.Regions[1].Errors)
				}
			},
			wantText: []string{"eu-west-1: could not read health check hs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, st := newTables(p), newTables(s)
			if tt.prepare != nil {
				tt.prepare(t, pt, st)
			}
			rep := Collect(context.Background(), "iot.example.com", tt.health,
				[]Source{pt.source(spec.RolePrimary, p, s, "hp"), st.source(spec.RoleSecondary, s, p, "hs")}, time.Now())
			if rep.Serving != tt.serving || rep.From != "health" || rep.Exit() != tt.exit {
				t.Fatalf("serving %s from %s, exit %d; want %s, exit %d (%+v)", rep.Serving, rep.From, rep.Exit(), tt.serving, tt.exit, rep)
			}
			if tt.check != nil {
				tt.check(t, rep)
			}
			var text, js bytes.Buffer
			if err := PrintText(&text, rep); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(text.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, text.String())
				}
			}
			if err := WriteJSON(&js, rep); err != nil || !strings.Contains(js.String(), `"serving": "`+tt.serving+`"`) {
				t.Errorf("JSON (%v):\n%s", err, js.String())
			}
		})
	}
}
