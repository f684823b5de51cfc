package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/event"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/trigger"
	"github.com/iot-dr/iot-dr/simulator"
)

// invokeTrigger hands records to the secondary's trigger as a redelivering stream would.
func invokeTrigger(t *testing.T, w *simulator.World, recs []events.DynamoDBEventRecord) events.DynamoDBEventResponse {
	t.Helper()
	payload, err := json.Marshal(events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Secondary.Lambda.Invoke(context.Background(), spec.FunctionTrigger, payload)
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func someChanges(t *testing.T, w *simulator.World) {
	t.Helper()
	ctx := context.Background()
	createType(t, w, "sensor")
	must(t)(w.Primary.Registry.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("g1")}))
	for i := range 5 {
		provision(t, w, simulator.Device{Thing: fmt.Sprintf("dev-%d", i), ThingType: "sensor", Groups: []string{"g1"},
			Attributes: map[string]string{"v": "1"}})
		updateShadow(t, w.Primary, fmt.Sprintf("dev-%d", i), fmt.Sprintf(`{"state":{"reported":{"seq":%d}}}`, i))
	}
	for i := range 3 {
		must(t)(w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-0"),
			AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"v": fmt.Sprint(i + 2)}}}))
	}
	must(t)(w.Primary.Registry.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("dev-1"), ThingGroupName: aws.String("g1")}))
}

func TestDuplicateDeliveryOfEveryRecord(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	someChanges(t, w)
	settle(t, w)
	assertConverged(t, w, "dev-0", "dev-4")
	_, before := lambdaFailures(t, w)

	// The stream redelivers every record: no new execution may start.
	recs := w.Secondary.Events.Stream().Read("", 10000)
	if resp := invokeTrigger(t, w, recs); len(resp.BatchItemFailures) > 0 {
		t.Fatalf("redelivery failed records: %+v", resp.BatchItemFailures)
	}
	settle(t, w)
	if _, after := lambdaFailures(t, w); len(after) != len(before) {
		t.Errorf("redelivery started %d new executions", len(after)-len(before))
	}
	// And applying every event a second time changes nothing.
	for _, r := range recs {
		doc, err := trigger.ImageJSON(r.Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Decode(doc)
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.Workers.Apply(context.Background(), ev)
		if err != nil {
			t.Fatalf("re-apply %s: %v", ev.ID(), err)
		}
		if len(res.Changes) > 0 {
			t.Errorf("re-applying %s %s changed %v", ev.EventType, ev.ID(), res.Changes)
		}
	}
	assertConverged(t, w, "dev-0", "dev-4")
}

func TestRecordsDeliveredOutOfOrder(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	w.Replication.Pause()
	someChanges(t, w)
	must(t)(w.Primary.Registry.DetachThingPrincipal(context.Background(), &iot.DetachThingPrincipalInput{ThingName: aws.String("dev-2"),
		Principal: principal(t, w, "dev-2")}))
	must(t)(w.Primary.Registry.DeleteThing(context.Background(), &iot.DeleteThingInput{ThingName: aws.String("dev-2")}))

	// Deliver what the primary captured newest first, then let replication redeliver it
	// in order on top.
	recs := w.Primary.Events.Stream().Read("", 10000)
	slices.Reverse(recs)
	if resp := invokeTrigger(t, w, recs); len(resp.BatchItemFailures) > 0 {
		t.Fatalf("failed records: %+v", resp.BatchItemFailures)
	}
	settle(t, w)
	assertConverged(t, w, "dev-0", "dev-1", "dev-2", "dev-3")
	w.Replication.Resume()
	settle(t, w)
	assertConverged(t, w, "dev-0", "dev-1", "dev-2", "dev-3")
}

func principal(t *testing.T, w *simulator.World, thing string) *string {
	t.Helper()
	p := must(t)(w.Primary.Registry.ListThingPrincipals(context.Background(), &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})).(*iot.ListThingPrincipalsOutput)
	return aws.String(p.Principals[0])
}

func TestWorkerFailingTwiceThenSucceeding(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	w.Secondary.Lambda.SetCrash(spec.FunctionThing, 2)
	provision(t, w, simulator.Device{Thing: "dev-1", Attributes: map[string]string{"a": "b"}})
	settle(t, w)
	assertConverged(t, w)
	failed, execs := lambdaFailures(t, w)
	if failed != 2 {
		t.Errorf("history shows %d failed Lambda attempts, want 2 (retried)", failed)
	}
	for _, e := range execs {
		if e.Status != "SUCCEEDED" {
			t.Errorf("execution %s is %s", aws.ToString(e.Name), e.Status)
		}
	}
	if n := w.Secondary.Errors.Len(); n != 0 {
		t.Errorf("error table has %d records", n)
	}
}

// A failure that outlasts the retries lands in the error table with its reason; the
// reconciler re-drives it once the cause is gone.
func TestPermanentFailureRepairedByReconciler(t *testing.T) {
	w := newWorld(t, simulator.Options{Retry: spec.Retry{IntervalSeconds: 1, BackoffRate: 1, MaxAttempts: 2}})
	w.Secondary.Registry.SetAvailable(false)
	provision(t, w, simulator.Device{Thing: "dev-1", Attributes: map[string]string{"a": "b"}})
	settle(t, w)

	items := must(t)(w.Secondary.Errors.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(simulator.ErrorTableName)})).(*dynamodb.ScanOutput).Items
	if len(items) != 1 {
		t.Fatalf("error table has %d records, want 1", len(items))
	}
	rec := items[0]
	if got := attr(rec, spec.ErrorAttrEventType); got != spec.EventThing {
		t.Errorf("recorded event type %q", got)
	}
	if attr(rec, spec.ErrorAttrEventID) == "" || !strings.Contains(attr(rec, spec.ErrorAttrCause), "ServiceUnavailable") {
		t.Errorf("record lacks the event id or the reason: %v / %v", attr(rec, spec.ErrorAttrEventID), attr(rec, spec.ErrorAttrCause))
	}
	if _, err := w.Secondary.Registry.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String("dev-1")}); err == nil {
		t.Fatal("thing replicated although the secondary was down")
	}

	// Still down: the re-drive fails and keeps the record.
	resp, err := w.Reconcile(context.Background(), false)
	if err != nil || resp.StillFailing != 1 || w.Secondary.Errors.Len() != 1 {
		t.Fatalf("re-drive while down: %+v, %v, %d records", resp, err, w.Secondary.Errors.Len())
	}
	w.Secondary.Registry.SetAvailable(true)
	resp, err = w.Reconcile(context.Background(), false)
	if err != nil || resp.Redriven != 1 {
		t.Fatalf("re-drive: %+v, %v", resp, err)
	}
	if n := w.Secondary.Errors.Len(); n != 0 {
		t.Errorf("error table still has %d records", n)
	}
	assertConverged(t, w)
}

func TestReconcilerRepairsDrift(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "dev-1", Attributes: map[string]string{"a": "b"}})
	settle(t, w)
	ctx := context.Background()
	// Changes nobody captured: drift in the secondary, and a thing created while
	// replication lost its record.
	must(t)(w.Secondary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev-1"),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"a": "drifted"}}}))
	must(t)(w.Secondary.Registry.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("stray")}))
	updateShadow(t, w.Secondary, "dev-1", `{"state":{"reported":{"x":1}}}`)
	if d := mustDiff(t, w); len(d) == 0 {
		t.Fatal("drift not detected")
	}
	resp, err := w.Reconcile(ctx, true)
	if err != nil || resp.Full == nil || resp.Full.Changed() == 0 {
		t.Fatalf("full reconcile: %+v, %v", resp, err)
	}
	assertConverged(t, w, "dev-1")
}

func TestOwnRegionRecordsIgnored(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	// A record captured in the secondary itself (its rules during failback) must not be
	// applied back onto it.
	item := map[string]ddbtypes.AttributeValue{
		"uuid":                &ddbtypes.AttributeValueMemberS{Value: "local-1"},
		"eventId":             &ddbtypes.AttributeValueMemberS{Value: "local-event-1"},
		"eventType":           &ddbtypes.AttributeValueMemberS{Value: spec.EventThing},
		"thingName":           &ddbtypes.AttributeValueMemberS{Value: "local-thing"},
		spec.AttrSourceRegion: &ddbtypes.AttributeValueMemberS{Value: w.Secondary.Name},
	}
	must(t)(w.Secondary.Events.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(simulator.EventTableName), Item: item}))
	provision(t, w, simulator.Device{Thing: "dev-1"})
	settle(t, w)
	assertConverged(t, w)
	_, execs := lambdaFailures(t, w)
	if len(execs) == 0 {
		t.Fatal("no executions at all: the pipeline did not run, so the check below proves nothing")
	}
	for _, e := range execs {
		if aws.ToString(e.Name) == "local-event-1" {
			t.Error("an execution was started for a record written in the secondary's own Region")
		}
	}
}

func TestBadInputRecordedRestApplied(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	w.Replication.Pause()
	put := func(id string, fields map[string]ddbtypes.AttributeValue) {
		fields["uuid"] = &ddbtypes.AttributeValueMemberS{Value: "u-" + id}
		fields[spec.AttrSourceRegion] = &ddbtypes.AttributeValueMemberS{Value: w.Primary.Name}
		must(t)(w.Primary.Events.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(simulator.EventTableName), Item: fields}))
	}
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	put("malformed", map[string]ddbtypes.AttributeValue{"eventId": s("bad-json"), "eventType": s(spec.EventThing), "thingName": s("x"),
		"versionNumber": s("not a number")})
	put("unknown", map[string]ddbtypes.AttributeValue{"eventId": s("bad-type"), "eventType": s("JOB_EVENT")})
	put("missing", map[string]ddbtypes.AttributeValue{"eventId": s("bad-missing"), "eventType": s(spec.EventThingGroup)})
	put("oversized", map[string]ddbtypes.AttributeValue{"eventId": s("bad-size"), "eventType": s(spec.EventThing), "thingName": s("dev-9"),
		"attributes": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"blob": s(strings.Repeat("x", 5000))}}})
	provision(t, w, simulator.Device{Thing: "dev-1"})
	w.Replication.Resume()
	settle(t, w)
	assertConverged(t, w)

	items := must(t)(w.Secondary.Errors.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(simulator.ErrorTableName)})).(*dynamodb.ScanOutput).Items
	got := map[string]string{}
	for _, it := range items {
		got[attr(it, spec.ErrorAttrEventID)] = attr(it, spec.ErrorAttrCause)
	}
	for id, want := range map[string]string{
		"bad-json":    "malformed event JSON",
		"bad-type":    `unknown eventType "JOB_EVENT"`,
		"bad-missing": "missing thingGroupName",
		"bad-size":    "value is 5000 characters",
	} {
		if !strings.Contains(got[id], want) {
			t.Errorf("error table record for %s: cause %q, want it to contain %q", id, got[id], want)
		}
	}
	if len(items) != 4 {
		t.Errorf("error table has %d records, want 4: %v", len(items), got)
	}
}

func attr(item map[string]ddbtypes.AttributeValue, k string) string {
	if v, ok := item[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func mustDiff(t *testing.T, w *simulator.World) []string {
	t.Helper()
	d, err := replication.Diff(context.Background(), w.Primary.Registry, w.Secondary.Registry, w.Primary.Name, w.Secondary.Name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
