package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/iot-dr/iot-dr/functions/apply"
	"github.com/iot-dr/iot-dr/functions/failures"
	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
	"github.com/iot-dr/iot-dr/simulator"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// TestChangesThatCrossedSurvivePrimaryLoss is the measurement behind replication v2:
// a burst of changes reaches the secondary's replica while its apply is stalled, then
// the primary is lost; every change is applied in the secondary while the primary stays
// down, and the apply path makes no call at all on the primary.
func TestChangesThatCrossedSurvivePrimaryLoss(t *testing.T) {
	const n = 150 // creates with certificate and policy, attribute updates, shadow updates: 450 changes
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	createPolicy(t, w, "metrics", policyDoc(w.Primary.Name))
	w.Secondary.PauseApply()
	things := make([]string, n)
	for i := range n {
		things[i] = fmt.Sprintf("dev-%03d", i)
		provision(t, w, simulator.Device{Thing: things[i], Attributes: map[string]string{"fw": "1"}, ExtraPolicies: []string{"metrics"}})
	}
	for _, th := range things {
		must(t)(w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(th),
			AttributePayload: &iottypes.AttributePayload{Merge: true, Attributes: map[string]string{"fw": "2", "site": "lab"}}}))
	}
	for i, th := range things {
		updateShadow(t, w.Primary, th, fmt.Sprintf(`{"state":{"reported":{"seq":%d},"desired":{"led":"on"}}}`, i))
	}
	settle(t, w) // captured, re-checked and replicated; the apply is stalled
	if got := countItems(t, w.Secondary, spec.KindThing); got != n {
		t.Fatalf("the secondary's replica holds %d thing items, want %d", got, n)
	}
	if _, err := w.Secondary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(things[0])}); !replication.IsNotFound(err) {
		t.Fatalf("a thing was applied while the apply was stalled (err %v): the test would prove nothing", err)
	}

	w.SetRegionDown(w.Primary, true)
	before := w.Primary.Registry.Calls() + w.Primary.Shadows.Calls()
	w.Secondary.ResumeApply()
	settle(t, w)
	if calls := w.Primary.Registry.Calls() + w.Primary.Shadows.Calls() - before; calls != 0 {
		t.Errorf("the apply path made %d calls to the primary; want 0", calls)
	}
	if recs := w.Secondary.Errors.Len(); recs != 0 {
		t.Errorf("%d error-table records in the secondary", recs)
	}
	// Only to compare: the primary's APIs answer again; its broker and replication stay down.
	w.Primary.Registry.SetAvailable(true)
	w.Primary.Shadows.SetAvailable(true)
	assertConverged(t, w, things...)
}

// countItems counts the live items of kind in a Region's replica.
func countItems(t testing.TB, r *simulator.Region, kind string) int {
	t.Helper()
	n := 0
	for _, it := range stateItems(t, r) {
		if it.Kind == kind && !it.Deleted {
			n++
		}
	}
	return n
}

func stateItems(t testing.TB, r *simulator.Region) []state.Item {
	t.Helper()
	var out []state.Item
	page, err := r.State.Scan(context.Background(), scanAll())
	for {
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Items {
			it, err := state.FromAttributes(m)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, it)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		in := scanAll()
		in.ExclusiveStartKey = page.LastEvaluatedKey
		page, err = r.State.Scan(context.Background(), in)
	}
}

func scanAll() *dynamodb.ScanInput {
	return &dynamodb.ScanInput{TableName: aws.String(simulator.StateTableName)}
}

// blockingShadows holds the first UpdateThingShadow until released: a slow apply.
type blockingShadows struct {
	replication.Shadows
	once             sync.Once
	blocked, release chan struct{}
}

func (b *blockingShadows) UpdateThingShadow(ctx context.Context, in *iotdataplane.UpdateThingShadowInput, opts ...func(*iotdataplane.Options)) (*iotdataplane.UpdateThingShadowOutput, error) {
	first := false
	b.once.Do(func() { first = true })
	if first {
		close(b.blocked)
		<-b.release
	}
	return b.Shadows.UpdateThingShadow(ctx, in, opts...)
}

// secondaryApplier is an applier of the secondary's replica with its own target
// clients, as a second apply invocation (a re-drive) would run.
func secondaryApplier(w *simulator.World, target replication.IoT, shadows replication.Shadows) *apply.Applier {
	store := &state.Store{Table: w.Secondary.State, Name: simulator.StateTableName}
	view := &state.View{Store: store}
	return &apply.Applier{Region: w.Secondary.Name, Store: store, Converger: &replication.Replicator{
		Source: view, SourceShadows: view, Target: target, TargetShadows: shadows,
		SourceRegion: w.Primary.Name, TargetRegion: w.Secondary.Name, ClientToken: spec.ApplyClientToken,
	}}
}

// TestSlowOlderApplyDoesNotRollBack races two applies of one shadow: the one holding
// the older state is slow and finishes last; the secondary still ends at the newer.
func TestSlowOlderApplyDoesNotRollBack(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "dev-1"})
	settle(t, w)
	w.Secondary.PauseApply()
	updateShadow(t, w.Primary, "dev-1", `{"state":{"reported":{"v":"older"}}}`)
	settle(t, w)

	slow := &blockingShadows{Shadows: w.Secondary.Shadows, blocked: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := secondaryApplier(w, w.Secondary.Registry, slow).Key(ctx, spec.StateKey(spec.KindShadow, "dev-1"))
		done <- err
	}()
	<-slow.blocked // it has read the older state and is about to write it

	updateShadow(t, w.Primary, "dev-1", `{"state":{"reported":{"v":"newer"}}}`)
	w.Secondary.ResumeApply()
	settle(t, w)
	if got := shadowState(t, w.Secondary, "dev-1")["reported"]; fmt.Sprint(got) != "map[v:newer]" {
		t.Fatalf("before the slow apply finished: secondary reported = %v, want the newer state", got)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatalf("slow apply: %v", err)
	}
	if got := shadowState(t, w.Secondary, "dev-1")["reported"]; fmt.Sprint(got) != "map[v:newer]" {
		t.Errorf("after the slow apply finished: secondary reported = %v, want the newer state (it rolled back)", got)
	}
	assertConverged(t, w, "dev-1")
}

// recordingTarget records every attribute "v" written to a thing and every reported
// "v" written to a shadow, in order, so that a test can see a write go backwards.
type recordingTarget struct {
	replication.IoT
	replication.Shadows
	mu      sync.Mutex
	written map[string][]int
}

func (r *recordingTarget) note(key, v string) {
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.written[key] = append(r.written[key], n)
	r.mu.Unlock()
}

func (r *recordingTarget) CreateThing(ctx context.Context, in *iot.CreateThingInput, opts ...func(*iot.Options)) (*iot.CreateThingOutput, error) {
	if in.AttributePayload != nil {
		r.note("thing "+aws.ToString(in.ThingName), in.AttributePayload.Attributes["v"])
	}
	return r.IoT.CreateThing(ctx, in, opts...)
}

func (r *recordingTarget) UpdateThing(ctx context.Context, in *iot.UpdateThingInput, opts ...func(*iot.Options)) (*iot.UpdateThingOutput, error) {
	if in.AttributePayload != nil {
		r.note("thing "+aws.ToString(in.ThingName), in.AttributePayload.Attributes["v"])
	}
	return r.IoT.UpdateThing(ctx, in, opts...)
}

func (r *recordingTarget) UpdateThingShadow(ctx context.Context, in *iotdataplane.UpdateThingShadowInput, opts ...func(*iotdataplane.Options)) (*iotdataplane.UpdateThingShadowOutput, error) {
	var doc struct {
		State struct {
			Reported struct {
				V json.Number `json:"v"`
			} `json:"reported"`
		} `json:"state"`
	}
	if json.Unmarshal(in.Payload, &doc) == nil {
		r.note("shadow "+aws.ToString(in.ThingName), doc.State.Reported.V.String())
	}
	return r.Shadows.UpdateThingShadow(ctx, in, opts...)
}

// TestDuplicateAndReorderedRecords runs 20 seeds of a World whose registry events and
// rule actions are duplicated and reordered, and delivers the secondary's stream to the
// apply function duplicated and reordered as well: the secondary ends equal to the
// primary, and no apply ever writes an older value than one already written.
func TestDuplicateAndReorderedRecords(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			// The World's own delivery of registry events and rule actions is at least
			// once and unordered too, from the same seed.
			w := newWorld(t, simulator.Options{Fidelity: simulator.StrictFidelity(seed)})
			w.Secondary.PauseApply() // this test is the only apply
			things := []string{"dev-a", "dev-b", "dev-c"}
			for _, th := range things {
				provision(t, w, simulator.Device{Thing: th})
			}
			for i := range 30 {
				th := things[rng.IntN(len(things))]
				if rng.IntN(2) == 0 {
					must(t)(w.Primary.Registry.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(th),
						AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"v": fmt.Sprint(i)}}}))
				} else {
					updateShadow(t, w.Primary, th, fmt.Sprintf(`{"state":{"reported":{"v":%d}}}`, i))
				}
			}
			settle(t, w)

			rec := &recordingTarget{IoT: w.Secondary.Registry, Shadows: w.Secondary.Shadows, written: map[string][]int{}}
			h := &apply.Handler{Applier: secondaryApplier(w, rec, rec),
				Failures: &failures.Recorder{Table: w.Secondary.Errors, Name: simulator.ErrorTableName}}
			delivery := shuffled(rng, w.Secondary.State.Stream().Read("", 1<<30))
			for len(delivery) > 0 {
				k := min(1+rng.IntN(10), len(delivery))
				resp, err := h.Handle(ctx, events.DynamoDBEvent{Records: delivery[:k]})
				if err != nil || len(resp.BatchItemFailures) > 0 {
					t.Fatalf("apply batch: %v, failures %v", err, resp.BatchItemFailures)
				}
				delivery = delivery[k:]
			}
			for key, vs := range rec.written {
				for i := 1; i < len(vs); i++ {
					if vs[i] < vs[i-1] {
						t.Errorf("%s: apply wrote %d after %d (writes %v): it went backwards", key, vs[i], vs[i-1], vs)
					}
				}
			}
			assertConverged(t, w, things...)
		})
	}
}

// shuffled returns recs with about a third duplicated and every record moved by up to
// eight places: at-least-once, unordered delivery.
func shuffled(rng *rand.Rand, recs []events.DynamoDBEventRecord) []events.DynamoDBEventRecord {
	var out []events.DynamoDBEventRecord
	for _, r := range recs {
		out = append(out, r)
		if rng.IntN(3) == 0 {
			out = append(out, r)
		}
	}
	for i := range out {
		j := min(i+rng.IntN(9), len(out)-1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// TestLateCertificate attaches certificates after their thing was created: soon after
// (the re-check finds it) and minutes later in ASL time, after the re-checks have
// ended (the sweep finds it, since AWS publishes no event for an attachment).
func TestLateCertificate(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	for _, th := range []string{"early", "late"} {
		must(t)(w.Primary.Registry.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(th)}))
	}
	// early: attached once the first re-check pass has run, while the loop goes on.
	waitUntil(t, ctx, "a re-check pass", func() bool { return w.Primary.Lambda.Invocations(spec.FunctionRecheck) >= 1 })
	attachNewCertificate(t, w, "early")
	settle(t, w) // the re-checks have ended
	attachNewCertificate(t, w, "late")
	settle(t, w)
	if certs := must(t)(replication.ThingCertificates(ctx, w.Secondary.Registry, "late")).(map[string]string); len(certs) != 0 {
		t.Fatalf("late certificate reached the secondary without the sweep: the test would prove nothing")
	}
	st, err := w.Sweep(ctx, w.Primary)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Written == 0 || st.Failed != 0 {
		t.Errorf("sweep = %+v, want done, something written, nothing failed", st)
	}
	settle(t, w)
	assertConverged(t, w)
}

// attachNewCertificate registers a new certificate with the device policy and
// attaches it to thing, as a slow manual provisioning would.
func attachNewCertificate(t *testing.T, w *simulator.World, thing string) {
	t.Helper()
	ctx := context.Background()
	if err := simulator.EnsureDevicePolicy(ctx, w.Primary.Registry, w.Primary.Name, w.Options().AccountID); err != nil {
		t.Fatal(err)
	}
	dev := must(t)(w.CA.IssueDevice(thing + "-cert")).(*pki.Device)
	cert := must(t)(w.Primary.Registry.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(string(dev.CertPEM)), Status: iottypes.CertificateStatusActive})).(*iot.RegisterCertificateWithoutCAOutput)
	must(t)(w.Primary.Registry.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(spec.DevicePolicyName), Target: cert.CertificateArn}))
	must(t)(w.Primary.Registry.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: cert.CertificateArn}))
}

// TestGivenUpBatchesAreReplayable: the apply crashes on every invocation until its
// stream mapping gives the batches up (the on-failure destination gets them; AWS would
// send only their metadata) and nothing reaches the error table; the re-apply of the
// secondary's replica converges it all the same.
func TestGivenUpBatchesAreReplayable(t *testing.T) {
	w := newWorld(t, simulator.Options{})
	w.Secondary.Lambda.SetCrash(spec.FunctionApply, 1<<30)
	for i := range 20 {
		provision(t, w, simulator.Device{Thing: fmt.Sprintf("dev-%02d", i)})
	}
	updateShadow(t, w.Primary, "dev-00", `{"state":{"reported":{"v":1}}}`)
	settle(t, w)
	if len(w.DeadLetters()) == 0 {
		t.Fatal("no stream batch was given up: the test would prove nothing")
	}
	if _, err := w.Secondary.Registry.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String("dev-00")}); !replication.IsNotFound(err) {
		t.Fatalf("dev-00 reached the secondary (err %v) although every apply crashed", err)
	}
	w.Secondary.Lambda.SetCrash(spec.FunctionApply, 0)
	resp, err := w.Reapply(context.Background(), w.Secondary)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Reapplied == 0 || resp.ReapplyFailed != 0 {
		t.Errorf("reapply = %+v, want items re-applied and none failed", resp)
	}
	settle(t, w)
	diff, err := replication.Diff(context.Background(), w.Primary.Registry, w.Secondary.Registry, w.Primary.Name, w.Secondary.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff {
		t.Errorf("secondary differs after the re-apply: %s", d)
	}
	if p, s := shadowState(t, w.Primary, "dev-00"), shadowState(t, w.Secondary, "dev-00"); fmt.Sprint(p) != fmt.Sprint(s) {
		t.Errorf("shadow of dev-00: primary %v, secondary %v", p, s)
	}
}

// TestSweepCatchesALostDelete: a thing's delete event is lost (the capture function
// crashes on every attempt, so Lambda gives the event up and nothing is recorded); the
// sweep's pass over the state table finds the thing gone and the secondary deletes it.
func TestSweepCatchesALostDelete(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simulator.Options{})
	provision(t, w, simulator.Device{Thing: "doomed"})
	provision(t, w, simulator.Device{Thing: "kept"})
	settle(t, w)
	for _, p := range must(t)(replication.ListThingPrincipals(ctx, w.Primary.Registry, "doomed")).([]string) {
		must(t)(w.Primary.Registry.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("doomed"), Principal: aws.String(p)}))
	}
	w.Primary.Lambda.SetCrash(spec.FunctionCapture, 1<<30)
	must(t)(w.Primary.Registry.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("doomed")}))
	settle(t, w) // the event's attempts, retries included, all crash
	w.Primary.Lambda.SetCrash(spec.FunctionCapture, 0)
	if _, err := w.Secondary.Registry.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("doomed")}); err != nil {
		t.Fatalf("the delete reached the secondary without the sweep (%v): the test would prove nothing", err)
	}
	st, err := w.Sweep(ctx, w.Primary)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Failed != 0 {
		t.Errorf("sweep = %+v", st)
	}
	settle(t, w)
	assertConverged(t, w)
}
