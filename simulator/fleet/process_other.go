//go:build !linux

package fleet

import (
	"os"
	"syscall"
)

// workerProcAttr: elsewhere a worker relies on its stdin closing when the parent
// ends.
func workerProcAttr() *syscall.SysProcAttr { return nil }

// maxRSS: not reported here.
func maxRSS(*os.ProcessState) int64 { return 0 }
