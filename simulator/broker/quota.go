package broker

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// AWS IoT Core's message-broker quotas ("AWS IoT Core endpoints and quotas", message
// broker and protocol limits), per second of AWS time.
const (
	// DefaultConnectPerSecond is the account's CONNECT requests per second in one Region
	// (adjustable; lower in some Regions).
	DefaultConnectPerSecond = 500
	// DefaultClientConnectPerSecond is the CONNECT requests per second per client ID
	// (not adjustable).
	DefaultClientConnectPerSecond = 1
	// DefaultPublishPerSecond is the inbound PUBLISH requests per second per connection
	// (not adjustable).
	DefaultPublishPerSecond = 100
)

// ErrThrottled is the cause of every throttling refusal; a Refusal's Throttled field
// says a refusal was one.
var ErrThrottled = errors.New("THROTTLED")

// Quotas are the limits the broker enforces, as rates per wall-clock second (a drill
// that compresses time multiplies AWS's rates by its time scale). A zero field takes
// AWS's default; a negative one switches that limit off.
type Quotas struct {
	// ConnectPerSecond bounds CONNECTs across every client of the broker (the
	// account's quota in the Region). The bucket holds one AWS second's worth
	// (ConnectPerSecond / TimeScale, at least one and at least the largest ConnectCost
	// seen), as the registry's API buckets hold one second's.
	ConnectPerSecond float64
	// ClientConnectPerSecond bounds CONNECTs per client ID: after one, the next is
	// admitted only 1/ClientConnectPerSecond later.
	ClientConnectPerSecond float64
	// PublishPerSecond bounds PUBLISHes per connection (bucket of one AWS second's worth).
	PublishPerSecond float64
	// TimeScale, when above 1, is how many AWS seconds one wall second stands for:
	// refusal reasons quote the rates in AWS seconds (rate / TimeScale).
	TimeScale float64
	// ConnectCost, when set, is how many of the account's CONNECTs one CONNECT of a
	// client counts for: a live device standing for k devices of a represented fleet
	// costs k, so that N live devices reconnect as slowly as the N*k they stand for,
	// while the health probes (cost 1) keep their true share. At least 1.
	ConnectCost func(clientID string) int
}

func (q Quotas) withDefaults() Quotas {
	def := func(v, d float64) float64 {
		if v == 0 {
			return d
		}
		return v
	}
	return Quotas{ConnectPerSecond: def(q.ConnectPerSecond, DefaultConnectPerSecond),
		ClientConnectPerSecond: def(q.ClientConnectPerSecond, DefaultClientConnectPerSecond),
		PublishPerSecond:       def(q.PublishPerSecond, DefaultPublishPerSecond), TimeScale: max(1, q.TimeScale),
		ConnectCost: q.ConnectCost}
}

// throttle holds the broker's token buckets.
type throttle struct {
	q       Quotas
	account *rate.Limiter // nil: unlimited

	mu        sync.Mutex
	lastByID  map[string]time.Time // last admitted CONNECT per client ID
	publishes sync.Map             // net.Conn -> *rate.Limiter
}

func newThrottle(q Quotas) *throttle {
	q = q.withDefaults()
	t := &throttle{q: q, lastByID: map[string]time.Time{}}
	if q.ConnectPerSecond > 0 {
		t.account = rate.NewLimiter(rate.Limit(q.ConnectPerSecond), max(1, int(q.ConnectPerSecond/q.TimeScale)))
	}
	return t
}

// connect admits or throttles one CONNECT of clientID. The per-client limit counts
// admitted CONNECTs only and is checked first, so that a client refused for its own rate
// spends none of the account's, and one the account refused may try again at once.
func (t *throttle) connect(clientID string, now time.Time) error {
	var gap time.Duration
	if t.q.ClientConnectPerSecond > 0 {
		gap = time.Duration(float64(time.Second) / t.q.ClientConnectPerSecond)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, seen := t.lastByID[clientID]; gap > 0 && seen && now.Sub(last) < gap {
		return fmt.Errorf("%w: CONNECT requests per second per client ID exceeded (%s)", ErrThrottled, t.perSecond(t.q.ClientConnectPerSecond))
	}
	cost := 1
	if t.q.ConnectCost != nil {
		cost = max(1, t.q.ConnectCost(clientID))
	}
	if t.account != nil && cost > t.account.Burst() {
		t.account.SetBurstAt(now, cost) // else it could never be admitted
	}
	if t.account != nil && !t.account.AllowN(now, cost) {
		return fmt.Errorf("%w: CONNECT requests per second per account exceeded (%s)", ErrThrottled, t.perSecond(t.q.ConnectPerSecond))
	}
	if gap > 0 {
		if len(t.lastByID) > 1<<16 {
			for id, at := range t.lastByID { // forget clients whose gap has passed
				if now.Sub(at) >= gap {
					delete(t.lastByID, id)
				}
			}
		}
		t.lastByID[clientID] = now
	}
	return nil
}

// publish admits or throttles one PUBLISH on conn.
func (t *throttle) publish(conn net.Conn, now time.Time) error {
	if t.q.PublishPerSecond <= 0 || conn == nil {
		return nil
	}
	v, ok := t.publishes.Load(conn)
	if !ok {
		v, _ = t.publishes.LoadOrStore(conn, rate.NewLimiter(rate.Limit(t.q.PublishPerSecond), max(1, int(t.q.PublishPerSecond/t.q.TimeScale))))
	}
	if !v.(*rate.Limiter).AllowN(now, 1) {
		return fmt.Errorf("%w: PUBLISH requests per second per connection exceeded (%s)", ErrThrottled, t.perSecond(t.q.PublishPerSecond))
	}
	return nil
}

func (t *throttle) forget(conn net.Conn) { t.publishes.Delete(conn) }

func (t *throttle) perSecond(r float64) string { return fmt.Sprintf("%g/s", r/t.q.TimeScale) }
