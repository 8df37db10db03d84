package term

import (
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	xterm "golang.org/x/term"
)

// fileFlags reads f's status flags without f.Fd, which would switch f to blocking mode.
func fileFlags(t *testing.T, f *os.File) int {
	t.Helper()
	var flags int
	if err := withFd(f, func(fd uintptr) (err error) {
		flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return flags
}

// waitParked returns once a goroutine is parked in the poller inside a pollableReader's Read.
func waitParked(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "(*pollDesc).waitRead") && strings.Contains(g, "(*pollableReader).Read") {
				return
			}
		}
		runtime.Gosched()
	}
}

// TestConsoleInputOfTerminal: a terminal is read through a second, non-blocking open of it, which
// leaves the terminal's own file (shared with the shell) as it was, reads what is typed, and is
// closed by release, ending a read that waits in the poller.
func TestConsoleInputOfTerminal(t *testing.T) {
	ptmx, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	if err := withFd(tty, func(fd uintptr) error { _, err := xterm.MakeRaw(int(fd)); return err }); err != nil {
		t.Fatal(err) // raw: bytes as typed, no line editing
	}
	before := fileFlags(t, tty)
	r, release := ConsoleInput(tty)
	defer release()
	if _, ok := r.(*pollableReader); !ok {
		t.Fatalf("ConsoleInput(terminal) = %T, want a pollable reader", r)
	}
	if after := fileFlags(t, tty); after != before {
		t.Errorf("the terminal's own file: flags %#x, were %#x", after, before)
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
	waitParked(t)
	release()
	if err := <-done; err != io.EOF {
		t.Errorf("a read ended by release returned %v, want io.EOF", err)
	}
	release() // twice is fine
	if _, err := tty.Write(nil); err != nil {
		t.Errorf("the terminal's own file after release: %v", err)
	}
}

// TestConsoleInputOfOtherFiles: what is not a terminal's own side is read as it is. A
// pseudo-terminal's master side is a terminal too, but opening it again would make a new one.
func TestConsoleInputOfOtherFiles(t *testing.T) {
	ptmx, _ := openPTY(t, Size{Rows: 24, Cols: 80})
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, f := range []*os.File{ptmx, null} {
		if got, release := ConsoleInput(f); got != io.Reader(f) {
			release()
			t.Errorf("ConsoleInput(%s) = %T, want the file itself", f.Name(), got)
		}
	}
}
