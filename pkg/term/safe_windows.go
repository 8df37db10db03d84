//go:build windows

package term

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// interruptSignals are the signals Go delivers on Windows: os.Interrupt for Ctrl-C and Ctrl-Break
// (when the console is not raw), SIGTERM for the console window closing, logoff and shutdown.
// SIGHUP is never delivered there.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// prepareOutput turns on virtual-terminal processing for out, so the remote shell's escape
// sequences draw rather than print, and returns how to put the previous mode back. It also asks
// for DISABLE_NEWLINE_AUTO_RETURN, which makes wrapping at the last column behave like the
// xterm the remote side believes it talks to, and drops that if the console refuses it, as
// Microsoft's own sample does. A console too old for VT, or an out that is no console, is left
// alone: the session still works, only drawn less well.
func prepareOutput(out *os.File) (undo func() error) {
	_ = withFd(out, func(fd uintptr) error {
		h := windows.Handle(fd)
		var mode uint32
		if err := windows.GetConsoleMode(h, &mode); err != nil {
			return err
		}
		vt := mode | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING
		if err := windows.SetConsoleMode(h, vt|windows.DISABLE_NEWLINE_AUTO_RETURN); err != nil {
			if err := windows.SetConsoleMode(h, vt); err != nil {
				return err
			}
		}
		undo = func() error {
			return withFd(out, func(fd uintptr) error {
				return windows.SetConsoleMode(windows.Handle(fd), mode)
			})
		}
		return nil
	})
	return undo
}

// reportResizes turns on ENABLE_WINDOW_INPUT for the console input fd: without it the console
// puts no WINDOW_BUFFER_SIZE_EVENT records in the input queue, and the reader from ConsoleInput
// has no resizes to report. A console starts without it, and golang.org/x/term's raw mode leaves
// it as it was. It is done as part of raw mode so that the saved mode, put back on restore,
// undoes it. A console that refuses it still works: WatchSize's backstop poll sees the change,
// only later.
func reportResizes(fd uintptr) {
	h := windows.Handle(fd)
	var mode uint32
	if windows.GetConsoleMode(h, &mode) == nil {
		_ = windows.SetConsoleMode(h, mode|windows.ENABLE_WINDOW_INPUT)
	}
}

// stopSelf cannot stop a Windows process the way job control does.
func stopSelf() error { return ErrNoSuspend }
