//go:build linux

package e2e

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestInterruptExecOnTerminal: Ctrl-C typed on the terminal of an `exec -T` (the terminal is
// not raw, so it sends SIGINT to ecsterm) ends the session and the command, and exits 130.
func TestInterruptExecOnTerminal(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	arg := sleepArg(t)
	cmd := h.command("exec", "-T", demoInstance, "--", "sleep "+arg)
	tm.start(t, cmd)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	_, dirs := remoteRunning(t, arg, 1)
	tm.typeIn("\x03")
	tm.exitAfter(t, cmd, done, "Ctrl-C", 130)
	h.checkNothingLeft(t, []string{demoInstance}, arg, dirs)
}

// TestInterruptConnect: SIGTERM from outside to a connect on a raw terminal (where Ctrl-C is a
// byte for the remote shell, not a signal) ends the session, stops the command running in the
// remote shell, gives the terminal back and exits 143; a second SIGTERM while the session is
// being ended exits at once, the terminal given back all the same.
func TestInterruptConnect(t *testing.T) {
	for _, twice := range []bool{false, true} {
		t.Run(map[bool]string{false: "once", true: "twice"}[twice], func(t *testing.T) {
			h := newHarness(t, emulator.Options{})
			entered, release := h.emu.Hold("EndTerminalSession")
			defer release()
			if !twice {
				release()
			}
			tm := newTerminal(t, 24, 80)
			before := tm.termios(t)
			cmd := h.command("connect", demoInstance)
			tm.start(t, cmd)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			tm.scr.waitFor(t, 0, "@demo-web-01 ~]")
			arg := sleepArg(t)
			tm.typeIn("sleep " + arg + "\r")
			remoteRunning(t, arg, 1)
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if twice {
				select {
				case <-entered:
				case err := <-done:
					t.Fatalf("exited (%v) before ending its session", err)
				case <-time.After(interruptWait):
					t.Fatal("no EndTerminalSession after SIGTERM")
				}
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			tm.exitAfter(t, cmd, done, "SIGTERM", 143)
			if after := tm.termios(t); after != before {
				t.Errorf("terminal not restored: lflag %#x, was %#x", after.Lflag, before.Lflag)
			}
			if twice {
				return // the session's end was cut short, as asked
			}
			h.checkNothingLeft(t, []string{demoInstance}, arg, nil)
		})
	}
}

// TestInterruptExecTTY: SIGTERM from outside to exec -t (a raw terminal, where Ctrl-C goes to
// the remote command) whose command ignores SIGHUP: the session ends, the command is stopped
// all the same, the terminal is given back, and the exit status is 143.
func TestInterruptExecTTY(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	arg := sleepArg(t)
	cmd := h.command("exec", "-t", demoInstance, "--", `trap "" HUP; sleep `+arg)
	tm.start(t, cmd)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	remoteRunning(t, arg, 1)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	tm.exitAfter(t, cmd, done, "SIGTERM", 143)
	if after := tm.termios(t); after != before {
		t.Errorf("terminal not restored: lflag %#x, was %#x", after.Lflag, before.Lflag)
	}
	h.checkNothingLeft(t, []string{demoInstance}, arg, nil)
}

// exitAfter waits for cmd, started on tm, to exit after the interrupt named by what, and checks
// that its status is want; done carries cmd.Wait's result.
func (tm *terminal) exitAfter(t *testing.T, cmd *exec.Cmd, done <-chan error, what string, want int) {
	t.Helper()
	var err error
	select {
	case err = <-done:
	case <-time.After(interruptWait):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("ecsterm still running %v after %s; screen %q", interruptWait, what, tm.scr.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != want {
		t.Errorf("after %s: %v, want exit status %d; screen %q", what, err, want, tm.scr.String())
	}
}
