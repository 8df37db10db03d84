//go:build unix

package term

import (
	"io"
	"os"
)

// consoleInput has no reader to offer on Unix: a terminal is read as the file it is, and window
// changes come as SIGWINCH.
func consoleInput(*os.File) io.Reader { return nil }
