package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
)

func TestDefaultQuotas(t *testing.T) {
	tests := []struct {
		region   string
		update   float64
		list     float64
		perThing float64
	}{
		{"us-east-1", 4000, 10, 20},
		{"eu-west-1", 4000, 10, 20},
		{"us-west-2", 4000, 10, 20},
		{"eu-central-1", 400, 10, 20},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			q := DefaultQuotas(tt.region)
			if q.Account[APIUpdateThingShadow] != tt.update || q.Account[APIGetThingShadow] != tt.update ||
				q.Account[APIDeleteThingShadow] != tt.update || q.Account[APIListNamedShadowsForThing] != tt.list || q.PerThing != tt.perThing {
				t.Errorf("DefaultQuotas(%s) = %+v", tt.region, q)
			}
		})
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newQuotaService(t *testing.T, q Quotas, opts ...Option) (*Service, *fakePublisher, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(now, 0)}
	pub := &fakePublisher{}
	return New(pub, append([]Option{WithClock(clk.now), WithQuotas(q)}, opts...)...), pub, clk
}

func update(s *Service, thing string) error {
	_, err := s.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{
		ThingName: aws.String(thing), Payload: []byte(`{"state":{"reported":{"on":true}}}`)})
	return err
}

func isThrottled(err error) bool {
	var te *types.ThrottlingException
	return errors.As(err, &te)
}

func TestDataPlaneQuotas(t *testing.T) {
	type step struct {
		thing     string
		advance   time.Duration
		throttled bool
	}
	tests := []struct {
		name  string
		q     Quotas
		steps []step
	}{
		{name: "unlimited", steps: []step{{thing: "a"}, {thing: "a"}, {thing: "a"}, {thing: "a"}}},
		{
			name: "account bucket", q: Quotas{Account: map[string]float64{APIUpdateThingShadow: 2}},
			steps: []step{{thing: "a"}, {thing: "b"}, {thing: "c", throttled: true}, {thing: "c", advance: 500 * time.Millisecond}, {thing: "d", throttled: true}},
		},
		{
			name: "per thing across things", q: Quotas{PerThing: 2},
			steps: []step{{thing: "a"}, {thing: "a"}, {thing: "a", throttled: true}, {thing: "b"}, {thing: "a", advance: time.Second}},
		},
		{
			name: "other APIs' quotas do not apply", q: Quotas{Account: map[string]float64{APIGetThingShadow: 1, APIDeleteThingShadow: 1}},
			steps: []step{{thing: "a"}, {thing: "a"}, {thing: "a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, clk := newQuotaService(t, tt.q)
			var throttled int64
			for i, st := range tt.steps {
				clk.advance(st.advance)
				err := update(s, st.thing)
				if st.throttled {
					throttled++
					if !isThrottled(err) {
						t.Fatalf("step %d: error %v, want *types.ThrottlingException", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			u := s.Usage()
			if u.Throttled[APIUpdateThingShadow] != throttled || u.Requests[APIUpdateThingShadow] != int64(len(tt.steps))-throttled {
				t.Errorf("Usage = %+v, want %d throttled of %d", u, throttled, len(tt.steps))
			}
		})
	}
}

func TestGetDeleteListQuotas(t *testing.T) {
	tests := []struct {
		api  string
		call func(s *Service) error
	}{
		{APIGetThingShadow, func(s *Service) error {
			_, err := s.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String("a")})
			return err
		}},
		{APIDeleteThingShadow, func(s *Service) error {
			_, err := s.DeleteThingShadow(context.Background(), &iotdataplane.DeleteThingShadowInput{ThingName: aws.String("a")})
			return err
		}},
		{APIListNamedShadowsForThing, func(s *Service) error {
			out, err := s.ListNamedShadowsForThing(context.Background(), &iotdataplane.ListNamedShadowsForThingInput{ThingName: aws.String("a")})
			if err == nil && (out.Results == nil || len(out.Results) != 0) {
				return fmt.Errorf("results %v, want an empty list", out.Results)
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			s, _, _ := newQuotaService(t, Quotas{Account: map[string]float64{tt.api: 1}})
			if err := update(s, "a"); err != nil {
				t.Fatal(err)
			}
			if err := tt.call(s); err != nil && !errors.As(err, new(*types.ResourceNotFoundException)) {
				t.Fatalf("first call: %v", err)
			}
			if err := tt.call(s); !isThrottled(err) {
				t.Fatalf("second call in the same second: %v, want ThrottlingException", err)
			}
		})
	}
}

func TestMQTTThrottledIsRejected429(t *testing.T) {
	s, pub, _ := newQuotaService(t, Quotas{PerThing: 1})
	s.HandleMQTT("$aws/things/dev/shadow/update", []byte(`{"state":{"reported":{"n":1}},"clientToken":"t1"}`))
	pub.take()
	s.HandleMQTT("$aws/things/dev/shadow/update", []byte(`{"state":{"reported":{"n":2}},"clientToken":"t2"}`))
	msgs := expectTopics(t, pub.take(), "dev", "update/rejected")
	var rej struct {
		Code        int    `json:"code"`
		Message     string `json:"message"`
		ClientToken string `json:"clientToken"`
	}
	if err := json.Unmarshal(msgs["update/rejected"], &rej); err != nil {
		t.Fatal(err)
	}
	if rej.Code != 429 || rej.ClientToken != "t2" {
		t.Errorf("rejection %+v, want code 429 with clientToken t2", rej)
	}
	if u := s.Usage(); u.Throttled[APIUpdateThingShadow] != 1 {
		t.Errorf("Usage = %+v", u)
	}
}

type meterRec struct {
	mu sync.Mutex
	m  map[string]float64
}

func (r *meterRec) Add(op string, n float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]float64{}
	}
	r.m[op] += n
}

func TestBilledOperations(t *testing.T) {
	big := `{"state":{"reported":{"blob":"` + strings.Repeat("x", 1500) + `"}}}` // 2 KB increments
	tests := []struct {
		name string
		run  func(s *Service)
		want float64
	}{
		{"small update", func(s *Service) { _ = update(s, "a") }, 1},
		{"update over 1 KB", func(s *Service) {
			_, _ = s.UpdateThingShadow(context.Background(), &iotdataplane.UpdateThingShadowInput{ThingName: aws.String("a"), Payload: []byte(big)})
		}, 2},
		{"update and get", func(s *Service) {
			_ = update(s, "a")
			_, _ = s.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String("a")})
		}, 2},
		{"MQTT update and get", func(s *Service) {
			s.HandleMQTT("$aws/things/a/shadow/update", []byte(`{"state":{"reported":{"n":1}}}`))
			s.HandleMQTT("$aws/things/a/shadow/get", nil)
		}, 2},
		{"failed get is billed", func(s *Service) {
			_, _ = s.GetThingShadow(context.Background(), &iotdataplane.GetThingShadowInput{ThingName: aws.String("none")})
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &meterRec{}
			s, _, _ := newQuotaService(t, Quotas{}, WithMeter(rec))
			tt.run(s)
			if got := s.Usage().BilledOperations; got != tt.want {
				t.Errorf("BilledOperations = %g, want %g", got, tt.want)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if got := rec.m[MeterShadowOperations]; got != tt.want {
				t.Errorf("metered %g, want %g", got, tt.want)
			}
		})
	}
}
