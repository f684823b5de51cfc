package main

import (
	"fmt"
	"io"
	"os"

	"github.com/iot-dr/iot-dr/drill"
	"github.com/iot-dr/iot-dr/simulator/fleet"
)

// fleetCmd is the hidden `iotdr fleet` subcommand: one fleet worker that a drill
// starts, fed its devices on stdin and reporting their events on stdout, until its
// stdin closes.
func fleetCmd(stdin io.Reader, stdout, stderr io.Writer) int {
	drill.RaiseFileLimit()
	if err := fleet.ServeWorker(stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "iotdr fleet: %v\n", err)
		return exitError
	}
	return exitOK
}

// fleetWorker is the command that runs a drill's fleet workers: this program
// again, as `iotdr fleet`.
func fleetWorker() (*fleet.Command, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to run the fleet workers: %w", err)
	}
	return &fleet.Command{Path: exe, Args: []string{"fleet"}}, nil
}
