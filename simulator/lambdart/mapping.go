package lambdart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iot-dr/iot-dr/simulator/dynamo"
)

// Starting positions for StreamMapping.StartingPosition.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
)

// Defaults and limits of a stream mapping.
const (
	DefaultBatchSize  = 100 // Lambda's default for DynamoDB streams
	MaxBatchSize      = 10000
	DefaultRetryDelay = 20 * time.Millisecond
)

// StreamMapping configures an event source mapping from a DynamoDB stream to
// a function, mirroring the Lambda EventSourceMapping settings.
type StreamMapping struct {
	// BatchSize is the maximum number of records per invocation
	// (0 = DefaultBatchSize).
	BatchSize int
	// MaxRetryAttempts is how many times a failing batch is retried before
	// its records go to OnFailure: -1 retries until success (Lambda's
	// default), 0 never retries, n retries n times; the zero value therefore
	// gives up after the first failure, as Lambda does with 0. Bisecting a
	// batch does not count as a retry, nor does an invocation refused for
	// concurrency (ErrThrottled), which is retried until it is made.
	MaxRetryAttempts int
	// BisectOnError splits a batch that failed with a function error in two
	// and retries each half separately (BisectBatchOnFunctionError).
	BisectOnError bool
	// ReportBatchItemFailures makes the poller read the response as an
	// events.DynamoDBEventResponse (partial batch response).
	ReportBatchItemFailures bool
	// OnFailure receives records the poller gave up on, with the last error
	// (the on-failure destination). It runs on the poller goroutine and
	// should return promptly. If nil, such records are logged at error level
	// and counted as discarded.
	OnFailure func(records []events.DynamoDBEventRecord, err error)
	// MaxBatchingWindow is how long to gather records before invoking with a
	// batch smaller than BatchSize (0 = invoke as soon as records exist).
	MaxBatchingWindow time.Duration
	// RetryDelay is the back-off between a failure and the next attempt
	// (0 = DefaultRetryDelay, negative = none).
	RetryDelay time.Duration
	// StartingPosition is TrimHorizon (default, "") or Latest.
	StartingPosition string
}

// MappingStats are cumulative counters over all stream mappings of one
// function.
type MappingStats struct {
	// Batches is the number of invocations the pollers made.
	Batches int64
	// Records is the number of records checkpointed as processed.
	Records int64
	// Retries is the number of invocations that re-sent records after a
	// failure (bisected halves included).
	Retries int64
	// FailedRecords is the number of records handed to OnFailure.
	FailedRecords int64
	// DiscardedRecords is the number of records given up with no OnFailure.
	DiscardedRecords int64
	// Throttled is the number of invocations refused for concurrency (retried
	// without counting against MaxRetryAttempts).
	Throttled int64
}

type mappingCounters struct {
	batches, records, retries, failed, discarded, throttled atomic.Int64
}

// MappingStats returns the stream-mapping counters of a function (zero if it
// has no mapping).
func (r *Runtime) MappingStats(function string) MappingStats {
	r.mu.Lock()
	c := r.stats[function]
	r.mu.Unlock()
	if c == nil {
		return MappingStats{}
	}
	return MappingStats{
		Batches:          c.batches.Load(),
		Records:          c.records.Load(),
		Retries:          c.retries.Load(),
		FailedRecords:    c.failed.Load(),
		DiscardedRecords: c.discarded.Load(),
		Throttled:        c.throttled.Load(),
	}
}

// MapStream starts polling s and invoking function with batches of records,
// until ctx is done or stop is called; stop cancels the poller and waits for
// it to exit. An invocation cut short by stop is not checkpointed, so its
// records are delivered again by a later mapping started from the same
// position (at least once).
func (r *Runtime) MapStream(ctx context.Context, s *dynamo.Stream, function string, m StreamMapping) (stop func(), err error) {
	if s == nil {
		return nil, errors.New("lambdart: map stream: nil stream (table has no StreamView?)")
	}
	fn, err := r.lookup(function)
	if err != nil {
		return nil, fmt.Errorf("lambdart: map stream: %w", err)
	}
	switch {
	case m.BatchSize == 0:
		m.BatchSize = DefaultBatchSize
	case m.BatchSize < 0 || m.BatchSize > MaxBatchSize:
		return nil, fmt.Errorf("lambdart: map stream: BatchSize %d outside 1..%d", m.BatchSize, MaxBatchSize)
	}
	if m.MaxRetryAttempts < -1 {
		return nil, fmt.Errorf("lambdart: map stream: MaxRetryAttempts %d below -1", m.MaxRetryAttempts)
	}
	if m.RetryDelay == 0 {
		m.RetryDelay = DefaultRetryDelay
	}
	var start string
	switch m.StartingPosition {
	case "", TrimHorizon:
	case Latest:
		start = s.Latest()
	default:
		return nil, fmt.Errorf("lambdart: map stream: unknown StartingPosition %q", m.StartingPosition)
	}

	r.mu.Lock()
	c := r.stats[fn.name]
	if c == nil {
		c = &mappingCounters{}
		r.stats[fn.name] = c
	}
	r.mu.Unlock()

	// One poller per shard, as Lambda runs one batch at a time per shard: records of
	// one item stay in order, shards proceed independently.
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for shard := range s.Shards() {
		p := &poller{
			r:     r,
			fn:    fn.name,
			s:     s,
			shard: shard,
			m:     m,
			c:     c,
			log:   r.logger.With("function", fn.name, "eventSourceArn", s.ARN(), "shard", shard),
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(pctx, start)
		}()
	}
	var once sync.Once
	return func() {
		once.Do(cancel)
		wg.Wait()
	}, nil
}

// poller is one shard's poller: one batch in flight, in order.
type poller struct {
	r     *Runtime
	fn    string
	s     *dynamo.Stream
	shard int
	m     StreamMapping
	c     *mappingCounters
	log   *slog.Logger
}

// read returns up to max of this shard's records after afterSeq, and the last
// sequence number looked at (for Wait).
func (p *poller) read(afterSeq string, max int) ([]dynamo.Record, string) {
	return p.s.ReadShardRecords(p.shard, afterSeq, max)
}

// outcome of one invocation.
type outcome struct {
	failedAt int   // index of the lowest reported failed record, or -1
	err      error // whole-batch failure (function error or invalid response)
}

func (p *poller) run(ctx context.Context, checkpoint string) {
	var (
		pending  []dynamo.Record // read, not yet checkpointed
		curLen   int             // size of the next batch (a prefix of pending)
		failures int             // failed attempts of the current head batch
		retrying bool            // the next invocation re-sends records
	)
	for {
		if len(pending) == 0 {
			pending = p.fill(ctx, checkpoint)
			if ctx.Err() != nil {
				return
			}
			curLen = len(pending)
		} else if curLen == len(pending) && len(pending) < p.m.BatchSize {
			// A retry re-reads from the checkpoint, which may bring newer records.
			more, _ := p.read(pending[len(pending)-1].SequenceNumber(), p.m.BatchSize-len(pending))
			pending = append(pending, more...)
			curLen = len(pending)
		}
		batch := pending[:curLen]
		if retrying {
			p.c.retries.Add(1)
		}
		res := p.invoke(ctx, batch)
		if ctx.Err() != nil {
			return // stopped mid-invocation: not checkpointed
		}

		switch {
		case res.err == nil && res.failedAt < 0: // complete success
			checkpoint = batch[len(batch)-1].SequenceNumber()
			p.c.records.Add(int64(len(batch)))
			pending = pending[curLen:]
			curLen, failures, retrying = len(pending), 0, false
			continue

		case res.err == nil: // partial batch failure
			if i := res.failedAt; i > 0 {
				checkpoint = batch[i-1].SequenceNumber()
				p.c.records.Add(int64(i))
				pending = pending[i:]
				curLen -= i
				failures = 0
			}
			failures++
			if p.exhausted(failures) {
				err := fmt.Errorf("lambdart: function %s reported batch item failure at %s", p.fn, pending[0].SequenceNumber())
				checkpoint = p.giveUp(pending[:curLen], err)
				pending = pending[curLen:]
				curLen, failures, retrying = len(pending), 0, false
				continue
			}

		case errors.Is(res.err, ErrThrottled):
			// Lambda could not invoke the function (concurrency): as AWS does, the
			// mapping retries until the records expire, neither bisecting nor counting
			// the attempt against MaxRetryAttempts, which bounds function errors.
			p.c.throttled.Add(1)

		default: // whole-batch failure
			if p.m.BisectOnError && curLen > 1 {
				curLen = (curLen + 1) / 2
			} else {
				failures++
				if p.exhausted(failures) {
					checkpoint = p.giveUp(batch, res.err)
					pending = pending[curLen:]
					curLen, failures, retrying = len(pending), 0, false
					continue
				}
			}
		}
		retrying = true
		if !p.sleep(ctx) {
			return
		}
	}
}

// exhausted reports whether a batch that has failed `failures` times may not
// be retried again.
func (p *poller) exhausted(failures int) bool {
	return p.m.MaxRetryAttempts >= 0 && failures > p.m.MaxRetryAttempts
}

// giveUp hands records to the on-failure destination and returns the
// checkpoint past them.
func (p *poller) giveUp(recs []dynamo.Record, err error) string {
	first, last := recs[0].SequenceNumber(), recs[len(recs)-1].SequenceNumber()
	if p.m.OnFailure == nil {
		p.c.discarded.Add(int64(len(recs)))
		p.log.Error("retries exhausted, no on-failure destination: records discarded",
			"records", len(recs), "firstSequenceNumber", first, "lastSequenceNumber", last, "error", err)
		return last
	}
	p.c.failed.Add(int64(len(recs)))
	p.log.Info("retries exhausted: records sent to on-failure destination",
		"records", len(recs), "firstSequenceNumber", first, "lastSequenceNumber", last, "error", err)
	evs := make([]events.DynamoDBEventRecord, len(recs))
	for i, r := range recs {
		evs[i] = r.Event()
	}
	p.m.OnFailure(evs, err)
	return last
}

// fill blocks until records after checkpoint exist and returns up to
// BatchSize of them, waiting up to MaxBatchingWindow for a full batch.
func (p *poller) fill(ctx context.Context, checkpoint string) []dynamo.Record {
	recs, scanned := p.read(checkpoint, p.m.BatchSize)
	for len(recs) == 0 {
		if p.s.Wait(ctx, scanned) != nil {
			return nil
		}
		recs, scanned = p.read(checkpoint, p.m.BatchSize)
	}
	if p.m.MaxBatchingWindow <= 0 || len(recs) >= p.m.BatchSize {
		return recs
	}
	wctx, cancel := context.WithTimeout(ctx, p.m.MaxBatchingWindow)
	defer cancel()
	for len(recs) < p.m.BatchSize {
		if p.s.Wait(wctx, scanned) != nil {
			break
		}
		recs, scanned = p.read(checkpoint, p.m.BatchSize)
	}
	return recs
}

func (p *poller) sleep(ctx context.Context) bool {
	if p.m.RetryDelay < 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(p.m.RetryDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *poller) invoke(ctx context.Context, batch []dynamo.Record) outcome {
	p.c.batches.Add(1)
	// The event JSON encoding/json would write of the batch's events.DynamoDBEvent,
	// written straight from the table's items.
	payload := dynamo.AppendEventJSON(nil, batch)
	out, err := p.r.Invoke(ctx, p.fn, payload)
	if err != nil {
		p.log.Debug("batch failed", "records", len(batch), "error", err)
		return outcome{failedAt: -1, err: err}
	}
	if !p.m.ReportBatchItemFailures {
		return outcome{failedAt: -1}
	}
	i, err := parseBatchItemFailures(batch, out)
	return outcome{failedAt: i, err: err}
}

// parseBatchItemFailures interprets a partial batch response as Lambda does:
// a null or empty response or an empty/null batchItemFailures list is a
// complete success; an itemIdentifier that is missing, null, empty or not a
// sequence number of the batch makes the whole batch a failure; otherwise it
// returns the index of the lowest failed record. A response that is not a
// JSON object carries no batchItemFailures and counts as success.
func parseBatchItemFailures(batch []dynamo.Record, out []byte) (int, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 || out[0] != '{' {
		return -1, nil
	}
	var resp struct {
		BatchItemFailures []map[string]*string `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return -1, fmt.Errorf("lambdart: invalid partial batch response: %w", err)
	}
	lowest := -1
	for _, f := range resp.BatchItemFailures {
		id := f["itemIdentifier"]
		if id == nil || *id == "" {
			return -1, errors.New("lambdart: partial batch response has a missing, null or empty itemIdentifier")
		}
		idx := -1
		for i, rec := range batch {
			if rec.SequenceNumber() == *id {
				idx = i
				break
			}
		}
		if idx < 0 {
			return -1, fmt.Errorf("lambdart: partial batch response names %q, not a sequence number of the batch", *id)
		}
		if lowest < 0 || idx < lowest {
			lowest = idx
		}
	}
	return lowest, nil
}
