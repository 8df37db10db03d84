package connect

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

func TestNewCmdConnectForwardFlags(t *testing.T) {
	run := func(args ...string) (*Options, error) {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := NewCmdConnect(testFactory(ios), func(_ context.Context, o *Options) error {
			got = o
			return nil
		})
		cmd.SetArgs(args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		return got, cmd.Execute()
	}
	got, err := run("i-abc", "-L", "8080:80", "-L", "0.0.0.0:5432:10.0.0.7:5432", "-D", "1080")
	if err != nil {
		t.Fatal(err)
	}
	wantL := []forward.LocalSpec{
		{Bind: "127.0.0.1", Port: 8080, HostPort: 80},
		{Bind: "0.0.0.0", Port: 5432, Host: "10.0.0.7", HostPort: 5432},
	}
	if len(got.Locals) != 2 || got.Locals[0] != wantL[0] || got.Locals[1] != wantL[1] {
		t.Errorf("Locals = %+v, want %+v", got.Locals, wantL)
	}
	if len(got.Dynamics) != 1 || got.Dynamics[0] != (forward.DynamicSpec{Bind: "127.0.0.1", Port: 1080}) {
		t.Errorf("Dynamics = %+v, want 127.0.0.1:1080", got.Dynamics)
	}
	if got, err := run("i-abc"); err != nil || len(got.Locals)+len(got.Dynamics) != 0 {
		t.Errorf("no flags: %+v, %v; want no forwards", got, err)
	}
	for _, bad := range [][]string{{"-L", "80"}, {"-L", "x:80"}, {"-D", "70000"}} {
		_, err := run(append([]string{"i-abc"}, bad...)...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v, want a usage error (exit 2)", bad, err)
		}
	}
}

func TestFormatForwards(t *testing.T) {
	ln := func(addr string) net.Listener { return fakeListener{addr: addr} }
	lns := []*forward.Listener{
		{Listener: ln("127.0.0.1:8080"), Shown: "localhost", Port: 80},
		{Listener: ln("127.0.0.1:5432"), Shown: "db.internal", Target: "10.0.0.7", Host: "10.0.0.7", Port: 5432},
		{Listener: ln("127.0.0.1:1080"), SOCKS: true},
	}
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	head := "forwarding 127.0.0.1:8080 -> localhost:80\r\n" +
		"forwarding 127.0.0.1:5432 -> db.internal:5432 (10.0.0.7)\r\n" +
		"forwarding 127.0.0.1:1080 -> SOCKS5\r\n"
	if got, want := formatForwards(lns, nil, now), head+"no forwarded connections open\r\n"; got != want {
		t.Errorf("with no connections:\n%q\nwant\n%q", got, want)
	}
	conns := []forward.Conn{
		{ID: 1, Listen: "127.0.0.1:8080", From: "127.0.0.1:50001", To: "localhost:80", Since: now.Add(-125 * time.Second)},
		{ID: 4, SOCKS: true, Listen: "127.0.0.1:1080", From: "127.0.0.1:50007", To: "10.0.0.9:443", Since: now.Add(-1400 * time.Millisecond)},
		{ID: 5, SOCKS: true, Listen: "127.0.0.1:1080", From: "127.0.0.1:50008", Since: now},
	}
	want := head + "3 forwarded connections open:\r\n" +
		"  #1 127.0.0.1:50001 -> 127.0.0.1:8080 -> localhost:80, 2m5s\r\n" +
		"  #4 127.0.0.1:50007 -> 127.0.0.1:1080 -> SOCKS5 10.0.0.9:443, 1s\r\n" +
		"  #5 127.0.0.1:50008 -> 127.0.0.1:1080 -> SOCKS5 (request not read yet), 0s\r\n"
	if got := formatForwards(lns, conns, now); got != want {
		t.Errorf("with connections:\n%q\nwant\n%q", got, want)
	}
	// A SOCKS client chose this name: it is shown escaped, never sent to the terminal as is.
	evil := []forward.Conn{{ID: 9, SOCKS: true, Listen: "127.0.0.1:1080", From: "127.0.0.1:50009", To: "x\x1b]0;pwned\x07:80", Since: now}}
	if got := formatForwards(nil, evil, now); strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, `x\x1b]0;pwned\x07:80`) {
		t.Errorf("a hostile target name reached the terminal unescaped: %q", got)
	}
}

type fakeListener struct {
	net.Listener
	addr string
}

func (l fakeListener) Addr() net.Addr { return fakeAddr(l.addr) }

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// testForwards is a forwards whose Forwarder opens nothing: the tests here bind, list and cancel
// listeners, and never connect through them.
func testForwards(t *testing.T) *forwards {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fd := &forwards{ctx: ctx, cancel: cancel, errOut: &cmdutil.LockedWriter{W: io.Discard}}
	fd.newFw = func() (*forward.Forwarder, attach.PortOpener) {
		return &forward.Forwarder{Open: func(context.Context, string, int) (*forward.Stream, error) {
			return nil, errors.New("no instance in this test")
		}}, nil
	}
	t.Cleanup(fd.stop)
	return fd
}

func TestForwardsCommand(t *testing.T) {
	fd := testForwards(t)
	if got := fd.list(); !strings.Contains(got, "no forwarded ports") {
		t.Errorf("~# before any forward: %q", got)
	}
	if got := fd.command("?"); !strings.Contains(got, "-KL[bind:]port") {
		t.Errorf("? shows %q, want the commands", got)
	}

	// -L adds a listener (port 0 picks one, and the answer names it), -KL cancels it.
	got := fd.command("-L 0:80")
	m := regexp.MustCompile(`^forwarding (127\.0\.0\.1:(\d+)) -> localhost:80\r\n$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("-L 0:80 answered %q", got)
	}
	if c, err := net.Dial("tcp", m[1]); err != nil {
		t.Fatalf("the new forward does not listen: %v", err)
	} else {
		c.Close()
	}
	if l := fd.list(); !strings.Contains(l, "forwarding "+m[1]+" -> localhost:80") {
		t.Errorf("~# does not show the new forward: %q", l)
	}
	if got := fd.command("-KD " + m[2]); !strings.Contains(got, "no SOCKS5 proxy on 127.0.0.1:"+m[2]) {
		t.Errorf("-KD on a -L port answered %q", got)
	}
	if got := fd.command("-KL" + m[2]); got != "cancelled "+m[1]+" -> localhost:80\r\n" {
		t.Errorf("-KL answered %q", got)
	}
	if c, err := net.Dial("tcp", m[1]); err == nil {
		c.Close()
		t.Error("the cancelled forward still accepts connections")
	}

	// -D the same way, cancelled by localhost:port.
	got = fd.command("-D0")
	m = regexp.MustCompile(`^forwarding (127\.0\.0\.1:(\d+)) -> SOCKS5\r\n$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("-D0 answered %q", got)
	}
	if got := fd.command("-KD localhost:" + m[2]); !strings.HasPrefix(got, "cancelled "+m[1]) {
		t.Errorf("-KD localhost:port answered %q", got)
	}

	// Every interface is bound as [::]; a user cancels it as *, 0.0.0.0 or nothing.
	for _, tc := range []struct{ add, cancel string }{
		{"-L *:0:localhost:80", "-KL *:"},
		{"-L 0.0.0.0:0:localhost:80", "-KL :"},
		{"-D :0", "-KD 0.0.0.0:"},
		{"-L [::1]:0:localhost:80", "-KL [::1]:"},
	} {
		got := fd.command(tc.add)
		m := regexp.MustCompile(`^forwarding (\S+):(\d+) -> `).FindStringSubmatch(got)
		if m == nil {
			if strings.Contains(tc.add, "::1") && strings.Contains(got, "cannot listen") {
				continue // no IPv6 loopback here
			}
			t.Fatalf("%s answered %q", tc.add, got)
		}
		if got := fd.command(tc.cancel + m[2]); !strings.HasPrefix(got, "cancelled ") {
			t.Errorf("%s after %s answered %q", tc.cancel+m[2], tc.add, got)
		}
	}

	for line, want := range map[string]string{
		"-L 80":     "ecsterm: -L",
		"-KL x":     "ecsterm: -KL:",
		"-KL 9":     "no local forward on 127.0.0.1:9",
		"frob":      `unknown command "frob"`,
		"-L\x1b]0;": `\x1b`, // shown escaped, never raw
	} {
		if got := fd.command(line); !strings.Contains(got, want) || strings.Contains(got, "\x1b") {
			t.Errorf("%q answered %q, want it to contain %q and no raw control characters", line, got, want)
		}
	}

	fd.stop()
	if got := fd.command("-L 0:80"); !strings.HasPrefix(got, "ecsterm: ") {
		t.Errorf("-L after the session ended answered %q, want an error", got)
	}
}
