//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// The far side as the agents' sources show it (issue #13), with the agent's clocks scaled down
// in the emulator and, in the ecsterm_faults binary (ECSTERM_FAULTS_CLOCK), ecsterm's alike.

// clockDiv scales ecsterm's clocks in the faults binary: a keep-alive, were one sent on a port
// channel, would go every 500 ms instead of 50 s.
const clockDiv = "100"

// greetAndClose serves each connection a numbered greeting and closes it at once.
func greetAndClose(t *testing.T) int {
	var n atomic.Int32
	return tcpServer(t, func(c net.Conn) { _, _ = fmt.Fprintf(c, "greeting %d\n", n.Add(1)) })
}

// TestForwardServerClosesFirst: a server that greets and closes at once, and a local peer that
// then stays quiet. Agents up to 2.2.3.578 keep the channel and re-dial the target on the next
// frame, so ecsterm sends none: the peer learns at the agent's idle limit. Later agents end the
// channel with the target, and the peer learns at once. Either way the agent connects to the
// server exactly once.
func TestForwardServerClosesFirst(t *testing.T) {
	const idle = 3 * time.Second // six keep-alive intervals of the scaled binary
	h := newHarness(t, emulator.Options{IdleTimeout: idle})
	h.setenv("ECSTERM_FAULTS_CLOCK", clockDiv)
	for _, tc := range []struct {
		inst, stderr string
	}{
		{legacyInstance, "the service ended the session after 180 s with nothing sent to it (IdleTimeout)\n"},
		{demoInstance, ""},
	} {
		t.Run(tc.inst, func(t *testing.T) {
			port := greetAndClose(t)
			f := h.startForwardWith(h.faultyCommand, tc.inst, "-L", "0:"+strconv.Itoa(port))
			c := dialTCP(t, f.listens[0])
			_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a failsafe, far beyond the idle limit
			b, err := io.ReadAll(c)
			if err != nil || string(b) != "greeting 1\n" {
				t.Fatalf("local peer read %q, %v; want the greeting, then end of file", b, err)
			}
			if n := h.emu.TargetDials(port); n != 1 {
				t.Errorf("the agent connected to the server %d times, want once", n)
			}
			if tc.stderr != "" {
				f.stderr.waitFor(t, 0, tc.stderr)
			}
			if code := f.stop(); code != 130 {
				t.Errorf("exit %d", code)
			}
			if s := f.stderr.String(); !strings.HasSuffix(s, tc.stderr) || strings.Count(s, "\n") != strings.Count(tc.stderr, "\n") {
				t.Errorf("stderr %q, want %q", s, tc.stderr)
			}
			if n := h.emu.TargetDials(port); n != 1 {
				t.Errorf("after the forward ended: %d connections to the server, want 1", n)
			}
		})
	}
}

// TestProxySSHIdleServerAlive: ecsterm sends no keep-alives on port channels, and ssh's own
// ServerAliveInterval keeps an idle session through `ecsterm proxy` past the agent's idle limit;
// without it a later agent ends the session there (the trade-off README states; 2.2.3.578 takes
// its idle limit only once the server has closed).
func TestProxySSHIdleServerAlive(t *testing.T) {
	sshd, _ := privateSSHD(t)
	const idle = 3 * time.Second
	h := newHarness(t, emulator.Options{IdleTimeout: idle})
	h.setenv("ECSTERM_FAULTS_CLOCK", clockDiv)
	proxy := "ProxyCommand=" + h.faultyCommand().Path + " proxy %h %p"
	remote := "sleep 8; echo still-here" // nothing crosses for over twice the idle limit
	for _, inst := range []string{legacyInstance, demoInstance} {
		t.Run(inst, func(t *testing.T) {
			args := sshd.SSHArgs("-o", proxy, "-o", "ServerAliveInterval=1")
			args[len(args)-1] = "root@" + inst
			out, stderr, err := h.runTool("ssh", append(args, remote)...)
			if err != nil || out != "still-here\n" {
				t.Fatalf("ssh with ServerAliveInterval=1: %v, stdout %q, stderr %q", err, out, stderr)
			}
		})
	}
	t.Run("without_ServerAliveInterval", func(t *testing.T) {
		args := sshd.SSHArgs("-o", proxy)
		args[len(args)-1] = "root@" + demoInstance
		out, stderr, err := h.runTool("ssh", append(args, remote)...)
		if err == nil || out != "" || !strings.Contains(stderr, "IdleTimeout") {
			t.Fatalf("ssh with nothing to keep it alive: %v, stdout %q, stderr %q; want the agent's idle limit to end it", err, out, stderr)
		}
	})
}

// debugRate finds the rate --debug reports for the session's output.
var debugRate = regexp.MustCompile(`output_bytes=(\d+) .*output_KiB_per_s=(\d+)`)

// TestAgentPacing: with the agent's own pacing (shell 1 KiB / 40 ms, port 2 KiB / 83 ms),
// 200 KB through exec and through a forward arrive byte-exact, and --debug says at what rate.
func TestAgentPacing(t *testing.T) {
	h := newHarness(t, emulator.Options{AgentPacing: true})
	data, want := randomBytes(200 << 10)
	src := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "--debug", "exec", demoInstance, "--", "cat", src)
	if r.code != 0 || sha([]byte(r.stdout)) != want {
		t.Fatalf("exec: exit %d, %d bytes, stderr %q", r.code, len(r.stdout), r.stderr)
	}
	m := debugRate.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("--debug reports no output rate:\n%s", r.stderr)
	}
	t.Logf("exec of 200 KiB, shell pacing: %s output bytes at %s KiB/s", m[1], m[2])

	port := tcpServer(t, func(c net.Conn) { _, _ = c.Write(data) })
	debug := func(args ...string) *exec.Cmd { return h.command(append([]string{"--debug"}, args...)...) }
	f := h.startForwardWith(debug, demoInstance, "-L", "0:"+strconv.Itoa(port))
	c := dialTCP(t, f.listens[0])
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	b, err := io.ReadAll(c)
	if err != nil || sha(b) != want {
		t.Fatalf("forward: %d bytes, %v", len(b), err)
	}
	if code := f.stop(); code != 130 {
		t.Fatalf("forward exit %d", code)
	}
	if m = debugRate.FindStringSubmatch(f.stderr.String()); m == nil {
		t.Fatalf("--debug reports no output rate for the forward:\n%s", f.stderr.String())
	}
	t.Logf("forward of 200 KiB, port pacing: %s output bytes at %s KiB/s", m[1], m[2])
}

// TestConnectSessionLimit: connect warns once before the agent's 3 h limit and then says that
// the limit ended the session, not that the connection was lost; nothing tries to resume it.
// ecsterm's clocks run 1800 times faster (the limit at 6 s, the warning 1/6 s before it) and the
// emulator's limit comes a second after ecsterm's, so the warning is always first.
func TestConnectSessionLimit(t *testing.T) {
	h := newHarness(t, emulator.Options{SessionLimit: 7 * time.Second})
	h.setenv("ECSTERM_FAULTS_CLOCK", "1800")
	cmd := h.faultyCommand("connect", demoInstance)
	pr, pw, err := os.Pipe() // stdin stays open: only the limit ends this session
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	cmd.Stdin = pr
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	stderr := errb.String()
	const warning = "ecsterm: the service ends every session 3 hours after it starts: this one ends in about 5 minutes\n"
	const ended = "the service ended the session at its limit of 3 hours (SessionTimeout); start a new one to go on\n"
	if err == nil || strings.Count(stderr, warning) != 1 || !strings.HasSuffix(stderr, ended) {
		t.Errorf("exit %v; stderr %q: want the warning once, then the end at the limit", err, stderr)
	}
	if strings.Contains(stderr, "reconnect") || strings.Contains(stderr, "lost") {
		t.Errorf("stderr %q speaks of a lost connection", stderr)
	}
	if !strings.Contains(out.String(), "The session has terminated. SessionTimeout: ") {
		t.Errorf("stdout %q lacks the agent's last line", out.String())
	}
}

// TestForwardDownloadThenClose: a server that sends 1 MiB and closes, on agents that re-dial a
// closed target (2.2.3.578, and a later one as some later versions do). A schema 1.02 client
// would acknowledge the output with an empty Input frame after the server closed, and the agent
// would re-dial the server for it; port channels keep to 1.01, so the server is reached once and
// the peer gets the data once, then end of file at the idle limit.
func TestForwardDownloadThenClose(t *testing.T) {
	h := newHarness(t, emulator.Options{IdleTimeout: 3 * time.Second, LaterAgentsRedial: true})
	data, want := randomBytes(1 << 20)
	for _, inst := range []string{legacyInstance, demoInstance} {
		t.Run(inst, func(t *testing.T) {
			port := tcpServer(t, func(c net.Conn) { _, _ = c.Write(data) })
			f := h.startForward(inst, "-L", "0:"+strconv.Itoa(port))
			c := dialTCP(t, f.listens[0])
			_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a failsafe, far beyond the idle limit
			b, err := io.ReadAll(c)
			if err != nil || sha(b) != want {
				t.Errorf("read %d bytes, %v; want the 1 MiB once, then end of file", len(b), err)
			}
			if n := h.emu.TargetDials(port); n != 1 {
				t.Errorf("the agent connected to the server %d times, want once", n)
			}
		})
	}
}
