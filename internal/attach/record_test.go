package attach

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/pkg/record"
	"github.com/ecsterm/ecsterm/pkg/session"
)

const demoID = "i-emu0demo000000001"

// TestRecordingRefusedEndsSession: a recording that cannot start ends the session before any
// input reaches it, and says why; the session is ended at once.
func TestRecordingRefusedEndsSession(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	var out bytes.Buffer
	err := New(Config{API: c}).Shell(testCtx(t), ShellOptions{
		Target: Target{InstanceID: demoID}, Streams: Streams{Stdin: strings.NewReader("echo ran-$((2*21))\nexit\n"), Stdout: &out},
		Recording: &Recording{Start: func(RecordInfo) (*record.Recorder, error) { return nil, errors.New("disk full") }},
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "unrecorded") {
		t.Fatalf("err = %v, want the recording's error", err)
	}
	if out.Len() != 0 {
		t.Errorf("session output %q: the session ran", out.String())
	}
	if n := e.Calls("EndTerminalSession"); n != 1 {
		t.Errorf("EndTerminalSession called %d times, want 1", n)
	}
}

// gatewayConns makes open's dials record their connections, for the test's life.
func gatewayConns(t *testing.T) func() []*websocket.Conn {
	var mu sync.Mutex
	var conns []*websocket.Conn
	orig := dialGateway
	t.Cleanup(func() { dialGateway = orig })
	dialGateway = func(ctx context.Context, url string, o session.DialOptions) (*websocket.Conn, error) {
		c, err := orig(ctx, url, o)
		if c != nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
	return func() []*websocket.Conn {
		mu.Lock()
		defer mu.Unlock()
		return append([]*websocket.Conn(nil), conns...)
	}
}

// TestRecordingRefusedClosesConnection: a session that a recording stops before it runs
// leaves no WebSocket open, from connect or from exec -t.
func TestRecordingRefusedClosesConnection(t *testing.T) {
	_, c := testEmulator(t, emulator.Options{})
	conns := gatewayConns(t)
	refuse := &Recording{Start: func(RecordInfo) (*record.Recorder, error) { return nil, errors.New("disk full") }}
	a := New(Config{API: c})
	if err := a.Shell(testCtx(t), ShellOptions{Target: Target{InstanceID: demoID}, Streams: Streams{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}}, Recording: refuse}); err == nil {
		t.Fatal("Shell: no error")
	}
	if _, err := a.Exec(testCtx(t), ExecOptions{Target: Target{InstanceID: demoID}, Streams: Streams{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}}, Recording: refuse, Command: "true", TTY: true}); err == nil {
		t.Fatal("Exec: no error")
	}
	got := conns()
	if len(got) != 2 {
		t.Fatalf("%d gateway connections dialled, want 2", len(got))
	}
	for i, conn := range got {
		// A closed net.Conn refuses a deadline; an open one takes it.
		if err := conn.UnderlyingConn().SetReadDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
			t.Errorf("connection %d: SetReadDeadline = %v, want net.ErrClosed (still open)", i, err)
		}
	}
}

type failing struct{ after int }

func (f *failing) Write(p []byte) (int, error) {
	if f.after == 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

// TestRecordedOutputFails: a recording that fails mid-session fails the output write (which
// ends the session), after the frame reached the terminal.
func TestRecordedOutputFails(t *testing.T) {
	rec, err := record.New(&failing{after: 1}, record.Header{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	var term bytes.Buffer
	w := &recordedOutput{w: &term, rec: rec}
	if _, err := w.Write([]byte("shown")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write: %v, want the recording's error", err)
	}
	if term.String() != "shown" {
		t.Errorf("terminal got %q", term.String())
	}
}

// TestEndedOutside names a session EndTerminalSession ended; other closes are left alone.
func TestEndedOutside(t *testing.T) {
	if err := endedOutside(&session.ClosedError{State: session.StateClosed, Reason: "Terminated"}); !errors.Is(err, ErrEndedOutside) {
		t.Errorf("Terminated: %v", err)
	}
	other := &session.ClosedError{State: session.StateClosed, Reason: "AgentTimeout"}
	if err := endedOutside(other); err != error(other) {
		t.Errorf("AgentTimeout: %v", err)
	}
}
