package fleet

import "syscall"

// workerProcAttr puts a worker in its own process group, so that a terminal's
// Ctrl-C reaches only the parent (which stops the workers in order), and has the
// kernel kill it if the parent dies without doing so.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
