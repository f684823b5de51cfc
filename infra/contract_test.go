package main

import (
	"testing"

	"github.com/iot-dr/iot-dr/functions/probe"
)

// TestProbeSecretTransportMatchesHandler pins the health check's query parameter to the
// one the probe handler reads: Route 53 can send nothing else.
func TestProbeSecretTransportMatchesHandler(t *testing.T) {
	if probeSecretParam != probe.SecretQuery {
		t.Errorf("health check sends ?%s=, the probe reads ?%s=", probeSecretParam, probe.SecretQuery)
	}
}
