package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Stream view types accepted in Schema.StreamView.
const (
	ViewNewImage        = "NEW_IMAGE"
	ViewNewAndOldImages = "NEW_AND_OLD_IMAGES"
	ViewOldImage        = "OLD_IMAGE"
	ViewKeysOnly        = "KEYS_ONLY"
)

// DefaultStreamRetention is how long DynamoDB Streams keeps records.
const DefaultStreamRetention = 24 * time.Hour

// seqWidth is the number of digits of a sequence number; fixed width makes
// lexical and numeric order agree.
const seqWidth = 21

// Stream is the change stream of a Table. It is safe for concurrent use.
//
// A record keeps the table's own items as its images: a table never changes an item
// it stores (every write stores a fresh copy), so the stream shares them rather than
// holding a converted copy of each, and converts a record only when it is read:
// Read and ReadShard into aws-lambda-go events, ReadShardRecords straight to the JSON
// a Lambda's event carries (AppendEventJSON), which is what a stream mapping sends.
type Stream struct {
	arn       string
	region    string
	view      string
	shards    int
	retention time.Duration
	now       func() time.Time

	mu      sync.Mutex
	records []Record
	seq     uint64
	notify  chan struct{} // closed and replaced on every append
}

// Record is one stream record as the stream holds it. Its images are shared with the
// table and must be treated as read-only.
type Record struct {
	s                    *Stream
	eventID, eventName   string
	seq                  string
	ttl                  bool
	at                   time.Time
	size                 int64
	shard                int
	keys, oldImg, newImg Item
}

// SequenceNumber is the record's sequence number.
func (r Record) SequenceNumber() string { return r.seq }

// NewImage and OldImage are the record's images (nil where the view or the change has
// none), shared with the table: read-only.
func (r Record) NewImage() Item { return r.newImg }

// OldImage: see NewImage.
func (r Record) OldImage() Item { return r.oldImg }

// Event is the record as aws-lambda-go represents it.
func (r Record) Event() events.DynamoDBEventRecord {
	rec := events.DynamoDBEventRecord{
		AWSRegion:      r.s.region,
		EventID:        r.eventID,
		EventName:      r.eventName,
		EventVersion:   "1.1",
		EventSource:    "aws:dynamodb",
		EventSourceArn: r.s.arn,
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: r.at},
			Keys:                        mustEventImage(r.keys),
			NewImage:                    mustEventImage(r.newImg),
			OldImage:                    mustEventImage(r.oldImg),
			SequenceNumber:              r.seq,
			SizeBytes:                   r.size,
			StreamViewType:              r.s.view,
		},
	}
	if r.ttl {
		// The identity AWS puts on deletes made by the TTL process.
		rec.UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	}
	return rec
}

// mustEventImage converts an image append has checked (checkItem).
func mustEventImage(it Item) map[string]events.DynamoDBAttributeValue {
	m, err := ToEventImage(it)
	if err != nil {
		panic(fmt.Sprintf("dynamo: stream image unchecked: %v", err))
	}
	return m
}

// AppendJSON appends the record's JSON, byte for byte what encoding/json makes of
// Event().
func (r Record) AppendJSON(b []byte) []byte {
	b = append(b, `{"awsRegion":`...)
	b = appendJSONString(b, r.s.region)
	b = append(b, `,"dynamodb":{"ApproximateCreationDateTime":`...)
	b = strconv.AppendFloat(b, float64(r.at.UnixNano())/1e9, 'f', -1, 64)
	for _, img := range []struct {
		name string
		it   Item
	}{{"Keys", r.keys}, {"NewImage", r.newImg}, {"OldImage", r.oldImg}} {
		if len(img.it) == 0 {
			continue // omitempty
		}
		b = append(b, ',', '"')
		b = append(b, img.name...)
		b = append(b, '"', ':')
		b = appendJSONImage(b, img.it)
	}
	b = append(b, `,"SequenceNumber":`...)
	b = appendJSONString(b, r.seq)
	b = append(b, `,"SizeBytes":`...)
	b = strconv.AppendInt(b, r.size, 10)
	b = append(b, `,"StreamViewType":`...)
	b = appendJSONString(b, r.s.view)
	b = append(b, `},"eventID":`...)
	b = appendJSONString(b, r.eventID)
	b = append(b, `,"eventName":`...)
	b = appendJSONString(b, r.eventName)
	b = append(b, `,"eventSource":"aws:dynamodb","eventVersion":"1.1","eventSourceARN":`...)
	b = appendJSONString(b, r.s.arn)
	if r.ttl {
		b = append(b, `,"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}`...)
	}
	return append(b, '}')
}

// AppendEventJSON appends the DynamoDB event a stream mapping invokes a function
// with, {"Records":[...]}, as encoding/json writes events.DynamoDBEvent.
func AppendEventJSON(b []byte, recs []Record) []byte {
	b = append(b, `{"Records":`...)
	if recs == nil {
		return append(b, `null}`...)
	}
	b = append(b, '[')
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.AppendJSON(b)
	}
	return append(b, ']', '}')
}

func newStream(arn, region, view string, shards int, retention time.Duration, now func() time.Time) *Stream {
	return &Stream{
		arn:       arn,
		region:    region,
		view:      view,
		shards:    shards,
		retention: retention,
		now:       now,
		notify:    make(chan struct{}),
	}
}

// ARN returns the stream ARN (the EventSourceArn of every record).
func (s *Stream) ARN() string { return s.arn }

// ViewType returns the stream view type.
func (s *Stream) ViewType() string { return s.view }

// change is one committed item-level modification, before it becomes a record.
type change struct {
	keys    Item
	oldItem Item // nil for INSERT
	newItem Item // nil for REMOVE
	ttl     bool // deleted by the TTL process
	at      time.Time
}

// append turns c into a stream record. The caller holds the table lock, which
// is what orders records by commit.
func (s *Stream) append(c change) error {
	rec := Record{s: s, eventID: newEventID(), ttl: c.ttl, at: c.at}
	switch {
	case c.oldItem == nil:
		rec.eventName = string(events.DynamoDBOperationTypeInsert)
	case c.newItem == nil:
		rec.eventName = string(events.DynamoDBOperationTypeRemove)
	default:
		rec.eventName = string(events.DynamoDBOperationTypeModify)
	}
	if err := checkItem(c.keys); err != nil {
		return fmt.Errorf("stream keys: %w", err)
	}
	rec.keys = c.keys
	rec.size = itemSize(c.keys)
	if s.view == ViewNewImage || s.view == ViewNewAndOldImages {
		if err := checkItem(c.newItem); err != nil {
			return fmt.Errorf("stream new image: %w", err)
		}
		rec.newImg = c.newItem
		rec.size += itemSize(c.newItem)
	}
	if s.view == ViewOldImage || s.view == ViewNewAndOldImages {
		if err := checkItem(c.oldItem); err != nil {
			return fmt.Errorf("stream old image: %w", err)
		}
		rec.oldImg = c.oldItem
		rec.size += itemSize(c.oldItem)
	}
	if s.shards > 1 {
		rec.shard = s.shardOfKeys(c.keys)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rec.seq = fmt.Sprintf("%0*d", seqWidth, s.seq)
	s.trimLocked()
	s.records = append(s.records, rec)
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

// trimLocked drops records older than the retention period, by their
// creation time (kept at full precision; only its JSON form is in seconds).
func (s *Stream) trimLocked() {
	cutoff := s.now().Add(-s.retention)
	n := 0
	for n < len(s.records) && s.records[n].at.Before(cutoff) {
		n++
	}
	if n == 0 {
		return
	}
	// Zero the dropped records so their images can be collected.
	clear(s.records[:n])
	s.records = s.records[n:]
}

// indexAfter returns the index of the first record whose sequence number is
// greater than afterSeq ("" means from the trim horizon).
func (s *Stream) indexAfterLocked(afterSeq string) int {
	if afterSeq == "" {
		return 0
	}
	return sort.Search(len(s.records), func(i int) bool {
		return s.records[i].seq > afterSeq
	})
}

// Read returns up to max records with sequence numbers greater than afterSeq,
// oldest first, without blocking. afterSeq "" reads from the oldest retained
// record (TRIM_HORIZON); otherwise it must be a sequence number from this
// stream. max <= 0 means no limit.
func (s *Stream) Read(afterSeq string, max int) []events.DynamoDBEventRecord {
	return eventsOf(s.readRecords(-1, afterSeq, max))
}

func eventsOf(recs []Record) []events.DynamoDBEventRecord {
	if len(recs) == 0 {
		return nil
	}
	out := make([]events.DynamoDBEventRecord, len(recs))
	for i, r := range recs {
		out[i] = r.Event()
	}
	return out
}

// readRecords returns up to max records of shard (-1: every shard) after afterSeq.
func (s *Stream) readRecords(shard int, afterSeq string, max int) []Record {
	recs, _ := s.ReadShardRecords(shard, afterSeq, max)
	return recs
}

// Appended returns how many records the stream has ever held, trimmed ones included:
// what a reader that started at the trim horizon has to process.
func (s *Stream) Appended() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.seq)
}

// Shards returns how many shards the stream has (see Schema.StreamShards).
func (s *Stream) Shards() int { return s.shards }

// ShardOf returns the shard of a record: a hash of its keys, so that every record of
// one item is in one shard, in order.
func (s *Stream) ShardOf(rec events.DynamoDBEventRecord) int {
	if s.shards <= 1 {
		return 0
	}
	names := make([]string, 0, len(rec.Change.Keys))
	for k := range rec.Change.Keys {
		names = append(names, k)
	}
	sort.Strings(names)
	h := fnv.New32a()
	for _, k := range names {
		v := rec.Change.Keys[k]
		_, _ = h.Write([]byte(k))
		if b, err := json.Marshal(&v); err == nil {
			_, _ = h.Write(b)
		}
	}
	return int(h.Sum32() % uint32(s.shards))
}

// shardOfKeys is ShardOf of a record with these keys, hashing the same bytes.
func (s *Stream) shardOfKeys(keys Item) int {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	h := fnv.New32a()
	var b []byte
	for _, k := range names {
		_, _ = h.Write([]byte(k))
		b = appendJSONValue(b[:0], keys[k])
		_, _ = h.Write(b)
	}
	return int(h.Sum32() % uint32(s.shards))
}

// ReadShard is Read restricted to one shard's records. It also returns the sequence
// number of the last record it looked at, whatever its shard, for Wait: a reader of
// one shard waits for records newer than those it has already skipped.
func (s *Stream) ReadShard(shard int, afterSeq string, max int) (recs []events.DynamoDBEventRecord, scanned string) {
	rs, scanned := s.ReadShardRecords(shard, afterSeq, max)
	return eventsOf(rs), scanned
}

// ReadShardRecords is ReadShard without the conversion (shard -1: every shard): what a
// stream mapping reads and sends as JSON (AppendEventJSON).
func (s *Stream) ReadShardRecords(shard int, afterSeq string, max int) (recs []Record, scanned string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trimLocked()
	scanned = afterSeq
	i := s.indexAfterLocked(afterSeq)
	if shard < 0 || s.shards <= 1 {
		end := len(s.records)
		if max > 0 && end-i > max {
			end = i + max
		}
		if i >= end {
			return nil, scanned
		}
		return slices.Clone(s.records[i:end]), s.records[end-1].seq
	}
	for ; i < len(s.records) && (max <= 0 || len(recs) < max); i++ {
		scanned = s.records[i].seq
		if s.records[i].shard == shard {
			recs = append(recs, s.records[i])
		}
	}
	return recs, scanned
}

// Latest returns the sequence number of the newest record, or "" if the
// stream is empty. Reading after it starts at the LATEST position.
func (s *Stream) Latest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.records) == 0 {
		if s.seq == 0 {
			return ""
		}
		return fmt.Sprintf("%0*d", seqWidth, s.seq)
	}
	return s.records[len(s.records)-1].seq
}

// Len returns the number of retained records.
func (s *Stream) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trimLocked()
	return len(s.records)
}

// Wait blocks until a record with a sequence number greater than afterSeq
// exists or ctx is done, in which case it returns ctx's error.
func (s *Stream) Wait(ctx context.Context, afterSeq string) error {
	for {
		s.mu.Lock()
		ready := s.indexAfterLocked(afterSeq) < len(s.records)
		ch := s.notify
		s.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("dynamo: waiting for stream records: %w", ctx.Err())
		}
	}
}

// newEventID returns a random 32-hex-digit id, the shape DynamoDB Streams uses.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
