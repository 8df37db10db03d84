//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// rssMB is a client's peak resident set in MB (10⁶ bytes, the unit of the aim): the peak read
// from the running process when there is one (bench.PeakRSS says why that comes first), else
// its rusage at exit (KiB on Linux, bytes on macOS).
func rssMB(peak float64, ok bool, st *os.ProcessState) float64 {
	if ok {
		return peak
	}
	if st == nil {
		return 0
	}
	ru, isRU := st.SysUsage().(*syscall.Rusage)
	if !isRU {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / 1e6
	}
	return float64(ru.Maxrss) * 1024 / 1e6
}
