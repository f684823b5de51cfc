//go:build !linux

package fleet

import "syscall"

// workerProcAttr: elsewhere a worker relies on its stdin closing when the parent
// ends.
func workerProcAttr() *syscall.SysProcAttr { return nil }

// selfPeakRSS: not reported here.
func selfPeakRSS() int64 { return 0 }
