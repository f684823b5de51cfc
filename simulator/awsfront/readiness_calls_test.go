package awsfront_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

func dynamoClient(url, region string) *dynamodb.Client {
	return dynamodb.NewFromConfig(awsConfig(region), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

// TestSDKDynamoDB: the DynamoDB client describes each Region's state table (stream,
// the other Region's replica), reads and writes items of every attribute type, gets
// the fakes' conditional and not-found errors typed, and marks an apply in the mark
// table over the wire as `iotdr sync` does (applymark).
func TestSDKDynamoDB(t *testing.T) {
	ctx := context.Background()
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{})
	for _, r := range []*simulator.Region{w.Primary, w.Secondary} {
		db := dynamoClient(url, r.Name)
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(simulator.StateTableName)})
		if err != nil {
			t.Fatal(err)
		}
		tbl := out.Table
		other := w.Peer(r).Name
		if tbl.TableStatus != ddbtypes.TableStatusActive || aws.ToString(tbl.TableArn) != r.State.ARN() ||
			!aws.ToBool(tbl.StreamSpecification.StreamEnabled) || aws.ToString(tbl.LatestStreamArn) != r.State.StreamARN() ||
			len(tbl.Replicas) != 1 || aws.ToString(tbl.Replicas[0].RegionName) != other || tbl.Replicas[0].ReplicaStatus != ddbtypes.ReplicaStatusActive ||
			aws.ToString(tbl.KeySchema[0].AttributeName) != spec.StateAttrKey {
			t.Errorf("%s state table described as %+v", r.Name, tbl)
		}
		marks, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(simulator.MarkTableName)})
		if err != nil || len(marks.Table.Replicas) != 0 || marks.Table.StreamSpecification != nil {
			t.Errorf("%s mark table %+v, %v: want unreplicated, no stream", r.Name, marks, err)
		}
	}

	db := dynamoClient(url, w.Secondary.Name)
	item := map[string]ddbtypes.AttributeValue{
		spec.ErrorAttrID: &ddbtypes.AttributeValueMemberS{Value: "wire#1"},
		"n":              &ddbtypes.AttributeValueMemberN{Value: "42"},
		"b":              &ddbtypes.AttributeValueMemberB{Value: []byte{0, 1, 2}},
		"ok":             &ddbtypes.AttributeValueMemberBOOL{Value: true},
		"nil":            &ddbtypes.AttributeValueMemberNULL{Value: true},
		"ss":             &ddbtypes.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"l":              &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberS{Value: "x"}}},
		"m":              &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberN{Value: "1"}}},
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(simulator.ErrorTableName), Item: item}); err != nil {
		t.Fatal(err)
	}
	key := map[string]ddbtypes.AttributeValue{spec.ErrorAttrID: item[spec.ErrorAttrID]}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(simulator.ErrorTableName), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	// What the fake holds is what the client reads: the wire lost nothing.
	direct, err := w.Secondary.Errors.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(simulator.ErrorTableName), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Item) != len(item) || !sameJSON(t, got.Item, item) || !sameJSON(t, direct.Item, item) {
		t.Errorf("read back %v, want %v", got.Item, item)
	}
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(simulator.ErrorTableName), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(#id)"), ExpressionAttributeNames: map[string]string{"#id": spec.ErrorAttrID}})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Errorf("conditional put over an existing item: %v, want ConditionalCheckFailedException", err)
	}
	missing, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(simulator.ErrorTableName),
		Key: map[string]ddbtypes.AttributeValue{spec.ErrorAttrID: &ddbtypes.AttributeValueMemberS{Value: "none"}}})
	if err != nil || missing.Item != nil {
		t.Errorf("missing item: %v, %v", missing.Item, err)
	}
	var nf *ddbtypes.ResourceNotFoundException
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("nope")}); !errors.As(err, &nf) {
		t.Errorf("unknown table: %v, want ResourceNotFoundException", err)
	}
	var api smithy.APIError
	if _, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(simulator.StateTableName)}); !errors.As(err, &api) || api.ErrorCode() != "UnknownOperationException" {
		t.Errorf("Scan: %v, want UnknownOperationException", err)
	}

	// A mark over the wire is the mark the Region's capture reads.
	m := &applymark.Marks{Table: db, Name: simulator.MarkTableName}
	sp, err := m.Begin(ctx, "thing#wired")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.End(ctx, "thing#wired", sp); err != nil {
		t.Fatal(err)
	}
	mk, ok, err := w.Secondary.ApplyMarks().Get(ctx, "thing#wired")
	if err != nil || !ok || len(mk.Spans) != 1 || mk.Spans[0].Start != sp.Start || mk.Spans[0].End < sp.Start {
		t.Errorf("mark read in the Region: %+v %v %v", mk, ok, err)
	}
}

// sameJSON compares two items by their wire-independent form.
func sameJSON(t *testing.T, a, b map[string]ddbtypes.AttributeValue) bool {
	t.Helper()
	canon := func(it map[string]ddbtypes.AttributeValue) string {
		img, err := dynamo.ToEventImage(it)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(img) // map keys sorted
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return canon(a) == canon(b)
}

// TestSDKCloudWatchAlarms: the CloudWatch client (Smithy RPC v2 CBOR) describes the
// Region's alarms by name and prefix; a record in the error table puts the error-table
// alarm in ALARM, and clearing it puts it back to OK.
func TestSDKCloudWatchAlarms(t *testing.T) {
	ctx := context.Background()
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{})
	cw := cloudwatch.NewFromConfig(awsConfig(w.Primary.Name), func(o *cloudwatch.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
	names := f.Alarms[w.Primary.Name].Names()
	if len(names) == 0 || !strings.HasPrefix(names[0], "iotdr-primary-") {
		t.Fatalf("primary alarms %v", names)
	}
	state := func() cwtypes.StateValue {
		t.Helper()
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.MetricAlarms) != len(names) || aws.ToString(out.MetricAlarms[0].AlarmName) != names[0] ||
			!strings.HasPrefix(aws.ToString(out.MetricAlarms[0].AlarmArn), "arn:aws:cloudwatch:"+w.Primary.Name+":") {
			t.Fatalf("described %+v", out.MetricAlarms)
		}
		return out.MetricAlarms[0].StateValue
	}
	if st := state(); st != cwtypes.StateValueOk {
		t.Errorf("fresh error-table alarm %s", st)
	}
	key := map[string]ddbtypes.AttributeValue{spec.ErrorAttrID: &ddbtypes.AttributeValueMemberS{Value: "apply#thing#x"}}
	if _, err := w.Primary.Errors.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(simulator.ErrorTableName), Item: key}); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != cwtypes.StateValueAlarm {
		t.Errorf("with a record in the error table: %s", st)
	}
	if _, err := w.Primary.Errors.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(simulator.ErrorTableName), Key: key}); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != cwtypes.StateValueOk {
		t.Errorf("after clearing: %s", st)
	}
	none, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("other-")})
	if err != nil || len(none.MetricAlarms) != 0 {
		t.Errorf("prefix other-: %+v %v", none, err)
	}
	var api smithy.APIError
	if _, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names, AlarmNamePrefix: aws.String("iotdr")}); !errors.As(err, &api) ||
		api.ErrorCode() != "InvalidParameterCombination" {
		t.Errorf("names and prefix: %v", err)
	}
}

// TestSDKAccountSettings: the IoT client reads and changes the domain configuration
// the World starts with, the event configurations and the indexing mode; a disabled
// domain configuration refuses devices naming the domain.
func TestSDKAccountSettings(t *testing.T) {
	ctx := context.Background()
	w, _, f := start(t)
	url := serveHTTP(t, f, awsfront.HandlerOptions{})
	c := iotClient(url, w.Secondary.Name)
	name := aws.String(spec.DomainConfigurationName(spec.DefaultPrefix))
	d, err := c.DescribeDomainConfiguration(ctx, &iot.DescribeDomainConfigurationInput{DomainConfigurationName: name})
	if err != nil {
		t.Fatal(err)
	}
	if d.DomainConfigurationStatus != iottypes.DomainConfigurationStatusEnabled || aws.ToString(d.DomainName) != w.Options().Domain ||
		len(d.ServerCertificates) != 1 || d.LastStatusChangeDate == nil {
		t.Errorf("domain configuration %+v", d)
	}
	if _, err := c.UpdateDomainConfiguration(ctx, &iot.UpdateDomainConfigurationInput{DomainConfigurationName: name,
		DomainConfigurationStatus: iottypes.DomainConfigurationStatusDisabled}); err != nil {
		t.Fatal(err)
	}
	if w.Secondary.Registry.DomainEnabled(w.Options().Domain) {
		t.Error("the domain is still served")
	}
	conn, err := tls.Dial("tcp", w.Secondary.Broker.Addr(), &tls.Config{ServerName: w.Options().Domain, RootCAs: w.CA.Pool()})
	if err == nil {
		conn.Close()
		t.Error("a TLS handshake naming the disabled domain succeeded")
	}
	ev, err := c.DescribeEventConfigurations(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range spec.RegistryEventConfigurations() {
		if !ev.EventConfigurations[k].Enabled {
			t.Errorf("%s off over the wire", k)
		}
	}
	idx, err := c.GetIndexingConfiguration(ctx, nil)
	if err != nil || idx.ThingIndexingConfiguration.ThingIndexingMode != iottypes.ThingIndexingModeRegistry {
		t.Errorf("indexing %+v %v", idx, err)
	}
}
