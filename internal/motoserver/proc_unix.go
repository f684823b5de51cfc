//go:build unix

package motoserver

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// setProcessGroup puts the server in its own process group, so that stopping
// it also stops whatever the pyenv shim or python3 started beneath it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends SIGTERM (or SIGKILL when kill is set) to the server's
// process group. A group that is already gone is not an error.
func signalGroup(cmd *exec.Cmd, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling process group %d: %w", cmd.Process.Pid, err)
	}
	return nil
}
