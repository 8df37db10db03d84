//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

const demoInstance = "i-emu0demo000000001"

// TestConnectOnPTY is the walking skeleton end to end: the built binary on a real PTY, through
// the emulator's API, gateway and agent PTY. It types a command, resizes the window, exits, and
// checks that the terminal is exactly as it was.
func TestConnectOnPTY(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	cmd := h.command("connect", demoInstance)
	tm.start(t, cmd)
	scr := tm.scr

	at := scr.waitFor(t, 0, "@demo-web-01 ~]")
	if raw := tm.termios(t); raw.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 {
		t.Errorf("local terminal not raw during the session: lflag %#x", raw.Lflag)
	}

	// A command runs remotely and its output comes back; the arithmetic proves the shell ran it.
	tm.typeIn("echo hi-$((6*7))\r")
	at = scr.waitFor(t, at, "hi-42")
	at = scr.waitFor(t, at, "@demo-web-01 ~]")

	// The window size follows. SIGWINCH reaches ecsterm asynchronously, so keep asking the
	// remote side until it has seen the new size.
	tm.resize(t, 41, 133)
	for i := 0; ; i++ {
		tm.typeIn("stty size\r")
		next := scr.waitFor(t, at, "@demo-web-01 ~]")
		if strings.Contains(scr.String()[at:next], "41 133") {
			break
		}
		if i == 50 {
			t.Fatalf("remote size never became 41 133:\n%s", scr.String()[at:])
		}
		at = next
	}

	tm.typeIn("exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ecsterm connect: %v\n%s", err, scr.String())
	}
	if after := tm.termios(t); after != before {
		t.Errorf("terminal not restored:\nbefore %+v\nafter  %+v", before, after)
	}

	// A connect makes four API calls before the WebSocket opens, all at once (preflight's three
	// alongside StartTerminalSession), and ends its session after.
	for action, want := range map[string]int{"DescribeCloudAssistantSettings": 1, "DescribeInstances": 1, "DescribeCloudAssistantStatus": 1, "StartTerminalSession": 1, "EndTerminalSession": 1} {
		if got := h.emu.Calls(action); got != want {
			t.Errorf("%s called %d times, want %d", action, got, want)
		}
	}
}

// TestConnectPipes runs connect without a terminal: input is sent as is, EOF ends the remote
// shell (^D at the start of a line), and only session output reaches stdout.
func TestConnectPipes(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r := h.run("echo out-$((2+3))\n", "connect", demoInstance)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "out-5") {
		t.Errorf("stdout lacks the command's output: %q", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr not empty: %q", r.stderr)
	}
}

// TestConnectTypeAhead: with the real agent's start-up delay, input sent before the agent's PTY
// exists would be dropped; ecsterm holds it until the shell's prompt arrives.
func TestConnectTypeAhead(t *testing.T) {
	h := newHarness(t, emulator.Options{AgentStartDelay: 300 * time.Millisecond})
	r := h.run("echo typed-$((40+2))\n", "connect", demoInstance)
	if r.code != 0 || !strings.Contains(r.stdout, "typed-42") {
		t.Fatalf("exit %d; stdout %q; stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestConnectEscapes: ~? shows the escapes without sending them, ~. ends a session that the
// remote side would keep open, and the terminal comes back as it was.
func TestConnectEscapes(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	cmd := h.command("connect", demoInstance)
	tm.start(t, cmd)
	at := tm.scr.waitFor(t, 0, "@demo-web-01 ~]")
	tm.typeIn("~?")
	at = tm.scr.waitFor(t, at, "terminate the session")
	// A tilde inside a line is an ordinary character.
	tm.typeIn("echo a~.b\r")
	at = tm.scr.waitFor(t, at, "a~.b\r\n")
	tm.typeIn("~.")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 {
		t.Fatalf("after ~.: %v\n%s", err, tm.scr.String())
	}
	tm.scr.waitFor(t, at, "ended by escape sequence")
	if tm.termios(t) != before {
		t.Errorf("terminal not restored after ~.")
	}
	if got := h.emu.Calls("EndTerminalSession"); got != 1 {
		t.Errorf("EndTerminalSession called %d times after ~.", got)
	}
}

// TestTerminalRestoredAfterKill: even SIGKILL, which runs none of ecsterm's cleanup (as a panic
// in another goroutine would not), leaves the terminal as it was: a watcher process restores it.
func TestTerminalRestoredAfterKill(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	cmd := h.command("connect", demoInstance)
	tm.start(t, cmd)
	tm.scr.waitFor(t, 0, "@demo-web-01 ~]")
	if raw := tm.termios(t); raw.Lflag&unix.ICANON != 0 {
		t.Fatal("terminal not raw during the session")
	}
	cmd.Process.Kill()
	cmd.Wait()
	tm.waitRestored(t, before, "ecsterm was killed")
}

// TestConnectIdleTimeout: keep-alives hold a quiet session open, so ending one on purpose takes
// --idle-timeout, which says why it ended.
func TestConnectIdleTimeout(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	cmd := h.command("connect", "--idle-timeout", "300ms", demoInstance)
	pr, pw, err := os.Pipe() // stdin that never ends
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	cmd.Stdin = pr
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 {
		t.Fatalf("exit %v, stderr %q", err, errb.String())
	}
	if !strings.Contains(errb.String(), "no input or output for 300ms") {
		t.Fatalf("stderr %q does not say why the session ended", errb.String())
	}
}

// TestConnectSuspend: ~^Z stops ecsterm with the terminal back to its own settings, as a
// shell's ^Z would, and fg continues the session raw. It runs under a job-control shell: the
// kernel discards stop signals for a process with no shell to continue it.
func TestConnectSuspend(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	cmd := h.command("connect", demoInstance)
	shell := exec.Command("bash", "--norc", "--noprofile", "-m", "-c",
		`"$@"; echo ecsterm-stopped; read -r _; fg; echo ecsterm-exited-$?`, "bash")
	shell.Args = append(shell.Args, cmd.Args...)
	shell.Env = cmd.Env
	tm.start(t, shell)
	at := tm.scr.waitFor(t, 0, "@demo-web-01 ~]")
	tm.typeIn("~\x1a")
	at = tm.scr.waitFor(t, at, "ecsterm-stopped")
	if tm.termios(t).Lflag&unix.ICANON == 0 {
		t.Error("terminal still raw while ecsterm is stopped")
	}
	tm.typeIn("\n") // the shell waits for this before fg, so the check above saw the stopped state
	// After fg, ecsterm makes the terminal raw again; only the terminal itself can tell when.
	deadline := time.Now().Add(10 * time.Second)
	for tm.termios(t).Lflag&unix.ICANON != 0 {
		if time.Now().After(deadline) {
			t.Fatal("terminal not raw again after fg")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tm.typeIn("echo back-$((1+1))\r")
	at = tm.scr.waitFor(t, at, "back-2")
	tm.typeIn("exit\r")
	tm.scr.waitFor(t, at, "ecsterm-exited-0")
	if err := shell.Wait(); err != nil {
		t.Fatalf("shell: %v\n%s", err, tm.scr.String())
	}
	if tm.termios(t) != before {
		t.Error("terminal not restored at the end")
	}
}
