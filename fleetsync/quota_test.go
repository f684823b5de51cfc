package fleetsync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/simulator"
)

// quotaRun wires a sync of w through Limiters at rates and makes both registries
// enforce the same rates, as AWS enforces the account's quotas.
type quotaRun struct {
	opts     Options
	src, tgt *Limiter
}

func newQuotaRun(w *simulator.World, rates Rates) *quotaRun {
	for api, tps := range rates {
		w.Primary.Registry.SetRate(api, tps)
		w.Secondary.Registry.SetRate(api, tps)
	}
	q := &quotaRun{
		src: NewLimiter(w.Primary.Name, rates, DefaultRetry),
		tgt: NewLimiter(w.Secondary.Name, rates, DefaultRetry),
	}
	q.opts = options(w)
	q.opts.Source = &LimitedIoT{Next: w.Primary.Registry, Limiter: q.src}
	q.opts.Target = &LimitedIoT{Next: w.Secondary.Registry, Limiter: q.tgt}
	q.opts.SourceShadows = &LimitedShadows{Next: w.Primary.Shadows, Limiter: q.src}
	q.opts.TargetShadows = &LimitedShadows{Next: w.Secondary.Shadows, Limiter: q.tgt}
	q.opts.Concurrency = DefaultConcurrency
	q.opts.Backoff = Retry{}
	return q
}

// unlimit removes the registries' rate limits (for the verification afterwards).
func unlimit(w *simulator.World, rates Rates) {
	for api := range rates {
		w.Primary.Registry.SetRate(api, 0)
		w.Secondary.Registry.SetRate(api, 0)
	}
}

// utilisation returns the API whose achieved call rate is the largest fraction of its
// quota over elapsed, and that fraction: the binding quota's utilisation.
func utilisation(elapsed time.Duration, lims ...*Limiter) (string, float64) {
	best, api := 0.0, ""
	for _, l := range lims {
		for name, calls := range l.Calls() {
			r := l.Rate(name)
			if r == 0 {
				continue
			}
			if u := float64(calls) / elapsed.Seconds() / r; u > best {
				best, api = u, l.Region()+" "+name
			}
		}
	}
	return api, best
}

// quotaScale speeds the quota table up for tests: every quota, in the simulator and
// in the limiter alike, is multiplied by it, which is the same as running the clock
// quotaScale times faster. At AWS's real defaults the binding quotas are 10 TPS
// (ListThingPrincipals, DescribeCertificate, GetPolicy, RegisterCertificateWithoutCA:
// one call per device each), i.e. 10 devices/s, so 5,000 devices would take over
// eight minutes.
const quotaScale = 25

func TestSync5000ThingsUnderDefaultQuotas(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs 5,000 things under rate limits (about 30 s); skipped with -short")
	}
	const n = 5000
	w := newWorld(t)
	seed(t, w, n)
	// The primary's own pipeline (capture and re-checks of the seeded fleet) calls the
	// same APIs under the same quotas: let it finish, so that what is measured is
	// sync's pacing alone (sync retries what the pipeline's calls cause it to lose).
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer scancel()
	if err := w.Settle(sctx); err != nil {
		t.Fatal(err)
	}
	rates := DefaultRatesCopy().Scaled(quotaScale)
	q := newQuotaRun(w, rates)

	// Interrupt the first run part-way, as a user pressing Ctrl-C would.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := 0
	q.opts.OnResult = func(r Result) {
		if r.Kind == KindThing {
			if done++; done == 1000 {
				cancel()
			}
		}
	}
	first, err := Run(ctx, q.opts)
	if err == nil {
		t.Fatal("interrupted run returned no error")
	}

	q = newQuotaRun(w, rates) // fresh limiters: count the resumed run's calls only
	start := time.Now()
	sum, err := Run(context.Background(), q.opts)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("resumed Run: %v", err)
	}
	if sum.Failed() != 0 {
		t.Fatalf("%d failed, first: %v", sum.Failed(), sum.Failures[0].Err)
	}
	if sum.Things.Total() != n || sum.Things.InSync < first.Things.Copied {
		t.Errorf("resumed run things = %+v, want %d total with at least the %d copied before in sync",
			sum.Things, n, first.Things.Copied)
	}
	api, u := utilisation(elapsed, q.src, q.tgt)
	t.Logf("resumed run: %d things in %v (%.0f/s at quotas x%d), binding %s at %.2f of its quota, %d+%d throttled",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), quotaScale, api, u, q.src.Throttled(), q.tgt.Throttled())
	// The limiter admits at most rate*T+1 calls of an API in any T, and the registry's
	// bucket (burst: one second of its rate) allows rate*T+rate: nothing can be
	// throttled unless calls are delayed by most of a second between the two.
	if th := q.src.Throttled() + q.tgt.Throttled(); th != 0 {
		t.Errorf("%d calls throttled, want 0: the limiter should keep every API under its quota", th)
	}
	// Pacing must never exceed the binding quota (5% slack for the limiter's burst of
	// one and timer granularity). How close it comes (at least 0.9) is a speed figure:
	// BenchmarkSync's quota-utilisation, since a loaded machine under -race starves
	// the workers here.
	if u > 1.05 {
		t.Errorf("binding quota %s at %.3f of its quota, want at most 1.05", api, u)
	}
	// The fleet shares two policies: the run reads each once, save for workers that
	// met it before the first read finished.
	if got, limit := q.src.Calls()["GetPolicy"], int64(2*q.opts.Concurrency); got > limit {
		t.Errorf("%d GetPolicy calls in %s for 2 shared policies, want at most %d", got, q.src.Region(), limit)
	}

	unlimit(w, rates)
	if d := differences(t, w); len(d) != 0 {
		t.Fatalf("after sync: %d differences, first: %v", len(d), d[0])
	}
}

// BenchmarkSync syncs b.N devices (one op = one device), each with two named shadows
// besides the seeded classic ones, and b.N/10 retained messages, under AWS's default
// quotas (scaled by quotaScale in both the simulator and the limiter) and reports
// devices/s at real quotas and the binding quota's utilisation. Run with e.g.
// -bench=Sync -benchtime=1000x.
func BenchmarkSync(b *testing.B) {
	w := newWorld(b)
	seed(b, w, b.N)
	seedNamedShadows(b, w, b.N, 2)
	seedRetained(b, w, b.N/10)
	// The primary's pipeline captures the seeded fleet under the same quotas: let it
	// finish, so that what is measured is sync's pacing alone.
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer scancel()
	if err := w.Settle(sctx); err != nil {
		b.Fatal(err)
	}
	rates := DefaultRatesCopy().Scaled(quotaScale)
	q := newQuotaRun(w, rates)
	q.opts.Retained = true
	q.opts.SourceRetained = &LimitedRetained{Next: w.Primary.Broker.DataPlane(), Limiter: q.src}
	q.opts.TargetRetained = &LimitedRetained{Next: w.Secondary.Broker.DataPlane(), Limiter: q.tgt}
	b.ResetTimer()
	start := time.Now()
	sum, err := Run(context.Background(), q.opts)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("Run: %v", err)
	}
	if sum.Failed() != 0 {
		b.Fatalf("%d failed, first: %v", sum.Failed(), sum.Failures[0].Err)
	}
	if sum.RetainedMessages.Copied != b.N/10 {
		b.Fatalf("retained messages %+v, want %d copied", sum.RetainedMessages, b.N/10)
	}
	if got := q.src.Calls()["ListNamedShadowsForThing"]; got < int64(b.N) {
		b.Fatalf("%d ListNamedShadowsForThing in the source for %d things", got, b.N)
	}
	api, u := utilisation(elapsed, q.src, q.tgt)
	b.Logf("%d devices (%d named shadows, %d retained messages): binding quota %s", b.N, 2*b.N, b.N/10, api)
	b.ReportMetric(float64(b.N)/elapsed.Seconds()/quotaScale, "devices/s")
	b.ReportMetric(u, "quota-utilisation")
	b.ReportMetric(float64(sum.Failed()), "failed")
	b.ReportMetric(float64(q.src.Throttled()+q.tgt.Throttled()), "throttled")
}

// seedNamedShadows gives each of the first n seeded devices per named shadows.
func seedNamedShadows(t testing.TB, w *simulator.World, n, per int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		for j := range per {
			if _, err := w.Primary.Shadows.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(deviceName(i)),
				ShadowName: aws.String(fmt.Sprintf("config-%d", j)), Payload: fmt.Appendf(nil, `{"state":{"desired":{"interval":%d}}}`, i%60)}); err != nil {
				t.Fatalf("update named shadow: %v", err)
			}
		}
	}
}

// seedRetained publishes n retained messages in the primary.
func seedRetained(t testing.TB, w *simulator.World, n int) {
	t.Helper()
	for i := range n {
		if _, err := w.Primary.Broker.DataPlane().Publish(context.Background(), &iotdataplane.PublishInput{
			Topic: aws.String(fmt.Sprintf("config/%05d", i)), Payload: fmt.Appendf(nil, `{"i":%d}`, i), Qos: 1, Retain: true}); err != nil {
			t.Fatalf("publish retained: %v", err)
		}
	}
}
