package fleet

import (
	"os"
	"syscall"
)

// workerProcAttr puts a worker in its own process group, so that a terminal's
// Ctrl-C reaches only the parent (which stops the workers in order), and has the
// kernel kill it if the parent dies without doing so.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// maxRSS is a finished process's peak resident size in bytes (Linux reports KiB).
func maxRSS(st *os.ProcessState) int64 {
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}
