package broker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"
)

// mochiLog is the slog.Handler mochi-mqtt logs through. mochi puts whole packets in
// its log lines ("error processing packet" ... "pk", pk): a PUBLISH with its payload,
// a CONNECT with its password. The broker must never log either, and already logs
// every refusal once, with the reason, in refuse. So:
//   - a packet attribute (of any key, at any level) becomes a summary without payload
//     or credentials: type, topic, QoS, packet id, payload size;
//   - mochi's own line for a packet it dropped because the broker refused it (a
//     not-authorised error) is dropped, so a refusal is logged once.
type mochiLog struct{ next slog.Handler }

func (h mochiLog) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h mochiLog) Handle(ctx context.Context, r slog.Record) error {
	refused := false
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" && isNotAuthorized(a.Value.Any()) {
			refused = true
		}
		out.AddAttrs(redactAttr(a))
		return true
	})
	if refused {
		return nil
	}
	return h.next.Handle(ctx, out)
}

func (h mochiLog) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return mochiLog{next: h.next.WithAttrs(red)}
}

func (h mochiLog) WithGroup(name string) slog.Handler { return mochiLog{next: h.next.WithGroup(name)} }

// isNotAuthorized reports whether v is mochi's not-authorised reason code (MQTT 5's
// 0x87, or 3.1.1's 0x05 that mochi sends for it), as a refusal produces.
func isNotAuthorized(v any) bool {
	err, ok := v.(error)
	if !ok {
		return false
	}
	var code packets.Code
	if !errors.As(err, &code) {
		return false
	}
	return code.Code == packets.ErrNotAuthorized.Code || code == packets.ErrBadUsernameOrPassword
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, x := range g {
			red[i] = redactAttr(x)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch pk := v.Any().(type) {
		case packets.Packet:
			return slog.Group(a.Key, packetSummary(&pk)...)
		case *packets.Packet:
			if pk != nil {
				return slog.Group(a.Key, packetSummary(pk)...)
			}
		}
	}
	return a
}

// packetSummary is what may be logged of a packet: never the payload, the will
// message or the CONNECT credentials.
func packetSummary(pk *packets.Packet) []any {
	out := []any{slog.String("type", packets.PacketNames[pk.FixedHeader.Type])}
	if pk.TopicName != "" {
		out = append(out, slog.String("topic", pk.TopicName))
	}
	if pk.FixedHeader.Type == packets.Publish {
		out = append(out, slog.Int("qos", int(pk.FixedHeader.Qos)), slog.Int("payload_bytes", len(pk.Payload)))
	}
	if pk.PacketID != 0 {
		out = append(out, slog.Int("packet_id", int(pk.PacketID)))
	}
	return out
}
