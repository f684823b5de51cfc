package fleet

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestPacketsRoundTrip encodes what a device sends and decodes it as the broker's
// bytes would arrive: whole, split anywhere, and with a multi-byte remaining length.
func TestPacketsRoundTrip(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 300) // remaining length needs two bytes
	var b []byte
	b = appendConnect(b, "device-0001", 10)
	b = appendSubscribe(b, 7, "$aws/things/device-0001/shadow/update/accepted", 1)
	b = appendPublish(b, "devices/device-0001/telemetry", 1, 8, payload)
	b = appendPublish(b, "t", 0, 0, []byte("q0"))
	b = appendPuback(b, 9)
	b = appendPingreq(b)
	b = appendDisconnect(b)
	want := []byte{pktConnect, pktSubscribe, pktPublish, pktPublish, pktPuback, pktPingreq, pktDisconnect}

	for split := range len(b) + 1 {
		var got []byte
		buf := append([]byte(nil), b[:split]...)
		rest := b[split:]
		for {
			p, n, err := nextPacket(buf)
			if err != nil {
				t.Fatalf("split %d: %v", split, err)
			}
			if n == 0 {
				if len(rest) == 0 {
					break
				}
				buf, rest = append(buf, rest...), nil
				continue
			}
			got = append(got, p.kind)
			switch p.kind {
			case pktConnect:
				if !bytes.Equal(p.body[:7], []byte{0, 4, 'M', 'Q', 'T', 'T', protocolLevel}) || p.body[7] != connectClean ||
					!strings.HasSuffix(string(p.body), "device-0001") {
					t.Fatalf("CONNECT body %q", p.body)
				}
			case pktPublish:
				q, id, err := p.publishQoS()
				if err != nil {
					t.Fatal(err)
				}
				if q == 1 && (id != 8 || !bytes.HasSuffix(p.body, payload)) {
					t.Fatalf("QoS 1 PUBLISH: id %d, %d bytes", id, len(p.body))
				}
				if q == 0 && !bytes.HasSuffix(p.body, []byte("q0")) {
					t.Fatalf("QoS 0 PUBLISH body %q", p.body)
				}
			case pktPuback:
				if id, _ := p.packetID(); id != 9 {
					t.Fatalf("PUBACK id %d", id)
				}
			}
			buf = buf[n:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("split %d: decoded %v, want %v", split, got, want)
		}
	}
}

func TestPacketsMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"remaining length of five bytes": {pktPublish << 4, 0x80, 0x80, 0x80, 0x80, 0x01},
		"over 128 KiB":                   appendHeader(nil, pktPublish<<4, maxPacketBytes+1),
	} {
		if _, _, err := nextPacket(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: got %v, want errMalformed", name, err)
		}
	}
	for name, p := range map[string]packet{
		"QoS 2 PUBLISH":         {kind: pktPublish, flags: 2 << 1, body: []byte{0, 1, 't', 0, 1}},
		"topic past the end":    {kind: pktPublish, body: []byte{0, 9, 't'}},
		"QoS 1 without an id":   {kind: pktPublish, flags: 1 << 1, body: []byte{0, 1, 't'}},
		"PUBLISH without topic": {kind: pktPublish, body: []byte{0}},
	} {
		if _, _, err := p.publishQoS(); !errors.Is(err, errMalformed) {
			t.Errorf("%s: got %v, want errMalformed", name, err)
		}
	}
	if _, err := (packet{kind: pktConnack, body: []byte{0}}).connackCode(); !errors.Is(err, errMalformed) {
		t.Errorf("short CONNACK: got %v", err)
	}
	if _, err := (packet{kind: pktPuback, body: []byte{0}}).packetID(); !errors.Is(err, errMalformed) {
		t.Errorf("short PUBACK: got %v", err)
	}
}

func TestConnackReason(t *testing.T) {
	if got := connackReason(5); got != "Connection Refused: Not Authorised" {
		t.Errorf("code 5: %q", got)
	}
	if got := connackReason(0x87); got != "CONNACK code 135" {
		t.Errorf("code 0x87: %q", got)
	}
}
