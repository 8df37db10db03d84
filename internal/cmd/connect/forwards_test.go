package connect

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

func TestNewCmdConnectForwardFlags(t *testing.T) {
	run := func(args ...string) (*Options, error) {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := NewCmdConnect(&cmdutil.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error {
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
