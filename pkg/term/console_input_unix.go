//go:build unix

package term

import "os"

// consoleInput has no reader of input records to offer on Unix: window changes come as SIGWINCH.
func consoleInput(*os.File) *consoleReader { return nil }
