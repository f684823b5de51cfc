package fleet_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/simulator/broker"
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

const notAuthorised = "connect: Connection Refused: Not Authorised"

// published reports whether thing's timeline has an acknowledged publish in
// region after since.
func published(f *fleet.Fleet, thing, region string, since time.Time) bool {
	for _, e := range f.Timeline(thing) {
		if e.Kind == fleet.KindPublished && e.Region == region && e.At.After(since) {
			return true
		}
	}
	return false
}

func waitAllPublished(t *testing.T, ctx context.Context, f *fleet.Fleet, things []string, region string, since time.Time) {
	t.Helper()
	err := f.Wait(ctx, func() bool {
		for _, th := range things {
			if !published(f, th, region, since) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("waiting for every device to publish in %s: %v", region, err)
	}
}

func count(events []fleet.Event, kind fleet.EventKind, region string) int {
	n := 0
	for _, e := range events {
		if e.Kind == kind && e.Region == region {
			n++
		}
	}
	return n
}

// assertOrder checks that the timeline contains the wanted (kind, region)
// steps in this order, after since.
func assertOrder(t *testing.T, events []fleet.Event, since time.Time, want ...fleet.Event) {
	t.Helper()
	i := 0
	for _, e := range events {
		if i < len(want) && !e.At.Before(since) && e.Kind == want[i].Kind && e.Region == want[i].Region {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("timeline lacks step %d %+v after %v:\n%v", i, want[i], since, events)
	}
}

func TestFailoverAndFailback(t *testing.T) {
	checkGoroutines(t)
	w := newWorld(t)
	replicated := w.devices(t, "dev", 20, w.a, w.b)
	orphan := w.devices(t, "orphan", 1, w.a) // its certificate never reached the secondary
	devs := append(slices.Clone(replicated), orphan...)
	var things []string
	for _, d := range replicated {
		things = append(things, d.Thing)
	}
	orphanThing := orphan[0].Thing

	res := &switchResolver{ip: ipA}
	f := startFleet(t, devs, w.options(res))
	ctx := waitCtx(t)

	// Every device connects to the primary and gets a PUBACK there.
	if err := f.WaitConnected(ctx, primary, len(devs)); err != nil {
		t.Fatal(err)
	}
	waitAllPublished(t, ctx, f, append(slices.Clone(things), orphanThing), primary, time.Time{})

	// The subscription works end to end: SUBSCRIBE and RECEIVE are allowed.
	if err := w.a.broker.Publish("$aws/things/"+things[0]+"/shadow/update/accepted", []byte(`{"state":{}}`), 1); err != nil {
		t.Fatalf("publish accepted: %v", err)
	}
	if err := f.Wait(ctx, func() bool { return f.Stats().Received >= 1 }); err != nil {
		t.Fatalf("device never received its shadow message: %v", err)
	}

	// Failover: DNS answers the secondary, then the primary's endpoint dies.
	failover := time.Now()
	res.set(ipB)
	w.a.broker.SetDown(true)

	if err := f.WaitConnected(ctx, secondary, len(replicated)); err != nil {
		t.Fatal(err)
	}
	waitAllPublished(t, ctx, f, things, secondary, failover)
	for _, th := range things {
		assertOrder(t, f.Timeline(th), failover,
			fleet.Event{Kind: fleet.KindDisconnected, Region: primary},
			fleet.Event{Kind: fleet.KindResolve, Region: secondary},
			fleet.Event{Kind: fleet.KindConnected, Region: secondary},
			fleet.Event{Kind: fleet.KindPublished, Region: secondary},
		)
	}

	t.Logf("timeline of %s across the failover:", things[0])
	for _, e := range f.Timeline(things[0]) {
		if !e.At.Before(failover) {
			t.Logf("  +%-8s %-14s %-10s %s", e.At.Sub(failover).Round(time.Millisecond), e.Kind, e.Region, e.Detail)
		}
	}

	// The device whose certificate was not replicated is refused by the
	// secondary and keeps retrying.
	if err := f.Wait(ctx, func() bool { return count(f.Timeline(orphanThing), fleet.KindRefused, secondary) >= 3 }); err != nil {
		t.Fatalf("orphan not refused repeatedly: %v\n%v", err, f.Timeline(orphanThing))
	}
	if got := f.Connected(); got[primary] != 0 || got[secondary] != len(replicated) {
		t.Fatalf("Connected() = %v, want %s:0 %s:%d", got, primary, secondary, len(replicated))
	}
	for _, e := range f.Timeline(orphanThing) {
		if e.Kind == fleet.KindRefused && !strings.Contains(e.Detail, "Not Authorised") {
			t.Fatalf("orphan refusal detail %q", e.Detail)
		}
	}
	wantReason := "certificate " + orphan[0].Cert.ID + " not registered in " + secondary
	for _, r := range w.b.broker.Refusals() {
		// Nothing but the orphan's CONNECT may be refused: every device's
		// subscription, telemetry and shadow report is within its policy. Its retries
		// within a second of the previous one are throttled (1 CONNECT/s per client ID).
		if r.ClientID != orphanThing || r.Action != broker.ActionConnect || (r.Reason != wantReason && !r.Throttled) {
			t.Fatalf("unexpected refusal in %s: %+v (want only %q for %s)", secondary, r, wantReason, orphanThing)
		}
	}
	if len(w.b.broker.Refusals()) < 3 {
		t.Fatalf("%s recorded %d refusals, want >= 3", secondary, len(w.b.broker.Refusals()))
	}

	// Failback: the primary returns, DNS points back, the secondary goes
	// away; everyone, the orphan included, is back in the primary.
	failback := time.Now()
	w.a.broker.SetDown(false)
	res.set(ipA)
	w.b.broker.SetDown(true)
	if err := f.WaitConnected(ctx, primary, len(devs)); err != nil {
		t.Fatal(err)
	}
	waitAllPublished(t, ctx, f, append(slices.Clone(things), orphanThing), primary, failback)

	st := f.Stats()
	if st.Refusals[notAuthorised] < 3 {
		t.Errorf("Stats().Refusals = %v, want >= 3 %q", st.Refusals, notAuthorised)
	}
	if st.Reconnects < int64(2*len(replicated)+1) {
		t.Errorf("Stats().Reconnects = %d, want >= %d", st.Reconnects, 2*len(replicated)+1)
	}
	if st.PublishFailures == 0 {
		t.Error("Stats().PublishFailures = 0, but the orphan was offline for several telemetry intervals")
	}
	if st.Published == 0 || st.Connects < int64(len(devs)) {
		t.Errorf("Stats() = %+v", st)
	}
	for _, r := range w.a.broker.Refusals() {
		t.Errorf("unexpected refusal in %s: %+v", primary, r)
	}

	f.Stop()
	if got := f.Connected(); got[primary] != 0 || got[secondary] != 0 {
		t.Fatalf("Connected() after Stop = %v", got)
	}
	// The broker sees the DISCONNECTs asynchronously; it offers no event to
	// wait on.
	deadline := time.Now().Add(5 * time.Second)
	for w.a.broker.ConnectedClients() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients still connected to %s after Stop", w.a.broker.ConnectedClients(), primary)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubscriptionRefused(t *testing.T) {
	checkGoroutines(t)
	w := newWorld(t)
	ctx := context.Background()
	// A policy without iot:Subscribe.
	doc := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/*"}]}`
	if _, err := w.a.reg.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("no-subscribe"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	dev, err := w.ca.IssueDevice("mute")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.a.reg.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("mute")}); err != nil {
		t.Fatal(err)
	}
	out, err := w.a.reg.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(string(dev.CertPEM)), Status: types.CertificateStatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.a.reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("mute"), Principal: out.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.a.reg.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("no-subscribe"), Target: out.CertificateArn}); err != nil {
		t.Fatal(err)
	}

	f := startFleet(t, []fleet.Device{{Thing: "mute", Cert: dev}}, w.options(&switchResolver{ip: ipA}))
	wctx := waitCtx(t)
	if err := f.Wait(wctx, func() bool {
		return count(f.Timeline("mute"), fleet.KindRefused, primary) > 0 && published(f, "mute", primary, time.Time{})
	}); err != nil {
		t.Fatalf("no subscription refusal and publish: %v\n%v", err, f.Timeline("mute"))
	}
	if got := f.Stats().Refusals["subscribe: refused"]; got != 1 {
		t.Fatalf("subscribe refusals = %d, want 1", got)
	}
	if got := f.Connected()[primary]; got != 1 {
		t.Fatalf("device not connected after a refused subscription: %d", got)
	}
}

func TestBackoffCeiling(t *testing.T) {
	b := fleet.Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{1000, time.Second}, // no overflow
	}
	for _, tt := range tests {
		if got := b.Ceiling(tt.attempt); got != tt.want {
			t.Errorf("Ceiling(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
	if got := (fleet.Backoff{}).Ceiling(3); got != 0 {
		t.Errorf("zero Backoff Ceiling = %v, want 0", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := fleet.Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
	r1 := rand.New(rand.NewPCG(7, 0))
	r2 := rand.New(rand.NewPCG(7, 0))
	const n = 4000
	var sum time.Duration
	for i := range n {
		attempt := i % 6
		d := b.Delay(attempt, r1)
		if d < 0 || d >= b.Ceiling(attempt) {
			t.Fatalf("Delay(%d) = %v outside [0, %v)", attempt, d, b.Ceiling(attempt))
		}
		if d2 := b.Delay(attempt, r2); d2 != d {
			t.Fatalf("same seed gave %v and %v", d, d2)
		}
		if attempt == 5 {
			sum += d
		}
	}
	// Full jitter: uniform over [0, ceiling), so the mean is half the ceiling.
	mean := sum / (n / 6)
	if mean < 420*time.Millisecond || mean > 580*time.Millisecond {
		t.Fatalf("mean delay at the cap = %v, want about 500ms", mean)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	w := newWorld(t)
	devs := w.devices(t, "dev", 1)
	good := w.options(&switchResolver{ip: ipA})
	tests := []struct {
		name   string
		mutate func(*fleet.Options)
		devs   []fleet.Device
	}{
		{"no domain", func(o *fleet.Options) { o.Domain = "" }, devs},
		{"no port", func(o *fleet.Options) { o.Port = "" }, devs},
		{"no roots", func(o *fleet.Options) { o.Roots = nil }, devs},
		{"no resolver", func(o *fleet.Options) { o.Resolver = nil }, devs},
		{"no telemetry interval", func(o *fleet.Options) { o.TelemetryEvery = 0 }, devs},
		{"cap below base", func(o *fleet.Options) { o.Backoff = fleet.Backoff{Base: time.Second, Cap: time.Millisecond} }, devs},
		{"sub-second keep-alive", func(o *fleet.Options) { o.KeepAlive = 500 * time.Millisecond }, devs},
		{"duplicate thing", func(*fleet.Options) {}, append(slices.Clone(devs), devs...)},
		{"no certificate", func(*fleet.Options) {}, []fleet.Device{{Thing: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := good
			tt.mutate(&opts)
			f, err := fleet.Start(context.Background(), tt.devs, opts)
			if err == nil {
				f.Stop()
				t.Fatal("Start succeeded")
			}
		})
	}
}
