package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/iot-dr/iot-dr/functions/apply"
	"github.com/iot-dr/iot-dr/functions/capture"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/authz"
	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/dynamo"
	"github.com/iot-dr/iot-dr/simulator/lambdart"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
	"github.com/iot-dr/iot-dr/simulator/rules"
	"github.com/iot-dr/iot-dr/simulator/shadow"
	"github.com/iot-dr/iot-dr/simulator/stepfn"
)

// Table names, as the stacks name them.
const (
	StateTableName = "iotdr-state"
	ErrorTableName = "iotdr-errors"
	MarkTableName  = spec.MarkTableName
)

// Region is one simulated AWS Region.
type Region struct {
	Name     string
	Registry *registry.Registry
	Broker   *broker.Broker
	Shadows  *shadow.Service
	Rules    *rules.Engine
	// State is this Region's replica of the state (global) table.
	State *dynamo.Table
	// Errors is this Region's own error table.
	Errors *dynamo.Table
	// Marks is this Region's own apply-mark table (functions/applymark).
	Marks         *dynamo.Table
	Lambda        *lambdart.Runtime
	StepFunctions *stepfn.Service
	// RecheckMachineARN and SweepMachineARN are the capture side's state machines
	// (set in a Region that captures).
	RecheckMachineARN, SweepMachineARN string
	// Lag collects the apply function's replication-lag samples (the CloudWatch
	// metric's stand-in).
	Lag *LagRecorder
	// Capturer is this Region's capture logic (the capture, re-check and sweep
	// functions share it).
	Capturer *capture.Capturer
	// Applier is this Region's apply logic; Replicator its convergence, reading this
	// Region's replica through a state.View.
	Applier    *apply.Applier
	Replicator *replication.Replicator

	applyGate gate
	stopMap   func()

	account string
	cancels []func()
	certs   *serverCerts
}

func newRegion(name string, o Options, ca *pki.CA, addr string) (*Region, error) {
	r := &Region{Name: name, account: o.AccountID, Lag: &LagRecorder{}}
	f := o.Fidelity
	// DescribeEndpoint answers the broker's IP: unlike the Region's endpoint name it
	// resolves without the simulator's DNS, and it is a SAN of the server certificate.
	host, _, _ := net.SplitHostPort(addr)
	r.Registry = registry.New(f.Registry(name, registry.Options{Region: name, AccountID: o.AccountID, Publisher: eventPublisher{r}, Rates: o.APIRates,
		Issuer: ca, DataEndpoint: host}))
	// The broker speaks MQTT over TLS and admits a device only as AWS IoT Core would: a
	// certificate registered and ACTIVE in this Region, and the IoT policies attached to it.
	// The Region's loopback IP is a SAN too, so ordinary MQTT clients (mosquitto_pub) can
	// connect by address and still verify the server.
	var ips []net.IP
	if net.ParseIP(host) != nil {
		ips = append(ips, net.ParseIP(host))
	}
	// The Region's own certificate names the domain too, for clients that send no SNI
	// and verify the domain anyway (ClientTLSWithoutSNI); SNI naming the domain gets
	// the domain configuration's certificate (serverCerts).
	cert, err := ca.IssueServer([]string{o.Domain, Endpoint(name)}, ips)
	if err != nil {
		return nil, fmt.Errorf("simulator: %s server certificate: %w", name, err)
	}
	domainCert, err := ca.IssueServer([]string{o.Domain}, nil)
	if err != nil {
		return nil, fmt.Errorf("simulator: %s domain certificate: %w", name, err)
	}
	r.certs = &serverCerts{domain: strings.ToLower(strings.TrimSuffix(o.Domain, ".")), own: &cert, served: &domainCert, enabled: r.Registry.DomainEnabled}
	// The stacks' domain configuration for the custom domain.
	if _, err := r.Registry.CreateDomainConfiguration(context.Background(), &iot.CreateDomainConfigurationInput{
		DomainConfigurationName: aws.String(spec.DomainConfigurationName(spec.DefaultPrefix)), DomainName: aws.String(r.certs.domain),
		ServiceType: iottypes.ServiceTypeData, ServerCertificateArns: []string{DomainCertificateARN(name, o.AccountID)},
	}); err != nil {
		return nil, fmt.Errorf("simulator: %s domain configuration: %w", name, err)
	}
	serverTLS := pki.ServerTLS(cert, ca.Pool())
	serverTLS.Certificates, serverTLS.GetCertificate = nil, r.certs.get
	az := authz.New(r.Registry, name, o.AccountID, o.Logger)
	az.JustInTime(r.Registry) // JITR and JITP on connect, for CAs registered with auto-registration
	if !o.SNIOptional {
		az.RequireSNI(Endpoint(name), o.Domain) // the Region's endpoint and its domain configuration
	}
	b, err := broker.New(broker.Options{Region: name, Addr: addr, Logger: o.Logger,
		TLS: serverTLS, Auth: az, Quotas: o.BrokerQuotas})
	if err != nil {
		return nil, fmt.Errorf("simulator: %s broker: %w", name, err)
	}
	r.Broker = b
	r.Shadows = shadow.New(b, f.Shadow(name)...)
	r.Registry.SetIndexSource(fleetIndex{r})
	for _, filter := range []string{"$aws/things/+/shadow/+", "$aws/things/+/shadow/name/+/+"} { // classic and named
		cancel, err := b.Handle(filter, r.Shadows.HandleMQTT)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("simulator: %s shadow topics: %w", name, err)
		}
		r.cancels = append(r.cancels, cancel)
	}
	r.Rules = rules.NewEngine(o.Logger, f.Rules(name)...)
	st, er := spec.StateTable(), spec.ErrorTable()
	r.State = dynamo.NewTable(name, o.AccountID, dynamo.Schema{Name: StateTableName, HashKey: st.HashKey, TTLAttribute: st.TTLAttribute, StreamView: st.StreamView, StreamShards: o.StreamShards}, f.Dynamo(name)...)
	r.Errors = dynamo.NewTable(name, o.AccountID, dynamo.Schema{Name: ErrorTableName, HashKey: er.HashKey}, f.Dynamo(name)...)
	mt := spec.MarkTable()
	r.Marks = dynamo.NewTable(name, o.AccountID, dynamo.Schema{Name: MarkTableName, HashKey: mt.HashKey, TTLAttribute: mt.TTLAttribute}, f.Dynamo(name)...)
	r.Lambda = lambdart.New(name, o.AccountID, o.Logger, append(f.Lambda(name), lambdart.WithTimeScale(o.TimeScale))...)
	r.StepFunctions = stepfn.New(f.StepFunctions(name, stepfn.Options{Region: name, AccountID: o.AccountID, Invoker: taskInvoker{r}, TimeScale: o.TimeScale, Logger: o.Logger}))
	return r, nil
}

// DomainCertificateARN is the (ACM-shaped) ARN of the certificate a Region's domain
// configuration serves.
func DomainCertificateARN(region, account string) string {
	return "arn:aws:acm:" + region + ":" + account + ":certificate/iotdr-simulator-domain"
}

// Endpoint is a Region's own IoT data endpoint name (its server certificate's SAN).
func Endpoint(region string) string { return "iot." + region + ".iotdr.test" }

// capture deploys the spec's capture rules, whose action invokes the capture function
// asynchronously, as a Lambda rule action does.
func (r *Region) capture() error {
	for _, rule := range spec.CaptureRules() {
		if err := r.Rules.Add(rules.Rule{Name: rule.Name, SQL: rule.SQL, Action: invokeAsync(r.Lambda, spec.FunctionCapture)}); err != nil {
			return fmt.Errorf("simulator: %s rule %s: %w", r.Name, rule.Name, err)
		}
	}
	for _, f := range r.Rules.Filters() {
		cancel, err := r.Broker.Handle(f, r.Rules.HandleFilter(f))
		if err != nil {
			return fmt.Errorf("simulator: %s rules on %s: %w", r.Name, f, err)
		}
		r.cancels = append(r.cancels, cancel)
	}
	return nil
}

func (r *Region) createStateMachine(ctx context.Context, name, def string) (string, error) {
	out, err := r.StepFunctions.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(name),
		Definition: aws.String(def),
		RoleArn:    aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s", r.account, name)),
	})
	if err != nil {
		return "", fmt.Errorf("simulator: %s state machine: %w", r.Name, err)
	}
	return aws.ToString(out.StateMachineArn), nil
}

func (r *Region) close() error {
	// The delivery timers first, so that nothing is published into a closing Region.
	if r.Registry != nil {
		r.Registry.Close()
	}
	if r.Rules != nil {
		r.Rules.Close()
	}
	if r.Lambda != nil {
		r.Lambda.Close()
	}
	for i := len(r.cancels) - 1; i >= 0; i-- {
		r.cancels[i]()
	}
	r.cancels = nil
	if r.StepFunctions != nil {
		r.StepFunctions.Close()
	}
	if r.Broker != nil {
		return r.Broker.Close()
	}
	return nil
}

// invokeAsync is a topic rule's Lambda action: the rule's message, invoked
// asynchronously.
func invokeAsync(rt *lambdart.Runtime, function string) rules.Action {
	return rules.ActionFunc(func(_ context.Context, msg map[string]any) error {
		payload, err := json.Marshal(msg)
		if err != nil {
			return fmt.Errorf("simulator: encode rule message for %s: %w", function, err)
		}
		rt.InvokeAsync(function, payload)
		return nil
	})
}

// eventPublisher publishes registry events on the Region's broker at QoS 1, as AWS does.
// The registry exists before the broker (whose authoriser reads it), hence the indirection.
type eventPublisher struct{ r *Region }

func (p eventPublisher) Publish(topic string, payload []byte) error {
	return p.r.Broker.Publish(topic, payload, 1)
}

// taskInvoker runs the state machine's Task resources in this Region: Lambda functions
// through the runtime and the DynamoDB putItem service integration on the Region's tables.
type taskInvoker struct{ r *Region }

const putItemResource = "arn:aws:states:::dynamodb:putItem"

func (t taskInvoker) InvokeTask(ctx context.Context, resource string, input []byte) ([]byte, error) {
	if resource == putItemResource {
		return t.putItem(ctx, input)
	}
	out, err := t.r.Lambda.Invoke(ctx, resource, input)
	var fe *lambdart.FunctionError
	if errors.As(err, &fe) {
		return nil, stepfn.NewTaskError(fe.Type, fe.Message)
	}
	var tm *lambdart.TooManyRequestsException
	if errors.As(err, &tm) {
		return nil, stepfn.NewTaskError("Lambda.TooManyRequestsException", tm.Error())
	}
	if err != nil {
		return nil, stepfn.NewTaskError("Lambda.ServiceException", err.Error())
	}
	return out, nil
}

func (t taskInvoker) putItem(ctx context.Context, input []byte) ([]byte, error) {
	var p struct {
		TableName string
		Item      map[string]events.DynamoDBAttributeValue
	}
	if err := json.Unmarshal(input, &p); err != nil {
		return nil, stepfn.NewTaskError("DynamoDB.ValidationException", err.Error())
	}
	var tbl *dynamo.Table
	switch p.TableName {
	case StateTableName:
		tbl = t.r.State
	case ErrorTableName:
		tbl = t.r.Errors
	default:
		return nil, stepfn.NewTaskError("DynamoDB.ResourceNotFoundException", "no table "+p.TableName)
	}
	item, err := dynamo.FromEventImage(p.Item)
	if err != nil {
		return nil, stepfn.NewTaskError("DynamoDB.ValidationException", err.Error())
	}
	if _, err := tbl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.TableName), Item: item}); err != nil {
		return nil, stepfn.NewTaskError("DynamoDB.AmazonDynamoDBException", err.Error())
	}
	return []byte(`{}`), nil
}

// LagRecorder keeps replication-lag samples in memory: the simulator's CloudWatch.
type LagRecorder struct {
	mu      sync.Mutex
	samples []time.Duration
}

// RecordLag stores one sample.
func (l *LagRecorder) RecordLag(_ context.Context, _ string, lag time.Duration) error {
	l.mu.Lock()
	l.samples = append(l.samples, lag)
	l.mu.Unlock()
	return nil
}

// Percentile returns the p-th percentile (0-100) of the samples so far, 0 without any.
func (l *LagRecorder) Percentile(p float64) time.Duration {
	l.mu.Lock()
	s := append([]time.Duration(nil), l.samples...)
	l.mu.Unlock()
	if len(s) == 0 {
		return 0
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

// Reset drops the samples.
func (l *LagRecorder) Reset() {
	l.mu.Lock()
	l.samples = nil
	l.mu.Unlock()
}

// fleetIndex is what the Region's fleet index reads beyond the registry, for its
// dynamic thing groups: the shadow service's documents and the broker's connections.
type fleetIndex struct{ r *Region }

func (f fleetIndex) ShadowFields(thing, shadowName string) (map[string]string, bool) {
	return f.r.Shadows.IndexedFields(thing, shadowName)
}

func (f fleetIndex) Connected(thing string) bool { return f.r.Broker.ClientConnected(thing) }
