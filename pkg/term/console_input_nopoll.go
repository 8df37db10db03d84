//go:build unix && !linux

package term

import "os"

// pollableInput: only Linux is known to reopen a terminal through /proc/self/fd, so elsewhere a
// terminal is read as the file it is.
func pollableInput(*os.File) *os.File { return nil }
