//go:build !unix

package main

import "os"

// rssMB is the peak read from the running process; rusage has no peak resident set here.
func rssMB(peak float64, ok bool, _ *os.ProcessState) float64 { return peak }
