//go:build unix

package term

import (
	"io"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
	xterm "golang.org/x/term"
)

// TestConsoleInputOfTerminal: on Linux a terminal is read through a second, non-blocking open of
// it, which leaves the terminal's own file (shared with the shell) blocking, reads what is
// typed, and is closed by release, ending a read in progress.
func TestConsoleInputOfTerminal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the terminal is opened again through /proc/self/fd, which only Linux has")
	}
	ptmx, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	if _, err := xterm.MakeRaw(int(tty.Fd())); err != nil { // bytes as typed, no line editing
		t.Fatal(err)
	}
	r, release := ConsoleInput(tty)
	defer release()
	if _, ok := r.(*pollableReader); !ok {
		t.Fatalf("ConsoleInput(terminal) = %T, want a pollable reader", r)
	}
	flags, err := unix.FcntlInt(tty.Fd(), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_NONBLOCK != 0 {
		t.Errorf("the terminal's own file: flags %#x (%v); it must stay blocking", flags, err)
	}

	if _, err := ptmx.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	got := ""
	for len(got) < 2 {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v after %q", err, got)
		}
		got += string(buf[:n])
	}
	if got != "ab" {
		t.Errorf("read %q, want ab", got)
	}

	done := make(chan error, 1)
	go func() {
		_, err := r.Read(buf) // nothing typed: waits until release
		done <- err
	}()
	release()
	if err := <-done; err != io.EOF {
		t.Errorf("a read ended by release returned %v, want io.EOF", err)
	}
	release() // twice is fine
	if _, err := tty.Write(nil); err != nil {
		t.Errorf("the terminal's own file after release: %v", err)
	}
}
