//go:build linux

package e2e

import (
	"os"
	"testing"

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
	pr, pw, err := os.Pipe() // ssh's side: open, silent (a file: Wait needs no copy to end)
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	h.interruptWhileStarting(t, pr, "proxy", demoInstance, "22")
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); s != 1 || e != s {
		t.Errorf("%d sessions started, %d ended with EndTerminalSession", s, e)
	}
}
