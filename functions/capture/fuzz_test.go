package capture

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/state"
)

// shadowDocumentSeeds are GetThingShadow payloads as AWS returns them, then malformed
// and borderline ones.
var shadowDocumentSeeds = []string{
	`{"state":{"desired":{"temp":22},"reported":{"temp":19,"on":true},"delta":{"temp":22}},"metadata":{"desired":{"temp":{"timestamp":1700000005}},"reported":{"temp":{"timestamp":1700000000},"on":{"timestamp":1700000000}}},"version":17,"timestamp":1700000006}`,
	`{"state":{"reported":{"fw":"1.0.2"}},"metadata":{"reported":{"fw":{"timestamp":1700000001}}},"version":1,"timestamp":1700000002}`,
	`{"state":{},"version":3,"timestamp":1700000002}`,
	`{"state":{"desired":null,"reported":{"nested":{"deep":[1,2,{"x":null}]},"big":9007199254740993,"f":1.5e-7}},"version":9223372036854775807}`,
	``, `null`, `[]`, `{}`, `17`, `{`, `{"version":`,
	`{"state":{},"version":0}`, `{"state":{},"version":-1}`, `{"state":{},"version":1.5}`, `{"state":{},"version":"3"}`,
	`{"state":{},"version":9223372036854775808}`, `{"state":null,"version":2}`, `{"state":[],"version":2}`,
	`{"state":{"desired":"on","reported":[1,2]},"version":2}`,
	`{"state":{},"version":1} {"state":{},"version":2}`,
	"{\"state\":{\"reported\":{\"name\":\"\xff\xfe\"}},\"version\":2}",
	`{"STATE":{"Desired":{"a":1}},"VERSION":4}`,
	`{"state":{"reported":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `},"version":2}`,
	`{"state":{"reported":` + strings.Repeat(`[`, 20000) + `},"version":2}`,
}

// FuzzDecodeShadowDocument decodes GetThingShadow payloads (the sweep's path). Whatever
// the payload: no panic; a refusal says what was wrong without echoing the payload; an
// accepted document has a positive version, re-encodes to a payload that decodes the
// same, and its state is storable in the state table.
func FuzzDecodeShadowDocument(f *testing.F) {
	for _, s := range shadowDocumentSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeShadowDocument(b)
		if err != nil {
			msg := err.Error()
			if strings.TrimSpace(msg) == "" {
				t.Fatal("empty error message")
			}
			if len(msg) > 1024 {
				t.Fatalf("error is %d bytes: bad input must be excerpted: %.200s", len(msg), msg)
			}
			if len(b) > 256 && strings.Contains(msg, string(b)) {
				t.Fatalf("error echoes the %d-byte payload", len(b))
			}
			return
		}
		if d.Version <= 0 {
			t.Fatalf("accepted version %d", d.Version)
		}
		once, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("encode accepted document: %v", err)
		}
		back, err := decodeShadowDocument(once)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", once, err)
		}
		twice, err := json.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the document:\n%s\n%s", once, twice)
		}
		// Capture stores what it decoded: nothing accepted here may fail there.
		if _, err := state.NewItem(spec.KindShadow, "dev-1", state.Shadow{Desired: d.State.Desired, Reported: d.State.Reported, Version: d.Version}); err != nil {
			t.Fatalf("accepted document cannot be stored: %v", err)
		}
	})
}
