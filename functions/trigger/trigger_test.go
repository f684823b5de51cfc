package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// fakeSFN records StartExecution calls; names listed in fail return that error.
type fakeSFN struct {
	mu      sync.Mutex
	started map[string]string // name -> input
	fail    map[string]error
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.Name)
	if err := f.fail[name]; err != nil {
		return nil, err
	}
	if prev, ok := f.started[name]; ok && prev != aws.ToString(in.Input) {
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("exists")}
	}
	f.started[name] = aws.ToString(in.Input)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:" + name)}, nil
}

type fakeTable struct {
	mu    sync.Mutex
	items []map[string]ddbtypes.AttributeValue
	err   error
}

func (f *fakeTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.items = append(f.items, in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func rec(seq string, img map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: img}}
}

func thingImage(id, thing, region string) map[string]events.DynamoDBAttributeValue {
	return map[string]events.DynamoDBAttributeValue{
		"uuid":          events.NewStringAttribute("u-" + id),
		"eventId":       events.NewStringAttribute(id),
		"eventType":     events.NewStringAttribute("THING_EVENT"),
		"operation":     events.NewStringAttribute("CREATED"),
		"thingName":     events.NewStringAttribute(thing),
		"versionNumber": events.NewNumberAttribute("1"),
		"source_region": events.NewStringAttribute(region),
		"attributes":    events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"a": events.NewStringAttribute("b")}),
	}
}

func TestHandle(t *testing.T) {
	sf := &fakeSFN{started: map[string]string{}, fail: map[string]error{
		"e-throttled": &sfntypes.InvalidArn{Message: aws.String("stand-in for a service error")},
	}}
	tbl := &fakeTable{}
	h := &Handler{Region: "eu-west-1", StateMachineARN: "arn:sm", SFN: sf, Errors: tbl, ErrorTableName: "errors"}

	shadow := map[string]events.DynamoDBAttributeValue{
		"uuid":      events.NewStringAttribute("u-shadow"),
		"eventType": events.NewStringAttribute("SHADOW_EVENT"),
		"thingName": events.NewStringAttribute("dev-2"),
		"state":     events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"reported": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"t": events.NewNumberAttribute("21.5")})}),
	}
	own := thingImage("e-own", "dev-3", "eu-west-1")
	legacy := thingImage("e-legacy", "dev-4", "")
	delete(legacy, "source_region")
	legacy["aws:rep:updateregion"] = events.NewStringAttribute("eu-west-1")
	unknown := thingImage("e-unknown", "dev-5", "us-east-1")
	unknown["eventType"] = events.NewStringAttribute("JOB_EVENT")

	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		rec("1", thingImage("e-1", "dev-1", "us-east-1")),
		rec("2", shadow),
		rec("3", own),
		rec("4", legacy),
		rec("5", thingImage("e-throttled", "dev-6", "us-east-1")),
		rec("6", unknown),
		rec("7", nil),
		{EventName: "REMOVE", Change: events.DynamoDBStreamRecord{SequenceNumber: "8"}},
		rec("9", thingImage("e-1", "dev-1", "us-east-1")), // redelivery
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "5" {
		t.Errorf("failures = %+v, want only sequence 5", resp.BatchItemFailures)
	}
	if len(sf.started) != 2 {
		t.Errorf("started %d executions (%v), want 2", len(sf.started), keys(sf.started))
	}
	var in map[string]any
	if err := json.Unmarshal([]byte(sf.started["e-1"]), &in); err != nil {
		t.Fatal(err)
	}
	if in["thingName"] != "dev-1" || in["versionNumber"] != float64(1) || in["attributes"].(map[string]any)["a"] != "b" {
		t.Errorf("execution input = %v", in)
	}
	if !strings.Contains(sf.started["u-shadow"], `"eventId":"u-shadow"`) {
		t.Errorf("shadow event input lacks its eventId: %s", sf.started["u-shadow"])
	}
	if len(tbl.items) != 2 {
		t.Fatalf("error table has %d records, want 2 (unknown type, no image)", len(tbl.items))
	}
	causes := ""
	for _, it := range tbl.items {
		causes += it["cause"].(*ddbtypes.AttributeValueMemberS).Value + "\n"
	}
	for _, want := range []string{`unknown eventType "JOB_EVENT"`, "no NewImage"} {
		if !strings.Contains(causes, want) {
			t.Errorf("error table causes lack %q:\n%s", want, causes)
		}
	}
}

func TestErrorTableDownFailsTheRecord(t *testing.T) {
	h := &Handler{Region: "eu-west-1", SFN: &fakeSFN{started: map[string]string{}}, Errors: &fakeTable{err: errors.New("unavailable")}}
	resp, _ := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec("1", nil)}})
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("bad input that could not be recorded must be retried, got %+v", resp)
	}
}

func TestExecutionName(t *testing.T) {
	for in, want := range map[string]string{
		"f5ae9b94-8b8e-4d8e":    "f5ae9b94-8b8e-4d8e",
		"a b/c:d":               "a-b-c-d",
		strings.Repeat("x", 90): strings.Repeat("x", 80),
	} {
		if got := ExecutionName(in); got != want {
			t.Errorf("ExecutionName(%q) = %q, want %q", in, got, want)
		}
	}
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}
