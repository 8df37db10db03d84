//go:build linux

package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// These tests interrupt the built binary while sessions run and check, through the emulator and
// this machine (the emulated instances run their sessions here), that nothing it started is left:
// every session ended with EndTerminalSession, the remote command gone, no temporary file on
// either side, and the exit status 128+n.

// interruptWait bounds each wait below. It only keeps a broken build from hanging the run; the
// time an interrupted ecsterm took to exit is logged.
const interruptWait = 30 * time.Second

// sleepArg returns an argument for a remote `sleep` that no other process on the machine has,
// so the test finds its remote command, and only it, in /proc.
func sleepArg(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("400.%09d", n)
}

// procsWithArg returns the processes on this machine that have arg as one of their arguments.
func procsWithArg(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(b, []byte{0}) {
			if string(a) == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// eventually polls cond until it holds; there is nothing to wait on but /proc and the file
// system. It fails the test after interruptWait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(interruptWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", interruptWait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// remoteRunning waits until n remote commands with arg run, and returns their PIDs and the
// exec helper's temporary directory of each (where its stderr goes), so the test can check it
// is removed. A helper that keeps its stderr elsewhere gives no directory.
func remoteRunning(t *testing.T, arg string, n int) (pids []int, tmpDirs []string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d remote `sleep %s` not running", n, arg), func() bool {
		pids = procsWithArg(arg)
		return len(pids) >= n
	})
	t.Cleanup(func() { // whatever the test found, it leaves nothing running
		for _, pid := range procsWithArg(arg) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	for _, pid := range pids {
		if e, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", pid)); err == nil && filepath.Base(e) == "e" {
			tmpDirs = append(tmpDirs, filepath.Dir(e))
		}
	}
	return pids, tmpDirs
}

// background is an ecsterm run the test interrupts.
type background struct {
	cmd    *exec.Cmd
	stderr *screen
	done   chan struct{}
	code   int
	ended  time.Time
}

// startBackground starts ecsterm with stdout a pipe (as in `ecsterm exec … | cat`) and stdin
// from stdin (nil: none).
func (h *harness) startBackground(dir string, stdin io.Reader, args ...string) *background {
	h.t.Helper()
	cmd := h.command(args...)
	if dir != "" {
		cmd.Dir = dir
	}
	b := &background{cmd: cmd, stderr: newScreen(), done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, io.Discard, b.stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go b.wait()
	return b
}

func (b *background) wait() {
	err := b.cmd.Wait()
	b.ended = time.Now()
	if ee, ok := err.(*exec.ExitError); ok {
		b.code = ee.ExitCode()
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			b.code = -int(st.Signal()) // killed by the signal's default action
		}
	} else if err != nil {
		b.code = -1000
	}
	close(b.done)
}

// interrupt sends sig and waits for ecsterm to exit; it returns the exit status (the negated
// signal number if the signal killed it) and how long the exit took.
func (b *background) interrupt(t *testing.T, sig syscall.Signal) (int, time.Duration) {
	t.Helper()
	sent := time.Now()
	if err := b.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return b.exit(t, sent)
}

func (b *background) exit(t *testing.T, since time.Time) (int, time.Duration) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(interruptWait):
		_ = b.cmd.Process.Kill()
		<-b.done
		t.Fatalf("ecsterm still running %v after the interrupt; stderr %q", interruptWait, b.stderr.String())
	}
	return b.code, b.ended.Sub(since)
}

// checkNothingLeft checks what an interrupted ecsterm must not leave: a session not ended (or
// still connected), the remote command, the exec helper's temporary directory.
func (h *harness) checkNothingLeft(t *testing.T, ids []string, arg string, tmpDirs []string) {
	t.Helper()
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); s == 0 || e != s {
		t.Errorf("%d sessions started, %d ended with EndTerminalSession", s, e)
	}
	for _, id := range ids {
		eventually(t, id+": a session is still connected", func() bool { return h.emu.ConnectedSessions(id) == 0 })
	}
	eventually(t, "the remote `sleep "+arg+"` still runs", func() bool { return len(procsWithArg(arg)) == 0 })
	for _, d := range tmpDirs {
		eventually(t, "the exec helper's temporary directory "+d+" is still there", func() bool {
			_, err := os.Lstat(d)
			return os.IsNotExist(err)
		})
	}
}

// TestInterruptPipedExec: SIGINT, SIGTERM and SIGHUP to `ecsterm exec i-x -- sleep … | cat`
// end the session and the remote command and exit 128+n. With stdin open (the remote side
// still waiting for input) and closed; and with a remote command that ignores the hang-up a
// closed terminal sends, which the session's end alone does not stop.
func TestInterruptPipedExec(t *testing.T) {
	cases := []struct {
		name   string
		sig    syscall.Signal
		stdin  bool   // leave stdin open
		prefix string // before `sleep <arg>` in the remote command
	}{
		{name: "INT", sig: syscall.SIGINT},
		{name: "TERM stdin open", sig: syscall.SIGTERM, stdin: true},
		{name: "HUP", sig: syscall.SIGHUP},
		{name: "INT command ignores HUP", sig: syscall.SIGINT, stdin: true, prefix: `trap "" HUP; `},
		{name: "TERM command ignores HUP and TERM", sig: syscall.SIGTERM, prefix: `trap "" HUP TERM; `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{})
			arg := sleepArg(t)
			var stdin io.Reader = strings.NewReader("")
			if tc.stdin {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close(); w.Close() })
				stdin = r
			}
			b := h.startBackground("", stdin, "exec", demoInstance, "--", tc.prefix+"sleep "+arg)
			_, dirs := remoteRunning(t, arg, 1)
			code, took := b.interrupt(t, tc.sig)
			t.Logf("exited %d, %v after %v", code, took, tc.sig)
			if want := 128 + int(tc.sig); code != want {
				t.Errorf("exit status %d, want %d; stderr %q", code, want, b.stderr.String())
			}
			h.checkNothingLeft(t, []string{demoInstance}, arg, dirs)
		})
	}
}

// TestInterruptFanOutExec: SIGTERM to an exec on three instances ends all three sessions and
// commands, and exits 143 without a line per instance about the cancellation.
func TestInterruptFanOutExec(t *testing.T) {
	h := newHarness(t, emulator.Options{Fleet: fleetOf(t, 3)})
	ids := []string{"i-emuexec000", "i-emuexec001", "i-emuexec002"}
	arg := sleepArg(t)
	b := h.startBackground("", nil, "exec", strings.Join(ids, ","), "--", "sleep "+arg)
	_, dirs := remoteRunning(t, arg, len(ids))
	code, took := b.interrupt(t, syscall.SIGTERM)
	t.Logf("exited %d, %v after SIGTERM", code, took)
	if code != 143 {
		t.Errorf("exit status %d, want 143; stderr %q", code, b.stderr.String())
	}
	if s := b.stderr.String(); strings.Contains(s, "context canceled") {
		t.Errorf("stderr reports the cancellation per instance: %q", s)
	}
	h.checkNothingLeft(t, ids, arg, dirs)
}

// TestInterruptTwice: a second signal while the first one's cleanup runs (here: while
// EndTerminalSession is held) exits at once with 128+n, without waiting for it.
func TestInterruptTwice(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	entered, release := h.emu.Hold("EndTerminalSession")
	defer release()
	arg := sleepArg(t)
	b := h.startBackground("", nil, "exec", demoInstance, "--", "sleep "+arg)
	remoteRunning(t, arg, 1)
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered: // the cleanup runs: the session is being ended
	case <-b.done:
		t.Fatalf("exited %d before ending its session; stderr %q", b.code, b.stderr.String())
	case <-time.After(interruptWait):
		t.Fatalf("no EndTerminalSession %v after SIGINT; stderr %q", interruptWait, b.stderr.String())
	}
	code, took := b.interrupt(t, syscall.SIGINT)
	t.Logf("exited %d, %v after the second SIGINT", code, took)
	if code != 130 {
		t.Errorf("exit status %d after a second SIGINT, want 130; stderr %q", code, b.stderr.String())
	}
	if s := b.stderr.String(); !strings.Contains(s, "again") {
		t.Errorf("stderr %q: want a line saying the cleanup was cut short", s)
	}
}

// TestInterruptWhileStarting: a signal while StartTerminalSession is in flight. The service
// may start the session whatever becomes of its answer, so ecsterm waits for the answer
// (the first signal does not cut the call short) and ends the session it names; it exits 130.
func TestInterruptWhileStarting(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	b := h.interruptWhileStarting(t, nil, "exec", demoInstance, "--", "true")
	if s := b.stderr.String(); s != "" {
		t.Errorf("stderr %q: an interrupt needs no words", s)
	}
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); e != s {
		t.Errorf("%d sessions started, %d ended with EndTerminalSession", s, e)
	}
}

// TestInterruptFanOutWaiting: with --parallel 1, SIGTERM while the first instance runs starts
// no session on the instances still waiting for their turn.
func TestInterruptFanOutWaiting(t *testing.T) {
	h := newHarness(t, emulator.Options{Fleet: fleetOf(t, 3)})
	ids := []string{"i-emuexec000", "i-emuexec001", "i-emuexec002"}
	arg := sleepArg(t)
	b := h.startBackground("", nil, "exec", "--parallel", "1", strings.Join(ids, ","), "--", "sleep "+arg)
	_, dirs := remoteRunning(t, arg, 1)
	code, _ := b.interrupt(t, syscall.SIGTERM)
	if code != 143 {
		t.Errorf("exit status %d, want 143; stderr %q", code, b.stderr.String())
	}
	if n := h.emu.Calls("StartTerminalSession"); n != 1 {
		t.Errorf("%d sessions started, want only the one running when the signal came", n)
	}
	h.checkNothingLeft(t, ids, arg, dirs)
}

// interruptWhileStarting runs ecsterm with args (stdin from in) and holds its
// StartTerminalSession; once the call is in the emulator, it sends SIGINT, lets the call
// answer, and checks that ecsterm exits 130. The caller checks what was ended.
func (h *harness) interruptWhileStarting(t *testing.T, in io.Reader, args ...string) *background {
	t.Helper()
	entered, release := h.emu.Hold("StartTerminalSession")
	defer release()
	b := h.startBackground("", in, args...)
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
	if code, _ := b.exit(t, time.Now()); code != 130 {
		t.Errorf("exit status %d, want 130; stderr %q", code, b.stderr.String())
	}
	return b
}
