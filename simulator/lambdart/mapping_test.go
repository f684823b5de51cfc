package lambdart

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newStreamTable(t *testing.T, ids ...string) *dynamo.Table {
	t.Helper()
	tb := dynamo.NewTable(testRegion, testAccount, dynamo.Schema{Name: "events", HashKey: "id", StreamView: dynamo.ViewNewImage})
	putIDs(t, tb, ids...)
	return tb
}

func putIDs(t *testing.T, tb *dynamo.Table, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := tb.PutItem(context.Background(), &dynamodb.PutItemInput{
			TableName: aws.String("events"),
			Item:      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		})
		if err != nil {
			t.Fatalf("PutItem: %v", err)
		}
	}
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// recorder is a stream handler that logs every batch it receives and lets
// the test decide each batch's fate.
type recorder struct {
	mu      sync.Mutex
	batches [][]string // ids per invocation
	decide  func(call int, ids []string, seqs []string) (events.DynamoDBEventResponse, error)
}

func (h *recorder) handle(_ context.Context, e events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var idList, seqs []string
	for _, r := range e.Records {
		idList = append(idList, r.Change.NewImage["id"].String())
		seqs = append(seqs, r.Change.SequenceNumber)
	}
	h.mu.Lock()
	call := len(h.batches)
	h.batches = append(h.batches, idList)
	h.mu.Unlock()
	if h.decide == nil {
		return events.DynamoDBEventResponse{}, nil
	}
	return h.decide(call, idList, seqs)
}

func (h *recorder) calls() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.batches)
}

// failures collects what OnFailure received.
type failures struct {
	mu   sync.Mutex
	ids  []string
	errs []error
}

func (f *failures) onFailure(recs []events.DynamoDBEventRecord, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		f.ids = append(f.ids, r.Change.NewImage["id"].String())
	}
	f.errs = append(f.errs, err)
}

func (f *failures) snapshot() ([]string, []error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ids), slices.Clone(f.errs)
}

func startMapping(t *testing.T, r *Runtime, tb *dynamo.Table, fn string, m StreamMapping) func() {
	t.Helper()
	stop, err := r.MapStream(context.Background(), tb.Stream(), fn, m)
	if err != nil {
		t.Fatalf("MapStream: %v", err)
	}
	t.Cleanup(stop)
	return stop
}

func join(b [][]string) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = "[" + strings.Join(x, ",") + "]"
	}
	return strings.Join(parts, " ")
}

func TestMappingDeliversInOrder(t *testing.T) {
	r := newTestRuntime(t)
	h := &recorder{}
	mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
	tb := newStreamTable(t, ids(10)...)
	startMapping(t, r, tb, "trigger", StreamMapping{BatchSize: 4})
	waitFor(t, "10 records processed", func() bool { return r.MappingStats("trigger").Records == 10 })
	if got := join(h.calls()); got != "[0,1,2,3] [4,5,6,7] [8,9]" {
		t.Fatalf("batches = %s", got)
	}
	// New writes keep flowing to the running poller.
	putIDs(t, tb, "10", "11")
	waitFor(t, "12 records processed", func() bool { return r.MappingStats("trigger").Records == 12 })
	// The two writes are separate PutItems: the poller may see them in one batch or two.
	if got := join(h.calls()); got != "[0,1,2,3] [4,5,6,7] [8,9] [10,11]" && got != "[0,1,2,3] [4,5,6,7] [8,9] [10] [11]" {
		t.Fatalf("batches = %s", got)
	}
	st := r.MappingStats("trigger")
	if st.Batches != int64(len(h.calls())) || st.Retries != 0 || st.FailedRecords != 0 {
		t.Fatalf("stats = %+v for %d invocations", st, len(h.calls()))
	}
}

func TestMappingPartialBatchFailure(t *testing.T) {
	tests := []struct {
		name      string
		failIDs   []string // ids reported failed on the first call
		wantCalls string
	}{
		{"single failure", []string{"3"}, "[0,1,2,3,4,5] [3,4,5]"},
		{"several failures retry from lowest", []string{"4", "2"}, "[0,1,2,3,4,5] [2,3,4,5]"},
		{"first record fails", []string{"0"}, "[0,1,2,3,4,5] [0,1,2,3,4,5]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRuntime(t)
			h := &recorder{decide: func(call int, idList, seqs []string) (events.DynamoDBEventResponse, error) {
				var resp events.DynamoDBEventResponse
				if call == 0 {
					for i, id := range idList {
						if slices.Contains(tc.failIDs, id) {
							resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seqs[i]})
						}
					}
				}
				return resp, nil
			}}
			mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
			tb := newStreamTable(t, ids(6)...)
			startMapping(t, r, tb, "trigger", StreamMapping{BatchSize: 10, ReportBatchItemFailures: true, MaxRetryAttempts: -1, RetryDelay: -1})
			waitFor(t, "all records processed", func() bool { return r.MappingStats("trigger").Records == 6 })
			if got := join(h.calls()); got != tc.wantCalls {
				t.Fatalf("calls = %s, want %s", got, tc.wantCalls)
			}
			if st := r.MappingStats("trigger"); st.Retries != 1 || st.Batches != 2 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

func TestMappingInvalidPartialResponseFailsWholeBatch(t *testing.T) {
	tests := []struct {
		name string
		resp any
	}{
		{"empty itemIdentifier", events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ""}}}},
		{"null itemIdentifier", map[string]any{"batchItemFailures": []any{map[string]any{"itemIdentifier": nil}}}},
		{"bad key name", map[string]any{"batchItemFailures": []any{map[string]any{"itemId": "1"}}}},
		{"unknown sequence number", events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "999"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRuntime(t)
			var mu sync.Mutex
			var calls [][]string
			mustRegister(t, r, "trigger", func(e events.DynamoDBEvent) (any, error) {
				mu.Lock()
				defer mu.Unlock()
				var idList []string
				for _, rec := range e.Records {
					idList = append(idList, rec.Change.NewImage["id"].String())
				}
				calls = append(calls, idList)
				if len(calls) == 1 {
					return tc.resp, nil
				}
				return nil, nil // null response: complete success
			}, FunctionOptions{})
			tb := newStreamTable(t, ids(3)...)
			startMapping(t, r, tb, "trigger", StreamMapping{ReportBatchItemFailures: true, MaxRetryAttempts: -1, RetryDelay: -1})
			waitFor(t, "records processed", func() bool { return r.MappingStats("trigger").Records == 3 })
			mu.Lock()
			defer mu.Unlock()
			if got := join(calls); got != "[0,1,2] [0,1,2]" {
				t.Fatalf("calls = %s, want whole batch retried", got)
			}
		})
	}
}

func TestMappingIgnoresPartialResponseWhenNotEnabled(t *testing.T) {
	r := newTestRuntime(t)
	h := &recorder{decide: func(_ int, _, seqs []string) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: seqs[0]}}}, nil
	}}
	mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
	tb := newStreamTable(t, ids(3)...)
	startMapping(t, r, tb, "trigger", StreamMapping{})
	waitFor(t, "records processed", func() bool { return r.MappingStats("trigger").Records == 3 })
	if n := len(h.calls()); n != 1 {
		t.Fatalf("%d calls; the response must be ignored without ReportBatchItemFailures", n)
	}
}

func TestMappingRetriesThenOnFailure(t *testing.T) {
	r := newTestRuntime(t)
	h := &recorder{decide: func(_ int, idList, _ []string) (events.DynamoDBEventResponse, error) {
		if slices.Contains(idList, "1") {
			return events.DynamoDBEventResponse{}, &ptrError{code: 1}
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
	f := &failures{}
	tb := newStreamTable(t, ids(6)...)
	startMapping(t, r, tb, "trigger", StreamMapping{BatchSize: 3, MaxRetryAttempts: 2, OnFailure: f.onFailure, RetryDelay: time.Millisecond})
	waitFor(t, "good batch processed", func() bool { return r.MappingStats("trigger").Records == 3 })

	if got := join(h.calls()); got != "[0,1,2] [0,1,2] [0,1,2] [3,4,5]" {
		t.Fatalf("calls = %s", got)
	}
	failedIDs, errs := f.snapshot()
	if strings.Join(failedIDs, ",") != "0,1,2" || len(errs) != 1 {
		t.Fatalf("OnFailure got %v (%d calls)", failedIDs, len(errs))
	}
	var fe *FunctionError
	if !errors.As(errs[0], &fe) || fe.Type != "ptrError" {
		t.Fatalf("OnFailure error = %v", errs[0])
	}
	st := r.MappingStats("trigger")
	if st.Retries != 2 || st.FailedRecords != 3 || st.Batches != 4 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestMappingBisectIsolatesPoisonRecord(t *testing.T) {
	r := newTestRuntime(t)
	var mu sync.Mutex
	processed := map[string]int{}
	h := &recorder{decide: func(_ int, idList, _ []string) (events.DynamoDBEventResponse, error) {
		if slices.Contains(idList, "5") {
			return events.DynamoDBEventResponse{}, errors.New("poison")
		}
		mu.Lock()
		for _, id := range idList {
			processed[id]++
		}
		mu.Unlock()
		return events.DynamoDBEventResponse{}, nil
	}}
	mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
	f := &failures{}
	tb := newStreamTable(t, ids(8)...)
	startMapping(t, r, tb, "trigger", StreamMapping{BatchSize: 8, MaxRetryAttempts: 1, BisectOnError: true, OnFailure: f.onFailure, RetryDelay: -1})
	waitFor(t, "all good records processed", func() bool { return r.MappingStats("trigger").Records == 7 })

	failedIDs, _ := f.snapshot()
	if strings.Join(failedIDs, ",") != "5" {
		t.Fatalf("OnFailure got %v, want only the poison record (calls %s)", failedIDs, join(h.calls()))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids(8) {
		if id != "5" && processed[id] != 1 {
			t.Errorf("record %s processed %d times", id, processed[id])
		}
	}
}

func TestMappingNothingDropped(t *testing.T) {
	// Every third invocation fails (function error or crash); with infinite
	// retries every record must eventually be processed, in order.
	r := newTestRuntime(t)
	var mu sync.Mutex
	var order []string
	calls := 0
	mustRegister(t, r, "trigger", func(e events.DynamoDBEvent) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls%3 == 0 {
			return errors.New("transient")
		}
		for _, rec := range e.Records {
			order = append(order, rec.Change.NewImage["id"].String())
		}
		return nil
	}, FunctionOptions{})
	r.SetCrash("trigger", 2)
	tb := newStreamTable(t)
	startMapping(t, r, tb, "trigger", StreamMapping{BatchSize: 7, MaxRetryAttempts: -1, RetryDelay: -1})
	putIDs(t, tb, ids(50)...)
	waitFor(t, "all records processed", func() bool { return r.MappingStats("trigger").Records == 50 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != strings.Join(ids(50), ",") {
		t.Fatalf("processing order = %v", order)
	}
	if st := r.MappingStats("trigger"); st.Retries == 0 || st.FailedRecords != 0 || st.DiscardedRecords != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestMappingDiscardWithoutOnFailureIsCounted(t *testing.T) {
	r := newTestRuntime(t)
	mustRegister(t, r, "trigger", func() error { return errors.New("always") }, FunctionOptions{})
	tb := newStreamTable(t, ids(2)...)
	startMapping(t, r, tb, "trigger", StreamMapping{MaxRetryAttempts: 0})
	waitFor(t, "records discarded", func() bool { return r.MappingStats("trigger").DiscardedRecords == 2 })
	if st := r.MappingStats("trigger"); st.Batches != 1 || st.Records != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestMappingBatchingWindow(t *testing.T) {
	r := newTestRuntime(t)
	h := &recorder{}
	mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
	tb := newStreamTable(t, "a")
	// A long window: the poller waits for a full batch of 3.
	startMapping(t, r, tb, "trigger", StreamMapping{BatchSize: 3, MaxBatchingWindow: time.Minute})
	putIDs(t, tb, "b", "c")
	waitFor(t, "full batch", func() bool { return r.MappingStats("trigger").Records == 3 })
	if got := join(h.calls()); got != "[a,b,c]" {
		t.Fatalf("calls = %s", got)
	}

	// A short window: a lone record goes out once the window has passed.
	r2 := newTestRuntime(t)
	h2 := &recorder{}
	mustRegister(t, r2, "trigger", h2.handle, FunctionOptions{})
	tb2 := newStreamTable(t, "x")
	start := time.Now()
	startMapping(t, r2, tb2, "trigger", StreamMapping{BatchSize: 3, MaxBatchingWindow: 30 * time.Millisecond})
	waitFor(t, "partial batch", func() bool { return r2.MappingStats("trigger").Records == 1 })
	if elapsed := time.Since(start); elapsed < 30*time.Millisecond {
		t.Fatalf("invoked after %v, before the batching window", elapsed)
	}
}

func TestMappingStartingPositionLatest(t *testing.T) {
	r := newTestRuntime(t)
	h := &recorder{}
	mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
	tb := newStreamTable(t, "old1", "old2")
	startMapping(t, r, tb, "trigger", StreamMapping{StartingPosition: Latest})
	putIDs(t, tb, "new")
	waitFor(t, "new record", func() bool { return r.MappingStats("trigger").Records == 1 })
	if got := join(h.calls()); got != "[new]" {
		t.Fatalf("calls = %s", got)
	}
}

func TestMapStreamValidation(t *testing.T) {
	r := newTestRuntime(t)
	mustRegister(t, r, "trigger", func() error { return nil }, FunctionOptions{})
	tb := newStreamTable(t)
	tests := []struct {
		name   string
		stream *dynamo.Stream
		fn     string
		m      StreamMapping
	}{
		{"nil stream", nil, "trigger", StreamMapping{}},
		{"unknown function", tb.Stream(), "nope", StreamMapping{}},
		{"batch too big", tb.Stream(), "trigger", StreamMapping{BatchSize: MaxBatchSize + 1}},
		{"retry attempts below -1", tb.Stream(), "trigger", StreamMapping{MaxRetryAttempts: -2}},
		{"bad starting position", tb.Stream(), "trigger", StreamMapping{StartingPosition: "AT_TIMESTAMP"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if stop, err := r.MapStream(context.Background(), tc.stream, tc.fn, tc.m); err == nil {
				stop()
				t.Fatal("MapStream succeeded")
			}
		})
	}
}

func TestMappingStopLeaksNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newTestRuntime(t)
	entered := make(chan struct{}, 1)
	mustRegister(t, r, "blocking", func(ctx context.Context, _ events.DynamoDBEvent) error {
		entered <- struct{}{}
		<-ctx.Done() // stays in flight until the mapping stops
		return ctx.Err()
	}, FunctionOptions{})
	mustRegister(t, r, "idle", func() error { return nil }, FunctionOptions{})

	tb := newStreamTable(t, "a")
	stopBlocking, err := r.MapStream(context.Background(), tb.Stream(), "blocking", StreamMapping{})
	if err != nil {
		t.Fatal(err)
	}
	idleTable := newStreamTable(t)
	stopIdle, err := r.MapStream(context.Background(), idleTable.Stream(), "idle", StreamMapping{})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	stopBlocking()
	stopIdle()
	stopIdle() // idempotent
	if st := r.MappingStats("blocking"); st.Records != 0 || st.FailedRecords != 0 {
		t.Fatalf("an interrupted batch was checkpointed or failed: %+v", st)
	}
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })

	// Cancelling the parent context stops a mapping too.
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := r.MapStream(ctx, idleTable.Stream(), "idle", StreamMapping{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	stop()
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// TestMappingShards: a stream of four shards is polled by four pollers; each item's
// records arrive in order, in batches of one shard only, and nothing is lost.
func TestMappingShards(t *testing.T) {
	r := newTestRuntime(t)
	var (
		mu   sync.Mutex
		seen = map[string][]string{} // id -> versions in delivery order
	)
	tb := dynamo.NewTable(testRegion, testAccount, dynamo.Schema{Name: "events", HashKey: "id", StreamView: dynamo.ViewNewImage, StreamShards: 4})
	handler := func(_ context.Context, e events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		shards := map[int]bool{}
		mu.Lock()
		defer mu.Unlock()
		for _, rec := range e.Records {
			shards[tb.Stream().ShardOf(rec)] = true
			id := rec.Change.NewImage["id"].String()
			seen[id] = append(seen[id], rec.Change.NewImage["v"].Number())
		}
		if len(shards) > 1 {
			return events.DynamoDBEventResponse{}, fmt.Errorf("a batch mixed shards %v", shards)
		}
		return events.DynamoDBEventResponse{}, nil
	}
	mustRegister(t, r, "apply", handler, FunctionOptions{})
	startMapping(t, r, tb, "apply", StreamMapping{BatchSize: 7})
	const items, versions = 40, 5
	for v := range versions {
		for i := range items {
			_, err := tb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("events"), Item: map[string]types.AttributeValue{
				"id": &types.AttributeValueMemberS{Value: fmt.Sprint(i)}, "v": &types.AttributeValueMemberN{Value: fmt.Sprint(v)},
			}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "every record processed", func() bool { return r.MappingStats("apply").Records == items*versions })
	mu.Lock()
	defer mu.Unlock()
	for id, vs := range seen {
		if want := []string{"0", "1", "2", "3", "4"}; !slices.Equal(vs, want) {
			t.Errorf("item %s delivered as %v, want %v", id, vs, want)
		}
	}
	used := map[int]bool{}
	for _, rec := range tb.Stream().Read("", 0) {
		used[tb.Stream().ShardOf(rec)] = true
	}
	if len(used) < 2 {
		t.Errorf("40 items all hashed to %v: the test would not exercise shards", used)
	}
}

// TestMappingThrottleIsNotARetry: while the account's concurrency is used up, the
// mapping cannot invoke its function; as AWS does, it retries until the invocation is
// made, and a mapping that allows no retries of function errors still gives nothing
// up.
func TestMappingThrottleIsNotARetry(t *testing.T) {
	r := New(testRegion, testAccount, nil, WithAccountConcurrency(1))
	entered, release := make(chan struct{}), make(chan struct{})
	mustRegister(t, r, "hold", func() error {
		close(entered)
		<-release
		return nil
	}, FunctionOptions{})
	done := make(chan error, 1)
	go func() { _, err := r.Invoke(context.Background(), "hold", []byte(`{}`)); done <- err }()
	<-entered
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
		<-done
	})

	h := &recorder{}
	mustRegister(t, r, "trigger", h.handle, FunctionOptions{})
	f := &failures{}
	tb := newStreamTable(t, ids(4)...)
	startMapping(t, r, tb, "trigger", StreamMapping{BatchSize: 10, MaxRetryAttempts: 0, OnFailure: f.onFailure, RetryDelay: time.Millisecond})
	waitFor(t, "throttled invocations", func() bool { return r.MappingStats("trigger").Throttled >= 3 })
	close(release)
	released = true
	waitFor(t, "records processed", func() bool { return r.MappingStats("trigger").Records == 4 })
	if failed, _ := f.snapshot(); len(failed) != 0 {
		t.Errorf("records given up while throttled: %v", failed)
	}
	if got := join(h.calls()); got != "[0,1,2,3]" {
		t.Errorf("calls = %s, want the batch once, after the slot was free", got)
	}
}
