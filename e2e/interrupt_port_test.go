//go:build linux

package e2e

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestInterruptProxyWhileStarting: a signal while a port session's StartTerminalSession is in
// flight. The service may start the session whatever becomes of its answer, so ecsterm proxy
// waits for the answer and ends the session it names, and exits 130. Nothing tells the test
// when ecsterm has taken the signal, so the answer may come first: this checks the whole path
// (exit status, every session ended) but does not by itself catch an abandoned answer; the
// in-process TestPortsInterruptWhileStarting and TestPortsCloseWhileStarting do.
func TestInterruptProxyWhileStarting(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	entered, release := h.emu.Hold("StartTerminalSession")
	defer release()
	pr, pw, err := os.Pipe() // ssh's side: open, silent (a file: Wait needs no copy to end)
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	b := h.startBackground("", pr, "proxy", demoInstance, "22")
	select {
	case <-entered:
	case <-b.done:
		t.Fatalf("exited %d before StartTerminalSession; stderr %q", b.code, b.stderr.String())
	case <-time.After(interruptWait):
		t.Fatal("no StartTerminalSession")
	}
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	release()
	code, _ := b.exit(t, time.Now())
	if code != 130 {
		t.Errorf("exit status %d, want 130; stderr %q", code, b.stderr.String())
	}
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); s != 1 || e != s {
		t.Errorf("%d sessions started, %d ended with EndTerminalSession", s, e)
	}
}
