//go:build unix

package emulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// logWatch is a slog handler that hands each debug message to a channel, so a test can wait for
// the agent to reach a state instead of sleeping.
type logWatch struct{ msgs chan string }

func newLogWatch() *logWatch { return &logWatch{msgs: make(chan string, 64)} }

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	select {
	case w.msgs <- r.Message:
	default:
	}
	return nil
}
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logWatch) WithGroup(string) slog.Handler      { return w }

func (w *logWatch) waitFor(t *testing.T, msg string) {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case m := <-w.msgs:
			if strings.HasPrefix(m, msg) {
				return
			}
		case <-timeout:
			t.Fatalf("the emulator never logged %q", msg)
		}
	}
}

// greeter listens on loopback; its n-th connection gets "greeting n\n" and is closed at once.
func greeter(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	var n atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = fmt.Fprintf(c, "greeting %d\n", n.Add(1))
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPortTargetCloseAGT578: on an agent up to 2.2.3.578 a target that closes leaves the channel
// open and silent; the next frame, even an empty keep-alive, a resize or a status, re-dials the target, whose new
// connection's output arrives on the same channel.
func TestPortTargetCloseAGT578(t *testing.T) {
	w := newLogWatch()
	e := testEmulator(t, Options{Logger: slog.New(w)})
	port := greeter(t)
	wsURL, token := startDirect(t, e, idLegacy, "PortNumber", strconv.Itoa(port))
	p := dialPeer(t, wsURL, token)
	p.until("greeting 1\n")
	w.waitFor(t, "agent: target closed")
	if n := e.TargetDials(port); n != 1 {
		t.Fatalf("%d connections to the target before any frame, want 1", n)
	}
	p.keepAlive()
	p.until("greeting 2\n") // fails on a status: nothing but the new connection's output came
	if n := e.TargetDials(port); n != 2 {
		t.Errorf("%d connections to the target after one keep-alive, want 2", n)
	}
	w.waitFor(t, "agent: target closed")
	p.resize(30, 100)
	p.until("greeting 3\n")
	w.waitFor(t, "agent: target closed")
	p.send(session.TypeStatus, session.AppendRate(nil, 1<<20)) // a status frame re-dials too
	p.until("greeting 4\n")
	p.close()
}

// TestPortTargetCloseNewerAgent: a later agent's plugin ends when its target closes, and the
// channel with it; nothing re-dials.
func TestPortTargetCloseNewerAgent(t *testing.T) {
	e := testEmulator(t, Options{})
	port := greeter(t)
	wsURL, token := startDirect(t, e, idDemo, "PortNumber", strconv.Itoa(port))
	p := dialPeer(t, wsURL, token)
	p.expectEnd("Exit")
	if p.output() != "greeting 1\n" || e.TargetDials(port) != 1 {
		t.Errorf("output %q with %d connections to the target, want the first greeting from one", p.output(), e.TargetDials(port))
	}
}

// TestPortCloseEndsChannelOption: the invented behaviour, on request.
func TestPortCloseEndsChannelOption(t *testing.T) {
	e := testEmulator(t, Options{PortCloseEndsChannel: true})
	port := greeter(t)
	wsURL, token := startDirect(t, e, idLegacy, "PortNumber", strconv.Itoa(port))
	p := dialPeer(t, wsURL, token)
	p.expectEnd("Exit")
	if p.output() != "greeting 1\n" {
		t.Errorf("output %q", p.output())
	}
}

// TestPortIdleTimeoutWritesNoText: a port stream carries only what the target said, also when
// the agent ends the channel (on 2.2.3.578, TestPortIdleLimitAGT578).
func TestPortIdleTimeoutWritesNoText(t *testing.T) {
	e := testEmulator(t, Options{IdleTimeout: 200 * time.Millisecond})
	port := strconv.Itoa(portTarget(t))
	for _, id := range []string{idDemo} {
		wsURL, token := startDirect(t, e, id, "PortNumber", port)
		p := dialPeer(t, wsURL, token)
		p.expectEnd("IdleTimeout")
		if p.output() != "ready\n" {
			t.Errorf("%s: port output %q, want only the target's \"ready\\n\"", id, p.output())
		}
	}
}

// TestSessionLimit: the agent ends a session at its limit; the newer agent says so in a shell's
// output, the older one says nothing.
func TestSessionLimit(t *testing.T) {
	e := testEmulator(t, Options{SessionLimit: 500 * time.Millisecond})
	for id, want := range map[string]bool{idDemo: true, idLegacy: false} {
		wsURL, token := startDirect(t, e, id)
		p := dialPeer(t, wsURL, token)
		p.expectEnd("SessionTimeout")
		if got := strings.Contains(p.output(), "The session has terminated. SessionTimeout: "); got != want {
			t.Errorf("%s: output %q; the agent's last line there: %v, want %v", id, p.output(), got, want)
		}
	}
	port := strconv.Itoa(portTarget(t))
	wsURL, token := startDirect(t, e, idDemo, "PortNumber", port)
	p := dialPeer(t, wsURL, token)
	p.expectEnd("SessionTimeout")
	if p.output() != "ready\n" {
		t.Errorf("port output %q at the limit, want only the target's", p.output())
	}
}

// TestFramePacer: frames are spaced by the interval from the first one on.
func TestFramePacer(t *testing.T) {
	p := &framePacer{interval: 40 * time.Millisecond}
	if !p.wait(nil) {
		t.Fatal("first wait failed")
	}
	first := p.next
	if !p.wait(nil) {
		t.Fatal("second wait failed")
	}
	if d := p.next.Sub(first); d != p.interval {
		t.Errorf("second frame's successor due %v after the first's, want %v", d, p.interval)
	}
	done := make(chan struct{})
	close(done)
	if p.wait(done) {
		t.Error("a wait on a closed channel went on")
	}
	var none *framePacer
	if !none.wait(done) {
		t.Error("a nil pacer waited")
	}
}

// TestLaterAgentsRedialOption: with the option, a later agent keeps its channel and re-dials as
// 2.2.3.578 does.
func TestLaterAgentsRedialOption(t *testing.T) {
	w := newLogWatch()
	e := testEmulator(t, Options{Logger: slog.New(w), LaterAgentsRedial: true})
	port := greeter(t)
	wsURL, token := startDirect(t, e, idDemo, "PortNumber", strconv.Itoa(port))
	p := dialPeer(t, wsURL, token)
	p.until("greeting 1\n")
	w.waitFor(t, "agent: target closed")
	p.input("x")
	p.until("greeting 2\n")
	if n := e.TargetDials(port); n != 2 {
		t.Errorf("%d connections to the target, want 2", n)
	}
	p.close()
}

// TestPortTargetWriteFails: a write to the target that fails (it reset the connection before the
// plugin read its end) drops the frame on 2.2.3.578, which only logs it, and ends the plugin on
// a later agent.
func TestPortTargetWriteFails(t *testing.T) {
	e := testEmulator(t, Options{})
	for version, wantErr := range map[string]bool{"2.2.3.578": false, "2.4.3.1000": true} {
		a, b := net.Pipe()
		b.Close()
		c := &channel{e: e, id: "c-test", sess: &termSession{instance: &Instance{Agent: &Agent{Version: version, Online: true}}}}
		tt := &tcpTarget{c: c, conn: a}
		n, err := tt.Write([]byte("data"))
		if (err != nil) != wantErr {
			t.Errorf("agent %s: Write after the target went: %d, %v; want an error: %v", version, n, err, wantErr)
		}
		a.Close()
	}
}

// TestPortIdleLimitAGT578: on 2.2.3.578 the idle limit does not end a port session whose target
// is connected (the plugin takes the cancellation only while it waits to re-dial): the channel
// still carries data both ways, and ends, with no re-dial and no text, when the target closes.
func TestPortIdleLimitAGT578(t *testing.T) {
	w := newLogWatch()
	e := testEmulator(t, Options{Logger: slog.New(w), IdleTimeout: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hangUp := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "ready\n")
		go func() { _, _ = io.Copy(c, c) }()
		<-hangUp
	}()
	defer func() { <-served }()
	defer func() {
		select {
		case <-hangUp:
		default:
			close(hangUp)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	wsURL, token := startDirect(t, e, idLegacy, "PortNumber", strconv.Itoa(port))
	p := dialPeer(t, wsURL, token)
	p.until("ready\n")
	w.waitFor(t, "agent: idle limit passed")
	p.input("ping\n")
	p.until("ready\nping\n") // fails on a status: the idle limit ended the channel
	close(hangUp)
	p.expectEnd("IdleTimeout")
	if p.output() != "ready\nping\n" || e.TargetDials(port) != 1 {
		t.Errorf("output %q with %d connections to the target, want the target's own bytes from one", p.output(), e.TargetDials(port))
	}
}
