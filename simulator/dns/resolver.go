package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sync/singleflight"
)

// ErrNotFound is wrapped by lookups of names that do not exist (NXDOMAIN) or
// have no A record (NODATA).
var ErrNotFound = errors.New("no such host")

// ErrRefused is wrapped by lookups the server refused (names outside its zone).
var ErrRefused = errors.New("query refused")

// WithClock sets the Resolver's clock for cache expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithTimeout sets how long the Resolver waits for one query attempt
// (default 1 s); it tries up to three times within the caller's context.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

type cacheEntry struct {
	ip      string
	expires time.Time
}

// Resolver is the device side of DNS: an ordinary net.Resolver aimed at the
// simulator's server, plus Lookup, a cache-aware path that honours the
// answer's TTL. One Resolver can be shared by thousands of devices: cache hits
// take a read lock, and concurrent misses for one name share one query. Its
// methods are safe for concurrent use.
type Resolver struct {
	addr string
	cfg  config
	std  *net.Resolver

	mu    sync.RWMutex
	cache map[string]cacheEntry
	group singleflight.Group
}

// NewResolver returns a Resolver that queries the server at serverAddr
// ("127.0.0.1:port"). WithClock, WithTimeout and WithTTLUnit apply.
func NewResolver(serverAddr string, opts ...Option) *Resolver {
	r := &Resolver{addr: serverAddr, cfg: buildConfig(opts), cache: make(map[string]cacheEntry)}
	r.std = &net.Resolver{
		PreferGo: true,
		// Whatever name server the system configures, talk to the simulator.
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, serverAddr)
		},
	}
	return r
}

// Net returns the ordinary net.Resolver aimed at the server, for code that
// takes one (e.g. a net.Dialer's Resolver). It does not cache.
func (r *Resolver) Net() *net.Resolver { return r.std }

// LookupHost resolves host through the ordinary net.Resolver, without cache.
func (r *Resolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := r.std.LookupHost(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("dns: lookup host %s: %w", host, err)
	}
	return addrs, nil
}

// Lookup returns name's IPv4 address and its remaining TTL, from the cache
// while the answer's TTL lasts and from the server otherwise. A TTL of zero is
// never cached; failures are not cached either (the server sends no SOA to
// derive a negative TTL from). Errors are *net.DNSError values that wrap
// ErrNotFound or ErrRefused where applicable.
func (r *Resolver) Lookup(ctx context.Context, name string) (ip string, ttl time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return "", 0, &net.DNSError{Err: err.Error(), Name: name, Server: r.addr, IsTimeout: true, UnwrapErr: err}
	}
	key := normalise(name)
	now := r.cfg.now()
	r.mu.RLock()
	e, ok := r.cache[key]
	r.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.ip, e.expires.Sub(now), nil
	}

	ch := r.group.DoChan(key, func() (any, error) {
		// Detached from the first caller's cancellation: others share it.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(r.cfg.attempts)*r.cfg.timeout)
		defer cancel()
		ip, wire, err := r.query(qctx, key)
		if err != nil {
			return nil, err
		}
		ttl := time.Duration(wire) * r.cfg.ttlUnit
		e := cacheEntry{ip: ip, expires: r.cfg.now().Add(ttl)}
		if ttl > 0 {
			r.mu.Lock()
			r.cache[key] = e
			r.mu.Unlock()
		}
		return e, nil
	})
	select {
	case <-ctx.Done():
		return "", 0, &net.DNSError{Err: ctx.Err().Error(), Name: name, Server: r.addr, IsTimeout: true, UnwrapErr: ctx.Err()}
	case res := <-ch:
		if res.Err != nil {
			return "", 0, res.Err
		}
		e := res.Val.(cacheEntry)
		return e.ip, max(e.expires.Sub(r.cfg.now()), 0), nil
	}
}

// Flush empties the cache.
func (r *Resolver) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.cache)
}

// query asks the server for name's A record over UDP, retrying on timeouts
// and falling back to TCP if the answer is truncated.
func (r *Resolver) query(ctx context.Context, name string) (string, uint32, error) {
	qname, err := dnsmessage.NewName(name + ".")
	if err != nil {
		return "", 0, &net.DNSError{Err: "invalid name", Name: name, UnwrapErr: err}
	}
	var lastErr error
	for range r.cfg.attempts {
		ip, ttl, err := r.exchange(ctx, "udp", qname)
		if errors.Is(err, errTruncated) {
			ip, ttl, err = r.exchange(ctx, "tcp", qname)
		}
		var dnsErr *net.DNSError
		if err == nil || !errors.As(err, &dnsErr) || !dnsErr.IsTimeout || ctx.Err() != nil {
			return ip, ttl, err
		}
		lastErr = err
	}
	return "", 0, lastErr
}

var errTruncated = errors.New("truncated")

// exchange sends one query on a fresh connection and parses the answer.
func (r *Resolver) exchange(ctx context.Context, network string, qname dnsmessage.Name) (string, uint32, error) {
	dnsErr := func(msg string, err error) error {
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout()
		return &net.DNSError{Err: msg, Name: qname.String(), Server: r.addr, IsTimeout: timeout,
			IsNotFound: errors.Is(err, ErrNotFound), UnwrapErr: err}
	}
	id := uint16(rand.Uint32())
	q := dnsmessage.Question{Name: qname, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(make([]byte, 2, 64), dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return "", 0, dnsErr("build query", err)
	}
	if err := b.Question(q); err != nil {
		return "", 0, dnsErr("build query", err)
	}
	msg, err := b.Finish()
	if err != nil {
		return "", 0, dnsErr("build query", err)
	}

	attemptCtx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(attemptCtx, network, r.addr)
	if err != nil {
		return "", 0, dnsErr("dial", err)
	}
	defer conn.Close()
	if dl, ok := attemptCtx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}

	var resp []byte
	if network == "tcp" {
		binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
		if _, err := conn.Write(msg); err != nil {
			return "", 0, dnsErr("write", err)
		}
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return "", 0, dnsErr("read", err)
		}
		resp = make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, resp); err != nil {
			return "", 0, dnsErr("read", err)
		}
	} else {
		if _, err := conn.Write(msg[2:]); err != nil {
			return "", 0, dnsErr("write", err)
		}
		buf := make([]byte, maxUDP)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return "", 0, dnsErr("read", err)
			}
			// Ignore stray datagrams; wait for the answer to this query.
			if n >= 2 && binary.BigEndian.Uint16(buf) == id {
				resp = buf[:n]
				break
			}
		}
	}
	return parseAnswer(resp, id, q, dnsErr)
}

// parseAnswer validates a response to q and extracts its A record.
func parseAnswer(resp []byte, id uint16, q dnsmessage.Question, dnsErr func(string, error) error) (string, uint32, error) {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return "", 0, dnsErr("parse response", err)
	}
	if !h.Response || h.ID != id {
		return "", 0, dnsErr("unexpected response", errors.New("id or flags mismatch"))
	}
	if h.Truncated {
		return "", 0, errTruncated
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return "", 0, dnsErr("no such host", ErrNotFound)
	case dnsmessage.RCodeRefused:
		return "", 0, dnsErr("query refused", ErrRefused)
	default:
		return "", 0, dnsErr("server misbehaving", fmt.Errorf("rcode %v", h.RCode))
	}
	rq, err := p.Question()
	if err != nil || rq.Type != q.Type || normalise(rq.Name.String()) != normalise(q.Name.String()) {
		return "", 0, dnsErr("unexpected response", errors.New("question mismatch"))
	}
	if err := p.SkipAllQuestions(); err != nil {
		return "", 0, dnsErr("parse response", err)
	}
	for {
		ah, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return "", 0, dnsErr("no such host", ErrNotFound) // NODATA
		}
		if err != nil {
			return "", 0, dnsErr("parse response", err)
		}
		if ah.Type != dnsmessage.TypeA || ah.Class != dnsmessage.ClassINET {
			if err := p.SkipAnswer(); err != nil {
				return "", 0, dnsErr("parse response", err)
			}
			continue
		}
		a, err := p.AResource()
		if err != nil {
			return "", 0, dnsErr("parse response", err)
		}
		return net.IP(a.A[:]).String(), ah.TTL, nil
	}
}
