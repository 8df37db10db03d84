//go:build !linux

package bench

// peakRSS is not read from a running process here; callers fall back to rusage.
func peakRSS(int) (float64, bool) { return 0, false }
