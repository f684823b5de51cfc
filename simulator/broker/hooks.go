package broker

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// authHook plugs the Authorizer into mochi-mqtt.
//
// mochi calls OnACLCheck(cl, x, false) both for a SUBSCRIBE filter and for each
// delivery (RECEIVE) of a message, with no way to tell them apart by value: a
// filter without wildcards is also a topic name. OnSubscribe therefore replaces
// each filter with a private copy and remembers the copy's address; OnACLCheck
// recognises that exact string as a subscription check, and anything else as a
// delivery. OnSubscribed forgets copies that never reached the check.
type authHook struct {
	mqtt.HookBase
	b *Broker
}

// ID names the hook for mochi's logs.
func (h *authHook) ID() string { return "iot-policy" }

// Provides reports the mochi events the hook handles.
func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect,
		mqtt.OnConnectAuthenticate,
		mqtt.OnACLCheck,
		mqtt.OnSubscribe,
		mqtt.OnSubscribed,
		mqtt.OnPublish,
		mqtt.OnRetainMessage,
	}, []byte{b})
}

// OnConnect authorises CONNECT. A refused client gets the "not authorized"
// CONNACK here, because mochi's own authentication failure answers with "bad
// user name or password" in MQTT 5.
//
// A throttled CONNECT (account or client-ID rate) gets no CONNACK: the connection is
// closed, as AWS IoT Core closes it with the THROTTLED disconnect reason; so does one
// the Authorizer answers with ErrDisconnect (a just-in-time registration).
func (h *authHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	info := newClientInfo(cl)
	if err := h.b.quota.Load().connect(info.ClientID, time.Now()); err != nil {
		h.b.refuse(info, ActionConnect, info.ClientID, err)
		return err
	}
	if h.b.auth != nil {
		if err := h.b.auth.Connect(info); err != nil {
			h.b.refuse(info, ActionConnect, info.ClientID, err)
			if errors.Is(err, ErrDisconnect) {
				return err // mochi closes the connection; no CONNACK
			}
			code := packets.ErrNotAuthorized
			if cl.Properties.ProtocolVersion < 5 {
				code = packets.ErrBadUsernameOrPassword // mochi maps it to 3.1.1's 0x05 "not authorized"
			}
			_ = h.b.srv.SendConnack(cl, code, false, nil)
			return code
		}
	}
	if cl.Net.Conn != nil {
		h.b.infos.Store(cl.Net.Conn, info)
	}
	return nil
}

// OnConnectAuthenticate admits every client that got past OnConnect.
func (h *authHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// OnPublish applies the per-connection PUBLISH rate: a client over it is disconnected
// (AWS's THROTTLED) and the message dropped. The broker's own publishes are exempt.
func (h *authHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil // the broker's own and data-plane publishes check their limits first
	}
	if err := h.b.quota.Load().publish(cl.Net.Conn, time.Now()); err != nil {
		h.b.refuse(h.b.clientInfo(cl), ActionPublish, pk.TopicName, err)
		cut(cl.Net.Conn)
		return pk, packets.ErrRejectPacket
	}
	if err := h.checkPayload(cl, pk); err != nil {
		// Refused as an unauthorised PUBLISH is: a 3.1.1 client sending QoS 1 is
		// disconnected (it has no PUBACK code to refuse with), a v5 client gets its
		// PUBACK with the reason, QoS 0 is dropped.
		switch {
		case pk.FixedHeader.Qos == 0:
		case cl.Properties.ProtocolVersion == 5 && errors.Is(err, ErrThrottled):
			return pk, packets.ErrQuotaExceeded
		case cl.Properties.ProtocolVersion == 5 && len(pk.Payload) > MaxPayloadBytes:
			return pk, packets.ErrPacketTooLarge
		case cl.Properties.ProtocolVersion == 5:
			return pk, packets.ErrNotAuthorized
		default:
			cut(cl.Net.Conn)
		}
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// OnSubscribe tags the filters of a client SUBSCRIBE (see authHook).
func (h *authHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if h.b.auth == nil || cl.Net.Inline {
		return pk
	}
	pk.Filters = slices.Clone(pk.Filters)
	for i := range pk.Filters {
		if pk.Filters[i].Filter == "" {
			continue
		}
		pk.Filters[i].Filter = strings.Clone(pk.Filters[i].Filter)
		h.b.pending.add(pk.Filters[i].Filter)
	}
	return pk
}

// OnSubscribed forgets tags that were not consumed by OnACLCheck (for example
// filters mochi rejected as invalid).
func (h *authHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if h.b.auth == nil || cl.Net.Inline {
		return
	}
	for _, f := range pk.Filters {
		h.b.pending.take(f.Filter)
	}
}

// OnACLCheck authorises PUBLISH (write), SUBSCRIBE and RECEIVE.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	a := h.b.auth
	if a == nil {
		return true
	}
	info := h.b.clientInfo(cl)
	var (
		action Action
		err    error
	)
	switch {
	case write:
		action, err = ActionPublish, a.Publish(info, topic)
	case h.b.pending.take(topic):
		action, err = ActionSubscribe, a.Subscribe(info, topic)
	default:
		action, err = ActionReceive, a.Receive(info, topic)
	}
	if err != nil {
		h.b.refuse(info, action, topic, err)
		return false
	}
	return true
}

// pendingFilters holds the addresses of tagged SUBSCRIBE filters.
type pendingFilters struct {
	n  atomic.Int64 // len(m), read without the lock on the delivery fast path
	mu sync.Mutex
	m  map[*byte]struct{}
}

func (p *pendingFilters) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[*byte]struct{})
	}
	p.m[unsafe.StringData(s)] = struct{}{}
	p.n.Store(int64(len(p.m)))
}

// take reports whether s is a tagged filter and forgets it.
func (p *pendingFilters) take(s string) bool {
	if s == "" || p.n.Load() == 0 {
		return false
	}
	key := unsafe.StringData(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[key]; !ok {
		return false
	}
	delete(p.m, key)
	p.n.Store(int64(len(p.m)))
	return true
}
