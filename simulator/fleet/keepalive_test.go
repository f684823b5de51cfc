package fleet_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-dr/iot-dr/simulator/fleet"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// silentBroker accepts TLS connections, answers CONNECT with an accepting CONNACK
// and then never answers anything again, as a broker whose host froze would; it
// counts the PINGREQs it reads.
type silentBroker struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	pings int
	wg    sync.WaitGroup
}

func newSilentBroker(t *testing.T, ca *pki.CA) *silentBroker {
	t.Helper()
	cert, err := ca.IssueServer([]string{domain}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.ServerTLS(cert, nil))
	if err != nil {
		t.Fatal(err)
	}
	s := &silentBroker{ln: ln}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *silentBroker) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			r := bufio.NewReader(c)
			for first := true; ; first = false {
				kind, err := readPacket(r)
				if err != nil {
					return
				}
				switch {
				case first && kind == 1: // CONNECT
					if _, err := c.Write([]byte{0x20, 2, 0, 0}); err != nil {
						return
					}
				case kind == 12: // PINGREQ, never answered
					s.mu.Lock()
					s.pings++
					s.mu.Unlock()
				}
			}
		}()
	}
}

func (s *silentBroker) pingsRead() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pings
}

// readPacket reads one MQTT control packet and returns its type.
func readPacket(r *bufio.Reader) (byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	n, mult := 0, 1
	for {
		d, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n += int(d&0x7f) * mult
		mult *= 128
		if d&0x80 == 0 {
			break
		}
	}
	_, err = io.CopyN(io.Discard, r, int64(n))
	return h >> 4, err
}

// TestKeepAliveDetectsSilentBroker: a broker that accepts the connection and then
// answers nothing (no SUBACK, PUBACK or PINGRESP) is detected by keep-alive: the
// device pings after one keep-alive of silence and gives the connection up when a
// second passes unanswered, counting what it had in flight as undelivered.
func TestKeepAliveDetectsSilentBroker(t *testing.T) {
	checkGoroutines(t)
	ca, err := pki.NewCA("keep-alive test CA")
	if err != nil {
		t.Fatal(err)
	}
	s := newSilentBroker(t, ca)
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	dev, err := ca.IssueDevice("device-0001")
	if err != nil {
		t.Fatal(err)
	}
	opts := fleet.Options{Domain: domain, Port: port, Roots: ca.Pool(), Resolver: &switchResolver{ip: "127.0.0.1"},
		TelemetryEvery: 100 * time.Millisecond, KeepAlive: time.Second,
		Backoff: fleet.Backoff{Base: time.Second, Cap: time.Second}, Regions: map[string]string{"127.0.0.1": primary}}
	f := startFleet(t, []fleet.Device{{Thing: "device-0001", Cert: dev}}, opts)

	ctx := waitCtx(t)
	var connected, lost fleet.Event
	err = f.Wait(ctx, func() bool {
		for _, e := range f.Timeline("device-0001") {
			switch {
			case e.Kind == fleet.KindConnected && connected.At.IsZero():
				connected = e
			case e.Kind == fleet.KindDisconnected && !connected.At.IsZero():
				lost = e
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("the device never gave up the silent connection: %v\n%v", err, f.Timeline("device-0001"))
	}
	if !strings.Contains(lost.Detail, "PINGRESP") {
		t.Errorf("disconnected because %q, want the keep-alive's missing PINGRESP", lost.Detail)
	}
	if d := lost.At.Sub(connected.At); d < 2*time.Second {
		t.Errorf("gave up %v after connecting, before two keep-alives of silence", d)
	}
	if s.pingsRead() < 1 {
		t.Error("the broker read no PINGREQ")
	}
	// The first publish was never acknowledged and the scheduled ones queued behind
	// it, or found the queue full: all undelivered, none delivered.
	if st := f.Stats(); st.Published != 0 || st.PublishFailures < 5 {
		t.Errorf("stats %+v: want nothing published and every message of the silent connection failed", st)
	}
}
