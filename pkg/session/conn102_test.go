package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// conn102 alone, against a scripted 1.02 gateway (resume_test.go's helpers), without the loop.

// testConn102 is a conn102 on a fresh gateway; dials gets the channel id of each redial.
type testConn102 struct {
	*conn102
	g     *gateway
	p     *peer
	dials chan string
}

func newTestConn102(t *testing.T, ro ResumeOptions) *testConn102 {
	t.Helper()
	g := newGateway(t)
	tc := &testConn102{g: g, dials: make(chan string, 16)}
	if ro.Redial == nil {
		ro.Redial = func(ctx context.Context, id string) (*websocket.Conn, error) {
			tc.dials <- id
			u := g.url()
			if id != "" {
				u += "&channelId=" + id
			}
			return Dial(ctx, u, DialOptions{Token: "tok-secret"})
		}
	}
	ws, err := Dial(context.Background(), g.url(), DialOptions{Token: "tok-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	tc.p = nextPeerOf(t, g)
	tc.conn102 = newConn102(context.Background(), ws, ro, patience, discard)
	t.Cleanup(tc.close)
	return tc
}

func nextPeerOf(t *testing.T, g *gateway) *peer {
	t.Helper()
	select {
	case p := <-g.peers:
		return p
	case <-time.After(patience):
		t.Fatal("the client did not connect")
	}
	panic("unreachable")
}

func (c *testConn102) mustSend(t *testing.T, typ MessageType, payload string) {
	t.Helper()
	if err := c.send(typ, []byte(payload)); err != nil {
		t.Fatalf("send %v %q: %v", typ, payload, err)
	}
}

// queuedSeqs is the seqs of the frames the queue holds.
func (c *testConn102) queuedSeqs() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var seqs []uint32
	for _, f := range c.q.frames {
		seqs = append(seqs, f.seq)
	}
	return seqs
}

func TestConn102NumbersQueuesAndAcks(t *testing.T) {
	c := newTestConn102(t, resumeOpts())
	ch := receive(c)
	p := c.p
	c.mustSend(t, TypeInput, "a")
	// Before any server frame, no channel id is known.
	if f := p.next(t); f.Type != TypeInput || f.InputSeq != 1 || f.OutputSeq != 0 || string(f.Payload) != "a" ||
		!f.Is102() || len(f.ChannelID) != 0 {
		t.Fatalf("first input: %v in=%d out=%d %q version %q channel %q", f.Type, f.InputSeq, f.OutputSeq, f.Payload, f.Version, f.ChannelID)
	}
	p.out(t, 1, 1, "$ ") // acknowledges input 1
	if g := nextGot(t, ch); g.typ != TypeOutput || g.payload != "$ " {
		t.Fatalf("recv %+v", g)
	}
	if got := c.queuedSeqs(); len(got) != 0 {
		t.Fatalf("queue %v after the acknowledgement, want empty", got)
	}
	c.mustSend(t, TypeResize, "\x18\x00\x50\x00")
	p.expect(t, TypeResize, 2, 1, "\x18\x00\x50\x00")
	c.mustSend(t, TypeClose, "1")
	c.mustSend(t, TypeClose, "1") // one Close per channel
	p.expect(t, TypeClose, 2, 1, "1")
	if got := c.queuedSeqs(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("queue %v, want [2]: Close is not kept", got)
	}

	p.out(t, 3, 0, "c") // 2 is missing: dropped, and the pump asks for a replay
	p.expect(t, TypeSync, 2, 1, "")
	p.out(t, 2, 2, "b")
	p.out(t, 3, 2, "c")
	p.out(t, 2, 2, "b") // a duplicate
	p.out(t, 4, 2, "d")
	for _, want := range []string{"b", "c", "d"} {
		if g := nextGot(t, ch); g.typ != TypeOutput || g.payload != want {
			t.Fatalf("recv %+v, want output %q", g, want)
		}
	}
	if got := c.queuedSeqs(); len(got) != 0 {
		t.Fatalf("queue %v, want empty", got)
	}
	p.send102(t, TypeStatus, 0, 0, AppendStatus(nil, StateExited, "Exit"))
	if g := nextGot(t, ch); !errors.Is(g.err, errEnded) {
		t.Fatalf("recv %+v, want errEnded", g)
	}
}

// After a drop, recv reconnects by itself; what was typed meanwhile is queued and resent in order
// once the gateway says where to resume, and the size goes again when the channel is back. A
// keep-alive while the connection is down is dropped: it takes no seq and is not resent.
func TestConn102ReconnectResendsAndResizes(t *testing.T) {
	c := newTestConn102(t, resumeOpts())
	ch := receive(c)
	p := c.p
	p.out(t, 1, 0, "x")
	nextGot(t, ch)
	c.mustSend(t, TypeResize, "\x1e\x00\x64\x00")
	p.expect(t, TypeResize, 1, 1, "\x1e\x00\x64\x00")
	c.mustSend(t, TypeInput, "k")
	p.expect(t, TypeInput, 2, 1, "k") // never acknowledged

	p.closeWith(t, websocket.CloseServiceRestart)
	if id := <-c.dials; id != testChannel {
		t.Fatalf("redialled %q", id)
	}
	p2 := nextPeerOf(t, c.g)
	p2.expect(t, TypeSync, 2, 1, "")
	c.mustSend(t, TypeInput, "")  // a keep-alive: nowhere to go
	c.mustSend(t, TypeInput, "q") // queued
	p2.send102(t, TypeSync, 2, 1, nil)
	p2.expect(t, TypeInput, 2, 1, "k")
	p2.expect(t, TypeInput, 3, 1, "q")
	if g := nextGot(t, ch); g.typ != TypeSync { // handed on; the loop ignores it
		t.Fatalf("recv %+v, want the Sync", g)
	}
	p2.send102(t, TypeStatus, 0, 0, []byte{byte(StateOpened)})
	if g := nextGot(t, ch); g.typ != TypeStatus || g.st.State != StateOpened {
		t.Fatalf("recv %+v, want Opened", g)
	}
	p2.expect(t, TypeResize, 4, 1, "\x1e\x00\x64\x00")
	p2.out(t, 2, 4, "y")
	if g := nextGot(t, ch); g.typ != TypeOutput || g.payload != "y" {
		t.Fatalf("recv %+v", g)
	}
	if got := c.queuedSeqs(); len(got) != 0 {
		t.Fatalf("queue %v, want empty", got)
	}
}

// A gateway that ends the 1.02 channel before any output gets a new channel in 1.01, with the
// input sent so far; from then on the transport is conn101's.
func TestConn102FallsBackTo101(t *testing.T) {
	c := newTestConn102(t, resumeOpts())
	ch := receive(c)
	c.mustSend(t, TypeInput, "early")
	if f := c.p.next(t); !f.Is102() || f.InputSeq != 1 || string(f.Payload) != "early" {
		t.Fatalf("first frame %q in=%d version %q", f.Payload, f.InputSeq, f.Version)
	}
	c.p.closeWith(t, websocket.CloseProtocolError)
	if id := <-c.dials; id != "" {
		t.Fatalf("fell back on channel %q, want a new one", id)
	}
	p2 := nextPeerOf(t, c.g)
	if f := p2.next(t); string(f.Version[:]) != V101 || f.Type != TypeInput || string(f.Payload) != "early" || f.Seq != 0 {
		t.Fatalf("first frame on the new channel: %v %q version %q seq %d", f.Type, f.Payload, f.Version, f.Seq)
	}
	c.mustSend(t, TypeInput, "late")
	if f := p2.next(t); string(f.Version[:]) != V101 || string(f.Payload) != "late" || f.Seq != 1 {
		t.Fatalf("then: %q version %q seq %d", f.Payload, f.Version, f.Seq)
	}
	if time.Since(c.lastSent()) > time.Hour {
		t.Fatal("lastSent does not follow the 1.01 connection")
	}
	p2.send(t, TypeOutput, []byte("$ "))
	if g := nextGot(t, ch); g.typ != TypeOutput || g.payload != "$ " {
		t.Fatalf("recv %+v", g)
	}
	p2.ws.NetConn().Close()
	if g := nextGot(t, ch); !errors.Is(g.err, ErrConnectionLost) {
		t.Fatalf("recv %+v, want ErrConnectionLost", g)
	}
	select {
	case id := <-c.dials:
		t.Fatalf("redialled %q after the fall back", id)
	default:
	}
}

// close stops a reconnect under way, and a connection that a redial opens as close runs is closed
// rather than read: recv returns either way.
func TestConn102CloseStopsReconnect(t *testing.T) {
	for _, late := range []bool{false, true} {
		name := "redial waiting"
		if late {
			name = "redial succeeding after close"
		}
		t.Run(name, func(t *testing.T) {
			dialing := make(chan struct{}, 1)
			var g *gateway
			ro := resumeOpts()
			ro.Redial = func(ctx context.Context, id string) (*websocket.Conn, error) {
				dialing <- struct{}{}
				<-ctx.Done()
				if !late {
					return nil, ctx.Err()
				}
				return Dial(context.Background(), g.url()+"&channelId="+id, DialOptions{Token: "tok-secret"})
			}
			c := newTestConn102(t, ro)
			g = c.g
			ch := receive(c)
			c.p.out(t, 1, 0, "x")
			nextGot(t, ch)
			c.p.ws.NetConn().Close()
			select {
			case <-dialing:
			case <-time.After(patience):
				t.Fatal("no redial")
			}
			closed := make(chan struct{})
			go func() { c.close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(patience):
				t.Fatal("close did not return")
			}
			if g := nextGot(t, ch); g.err == nil {
				t.Fatalf("recv %+v after close, want an error", g)
			}
			if late {
				p2 := nextPeerOf(t, g)
				if fs := p2.rest(t); len(fs) != 0 { // rest returns once the client has closed it
					t.Fatalf("sent %v on a connection opened after close", fs[0].Type)
				}
			}
		})
	}
}
