//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSMiB is a finished process's peak resident set: KiB in Linux's rusage, bytes in macOS's.
func maxRSSMiB(st *os.ProcessState) float64 {
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / 1024
}
