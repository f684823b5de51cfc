package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// TestMain makes the test binary a fleet worker when a drill under test re-executes
// it (BenchmarkFailover runs its fleet in child processes).
func TestMain(m *testing.M) {
	if os.Getenv(fleet.WorkerEnv) == "1" {
		if err := fleet.ServeWorker(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "fleet worker: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
