package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Source is the zone data the server answers from; route53.Zone provides one
// through its DNSSource method.
type Source interface {
	// Domain is the zone's domain, e.g. "iot.example.com" (a trailing dot and
	// upper case are allowed).
	Domain() string
	// Resolve returns the address and TTL currently answered for name
	// (lower case, no trailing dot), and false if the zone has no such name.
	Resolve(name string) (ip net.IP, ttl time.Duration, ok bool)
}

// Option customises a Server or a Resolver; each says which it applies to.
type Option func(*config)

type config struct {
	ttlUnit  time.Duration
	now      func() time.Time
	timeout  time.Duration
	attempts int
}

func buildConfig(opts []Option) config {
	c := config{ttlUnit: time.Second, now: time.Now, timeout: time.Second, attempts: 3}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithTTLUnit sets what one unit of a wire TTL means (default one second, as
// in real DNS). Server and Resolver must agree; drills that scale time use it
// to give records sub-second TTLs.
func WithTTLUnit(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.ttlUnit = d
		}
	}
}

// tcpIdle bounds how long the server keeps an idle TCP connection.
const tcpIdle = 10 * time.Second

// maxUDP is the largest UDP message the server reads.
const maxUDP = 4096

// Server is an authoritative DNS server for one Source on a loopback port. Its
// methods are safe for concurrent use.
type Server struct {
	src     Source
	domain  string
	logger  *slog.Logger
	ttlUnit time.Duration

	udp     *net.UDPConn
	tcp     *net.TCPListener
	queries atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewServer starts a server for src on 127.0.0.1, UDP and TCP on one port
// chosen by the OS. Only WithTTLUnit applies. A nil logger discards logs.
func NewServer(src Source, logger *slog.Logger, opts ...Option) (*Server, error) {
	if src == nil {
		return nil, errors.New("dns: new server: nil source")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := buildConfig(opts)
	udp, tcp, err := listen()
	if err != nil {
		return nil, fmt.Errorf("dns: new server: %w", err)
	}
	// Reconnect storms send thousands of queries at once; a larger socket
	// buffer keeps them from being dropped (best effort: capped by the OS).
	_ = udp.SetReadBuffer(4 << 20)
	s := &Server{
		src:     src,
		domain:  normalise(src.Domain()),
		logger:  logger,
		ttlUnit: cfg.ttlUnit,
		udp:     udp,
		tcp:     tcp,
		conns:   make(map[net.Conn]struct{}),
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	logger.Info("dns: server listening", "addr", s.Addr(), "domain", s.domain)
	return s, nil
}

// listen opens UDP on an OS-chosen loopback port and TCP on the same port,
// retrying when that TCP port happens to be taken.
func listen() (*net.UDPConn, *net.TCPListener, error) {
	var lastErr error
	for range 10 {
		udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		tcp, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udp.LocalAddr().(*net.UDPAddr).Port})
		if err == nil {
			return udp, tcp, nil
		}
		lastErr = err
		udp.Close()
	}
	return nil, nil, fmt.Errorf("listen tcp on the udp port: %w", lastErr)
}

// Addr returns the server's address, "127.0.0.1:port", for UDP and TCP.
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Queries returns the number of queries answered so far.
func (s *Server) Queries() int64 { return s.queries.Load() }

// Close stops the server, closes its connections and waits for its goroutines.
// It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := errors.Join(s.udp.Close(), s.tcp.Close())
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("dns: close: %w", err)
	}
	return nil
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, maxUDP)
	for {
		n, addr, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.logger.Warn("dns: udp read", "err", err)
			continue
		}
		// Handled inline: answering is a map lookup, cheaper than a goroutine.
		resp := s.handle(buf[:n])
		if resp == nil {
			continue
		}
		if _, err := s.udp.WriteToUDPAddrPort(resp, addr); err != nil && !errors.Is(err, net.ErrClosed) {
			s.logger.Warn("dns: udp write", "err", err)
		}
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.logger.Warn("dns: tcp accept", "err", err)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// serveConn answers length-prefixed messages (RFC 1035 4.2.2) until the
// client closes the connection or stays idle too long.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	var lenBuf [2]byte
	for {
		_ = c.SetDeadline(time.Now().Add(tcpIdle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		resp := s.handle(msg)
		if resp == nil {
			return
		}
		out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(resp)), uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// handle answers one query message; nil means drop it.
func (s *Server) handle(msg []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.Response {
		return nil // no usable header: nothing to answer to
	}
	s.queries.Add(1)
	resp := dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, RecursionDesired: h.RecursionDesired}
	qs, err := p.AllQuestions()
	switch {
	case err != nil || len(qs) != 1:
		resp.RCode = dnsmessage.RCodeFormatError
		return s.build(resp, nil, nil)
	case h.OpCode != 0:
		resp.RCode = dnsmessage.RCodeNotImplemented
		return s.build(resp, nil, nil)
	}
	q := qs[0]
	name := normalise(q.Name.String())
	if name != s.domain && !strings.HasSuffix(name, "."+s.domain) {
		resp.RCode = dnsmessage.RCodeRefused
		s.logger.Debug("dns: refused", "name", name)
		return s.build(resp, &q, nil)
	}
	resp.Authoritative = true
	ip, ttl, ok := s.src.Resolve(name)
	if !ok {
		resp.RCode = dnsmessage.RCodeNameError
		return s.build(resp, &q, nil)
	}
	ip4 := ip.To4()
	if ip4 == nil || q.Class != dnsmessage.ClassINET || (q.Type != dnsmessage.TypeA && q.Type != dnsmessage.TypeALL) {
		return s.build(resp, &q, nil) // NODATA
	}
	a := &dnsmessage.AResource{}
	copy(a.A[:], ip4)
	return s.build(resp, &q, &aRecord{ttl: wireTTL(ttl, s.ttlUnit), a: a})
}

type aRecord struct {
	ttl uint32
	a   *dnsmessage.AResource
}

// build packs a response; it logs and drops the message if packing fails,
// which only a bug can cause.
func (s *Server) build(h dnsmessage.Header, q *dnsmessage.Question, ans *aRecord) []byte {
	b := dnsmessage.NewBuilder(make([]byte, 0, 128), h)
	b.EnableCompression()
	err := b.StartQuestions()
	if err == nil && q != nil {
		err = b.Question(*q)
	}
	if err == nil && ans != nil {
		err = b.StartAnswers()
		if err == nil {
			err = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: ans.ttl}, *ans.a)
		}
	}
	var out []byte
	if err == nil {
		out, err = b.Finish()
	}
	if err != nil {
		s.logger.Error("dns: build response", "err", err)
		return nil
	}
	return out
}

// wireTTL converts a TTL to wire units, rounding up so that a positive TTL
// never becomes "do not cache".
func wireTTL(ttl, unit time.Duration) uint32 {
	if ttl <= 0 {
		return 0
	}
	n := (ttl + unit - 1) / unit
	if n > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

// normalise lower-cases a DNS name and drops its trailing dot.
func normalise(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
