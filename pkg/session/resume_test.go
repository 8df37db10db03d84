package session

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Resume tests script a 1.02 gateway on the test gateway of session_test.go: every connection
// the client makes, first or redialled, arrives as a peer on g.peers.

const testChannel = "ch1"

// statuses records OnStatus lines.
type statuses chan string

func (s statuses) add(msg string) { s <- msg }

// next returns the next status line.
func (s statuses) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-s:
		return m
	case <-time.After(patience):
		t.Fatal("no status line")
	}
	panic("unreachable")
}

// resumeRun is a Run in resume mode against a scripted gateway.
type resumeRun struct {
	*running
	g      *gateway
	status statuses
	dials  chan string // the channel id of each redial, "" for a new channel
}

// resumeOpts are quick defaults for tests: no real backoff, keep-alives that never fire.
func resumeOpts() ResumeOptions {
	return ResumeOptions{Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
}

// startResume dials the gateway and runs a session in resume mode. ro's Redial and OnStatus are
// filled in unless set.
func startResume(t *testing.T, opts Options, ro ResumeOptions) *resumeRun {
	t.Helper()
	g := newGateway(t)
	rr := &resumeRun{g: g, status: make(statuses, 64), dials: make(chan string, 64)}
	if ro.Redial == nil {
		ro.Redial = func(ctx context.Context, id string) (*websocket.Conn, error) {
			rr.dials <- id
			u := g.url()
			if id != "" {
				u += "&channelId=" + id
			}
			return Dial(ctx, u, DialOptions{Token: "tok-secret"})
		}
	}
	if ro.OnStatus == nil {
		ro.OnStatus = rr.status.add
	}
	opts.Resume = &ro
	if opts.KeepAlive == 0 {
		opts.KeepAlive = hour
	}
	conn, err := Dial(context.Background(), g.url(), DialOptions{Token: "tok-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rr.running = runOn(t, rr.nextPeer(t), conn, opts)
	return rr
}

// nextPeer waits for the client's next connection.
func (rr *resumeRun) nextPeer(t *testing.T) *peer {
	t.Helper()
	select {
	case p := <-rr.g.peers:
		return p
	case <-time.After(patience):
		t.Fatal("the client did not connect")
	}
	panic("unreachable")
}

// send102 writes a 1.02 server frame on channel ch1.
func (p *peer) send102(t *testing.T, typ MessageType, inputSeq, outputSeq uint32, payload []byte) {
	t.Helper()
	msg, err := AppendFrame(nil, Header{Type: typ, Version: V102, ChannelID: testChannel, InstanceID: "i-x",
		Created: uint64(time.Now().UnixMilli()), InputSeq: inputSeq, OutputSeq: outputSeq}, payload)
	if err != nil {
		t.Fatal(err)
	}
	p.sendRaw(t, msg)
}

// out sends Output seq with the acknowledgement ack.
func (p *peer) out(t *testing.T, seq, ack uint32, s string) {
	t.Helper()
	p.send102(t, TypeOutput, ack, seq, []byte(s))
}

func (p *peer) closeWith(t *testing.T, code int) {
	t.Helper()
	msg := websocket.FormatCloseMessage(code, "bye")
	if err := p.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
}

// expect checks the next non-keep-alive frame's type, seqs and payload.
func (p *peer) expect(t *testing.T, typ MessageType, inputSeq, outputSeq uint32, payload string) clientFrame {
	t.Helper()
	f := p.next(t)
	if f.Type != typ || f.InputSeq != inputSeq || f.OutputSeq != outputSeq || string(f.Payload) != payload {
		t.Fatalf("got %v in=%d out=%d %q, want %v in=%d out=%d %q", f.Type, f.InputSeq, f.OutputSeq, f.Payload, typ, inputSeq, outputSeq, payload)
	}
	if !f.Is102() || string(f.ChannelID) != testChannel || len(f.InstanceID) != 0 {
		t.Fatalf("header: version %q channel %q instance %q, want 1.02, %q, empty", f.Version, f.ChannelID, f.InstanceID, testChannel)
	}
	return f
}

func TestResumeSeqsAcksAndQueue(t *testing.T) {
	pr, pw := pipe(t)
	sizes := make(chan Size, 1)
	ro := resumeOpts()
	ro.AckEvery = 10
	rr := startResume(t, Options{Stdin: pr, Sizes: sizes, OnEOF: EOFNothing}, ro)
	p := rr.p
	sendSize(t, sizes, Size{Rows: 24, Cols: 80})

	p.out(t, 1, 0, "$ ")
	rr.out.waitFor(t, "$ ")
	// Resize after the first output takes inputSeq 1 and acknowledges Output 1.
	f := p.expect(t, TypeResize, 1, 1, "\x18\x00\x50\x00")
	if len(f.raw) != HeaderLen+len(testChannel)+4 {
		t.Fatalf("resize frame is %d bytes", len(f.raw))
	}
	waitErr(t, write(pw, []byte("ls\r"), false))
	p.expect(t, TypeInput, 2, 1, "ls\r")

	// 10 bytes of output call for an acknowledgement: an empty Input, which takes a seq too.
	p.out(t, 2, 2, "0123456789")
	rr.out.waitFor(t, "0123456789")
	p.expect(t, TypeInput, 3, 2, "")

	// A Sync on a live connection acknowledges what comes before the input it names; what was
	// written on this connection is in flight, so nothing goes again.
	p.send102(t, TypeSync, 3, 2, nil)
	waitErr(t, write(pw, []byte("x"), false))
	p.expect(t, TypeInput, 4, 2, "x")

	p.send102(t, TypeStatus, 0, 0, AppendStatus(nil, StateExited, "Exit"))
	if err := rr.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestResumeOutputGapAndDuplicates(t *testing.T) {
	rr := startResume(t, Options{}, resumeOpts())
	p := rr.p
	p.out(t, 1, 0, "a")
	rr.out.waitFor(t, "a")
	p.out(t, 3, 0, "c") // 2 is missing: dropped, and a Sync asks for a replay
	p.out(t, 4, 0, "d") // still past the gap: dropped without another Sync
	p.expect(t, TypeSync, 0, 1, "")
	p.out(t, 2, 0, "b")
	p.out(t, 3, 0, "c")
	p.out(t, 2, 0, "b") // a duplicate of the replay
	p.out(t, 4, 0, "d")
	p.out(t, 5, 0, "!")
	rr.out.waitFor(t, "!")
	if got := rr.out.String(); got != "abcd!" {
		t.Fatalf("output %q, want abcd!", got)
	}
	p.send102(t, TypeStatus, 0, 0, AppendStatus(nil, StateClosed, "Exit"))
	if err := rr.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, f := range p.rest(t) {
		if f.Type == TypeSync {
			t.Fatal("a second Sync for one gap")
		}
	}
}

// A gateway that shows outputSeq 0 uses the 1.01 layout: everything is delivered, and a drop is
// the end, since a resumed stream could not be checked.
func TestResumeOffForUnnumberedOutput(t *testing.T) {
	pr, pw := pipe(t)
	rr := startResume(t, Options{Stdin: pr, OnEOF: EOFNothing}, resumeOpts())
	p := rr.p
	for _, s := range []string{"x", "y", "x"} {
		// The 1.01 layout with a channel id: outputSeq reads as 0 in every frame.
		msg, err := AppendFrame(nil, Header{Type: TypeOutput, Version: V101, ChannelID: testChannel, Created: created, Seq: 7}, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		p.sendRaw(t, msg)
	}
	rr.out.waitFor(t, "xyx")
	waitErr(t, write(pw, []byte("k"), false))
	if f := p.nextNonKeepAlive(t); !f.Is102() || string(f.Payload) != "k" {
		t.Fatalf("input %q version %q", f.Payload, f.Version)
	}
	p.ws.NetConn().Close()
	if err := rr.wait(t); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Run: %v, want ErrConnectionLost", err)
	}
	select {
	case id := <-rr.dials:
		t.Fatalf("redialled (%q) a gateway without seqs", id)
	default:
	}
}

func TestResumeReconnects(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(*testing.T, *peer)
	}{
		{"1012 service restart", func(t *testing.T, p *peer) { p.closeWith(t, websocket.CloseServiceRestart) }},
		{"1005 no status", func(t *testing.T, p *peer) {
			if err := p.ws.WriteControl(websocket.CloseMessage, nil, time.Now().Add(patience)); err != nil {
				t.Fatal(err)
			}
		}},
		{"1006 tcp dropped", func(t *testing.T, p *peer) { p.ws.NetConn().Close() }},
		{"frozen", func(t *testing.T, p *peer) {
			// The client closes the frozen connection itself (with 1012, as WEB does).
			p.send102(t, TypeStatus, 0, 0, AppendStatus(nil, StateFrozen, "upgrade"))
			p.rest(t)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := pipe(t)
			sizes := make(chan Size, 1)
			rr := startResume(t, Options{Stdin: pr, Sizes: sizes, OnEOF: EOFNothing}, resumeOpts())
			p := rr.p
			sendSize(t, sizes, Size{Rows: 30, Cols: 100})
			p.out(t, 1, 0, "hello ")
			rr.out.waitFor(t, "hello ")
			p.expect(t, TypeResize, 1, 1, "\x1e\x00\x64\x00")
			waitErr(t, write(pw, []byte("x"), false))
			p.expect(t, TypeInput, 2, 1, "x") // never acknowledged: the gateway lost it

			tc.drop(t, p)
			if got := rr.status.next(t); got != "connection lost; reconnecting (attempt 1 of 8)…" {
				t.Fatalf("status %q", got)
			}
			if id := <-rr.dials; id != testChannel {
				t.Fatalf("redialled channel %q, want %q", id, testChannel)
			}
			p2 := rr.nextPeer(t)
			if got := p2.req.URL.Query().Get("channelId"); got != testChannel {
				t.Fatalf("reconnect URL has channelId=%q", got)
			}
			if got := rr.status.next(t); got != "reconnected" {
				t.Fatalf("status %q", got)
			}
			// Typed while the gateway has not resynced: queued, not lost, not reordered.
			waitErr(t, write(pw, []byte("y"), false))
			p2.expect(t, TypeSync, 2, 1, "")
			// The gateway has input 1 and wants 2 on: x, then y.
			p2.send102(t, TypeSync, 2, 1, nil)
			p2.expect(t, TypeInput, 2, 1, "x")
			p2.expect(t, TypeInput, 3, 1, "y")
			p2.out(t, 1, 3, "hello ") // a replay of what the client has: dropped
			p2.out(t, 2, 3, "world")
			p2.send102(t, TypeStatus, 0, 0, []byte{byte(StateOpened)})
			// Opened after a resume: the size again.
			p2.expect(t, TypeResize, 4, 2, "\x1e\x00\x64\x00")
			rr.out.waitFor(t, "world")
			if got := rr.out.String(); got != "hello world" {
				t.Fatalf("output %q", got)
			}
			p2.send102(t, TypeStatus, 0, 0, AppendStatus(nil, StateExited, "Exit"))
			if err := rr.wait(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// Normal closes and statuses end a resumable session as they end any other.
func TestResumeEndsOnNormalClose(t *testing.T) {
	for _, code := range []int{websocket.CloseNormalClosure, websocket.CloseGoingAway} {
		rr := startResume(t, Options{}, resumeOpts())
		rr.p.out(t, 1, 0, "x")
		rr.out.waitFor(t, "x")
		rr.p.closeWith(t, code)
		if err := rr.wait(t); err != nil {
			t.Fatalf("close %d: Run: %v", code, err)
		}
		select {
		case id := <-rr.dials:
			t.Fatalf("close %d: redialled %q", code, id)
		default:
		}
	}
}

func TestResumeGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		attempts int // status lines before the give-up
	}{
		{"dial fails", errors.New("connection refused"), 3},
		{"channel unknown", &RefusedError{StatusCode: http.StatusNotFound, Status: "404 Not Found", Message: "no such channel"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := resumeOpts()
			ro.Attempts = 3
			var dials int
			ro.Redial = func(context.Context, string) (*websocket.Conn, error) { dials++; return nil, tc.err }
			rr := startResume(t, Options{}, ro)
			rr.p.out(t, 1, 0, "x")
			rr.out.waitFor(t, "x")
			rr.p.ws.NetConn().Close()
			err := rr.wait(t)
			if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), tc.err.Error()) {
				t.Fatalf("Run: %v, want a give-up wrapping ErrConnectionLost and %v", err, tc.err)
			}
			for i := 1; i <= tc.attempts; i++ {
				if got := rr.status.next(t); !strings.Contains(got, "attempt "+string(rune('0'+i))+" of 3") {
					t.Fatalf("status %d: %q", i, got)
				}
			}
			if got := rr.status.next(t); !strings.HasPrefix(got, "gave up after "+string(rune('0'+tc.attempts))+" attempts: ") {
				t.Fatalf("last status %q", got)
			}
			if dials != tc.attempts {
				t.Fatalf("%d redials, want %d", dials, tc.attempts)
			}
		})
	}
}

// A gateway that ends a 1.02 channel before any output may not take 1.02: Run dials a new
// channel and carries on in 1.01, resending the input it had sent.
func TestResumeFallsBackToV101(t *testing.T) {
	pr, pw := pipe(t)
	rr := startResume(t, Options{Stdin: pr, OnEOF: EOFNothing}, resumeOpts())
	waitErr(t, write(pw, []byte("early"), false))
	if f := rr.p.next(t); !f.Is102() || string(f.Payload) != "early" {
		t.Fatalf("first frame %q version %q", f.Payload, f.Version)
	}
	rr.p.closeWith(t, websocket.CloseProtocolError)
	if id := <-rr.dials; id != "" {
		t.Fatalf("fell back on channel %q, want a new one", id)
	}
	p2 := rr.nextPeer(t)
	if p2.req.URL.Query().Has("channelId") {
		t.Fatal("the fall back asked for the old channel")
	}
	f := p2.next(t)
	if string(f.Version[:]) != V101 || f.Type != TypeInput || string(f.Payload) != "early" || f.Seq != 0 {
		t.Fatalf("first frame on the new channel: %v %q version %q seq %d", f.Type, f.Payload, f.Version, f.Seq)
	}
	p2.send(t, TypeOutput, []byte("$ "))
	rr.out.waitFor(t, "$ ")
	waitErr(t, write(pw, []byte("late"), false))
	if f := p2.nextNonKeepAlive(t); string(f.Version[:]) != V101 || string(f.Payload) != "late" || f.Seq != 1 {
		t.Fatalf("then: %q version %q seq %d", f.Payload, f.Version, f.Seq)
	}
	// From now on it is 1.01: a drop ends the session.
	p2.ws.NetConn().Close()
	if err := rr.wait(t); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Run: %v", err)
	}
	select {
	case s := <-rr.status:
		t.Fatalf("status %q: the fall back is silent", s)
	default:
	}
}

// A full queue holds input back until the gateway acknowledges some: nothing is dropped.
func TestResumeQueueBound(t *testing.T) {
	pr, pw := pipe(t)
	ro := resumeOpts()
	ro.QueueLimit = 4
	rr := startResume(t, Options{Stdin: pr, OnEOF: EOFNothing}, ro)
	p := rr.p
	p.out(t, 1, 0, "$ ")
	rr.out.waitFor(t, "$ ")
	waitErr(t, write(pw, []byte("abcd"), false))
	p.expect(t, TypeInput, 1, 1, "abcd")
	errc := write(pw, []byte("efgh"), false) // read at once, then held: the queue is full
	select {
	case f := <-p.frames:
		t.Fatalf("sent %v %q past a full queue", f.Type, f.Payload)
	case <-time.After(50 * time.Millisecond): // proving a negative: only a short look
	}
	p.out(t, 2, 1, ".") // acknowledges 1
	p.expect(t, TypeInput, 2, 2, "efgh")
	waitErr(t, errc)
}

// After a reconnect, a gateway that starts a new channel instead of resuming ends the session:
// its output would not follow on from the old one's.
func TestResumeRefusesNewChannel(t *testing.T) {
	rr := startResume(t, Options{}, resumeOpts())
	rr.p.out(t, 1, 0, "x")
	rr.out.waitFor(t, "x")
	rr.p.closeWith(t, websocket.CloseServiceRestart)
	p2 := rr.nextPeer(t)
	msg, _ := AppendFrame(nil, Header{Type: TypeOutput, Version: V102, ChannelID: "other", Created: created, OutputSeq: 1}, []byte("new shell"))
	p2.sendRaw(t, msg)
	err := rr.wait(t)
	if !errors.Is(err, errNewChannel) {
		t.Fatalf("Run: %v, want errNewChannel", err)
	}
	if strings.Contains(rr.out.String(), "new shell") {
		t.Fatal("delivered another channel's output")
	}
}

// Input typed while reconnecting is queued and sent once the gateway is back, even when it
// answers only with Opened.
func TestResumeOpenedEndsResync(t *testing.T) {
	pr, pw := pipe(t)
	rr := startResume(t, Options{Stdin: pr, OnEOF: EOFNothing}, resumeOpts())
	rr.p.out(t, 1, 0, "$ ")
	rr.out.waitFor(t, "$ ")
	rr.p.closeWith(t, websocket.CloseServiceRestart)
	p2 := rr.nextPeer(t)
	p2.expect(t, TypeSync, 0, 1, "")
	waitErr(t, write(pw, []byte("q"), false))
	p2.send102(t, TypeStatus, 0, 0, []byte{byte(StateOpened)})
	p2.expect(t, TypeInput, 1, 1, "q")
	if !bytes.Equal([]byte(rr.out.String()), []byte("$ ")) {
		t.Fatalf("output %q", rr.out.String())
	}
}

// A gateway that never acknowledges input must not stall it: past AckWait the queue lets its
// oldest frames go, and only a resume that needs them fails, saying why.
func TestResumeQueueLetsGoWithoutAcks(t *testing.T) {
	pr, pw := pipe(t)
	ro := resumeOpts()
	ro.QueueLimit = 4
	ro.AckWait = time.Millisecond
	rr := startResume(t, Options{Stdin: pr, OnEOF: EOFNothing}, ro)
	p := rr.p
	p.out(t, 1, 0, "$ ")
	rr.out.waitFor(t, "$ ")
	for i, s := range []string{"abcd", "efgh", "ijkl"} {
		waitErr(t, write(pw, []byte(s), false))
		p.expect(t, TypeInput, uint32(i+1), 1, s)
	}
	p.closeWith(t, websocket.CloseServiceRestart)
	p2 := rr.nextPeer(t)
	p2.expect(t, TypeSync, 3, 1, "")
	p2.send102(t, TypeSync, 1, 1, nil) // it wants 1, which was let go
	err := rr.wait(t)
	if !errors.Is(err, errInputLost) || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Run: %v, want errInputLost", err)
	}
}
