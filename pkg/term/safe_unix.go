//go:build unix

package term

import (
	"os"

	"golang.org/x/sys/unix"
)

// interruptSignals are the signals that end a session: Ctrl-C when the terminal is not raw,
// kill's default, and the terminal going away.
var interruptSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP}

// prepareOutput has nothing to do on Unix: the terminal already interprets escape sequences, and
// raw mode on In covers output processing for the same device.
func prepareOutput(*os.File) (undo func() error) { return nil }
