package fleet

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// workerProcAttr puts a worker in its own process group, so that a terminal's
// Ctrl-C reaches only the parent (which stops the workers in order), and has the
// kernel kill it if the parent dies without doing so.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// selfPeakRSS is this process's peak resident size in bytes (VmHWM), 0 when unknown.
// A worker reports its own: the rusage of a finished child is no measure, since
// Linux counts in it the parent's resident size at the fork (the child's exec
// replaces the parent's memory map it shared, and the kernel keeps that map's peak).
func selfPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
