//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

var faultsBinary struct {
	once sync.Once
	path string
	err  error
}

// faultyCommand is h.command running ecsterm built with the ecsterm_faults tag, which panics in
// a goroutine of its own on SIGUSR1 during an interactive session (internal/attach/faults_inject.go).
// It is built on first use, next to the ordinary binary.
func (h *harness) faultyCommand(args ...string) *exec.Cmd {
	h.t.Helper()
	faultsBinary.once.Do(func() {
		faultsBinary.path = filepath.Join(filepath.Dir(binary), "ecsterm-faults")
		build := exec.Command("go", "build", "-tags", "ecsterm_faults", "-o", faultsBinary.path, "../cmd/ecsterm")
		build.Stderr = os.Stderr
		faultsBinary.err = build.Run()
	})
	if faultsBinary.err != nil {
		h.t.Fatalf("building ecsterm with -tags ecsterm_faults: %v", faultsBinary.err)
	}
	cmd := h.command(args...)
	cmd.Path, cmd.Args[0] = faultsBinary.path, faultsBinary.path
	return cmd
}

// TestTerminalRestoredAfterGoroutinePanic: a panic in a goroutine other than the session's
// kills ecsterm without running any deferred restore; the terminal is still put back, by the
// watcher, and the panic is reported as Go reports it (exit status 2, its message on stderr).
func TestTerminalRestoredAfterGoroutinePanic(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	cmd := h.faultyCommand("connect", demoInstance)
	tm.start(t, cmd)
	at := tm.scr.waitFor(t, 0, "@demo-web-01 ~]")
	if raw := tm.termios(t); raw.Lflag&unix.ICANON != 0 {
		t.Fatal("terminal not raw during the session")
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("exit %v, want status 2 (a Go panic)", err)
	}
	tm.scr.waitFor(t, at, "panic: ecsterm_faults: panic injected in a goroutine")
	tm.waitRestored(t, before, "the panic")
	if s := tm.scr.String(); !strings.Contains(s[at:], "goroutine") {
		t.Errorf("no goroutine trace after the panic:\n%s", s[at:])
	}
}
