//go:build linux

package picker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/target"
)

// TestTerminalOnPTY: on a real terminal the picker takes keys in raw mode (Ctrl-N arrives
// as a byte, not a line), picks, and leaves the terminal exactly as it found it.
func TestTerminalOnPTY(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if errors.Is(err, pty.ErrUnsupported) {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close(); ptmx.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, ptmx) }() // nothing may block on the terminal's output
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	matches := []cloud.InstanceInfo{{ID: "i-a", Name: "api", Status: "Running"}, {ID: "i-b", Name: "api", Status: "Stopped"}}
	var drawn bytes.Buffer
	done := make(chan struct{})
	var got cloud.InstanceInfo
	var perr error
	go func() {
		defer close(done)
		got, perr = Terminal(tty, &drawn)(context.Background(), target.Spec{Kind: target.KindName, Value: "api", Raw: "api"}, matches)
	}()
	// Keys go in once raw mode is on: in canonical mode the line discipline would hold Ctrl-N
	// and turn \r into \n, so the test would not show that the picker sees keys one by one.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err == nil && tio.Lflag&unix.ICANON == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the picker never put the terminal in raw mode")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ptmx.Write([]byte("\x0e\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the picker did not return")
	}
	if perr != nil || got.ID != "i-b" {
		t.Fatalf("picked %+v, %v", got, perr)
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal not restored:\nbefore %+v\nafter  %+v", *before, *after)
	}
	if !bytes.Contains(drawn.Bytes(), []byte(`name "api" matches 2 instances`)) {
		t.Errorf("drawn %q", drawn.String())
	}
}
