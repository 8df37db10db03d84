//go:build !unix

package main

import "os"

// maxRSSMiB is not measured where rusage has no peak resident set.
func maxRSSMiB(*os.ProcessState) float64 { return 0 }
