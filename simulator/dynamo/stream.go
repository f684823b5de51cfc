package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
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

// Stream is the single-shard change stream of a Table. It is safe for
// concurrent use. Records handed out share their attribute maps with the
// stream and must be treated as read-only.
type Stream struct {
	arn       string
	region    string
	view      string
	shards    int
	retention time.Duration
	now       func() time.Time

	mu      sync.Mutex
	records []events.DynamoDBEventRecord
	shardOf []int // shard of records[i], with more than one shard
	seq     uint64
	notify  chan struct{} // closed and replaced on every append
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
	rec := events.DynamoDBEventRecord{
		AWSRegion:      s.region,
		EventID:        newEventID(),
		EventVersion:   "1.1",
		EventSource:    "aws:dynamodb",
		EventSourceArn: s.arn,
	}
	switch {
	case c.oldItem == nil:
		rec.EventName = string(events.DynamoDBOperationTypeInsert)
	case c.newItem == nil:
		rec.EventName = string(events.DynamoDBOperationTypeRemove)
	default:
		rec.EventName = string(events.DynamoDBOperationTypeModify)
	}
	if c.ttl {
		// The identity AWS puts on deletes made by the TTL process.
		rec.UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	}
	keys, err := ToEventImage(c.keys)
	if err != nil {
		return fmt.Errorf("stream keys: %w", err)
	}
	size := itemSize(c.keys)
	var newImg, oldImg map[string]events.DynamoDBAttributeValue
	if s.view == ViewNewImage || s.view == ViewNewAndOldImages {
		if newImg, err = ToEventImage(c.newItem); err != nil {
			return fmt.Errorf("stream new image: %w", err)
		}
		size += itemSize(c.newItem)
	}
	if s.view == ViewOldImage || s.view == ViewNewAndOldImages {
		if oldImg, err = ToEventImage(c.oldItem); err != nil {
			return fmt.Errorf("stream old image: %w", err)
		}
		size += itemSize(c.oldItem)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rec.Change = events.DynamoDBStreamRecord{
		ApproximateCreationDateTime: events.SecondsEpochTime{Time: c.at},
		Keys:                        keys,
		NewImage:                    newImg,
		OldImage:                    oldImg,
		SequenceNumber:              fmt.Sprintf("%0*d", seqWidth, s.seq),
		SizeBytes:                   size,
		StreamViewType:              s.view,
	}
	s.trimLocked()
	s.records = append(s.records, rec)
	if s.shards > 1 {
		s.shardOf = append(s.shardOf, s.ShardOf(rec))
	}
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

// trimLocked drops records older than the retention period, by their
// creation time (kept at full precision; only its JSON form is in seconds).
func (s *Stream) trimLocked() {
	cutoff := s.now().Add(-s.retention)
	n := 0
	for n < len(s.records) && s.records[n].Change.ApproximateCreationDateTime.Before(cutoff) {
		n++
	}
	if n == 0 {
		return
	}
	// Zero the dropped records so their images can be collected.
	clear(s.records[:n])
	s.records = s.records[n:]
	if s.shards > 1 {
		s.shardOf = s.shardOf[n:]
	}
}

// indexAfter returns the index of the first record whose sequence number is
// greater than afterSeq ("" means from the trim horizon).
func (s *Stream) indexAfterLocked(afterSeq string) int {
	if afterSeq == "" {
		return 0
	}
	return sort.Search(len(s.records), func(i int) bool {
		return s.records[i].Change.SequenceNumber > afterSeq
	})
}

// Read returns up to max records with sequence numbers greater than afterSeq,
// oldest first, without blocking. afterSeq "" reads from the oldest retained
// record (TRIM_HORIZON); otherwise it must be a sequence number from this
// stream. max <= 0 means no limit.
func (s *Stream) Read(afterSeq string, max int) []events.DynamoDBEventRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trimLocked()
	i := s.indexAfterLocked(afterSeq)
	end := len(s.records)
	if max > 0 && end-i > max {
		end = i + max
	}
	if i >= end {
		return nil
	}
	out := make([]events.DynamoDBEventRecord, end-i)
	copy(out, s.records[i:end])
	return out
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

// ReadShard is Read restricted to one shard's records. It also returns the sequence
// number of the last record it looked at, whatever its shard, for Wait: a reader of
// one shard waits for records newer than those it has already skipped.
func (s *Stream) ReadShard(shard int, afterSeq string, max int) (recs []events.DynamoDBEventRecord, scanned string) {
	if s.shards <= 1 {
		recs = s.Read(afterSeq, max)
		scanned = afterSeq
		if len(recs) > 0 {
			scanned = recs[len(recs)-1].Change.SequenceNumber
		}
		return recs, scanned
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trimLocked()
	scanned = afterSeq
	for i := s.indexAfterLocked(afterSeq); i < len(s.records) && (max <= 0 || len(recs) < max); i++ {
		scanned = s.records[i].Change.SequenceNumber
		if s.shardOf[i] == shard {
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
	return s.records[len(s.records)-1].Change.SequenceNumber
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
