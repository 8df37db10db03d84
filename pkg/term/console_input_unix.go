//go:build unix

package term

import "os"

// consoleInput has no reader to offer on Unix: a terminal is read as the file it is, and window
// changes come as SIGWINCH.
func consoleInput(*os.File) *consoleReader { return nil }
