package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The MQTT 3.1.1 packets a simulated device sends and receives (OASIS MQTT 3.1.1,
// section 2 and 3): just what the fleet uses, encoded and decoded without
// allocation beyond the buffers the caller owns.

// Control packet types (fixed header, high nibble).
const (
	pktConnect     = 1
	pktConnack     = 2
	pktPublish     = 3
	pktPuback      = 4
	pktSubscribe   = 8
	pktSuback      = 9
	pktPingreq     = 12
	pktPingresp    = 13
	pktDisconnect  = 14
	protocolLevel  = 4 // MQTT 3.1.1
	connectClean   = 0x02
	subackFailure  = 0x80 // a refused subscription's SUBACK return code
	maxPacketBytes = 128 << 10
)

// connackReasons are CONNACK's refusal return codes (3.2.2.3), in the words paho used,
// which the refusals in Stats and timelines have always quoted.
var connackReasons = map[byte]string{
	1: "Connection Refused: Bad Protocol Version",
	2: "Connection Refused: Client Identifier Rejected",
	3: "Connection Refused: Server Unavailable",
	4: "Connection Refused: Username or Password in unknown format",
	5: "Connection Refused: Not Authorised",
}

// connackReason names a CONNACK return code.
func connackReason(rc byte) string {
	if r, ok := connackReasons[rc]; ok {
		return r
	}
	return fmt.Sprintf("CONNACK code %d", rc)
}

// errMalformed is a packet from the broker that breaks MQTT 3.1.1.
var errMalformed = errors.New("mqtt: malformed packet from the broker")

// appendHeader appends a fixed header: type and flags, then the remaining length.
func appendHeader(b []byte, typeFlags byte, remaining int) []byte {
	b = append(b, typeFlags)
	for {
		d := byte(remaining % 128)
		remaining /= 128
		if remaining > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if remaining == 0 {
			return b
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendConnect appends a CONNECT with a clean session and no will, user or password.
func appendConnect(b []byte, clientID string, keepAliveSeconds uint16) []byte {
	b = appendHeader(b, pktConnect<<4, 10+2+len(clientID))
	b = appendString(b, "MQTT")
	b = append(b, protocolLevel, connectClean)
	b = binary.BigEndian.AppendUint16(b, keepAliveSeconds)
	return appendString(b, clientID)
}

// appendPublish appends a PUBLISH; id is its packet identifier (QoS 1 only).
func appendPublish(b []byte, topic string, qos byte, id uint16, payload []byte) []byte {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	b = appendHeader(b, pktPublish<<4|qos<<1, n)
	b = appendString(b, topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	return append(b, payload...)
}

// appendSubscribe appends a SUBSCRIBE of one filter at qos.
func appendSubscribe(b []byte, id uint16, filter string, qos byte) []byte {
	b = appendHeader(b, pktSubscribe<<4|0x02, 2+2+len(filter)+1)
	b = binary.BigEndian.AppendUint16(b, id)
	b = appendString(b, filter)
	return append(b, qos)
}

func appendPuback(b []byte, id uint16) []byte {
	b = appendHeader(b, pktPuback<<4, 2)
	return binary.BigEndian.AppendUint16(b, id)
}

func appendPingreq(b []byte) []byte { return append(b, pktPingreq<<4, 0) }

func appendDisconnect(b []byte) []byte { return append(b, pktDisconnect<<4, 0) }

// packet is one decoded control packet from the broker. body aliases the read buffer.
type packet struct {
	kind  byte // control packet type
	flags byte // the fixed header's low nibble
	body  []byte
}

// nextPacket decodes the first packet in buf and returns it with the number of bytes
// it took; n is 0 when buf does not hold a whole packet yet.
func nextPacket(buf []byte) (p packet, n int, err error) {
	if len(buf) < 2 {
		return packet{}, 0, nil
	}
	remaining, mult := 0, 1
	i := 1
	for {
		if i >= len(buf) {
			return packet{}, 0, nil
		}
		if i > 4 {
			return packet{}, 0, fmt.Errorf("%w: remaining length over 4 bytes", errMalformed)
		}
		d := buf[i]
		remaining += int(d&0x7f) * mult
		mult *= 128
		i++
		if d&0x80 == 0 {
			break
		}
	}
	if remaining > maxPacketBytes {
		return packet{}, 0, fmt.Errorf("%w: %d bytes is over the %d this client accepts", errMalformed, remaining, maxPacketBytes)
	}
	if len(buf) < i+remaining {
		return packet{}, 0, nil
	}
	return packet{kind: buf[0] >> 4, flags: buf[0] & 0x0f, body: buf[i : i+remaining]}, i + remaining, nil
}

// packetID reads the packet identifier a PUBACK or SUBACK begins with.
func (p packet) packetID() (uint16, error) {
	if len(p.body) < 2 {
		return 0, fmt.Errorf("%w: packet type %d without a packet identifier", errMalformed, p.kind)
	}
	return binary.BigEndian.Uint16(p.body), nil
}

// connackCode reads a CONNACK's return code.
func (p packet) connackCode() (byte, error) {
	if len(p.body) != 2 {
		return 0, fmt.Errorf("%w: CONNACK of %d bytes", errMalformed, len(p.body))
	}
	return p.body[1], nil
}

// publishQoS returns an incoming PUBLISH's QoS and, at QoS 1, its packet identifier,
// which the device must acknowledge. QoS 2 is refused: the device subscribes at QoS 1
// and AWS IoT has no QoS 2.
func (p packet) publishQoS() (qos byte, id uint16, err error) {
	qos = p.flags >> 1 & 0x03
	if qos > 1 {
		return 0, 0, fmt.Errorf("%w: PUBLISH at QoS %d", errMalformed, qos)
	}
	if len(p.body) < 2 {
		return 0, 0, fmt.Errorf("%w: PUBLISH without a topic", errMalformed)
	}
	tl := int(binary.BigEndian.Uint16(p.body))
	if qos == 0 {
		if len(p.body) < 2+tl {
			return 0, 0, fmt.Errorf("%w: PUBLISH topic longer than the packet", errMalformed)
		}
		return 0, 0, nil
	}
	if len(p.body) < 2+tl+2 {
		return 0, 0, fmt.Errorf("%w: PUBLISH without a packet identifier", errMalformed)
	}
	return qos, binary.BigEndian.Uint16(p.body[2+tl:]), nil
}
