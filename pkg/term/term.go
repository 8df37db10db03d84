// Package term owns the local terminal for the length of a session: raw mode exists only inside
// TTY.Safe, which puts the terminal back exactly as it found it however the session ends, and
// WatchSize turns window changes into a channel of sizes. On a Windows console, ConsoleInput reads
// the keystrokes, and with them the resize events WatchSize follows. It knows nothing of the wire
// protocol; the command that runs a session adapts between the two.
package term

import (
	"fmt"
	"os"

	xterm "golang.org/x/term"
)

// Size is a terminal window size in character cells. It is this package's own type, not the
// protocol's, so that terminal code and session code do not import each other.
type Size struct{ Rows, Cols uint16 }

// IsTerminal reports whether f is a terminal, so callers can choose between an interactive
// session and a byte-exact pipe. A nil file is not a terminal.
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	var ok bool
	err := withFd(f, func(fd uintptr) error {
		ok = xterm.IsTerminal(int(fd))
		return nil
	})
	return err == nil && ok
}

// GetSize returns f's window size, which a session sends before the first resize event arrives.
// A terminal that has never been given a size reports 0x0 without an error.
func GetSize(f *os.File) (Size, error) {
	var cols, rows int
	err := withFd(f, func(fd uintptr) error {
		var err error
		cols, rows, err = xterm.GetSize(int(fd))
		return err
	})
	if err != nil {
		return Size{}, fmt.Errorf("terminal size of %s: %w", f.Name(), err)
	}
	return Size{Rows: uint16(rows), Cols: uint16(cols)}, nil
}

// makeRaw puts f into raw mode and returns the state it had before. On Windows, raw mode also
// asks the console for resize records (reportResizes), so that restoring the state undoes that
// too.
func makeRaw(f *os.File) (*xterm.State, error) {
	var st *xterm.State
	err := withFd(f, func(fd uintptr) error {
		var err error
		if st, err = xterm.MakeRaw(int(fd)); err == nil {
			reportResizes(fd)
		}
		return err
	})
	return st, err
}

// restore puts f back into a state saved by makeRaw.
func restore(f *os.File, st *xterm.State) error {
	return withFd(f, func(fd uintptr) error {
		return xterm.Restore(int(fd), st)
	})
}

// withFd runs fn with f's descriptor. It goes through SyscallConn rather than f.Fd because Fd
// switches f to blocking mode, after which deadlines and Close can no longer interrupt a read on
// it, and a session's input pump relies on that to stop.
func withFd(f *os.File, fn func(fd uintptr) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(fd) }); err != nil {
		return err
	}
	return fnErr
}
