package main

import (
	"os"
	"testing"

	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// TestMain makes the test binary a fleet worker when a drill under test starts it
// (os.Executable is the test binary here, so `iotdr fleet` cannot be reached by
// its argument).
func TestMain(m *testing.M) {
	if os.Getenv(fleet.WorkerEnv) == "1" {
		os.Exit(fleetCmd(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
