//go:build linux

package e2e

import (
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// terminal is a pseudo-terminal that an ecsterm process runs on, as on a user's terminal: the
// process's controlling terminal, with everything it shows collected on a screen.
type terminal struct {
	ptmx, tty *os.File
	scr       *screen
}

func newTerminal(t *testing.T, rows, cols uint16) *terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	return &terminal{ptmx: ptmx, tty: tty, scr: newScreen()}
}

// start runs cmd with the terminal as its stdin, stdout, stderr and controlling terminal.
func (tm *terminal) start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tm.tty, tm.tty, tm.tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(tm.scr, tm.ptmx)
}

// termios reads the terminal's settings, as the user's shell would find them.
func (tm *terminal) termios(t *testing.T) unix.Termios {
	t.Helper()
	st, err := unix.IoctlGetTermios(int(tm.tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *st
}

// waitRestored waits until the terminal's settings are before again, as the ttyguard watcher
// leaves them after ecsterm died without restoring them (what says how it died). The watcher acts
// on its own schedule; there is nothing to wait on but the terminal itself.
func (tm *terminal) waitRestored(t *testing.T, before unix.Termios, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tm.termios(t) != before {
		if time.Now().After(deadline) {
			t.Fatalf("terminal still raw 10 s after %s: lflag %#x\n%s", what, tm.termios(t).Lflag, tm.scr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tm *terminal) resize(t *testing.T, rows, cols uint16) {
	t.Helper()
	if err := pty.Setsize(tm.ptmx, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
}

func (tm *terminal) typeIn(s string) { io.WriteString(tm.ptmx, s) }
