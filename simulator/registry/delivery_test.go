package registry

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iot-dr/iot-dr/simulator/internal/delivery"
)

// manualTimers replaces the delivery's timers: fire runs the callbacks in
// order of their delays (ties in scheduling order).
type manualTimers struct {
	mu     sync.Mutex
	queued []*manualTimer
}

type manualTimer struct {
	delay   time.Duration
	seq     int
	f       func()
	stopped bool
	fired   bool
}

func (m *manualTimer) Stop() bool {
	if m.fired || m.stopped {
		return false
	}
	m.stopped = true
	return true
}

func (mt *manualTimers) after(d time.Duration, f func()) delivery.Stopper {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	t := &manualTimer{delay: d, seq: len(mt.queued), f: f}
	mt.queued = append(mt.queued, t)
	return t
}

func (mt *manualTimers) delays() []time.Duration {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	var out []time.Duration
	for _, t := range mt.queued {
		out = append(out, t.delay)
	}
	return out
}

func (mt *manualTimers) fire() {
	mt.mu.Lock()
	q := append([]*manualTimer(nil), mt.queued...)
	mt.queued = nil
	mt.mu.Unlock()
	sort.SliceStable(q, func(i, j int) bool { return q[i].delay < q[j].delay })
	for _, t := range q {
		if !t.stopped {
			t.fired = true
			t.f()
		}
	}
}

func newDeliveryFixture(t *testing.T, o Options) (*fixture, *manualTimers) {
	t.Helper()
	f := &fixture{clock: newFakeClock(), pub: &capture{}}
	o.Region, o.AccountID, o.Publisher, o.Now = testRegion, testAccount, f.pub, f.clock.Now
	f.Registry = New(o)
	mt := &manualTimers{}
	f.deliv.SetTimerFunc(mt.after)
	t.Cleanup(f.Close)
	return f, mt
}

func createThings(t *testing.T, r *Registry, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("thing-%03d", i)
		if _, err := r.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		names = append(names, "$aws/events/thing/"+name+"/created")
	}
	return names
}

func TestDeliveryModel(t *testing.T) {
	tests := []struct {
		name           string
		opts           Options
		wantDelayed    bool
		minDup, maxDup int // duplicates among 200 events
		wantReordered  bool
	}{
		{name: "exactly once in order", opts: Options{}},
		{name: "duplicates only", opts: Options{DuplicateRate: 0.5, Seed: 1}, minDup: 70, maxDup: 130},
		{name: "always duplicated", opts: Options{DuplicateRate: 1, Seed: 2}, minDup: 200, maxDup: 200},
		{name: "reordering only", opts: Options{ReorderWindow: time.Second, Seed: 3}, wantDelayed: true, wantReordered: true},
		{name: "both", opts: Options{DuplicateRate: 0.2, ReorderWindow: time.Second, Seed: 4}, wantDelayed: true, minDup: 20, maxDup: 60, wantReordered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, mt := newDeliveryFixture(t, tt.opts)
			want := createThings(t, f.Registry, 200)
			if tt.wantDelayed {
				if f.Pending() == 0 {
					t.Fatal("no delivery pending under a ReorderWindow")
				}
				if got := len(f.pub.take()); got != 0 {
					t.Fatalf("%d events published before their timers fired", got)
				}
				mt.fire()
			}
			if n := f.Pending(); n != 0 {
				t.Fatalf("Pending() = %d after all timers fired", n)
			}
			if err := f.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			msgs := f.pub.take()
			seen := map[string]int{}
			ids := map[string]string{}
			var order []string
			for _, m := range msgs {
				id, _ := decode(t, m)["eventId"].(string)
				if prev, ok := ids[id]; ok && prev != m.Topic {
					t.Fatalf("eventId %s on %s and %s", id, prev, m.Topic)
				}
				ids[id] = m.Topic
				if seen[m.Topic] == 0 {
					order = append(order, m.Topic)
				}
				seen[m.Topic]++
			}
			for _, topic := range want {
				if seen[topic] == 0 {
					t.Fatalf("%s never delivered", topic)
				}
			}
			if dups := len(msgs) - len(want); dups < tt.minDup || dups > tt.maxDup {
				t.Errorf("%d duplicates, want %d..%d", dups, tt.minDup, tt.maxDup)
			}
			inOrder := fmt.Sprint(order) == fmt.Sprint(want)
			if inOrder == tt.wantReordered {
				t.Errorf("first deliveries in commit order = %v, want %v", inOrder, !tt.wantReordered)
			}
		})
	}
}

func TestDeliverySeedIsDeterministic(t *testing.T) {
	run := func(seed uint64) []time.Duration {
		f, mt := newDeliveryFixture(t, Options{DuplicateRate: 0.3, ReorderWindow: 100 * time.Millisecond, Seed: seed})
		createThings(t, f.Registry, 50)
		d := mt.delays()
		mt.fire()
		return d
	}
	a, b, c := run(7), run(7), run(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("seed 7 gave different deliveries:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("seeds 7 and 8 gave the same deliveries")
	}
}

// blockingPub blocks every Publish until released.
type blockingPub struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (p *blockingPub) Publish(string, []byte) error {
	<-p.release
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	return nil
}

func TestDelayedDeliveryDoesNotBlockCalls(t *testing.T) {
	pub := &blockingPub{release: make(chan struct{})}
	r := New(Options{Region: testRegion, AccountID: testAccount, Publisher: pub, ReorderWindow: time.Millisecond, Seed: 1})
	t.Cleanup(r.Close)
	done := make(chan error, 1)
	go func() {
		_, err := r.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("a")})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CreateThing blocked on a stalled publisher")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Flush(ctx); err == nil {
		t.Fatal("Flush returned while the publisher was stalled")
	}
	close(pub.release)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pub.n != 1 || r.Pending() != 0 {
		t.Errorf("published %d, pending %d; want 1 and 0", pub.n, r.Pending())
	}
}

func TestCloseDropsDelayedDeliveries(t *testing.T) {
	c := &capture{}
	r := New(Options{Region: testRegion, AccountID: testAccount, Publisher: c, ReorderWindow: time.Hour, Seed: 1})
	createThings(t, r, 5)
	if n := r.Pending(); n != 5 {
		t.Fatalf("Pending() = %d, want 5", n)
	}
	r.Close()
	r.Close() // idempotent
	if n := r.Pending(); n != 0 {
		t.Fatalf("Pending() after Close = %d", n)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs := c.take(); len(msgs) != 0 {
		t.Errorf("%d events published after Close", len(msgs))
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

func TestRegistryOperationsMetered(t *testing.T) {
	rec := &meterRec{}
	r := New(Options{Region: testRegion, AccountID: testAccount, Meter: rec, Rates: map[string]float64{"DescribeThing": 1}})
	t.Cleanup(r.Close)
	ctx := context.Background()
	createThings(t, r, 3)
	_, _ = r.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("thing-000")})
	_, _ = r.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("thing-000")}) // throttled: not billed
	_, _ = r.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("missing")})   // throttled too
	r.SetAvailable(false)
	_, _ = r.ListThings(ctx, &iot.ListThingsInput{}) // unavailable: not billed
	r.SetAvailable(true)
	_, _ = r.ListThings(ctx, &iot.ListThingsInput{})
	_, _ = r.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}) // not a billed API
	_, _ = r.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("thing-002")})                                                                   // nor is this
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := rec.m[MeterRegistryOperations]; got != 5 {
		t.Errorf("metered %g registry operations, want 5", got)
	}
}

func TestDefaultRatesNameImplementedAPIs(t *testing.T) {
	tests := []struct {
		api  string
		want float64
	}{
		{"CreateThing", 100}, {"DescribeThing", 350}, {"ListThings", 10}, {"CreateThingGroup", 25}, {"UpdateThingGroup", 15},
	}
	rates := DefaultRates()
	for _, tt := range tests {
		if rates[tt.api] != tt.want {
			t.Errorf("DefaultRates()[%s] = %g, want %g", tt.api, rates[tt.api], tt.want)
		}
	}
	// Every named API must be one this registry throttles; a typo would
	// silently leave it unlimited.
	r := New(Options{Region: testRegion, AccountID: testAccount, Rates: rates})
	t.Cleanup(r.Close)
	for api := range rates {
		if !strings.Contains(implementedAPIs, " "+api+" ") {
			t.Errorf("DefaultRates names %s, which the registry does not implement", api)
		}
	}
}

// implementedAPIs lists the operations call() is invoked with.
const implementedAPIs = " AddThingToBillingGroup CreateBillingGroup DeleteBillingGroup DescribeBillingGroup ListBillingGroups ListThingsInBillingGroup RemoveThingFromBillingGroup UpdateBillingGroup AddThingToThingGroup AttachPolicy AttachThingPrincipal CreatePolicy CreatePolicyVersion CreateThing CreateThingGroup CreateThingType DeleteCertificate DeletePolicy DeletePolicyVersion DeleteThing DeleteThingGroup DeleteThingType DeprecateThingType DescribeCertificate DescribeThing DescribeThingGroup DescribeThingType DetachPolicy DetachThingPrincipal GetPolicy ListAttachedPolicies ListCertificates ListPolicies ListPolicyVersions ListPrincipalThings ListTargetsForPolicy ListThingGroups ListThingGroupsForThing ListThingPrincipals ListThingTypes ListThings ListThingsInThingGroup RegisterCertificate RegisterCertificateWithoutCA RemoveThingFromThingGroup SetDefaultPolicyVersion UpdateCertificate UpdateThing UpdateThingGroup UpdateThingType "
