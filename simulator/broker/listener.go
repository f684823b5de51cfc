package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

const (
	// connectTimeout bounds the TLS handshake and the wait for CONNECT; mochi
	// replaces the deadline with the keep-alive one once CONNECT is read.
	connectTimeout = 10 * time.Second
	// acceptBackoff paces the accept loop after a transient Accept error.
	acceptBackoff = 10 * time.Millisecond
)

// listener owns the loopback socket and every connection accepted on it, so
// that SetDown and Close can cut connections that mochi does not know about
// yet (mid-handshake, before CONNECT) and wait for all their goroutines.
type listener struct {
	id     string
	ln     net.Listener
	log    *slog.Logger
	onDone func(net.Conn) // called after a connection's goroutine ends

	mu      sync.Mutex
	started bool
	down    bool
	closed  bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup // one per connection goroutine
	served  chan struct{}  // closed when the accept loop returns
}

func newListener(id, addr string, tlsConf *tls.Config, log *slog.Logger, onDone func(net.Conn)) (*listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	return &listener{
		id:     id,
		ln:     ln,
		log:    log,
		onDone: onDone,
		conns:  make(map[net.Conn]struct{}),
		served: make(chan struct{}),
	}, nil
}

func (l *listener) addr() string { return l.ln.Addr().String() }

// start runs the accept loop; establish serves one connection until it ends.
func (l *listener) start(establish func(listenerID string, c net.Conn) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		return
	}
	l.started = true
	go l.serve(establish)
}

func (l *listener) serve(establish func(string, net.Conn) error) {
	defer close(l.served)
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("accept failed", "error", err)
			time.Sleep(acceptBackoff)
			continue
		}
		l.mu.Lock()
		if l.closed || l.down {
			l.mu.Unlock()
			cut(conn)
			continue
		}
		l.conns[conn] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()

		_ = conn.SetDeadline(time.Now().Add(connectTimeout))
		go func() {
			defer l.wg.Done()
			err := establish(l.id, conn)
			l.mu.Lock()
			delete(l.conns, conn)
			l.mu.Unlock()
			cut(conn)
			l.onDone(conn)
			if err != nil {
				l.log.Debug("connection ended", "remote", conn.RemoteAddr().String(), "error", err)
			}
		}()
	}
}

// setDown changes the endpoint state and reports whether it changed. Going
// down cuts every open connection.
func (l *listener) setDown(down bool) bool {
	l.mu.Lock()
	if l.down == down || l.closed {
		l.mu.Unlock()
		return false
	}
	l.down = down
	var conns []net.Conn
	if down {
		conns = l.snapshotLocked()
	}
	l.mu.Unlock()
	for _, c := range conns {
		cut(c)
	}
	return true
}

// close stops accepting, cuts every connection and waits for the accept loop
// and all connection goroutines to return.
func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	started := l.started
	conns := l.snapshotLocked()
	l.mu.Unlock()

	_ = l.ln.Close()
	for _, c := range conns {
		cut(c)
	}
	if started {
		<-l.served
	}
	l.wg.Wait()
}

func (l *listener) snapshotLocked() []net.Conn {
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	return conns
}

// cut closes the TCP connection underneath any TLS layer, as a network failure
// would: no close_notify, no MQTT DISCONNECT.
func cut(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	_ = c.Close()
}
