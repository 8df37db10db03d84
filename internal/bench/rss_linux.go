package bench

import (
	"bytes"
	"os"
	"strconv"
)

// peakRSS reads VmHWM, the high-water mark of the resident set, from /proc.
func peakRSS(pid int) (float64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	_, rest, ok := bytes.Cut(b, []byte("\nVmHWM:"))
	if !ok {
		return 0, false // a zombie: its memory is gone
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseFloat(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 64)
	if err != nil {
		return 0, false
	}
	return kb * 1024 / 1e6, true
}
