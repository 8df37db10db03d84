//go:build unix

package term

import (
	"errors"
	"os"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// openPTY returns a fresh pseudo-terminal: ptmx is the side a terminal emulator holds, tty the
// side a program such as ecsterm sees as its terminal. Its size is set to size.
func openPTY(t *testing.T, size Size) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if errors.Is(err, pty.ErrUnsupported) {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
	})
	setSize(t, ptmx, size)
	return ptmx, tty
}

func setSize(t *testing.T, ptmx *os.File, s Size) {
	t.Helper()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: s.Rows, Cols: s.Cols}); err != nil {
		t.Fatalf("pty.Setsize(%v): %v", s, err)
	}
}

func getTermios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	var tio *unix.Termios
	err := withFd(f, func(fd uintptr) error {
		var err error
		tio, err = unix.IoctlGetTermios(int(fd), ioctlReadTermios)
		return err
	})
	if err != nil {
		t.Fatalf("get termios: %v", err)
	}
	return *tio
}

func setTermios(t *testing.T, f *os.File, tio unix.Termios) {
	t.Helper()
	err := withFd(f, func(fd uintptr) error {
		return unix.IoctlSetTermios(int(fd), ioctlWriteTermios, &tio)
	})
	if err != nil {
		t.Fatalf("set termios: %v", err)
	}
}

// pipe returns both ends of an os.Pipe: a file that is not a terminal.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("os.Pipe: %v", err)
	}
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return r, w
}

// kill sends sig to this test process.
func kill(t *testing.T, sig unix.Signal) {
	t.Helper()
	if err := unix.Kill(os.Getpid(), sig); err != nil {
		t.Fatalf("kill(%v): %v", sig, err)
	}
}
