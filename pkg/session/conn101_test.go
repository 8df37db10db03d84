package session

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The transports alone, against a scripted gateway peer, without the session loop.

var discard = slog.New(slog.DiscardHandler)

// got is one result of a transport's recv, copied out of its buffer.
type got struct {
	typ     MessageType
	payload string
	st      Status
	err     error
}

// receive runs recv in a loop, as the session's reader does, until it fails; each result
// arrives on the returned channel, the error last.
func receive(tr transport) <-chan got {
	ch := make(chan got, 1024)
	go func() {
		defer close(ch)
		for {
			in, err := tr.recv()
			if err != nil {
				ch <- got{err: err}
				return
			}
			ch <- got{typ: in.f.Type, payload: string(in.f.Payload), st: in.st}
		}
	}()
	return ch
}

func nextGot(t *testing.T, ch <-chan got) got {
	t.Helper()
	select {
	case g, ok := <-ch:
		if !ok {
			t.Fatal("recv ended")
		}
		return g
	case <-time.After(patience):
		t.Fatal("recv returned nothing")
	}
	panic("unreachable")
}

func newTestConn101(t *testing.T) (*conn101, *peer) {
	t.Helper()
	p, ws := connect(t)
	c := newConn101(ws, patience, discard)
	t.Cleanup(c.close)
	return c, p
}

func TestConn101SendNumbersFromZeroAndClosesOnce(t *testing.T) {
	c, p := newTestConn101(t)
	if !c.lastSent().Before(time.Now().Add(-time.Hour)) {
		t.Fatalf("lastSent %v before anything was sent", c.lastSent())
	}
	for _, s := range []struct {
		t       MessageType
		payload string
	}{{TypeInput, "ls\r"}, {TypeResize, "\x18\x00\x50\x00"}, {TypeInput, ""}, {TypeClose, "1"}, {TypeClose, "1"}, {TypeInput, "x"}} {
		if err := c.send(s.t, []byte(s.payload)); err != nil {
			t.Fatalf("send %v: %v", s.t, err)
		}
	}
	if time.Since(c.lastSent()) > time.Hour {
		t.Fatal("lastSent did not move")
	}
	// The second Close is not sent and takes no seq.
	for i, want := range []struct {
		t       MessageType
		payload string
	}{{TypeInput, "ls\r"}, {TypeResize, "\x18\x00\x50\x00"}, {TypeInput, ""}, {TypeClose, "1"}, {TypeInput, "x"}} {
		f := p.next(t)
		if f.Type != want.t || string(f.Payload) != want.payload || f.Seq != int64(i) || string(f.Version[:]) != V101 ||
			len(f.ChannelID) != 0 || len(f.InstanceID) != 0 || f.Created == 0 {
			t.Fatalf("frame %d: %v %q seq %d version %q ids %q %q, want %v %q seq %d in 1.01", i, f.Type, f.Payload, f.Seq,
				f.Version, f.ChannelID, f.InstanceID, want.t, want.payload, i)
		}
	}
}

func TestConn101Recv(t *testing.T) {
	c, p := newTestConn101(t)
	ch := receive(c)
	p.send(t, TypeOutput, []byte("hi"))
	p.send(t, TypeStatus, AppendRate(nil, 8000))
	p.send(t, TypeSync, nil)
	p.send(t, MessageType(9), []byte("?"))
	p.send(t, TypeOutput, []byte("there"))
	for _, want := range []got{
		{typ: TypeOutput, payload: "hi"},
		{typ: TypeStatus, payload: string(AppendRate(nil, 8000)), st: Status{State: StateStream, Rate: 8000}},
		{typ: TypeSync},
		{typ: MessageType(9), payload: "?"},
		{typ: TypeOutput, payload: "there"},
	} {
		if g := nextGot(t, ch); g != want {
			t.Fatalf("recv %+v, want %+v", g, want)
		}
	}
}

// How each way a 1.01 connection ends comes out of recv.
func TestConn101RecvEnds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   func(*testing.T, *peer)
		check func(error) bool
	}{
		{"closed exit", func(t *testing.T, p *peer) { p.send(t, TypeStatus, AppendStatus(nil, StateClosed, "Exit")) },
			func(err error) bool { return errors.Is(err, errEnded) }},
		{"exited ok", func(t *testing.T, p *peer) { p.send(t, TypeStatus, AppendStatus(nil, StateExited, "Ok")) },
			func(err error) bool { return errors.Is(err, errEnded) }},
		{"closed for a reason", func(t *testing.T, p *peer) {
			p.send(t, TypeStatus, AppendStatus(nil, StateClosed, "AgentTimeout"))
		}, func(err error) bool {
			var ce *ClosedError
			return errors.As(err, &ce) && ce.State == StateClosed && ce.Reason == "AgentTimeout"
		}},
		{"aborted", func(t *testing.T, p *peer) { p.send(t, TypeStatus, AppendStatus(nil, StateAborted, "")) },
			func(err error) bool { var ce *ClosedError; return errors.As(err, &ce) && ce.State == StateAborted }},
		{"frozen", func(t *testing.T, p *peer) { p.send(t, TypeStatus, AppendStatus(nil, StateFrozen, "x")) },
			func(err error) bool { var ce *ClosedError; return errors.As(err, &ce) && ce.State == StateFrozen }},
		{"empty status", func(t *testing.T, p *peer) { p.send(t, TypeStatus, nil) },
			func(err error) bool { return errors.Is(err, ErrEmptyStatus) }},
		{"normal close", func(t *testing.T, p *peer) { p.closeWith(t, websocket.CloseNormalClosure) },
			func(err error) bool { return errors.Is(err, errEnded) }},
		{"going away", func(t *testing.T, p *peer) { p.closeWith(t, websocket.CloseGoingAway) },
			func(err error) bool { return errors.Is(err, errEnded) }},
		{"service restart", func(t *testing.T, p *peer) { p.closeWith(t, websocket.CloseServiceRestart) },
			func(err error) bool {
				var ce *websocket.CloseError
				return errors.Is(err, ErrConnectionLost) && errors.As(err, &ce) && ce.Code == websocket.CloseServiceRestart
			}},
		{"tcp dropped", func(t *testing.T, p *peer) { p.ws.NetConn().Close() },
			func(err error) bool { return errors.Is(err, ErrConnectionLost) }},
		{"malformed", func(t *testing.T, p *peer) { p.sendRaw(t, []byte{1, 0, 0, 0, '1'}) },
			func(err error) bool { return errors.Is(err, ErrShortFrame) && !errors.Is(err, ErrConnectionLost) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, p := newTestConn101(t)
			ch := receive(c)
			tc.end(t, p)
			if g := nextGot(t, ch); !tc.check(g.err) {
				t.Fatalf("recv: %+v", g)
			}
		})
	}
}
