package awsdrill

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/awsfront"
)

// sim is a World with its Edge behind the AWS-shaped front.
type sim struct {
	w     *simulator.World
	edge  *simulator.Edge
	front *awsfront.Front
}

const (
	// Probes are full MQTT round trips; under -race on a busy machine shorter
	// intervals make them time out.
	simInterval  = 250 * time.Millisecond
	simThreshold = 2
	simTTL       = 100 * time.Millisecond
)

func startSim(t *testing.T) *sim {
	t.Helper()
	ctx := context.Background()
	w, err := simulator.New(ctx, simulator.Options{})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	e, err := w.StartEdge(ctx, simulator.EdgeOptions{Interval: simInterval, FailureThreshold: simThreshold, TTL: simTTL})
	if err != nil {
		t.Fatalf("start edge: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	s := &sim{w: w, edge: e, front: awsfront.New(w, e)}
	// Let every checker probe at least once so the checks report data.
	waitFor(t, "checkers observed both Regions", func() bool {
		for _, c := range e.Checks {
			if !c.Healthy() {
				return false
			}
			for _, st := range c.Status() {
				if st.Checks == 0 {
					return false
				}
			}
		}
		return true
	})
	return s
}

// config is a drill configuration scaled to the simulator's timings.
func (s *sim) config(t *testing.T) Config {
	t.Helper()
	p, sec := s.front.StackOutputs()
	dep, err := DeploymentFromOutputs(p, sec)
	if err != nil {
		t.Fatalf("deployment from the front's outputs: %v", err)
	}
	return Config{Deployment: dep, Yes: true, PollInterval: 10 * time.Millisecond, WaitLimit: 20 * time.Second,
		HealthInterval: simInterval, FailureThreshold: simThreshold, TTL: simTTL, RestoreTimeout: 5 * time.Second}
}

func (s *sim) clients() Clients {
	return Clients{SSM: s.front.SSM[s.w.Primary.Name], Route53: s.front.Route53}
}

// switchValue reads the primary's force-fail switch.
func (s *sim) switchValue(t *testing.T) string {
	t.Helper()
	out, err := s.front.SSM[s.w.Primary.Name].GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(spec.ForceFailParameter(spec.DefaultPrefix))})
	if err != nil {
		t.Fatalf("read the switch: %v", err)
	}
	return aws.ToString(out.Parameter.Value)
}

// assertRecovered checks the switch is off and the probe really healthy again: the
// primary's check turns healthy and the zone answers PRIMARY.
func (s *sim) assertRecovered(t *testing.T) {
	t.Helper()
	if v := s.switchValue(t); v != "false" {
		t.Fatalf("force-fail switch is %q after the drill, want false", v)
	}
	waitFor(t, "primary healthy and answering", func() bool {
		a, _ := s.edge.Zone.Resolve(s.w.Options().Domain)
		return s.edge.Checks[s.w.Primary.Name].Healthy() && a.Which == "PRIMARY"
	})
}

// writeOutputs writes the front's stack outputs as two files.
func (s *sim) writeOutputs(t *testing.T) (primary, secondary string) {
	t.Helper()
	p, sec := s.front.StackOutputs()
	return writeJSON(t, "primary.json", p), writeJSON(t, "secondary.json", sec)
}

func writeJSON(t *testing.T, name string, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name, string(data))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		<-tick.C
	}
}

// recordingSSM records PutParameter calls and can fail or act on them.
type recordingSSM struct {
	SSMAPI
	mu    sync.Mutex
	puts  []putCall
	hook  func(value string) error // runs after a successful put; its error is returned
	block func(value string) error // runs instead of the put when it returns non-nil
}

type putCall struct {
	value  string
	ctxErr error
	// at is when the call was made, done when the store had answered.
	at, done time.Time
}

func (r *recordingSSM) PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	v := aws.ToString(in.Value)
	r.mu.Lock()
	i := len(r.puts)
	r.puts = append(r.puts, putCall{value: v, ctxErr: ctx.Err(), at: time.Now()})
	r.mu.Unlock()
	if r.block != nil {
		if err := r.block(v); err != nil {
			return nil, err
		}
	}
	out, err := r.SSMAPI.PutParameter(ctx, in, opts...)
	r.mu.Lock()
	r.puts[i].done = time.Now()
	r.mu.Unlock()
	if err == nil && r.hook != nil {
		err = r.hook(v)
	}
	return out, err
}

func (r *recordingSSM) calls() []putCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]putCall(nil), r.puts...)
}

// timedRoute53 records when the drill polls health check status and when an answer
// first named the record value watch.
type timedRoute53 struct {
	Route53API
	watch string

	mu       sync.Mutex
	statuses []time.Time
	answered time.Time
}

func (r *timedRoute53) GetHealthCheckStatus(ctx context.Context, in *route53.GetHealthCheckStatusInput, opts ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error) {
	r.mu.Lock()
	r.statuses = append(r.statuses, time.Now())
	r.mu.Unlock()
	return r.Route53API.GetHealthCheckStatus(ctx, in, opts...)
}

func (r *timedRoute53) TestDNSAnswer(ctx context.Context, in *route53.TestDNSAnswerInput, opts ...func(*route53.Options)) (*route53.TestDNSAnswerOutput, error) {
	out, err := r.Route53API.TestDNSAnswer(ctx, in, opts...)
	if err == nil && slices.Contains(out.RecordData, r.watch) {
		r.mu.Lock()
		if r.answered.IsZero() {
			r.answered = time.Now()
		}
		r.mu.Unlock()
	}
	return out, err
}

// firstStatusAfter is when the first status poll at or after t was made (zero if none).
func (r *timedRoute53) firstStatusAfter(t time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, at := range r.statuses {
		if !at.Before(t) {
			return at
		}
	}
	return time.Time{}
}

// firstAnswer is when an answer first named watch (zero if never).
func (r *timedRoute53) firstAnswer() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered
}
