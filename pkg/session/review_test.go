package session

import (
	"errors"
	"testing"
	"time"
)

// Defects found reviewing the transport split; each test failed before its fix.

// A queue that let input go unacknowledged (a gateway that did not acknowledge input before
// any output) cannot be replayed on a new 1.01 channel: the fall back would send the input with
// a hole in it. The session ends instead, saying why, and keeps the gateway's reason.
func TestConn102NoFallBackWithLostInput(t *testing.T) {
	ro := resumeOpts()
	ro.QueueLimit = 4
	ro.AckWait = time.Millisecond
	c := newTestConn102(t, ro)
	ch := receive(c)
	c.mustSend(t, TypeInput, "abcd")
	c.mustSend(t, TypeInput, "efgh") // waits AckWait, then "abcd" is let go
	c.p.expect102(t, TypeInput, 1, "abcd")
	c.p.expect102(t, TypeInput, 2, "efgh")
	c.p.send102(t, TypeStatus, 0, 0, AppendStatus(nil, StateAborted, "no 1.02 here"))
	var g got
	select {
	case id := <-c.dials:
		t.Fatalf("redialled %q: fell back with a hole in the input", id)
	case g = <-ch:
	case <-time.After(patience):
		t.Fatal("recv returned nothing")
	}
	var cl *ClosedError
	if !errors.Is(g.err, errInputLost) || !errors.As(g.err, &cl) || cl.State != StateAborted {
		t.Fatalf("recv: %+v, want the Aborted status and errInputLost", g)
	}
}

// expect102 checks the next frame's type, inputSeq and payload, before any channel id is known.
func (p *peer) expect102(t *testing.T, typ MessageType, inputSeq uint32, payload string) {
	t.Helper()
	f := p.next(t)
	if f.Type != typ || f.InputSeq != inputSeq || string(f.Payload) != payload || !f.Is102() {
		t.Fatalf("got %v in=%d %q version %q, want %v in=%d %q", f.Type, f.InputSeq, f.Payload, f.Version, typ, inputSeq, payload)
	}
}
