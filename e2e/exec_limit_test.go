//go:build linux

package e2e

import (
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// execLimitClock scales ecsterm's clocks for these tests: the agent's 3 h limit is 6 s.
const execLimitClock = 1800

// execAtLimit runs `exec <demo> -- sleep 20.<n>` on the faults binary with its clocks scaled
// and stdout a pipe; cut, if set, runs once the remote command is up (ecsterm's session started
// before that). It returns the exit status and stderr.
func execAtLimit(t *testing.T, h *harness, cut func(), extra ...string) (int, string) {
	t.Helper()
	h.setenv("ECSTERM_FAULTS_CLOCK", strconv.Itoa(execLimitClock))
	arg := strings.Replace(sleepArg(t), "400.", "20.", 1)
	args := append(append([]string{"exec"}, extra...), demoInstance, "--", "sleep "+arg)
	cmd := h.faultyCommand(args...)
	stderr := newScreen()
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if cut != nil {
		remoteRunning(t, arg, 1)
		cut()
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("exec still running a minute on; stderr %q", stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

const limitEnded = ": the service ended the session at its limit of 3 hours (SessionTimeout); start a new one to go on\n"

// TestExecSessionLimit: exec whose session the agent ends at its 3 h limit (scaled to seconds)
// says so as connect does, exits 255, and does not try to resume it.
func TestExecSessionLimit(t *testing.T) {
	h := newHarness(t, emulator.Options{SessionLimit: 7 * time.Second})
	code, stderr := execAtLimit(t, h, nil)
	if code != 255 || !strings.HasSuffix(stderr, demoInstance+limitEnded) {
		t.Errorf("exit %d, stderr %q: want 255 and the end at the limit", code, stderr)
	}
	if strings.Contains(stderr, "reconnect") || strings.Contains(stderr, "lost") {
		t.Errorf("stderr %q speaks of a lost connection", stderr)
	}
}

// TestExecDropAfterLimit: a connection that drops with no status once the agent's limit has
// passed is the limit's end: exec does not resume it (with or without resume), says so, 255.
func TestExecDropAfterLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"resume", nil}, {"no-resume", []string{"--no-resume"}}} {
		t.Run(tc.name, func(t *testing.T) {
			// The emulator's agent keeps the session: only the drop ends it.
			h := newHarness(t, emulator.Options{})
			code, stderr := execAtLimit(t, h, func() {
				// Wait out ecsterm's scaled limit (the session is older than the command),
				// then drop every connection without a close frame.
				time.Sleep(3 * time.Hour / execLimitClock)
				h.emu.CutConnections()
			}, tc.extra...)
			if code != 255 || !strings.HasSuffix(stderr, demoInstance+limitEnded) {
				t.Errorf("exit %d, stderr %q: want 255 and the end at the limit", code, stderr)
			}
			if strings.Contains(stderr, "reconnect") {
				t.Errorf("stderr %q: a session past the limit was resumed", stderr)
			}
		})
	}
}

// TestConnectDropAfterLimit: connect, like exec, does not resume a connection that drops with
// no status once the agent's limit has passed; it says the limit ended the session.
func TestConnectDropAfterLimit(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.setenv("ECSTERM_FAULTS_CLOCK", strconv.Itoa(execLimitClock))
	cmd := h.faultyCommand("connect", demoInstance)
	in, err := cmd.StdinPipe() // stays open: only the drop ends this session
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	stdout, stderr := newScreen(), newScreen()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if _, err := io.WriteString(in, "echo up-$((6*7))\n"); err != nil {
		t.Fatal(err)
	}
	stdout.waitFor(t, 0, "up-42") // the session is open, so ecsterm's clock for it runs
	time.Sleep(3 * time.Hour / execLimitClock)
	h.emu.CutConnections()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("connect still running a minute after the drop; stderr %q", stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if s := stderr.String(); code != 255 || !strings.HasSuffix(s, demoInstance+limitEnded) || strings.Contains(s, "reconnect") {
		t.Errorf("exit %d, stderr %q: want 255 and the end at the limit, no reconnect", code, s)
	}
}
