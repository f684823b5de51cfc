//go:build !unix

package motoserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// setProcessGroup does nothing where process groups do not exist.
func setProcessGroup(*exec.Cmd) {}

// signalGroup kills the server process itself: without process groups a
// polite stop is not available.
func signalGroup(cmd *exec.Cmd, _ bool) error {
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing process %d: %w", cmd.Process.Pid, err)
	}
	return nil
}
