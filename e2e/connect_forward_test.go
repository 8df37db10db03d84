//go:build linux

package e2e

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestConnectWithForwards: connect -L forwards a port while the shell lasts, ~# lists the
// listener and the open connection, and the shell's end closes the forward and says so.
func TestConnectWithForwards(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	port := strconv.Itoa(tcpServer(t, echoConn))
	cmd := h.command("connect", demoInstance, "-L", "0:"+port)
	tm.start(t, cmd)
	scr := tm.scr

	// The port the system picked is announced, since nobody could use the forward otherwise.
	at := scr.waitFor(t, 0, " -> localhost:"+port)
	m := regexp.MustCompile(`forwarding (127\.0\.0\.1:\d+) -> localhost:` + port).FindStringSubmatch(scr.String())
	if m == nil {
		t.Fatalf("no announcement of the picked port:\n%s", scr.String())
	}
	at = scr.waitFor(t, at, "@demo-web-01 ~]")

	c := dialTCP(t, m[1])
	if err := echoRoundTrip(t, c, 256<<10); err != nil {
		t.Fatalf("through connect's -L: %v", err)
	}

	tm.typeIn("\r~#")
	at = scr.waitFor(t, at, "forwarding "+m[1]+" -> localhost:"+port)
	at = scr.waitFor(t, at, "1 forwarded connection open:")
	// The connection's line: who, which listener, where to, and for how long.
	line := scr.waitFor(t, at, "#1 "+c.LocalAddr().String()+" -> "+m[1]+" -> localhost:"+port+", ")

	// The shell still works after ~#, and ending it ends the forward.
	tm.typeIn("echo still-$((40+2))\r")
	at = scr.waitFor(t, line, "still-42")
	tm.typeIn("exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ecsterm connect: %v\n%s", err, scr.String())
	}
	scr.waitFor(t, at, "closed 1 forwarded connection")
	// The shell's session and the forward's port session share one preflight.
	if n := h.emu.Calls("DescribeInstances"); n != 1 {
		t.Errorf("connect -L made %d preflights (DescribeInstances calls), want 1", n)
	}
	if _, err := net.Dial("tcp", m[1]); err == nil {
		t.Error("the -L port still accepts connections after the session ended")
	}
	if after := tm.termios(t); after != before {
		t.Errorf("terminal not restored:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestConnectForwardPortInUse: a -L port that cannot be bound stops connect before any session
// is started, with one line naming the address.
func TestConnectForwardPortInUse(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, p, _ := net.SplitHostPort(busy.Addr().String())
	r := h.run("", "connect", demoInstance, "-L", p+":22")
	if r.code != 255 {
		t.Fatalf("exit %d, want 255; stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "cannot listen on 127.0.0.1:"+p) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("stderr %q, want one line naming 127.0.0.1:%s", r.stderr, p)
	}
	if n := h.emu.Calls("StartTerminalSession"); n != 0 {
		t.Errorf("%d sessions started for a connect that could not bind its forward", n)
	}
}

// TestConnectCommandLineForwards: ~C adds a forward to a session that started without one, as
// OpenSSH's command line does; the forward works at once, ~# shows it, and -KL cancels it.
func TestConnectCommandLineForwards(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	port := strconv.Itoa(tcpServer(t, echoConn))
	cmd := h.command("connect", demoInstance)
	tm.start(t, cmd)
	scr := tm.scr
	at := scr.waitFor(t, 0, "@demo-web-01 ~]")
	if n := h.emu.Calls("StartTerminalSession"); n != 1 {
		t.Errorf("%d sessions before any forward, want the shell's only", n)
	}

	tm.typeIn("\r~C")
	at = scr.waitFor(t, at, "ecsterm> ")
	tm.typeIn("-L 0:" + port + "\r")
	at = scr.waitFor(t, at, " -> localhost:"+port)
	m := regexp.MustCompile(`forwarding (127\.0\.0\.1:(\d+)) -> localhost:` + port).FindStringSubmatch(scr.String())
	if m == nil {
		t.Fatalf("~C -L did not say where it listens:\n%s", scr.String())
	}
	c := dialTCP(t, m[1])
	if err := echoRoundTrip(t, c, 64<<10); err != nil {
		t.Fatalf("through the forward added with ~C: %v", err)
	}
	tm.typeIn("\r~#")
	at = scr.waitFor(t, at, "#1 "+c.LocalAddr().String()+" -> "+m[1])
	c.Close()

	tm.typeIn("\r~C-KL " + m[2] + "\r")
	at = scr.waitFor(t, at, "cancelled "+m[1])
	if c, err := net.Dial("tcp", m[1]); err == nil {
		c.Close()
		t.Error("the cancelled forward still accepts connections")
	}
	// Nothing typed on the command lines reached the shell, which still works.
	tm.typeIn("echo after-$((6*7))\r")
	scr.waitFor(t, at, "after-42")
	tm.typeIn("exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ecsterm connect: %v\n%s", err, scr.String())
	}
	if strings.Contains(scr.String(), "command not found") {
		t.Errorf("a command line reached the remote shell:\n%s", scr.String())
	}
}
