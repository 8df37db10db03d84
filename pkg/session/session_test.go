package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: Run starts three.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait, so that a broken session fails its test instead of hanging it. No
// test sleeps; this only matters when something is wrong.
const patience = 10 * time.Second

// hour is a keep-alive interval that never fires during a test, so that the frames a test sees
// are exactly the ones it provoked.
const hour = time.Hour

// gateway is a scripted stand-in for the session gateway on a real loopback WebSocket: it hands
// each accepted connection to the test as a peer.
type gateway struct {
	srv   *httptest.Server
	peers chan *peer
}

// peer is the server end of one client connection. Every frame the client sends arrives on frames,
// decoded, in order; frames is closed when the connection ends. The test is the peer's only writer.
type peer struct {
	ws     *websocket.Conn
	req    *http.Request
	frames chan clientFrame
	stop   chan struct{} // closed by cleanup: stop delivering frames
	done   chan struct{} // closed when the read loop has ended
}

// clientFrame is one message from the client: the raw bytes, and their decoding or its error.
type clientFrame struct {
	Frame
	raw []byte
	err error
}

func newGateway(t *testing.T) *gateway {
	t.Helper()
	g := &gateway{peers: make(chan *peer, 1)}
	up := websocket.Upgrader{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		p := &peer{ws: ws, req: r, frames: make(chan clientFrame, 4096), stop: make(chan struct{}), done: make(chan struct{})}
		t.Cleanup(func() {
			close(p.stop)
			ws.Close()
			<-p.done
		})
		g.peers <- p
		p.readLoop()
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// url is the gateway's WebSocket URL with a session id and token, as StartTerminalSession returns it.
func (g *gateway) url() string {
	return "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/session?sessionId=s-test&token=tok-secret"
}

func (p *peer) readLoop() {
	defer close(p.done)
	defer close(p.frames)
	for {
		_, msg, err := p.ws.ReadMessage()
		if err != nil {
			return
		}
		f, err := Decode(msg)
		select {
		case p.frames <- clientFrame{Frame: f, raw: msg, err: err}:
		case <-p.stop:
			return
		}
	}
}

// send writes one frame in the 1.01 layout with empty ids, as the gateway might.
func (p *peer) send(t *testing.T, typ MessageType, payload []byte) {
	t.Helper()
	msg, err := AppendFrame(nil, Header{Type: typ, Created: uint64(time.Now().UnixMilli())}, payload)
	if err != nil {
		t.Fatal(err)
	}
	p.sendRaw(t, msg)
}

func (p *peer) sendRaw(t *testing.T, msg []byte) {
	t.Helper()
	if err := p.ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		t.Fatalf("gateway write: %v", err)
	}
}

// next returns the next frame the client sent.
func (p *peer) next(t *testing.T) clientFrame {
	t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			t.Fatal("connection ended while the gateway waited for a frame")
		}
		if f.err != nil {
			t.Fatalf("client sent an undecodable frame %x: %v", f.raw, f.err)
		}
		return f
	case <-time.After(patience):
		t.Fatal("no frame from the client")
	}
	panic("unreachable")
}

// nextNonKeepAlive skips empty Input frames.
func (p *peer) nextNonKeepAlive(t *testing.T) clientFrame {
	t.Helper()
	for {
		if f := p.next(t); !isKeepAlive(f) {
			return f
		}
	}
}

// rest returns every frame still to come, waiting for the connection to end.
func (p *peer) rest(t *testing.T) []clientFrame {
	t.Helper()
	var all []clientFrame
	timeout := time.After(patience)
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				return all
			}
			all = append(all, f)
		case <-timeout:
			t.Fatal("the connection did not end")
		}
	}
}

func isKeepAlive(f clientFrame) bool { return f.Type == TypeInput && len(f.Payload) == 0 }

// outBuf is a Stdout that tests can wait on.
type outBuf struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newOutBuf() *outBuf { return &outBuf{changed: make(chan struct{}, 1)} }

func (o *outBuf) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.b.Write(p)
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *outBuf) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitFor waits until the output contains want.
func (o *outBuf) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(patience)
	for !strings.Contains(o.String(), want) {
		select {
		case <-o.changed:
		case <-timeout:
			t.Fatalf("output %q never contained %q", o.String(), want)
		}
	}
}

// running is one Run in progress against a gateway peer.
type running struct {
	p      *peer
	out    *outBuf
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// connect dials a fresh gateway and returns both ends of the connection.
func connect(t *testing.T) (*peer, *websocket.Conn) {
	t.Helper()
	g := newGateway(t)
	conn, err := Dial(context.Background(), g.url(), DialOptions{Token: "tok-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	select {
	case p := <-g.peers:
		return p, conn
	case <-time.After(patience):
		t.Fatal("the gateway saw no connection")
	}
	panic("unreachable")
}

// runOn starts Run on conn. Stdout defaults to an outBuf. Cleanup cancels it and waits for it.
func runOn(t *testing.T, p *peer, conn *websocket.Conn, opts Options) *running {
	t.Helper()
	r := &running{p: p, done: make(chan struct{})}
	if opts.Stdout == nil {
		r.out = newOutBuf()
		opts.Stdout = r.out
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.err = Run(ctx, conn, opts)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(patience):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

func start(t *testing.T, opts Options) *running {
	t.Helper()
	p, conn := connect(t)
	return runOn(t, p, conn, opts)
}

// wait returns Run's result.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(patience):
		t.Fatal("Run did not return")
	}
	panic("unreachable")
}

// pipe returns a Stdin whose writer the test holds; cleanup closes it so the input goroutine ends.
func pipe(t *testing.T) (*io.PipeReader, *io.PipeWriter) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	return pr, pw
}

// write writes b to w from another goroutine (a pipe write blocks until the session reads it) and
// returns a channel that yields the write's error once all of b was consumed.
func write(w io.WriteCloser, b []byte, thenClose bool) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := w.Write(b)
		if thenClose {
			w.Close()
		}
		errc <- err
	}()
	return errc
}

func waitErr(t *testing.T, errc <-chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("the session did not read its input")
	}
}

func sendSize(t *testing.T, c chan<- Size, sz Size) {
	t.Helper()
	select {
	case c <- sz:
	case <-time.After(patience):
		t.Fatal("the session did not take a size")
	}
}

func TestRunSendsInputChunkedInOrder(t *testing.T) {
	pr, pw := pipe(t)
	before := time.Now().UnixMilli()
	r := start(t, Options{Stdin: pr, KeepAlive: hour, OnEOF: EOFNothing})

	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*31 + i/251)
	}
	errc := write(pw, data, false)

	var got []byte
	for seq := int64(0); len(got) < len(data); seq++ {
		f := r.p.next(t)
		if f.Type != TypeInput || len(f.Payload) == 0 {
			t.Fatalf("frame %d: %v with %d bytes, want data Input", seq, f.Type, len(f.Payload))
		}
		if len(f.Payload) > 1024 { // the protocol's 1024, not MaxInputChunk: the limit is the protocol's
			t.Fatalf("frame %d carries %d bytes, more than 1024", seq, len(f.Payload))
		}
		if f.Seq != seq {
			t.Fatalf("frame %d has seq %d", seq, f.Seq)
		}
		if string(f.Version[:]) != V101 || len(f.ChannelID) != 0 || len(f.InstanceID) != 0 {
			t.Fatalf("frame %d header: version %q ids %q %q, want 1.01 with empty ids", seq, f.Version, f.ChannelID, f.InstanceID)
		}
		if len(f.raw) != HeaderLen+len(f.Payload) || f.DeclaredLen() != len(f.Payload) {
			t.Fatalf("frame %d: %d bytes, declared payload %d, payload %d", seq, len(f.raw), f.DeclaredLen(), len(f.Payload))
		}
		if now := time.Now().UnixMilli(); f.Created < uint64(before) || f.Created > uint64(now) {
			t.Fatalf("frame %d created %d, want Unix ms in [%d, %d]", seq, f.Created, before, now)
		}
		got = append(got, f.Payload...)
	}
	waitErr(t, errc)
	if !bytes.Equal(got, data) {
		t.Fatal("input arrived altered or out of order")
	}
}

func TestRunResizesOnlyAfterOutputAndOnChange(t *testing.T) {
	sizes := make(chan Size)
	r := start(t, Options{Sizes: sizes, KeepAlive: hour})

	// Two sizes before any output: neither may go out yet, and then only the latest.
	sendSize(t, sizes, Size{Rows: 24, Cols: 80})
	sendSize(t, sizes, Size{Rows: 30, Cols: 100})
	r.p.send(t, TypeOutput, []byte("$ "))
	r.out.waitFor(t, "$ ")

	f := r.p.next(t)
	if f.Type != TypeResize || !bytes.Equal(f.Payload, []byte{30, 0, 100, 0}) {
		t.Fatalf("first frame after output: %v %x, want Resize 1e00 6400 (30 rows, 100 cols)", f.Type, f.Payload)
	}
	if f.Seq != 0 {
		t.Fatalf("first frame has seq %d, want 0: something went out before the output", f.Seq)
	}

	// The same size again is not sent; the next frame is the change that follows it.
	sendSize(t, sizes, Size{Rows: 30, Cols: 100})
	sendSize(t, sizes, Size{Rows: 50, Cols: 300})
	f = r.p.next(t)
	if f.Type != TypeResize || !bytes.Equal(f.Payload, []byte{50, 0, 0x2c, 0x01}) {
		t.Fatalf("after a repeat and a change: %v %x, want Resize 3200 2c01 (50 rows, 300 cols)", f.Type, f.Payload)
	}
	if f.Seq != 1 {
		t.Fatalf("resize seq %d, want 1", f.Seq)
	}

	// A second Output does not repeat the size.
	sendSize(t, sizes, Size{Rows: 50, Cols: 300})
	r.p.send(t, TypeOutput, []byte("more"))
	r.out.waitFor(t, "more")
	r.p.send(t, TypeStatus, AppendStatus(nil, StateClosed, "Exit"))
	if err := r.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, f := range r.p.rest(t) {
		if f.Type == TypeResize {
			t.Fatalf("duplicate resize %x", f.Payload)
		}
	}
}

func TestRunSendsKeepAlives(t *testing.T) {
	r := start(t, Options{KeepAlive: 20 * time.Millisecond})
	for i := range 2 {
		f := r.p.next(t)
		if !isKeepAlive(f) || f.DeclaredLen() != 0 || len(f.raw) != HeaderLen {
			t.Fatalf("frame %d: %v with %d bytes (%x), want an empty Input", i, f.Type, len(f.Payload), f.raw)
		}
		if f.Seq != int64(i) {
			t.Fatalf("keep-alive %d has seq %d", i, f.Seq)
		}
	}
}

func TestRunEndsOnStatus(t *testing.T) {
	exited := unhex(t, "05 00 00 00|31 2e 30 32|03 63 68 31|00|00 68 e5 cf 8b 01 00 00|00 00 00 00|00 00 00 00|05 00|00|00|06 45 78 69 74")
	status := func(st State, reason string) []byte {
		msg, err := AppendFrame(nil, Header{Type: TypeStatus, Created: created}, AppendStatus(nil, st, reason))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	for _, tc := range []struct {
		name     string
		msg      []byte
		state    State  // of the *ClosedError; ignored when ok
		ok       bool   // Run returns nil
		mentions string // in Error()
	}{
		{"closed exit", status(StateClosed, "Exit"), 0, true, ""},
		{"exited exit 1.02 reference bytes", exited, 0, true, ""},
		{"closed agent timeout", status(StateClosed, "AgentTimeout"), StateClosed, false, "AgentTimeout"},
		{"closed unknown reason", status(StateClosed, "SomethingNew"), StateClosed, false, "SomethingNew"},
		{"exited flow limit", status(StateExited, "FlowExceedLimit"), StateExited, false, "FlowExceedLimit"},
		{"aborted", status(StateAborted, "OpenPtyFailed"), StateAborted, false, "aborted"},
		{"frozen", status(StateFrozen, "restart"), StateFrozen, false, "frozen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, Options{KeepAlive: hour})
			// States that end nothing come first and must be ignored.
			r.p.send(t, TypeStatus, []byte{byte(StateOpening)})
			r.p.send(t, TypeStatus, []byte{byte(StateOpened)})
			r.p.send(t, TypeOutput, []byte("ready"))
			r.out.waitFor(t, "ready")
			r.p.sendRaw(t, tc.msg)
			err := r.wait(t)
			if tc.ok {
				if err != nil {
					t.Fatalf("Run: %v, want nil", err)
				}
			} else {
				var ce *ClosedError
				if !errors.As(err, &ce) {
					t.Fatalf("Run: %T %v, want *ClosedError", err, err)
				}
				want := AppendStatus(nil, ce.State, ce.Reason)
				if ce.State != tc.state || !bytes.Contains(tc.msg, want) {
					t.Fatalf("ClosedError{%v, %q} does not match the status sent", ce.State, ce.Reason)
				}
				if !strings.Contains(err.Error(), tc.mentions) {
					t.Fatalf("Error() = %q, want it to mention %q", err, tc.mentions)
				}
				if errors.Is(err, ErrConnectionLost) {
					t.Fatal("a status from the service is not a lost connection")
				}
			}
			// Run closed the connection: the gateway's read ends.
			r.p.rest(t)
		})
	}
}

// TestRunPacesInputAtStreamRate holds input back at the rate of a Stream status. At 1 bit/s, 64
// bytes take 512 s, so while the session is alive the data must not go out; keep-alives still do.
func TestRunPacesInputAtStreamRate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status [][]byte
	}{
		{"stream 1 bps", [][]byte{AppendRate(nil, 1)}},
		// docs/protocol.md, the Stream rate: a zero rate is ignored, not taken as "unlimited".
		{"zero rate ignored", [][]byte{AppendRate(nil, 1), AppendRate(nil, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := pipe(t)
			r := start(t, Options{Stdin: pr, KeepAlive: 20 * time.Millisecond})
			for _, st := range tc.status {
				r.p.send(t, TypeStatus, st)
			}
			// Frames are handled in order: once this output is out, the rate is set.
			r.p.send(t, TypeOutput, []byte("rate set"))
			r.out.waitFor(t, "rate set")
			waitErr(t, write(pw, bytes.Repeat([]byte("x"), 64), false))

			for range 3 {
				if f := r.p.next(t); !isKeepAlive(f) {
					t.Fatalf("got %v with %d bytes while input should be held back", f.Type, len(f.Payload))
				}
			}
			r.cancel()
			if err := r.wait(t); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v, want context.Canceled", err)
			}
			for _, f := range r.p.rest(t) {
				if f.Type == TypeInput && len(f.Payload) > 0 {
					t.Fatalf("paced input went out: %q", f.Payload)
				}
			}
		})
	}
}

// TestRunStopsPacedInputWhenSessionEnds checks that input held back by the pacer does not outlive
// a session the service ended (the caller's ctx is still live).
func TestRunStopsPacedInputWhenSessionEnds(t *testing.T) {
	pr, pw := pipe(t)
	p, conn := connect(t)
	ignore := goleak.IgnoreCurrent()
	r := runOn(t, p, conn, Options{Stdin: pr, KeepAlive: hour})
	r.p.send(t, TypeStatus, AppendRate(nil, 1))
	r.p.send(t, TypeOutput, []byte("rate set"))
	r.out.waitFor(t, "rate set")
	waitErr(t, write(pw, []byte("held"), false))

	r.p.send(t, TypeStatus, AppendStatus(nil, StateClosed, "Exit"))
	if err := r.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r.p.rest(t)
	if err := goleak.Find(ignore); err != nil {
		t.Fatalf("goroutines left after Run returned: %v", err)
	}
}

func TestRunConnectionEnds(t *testing.T) {
	closeWith := func(code int) func(*testing.T, *peer) {
		return func(t *testing.T, p *peer) {
			msg := websocket.FormatCloseMessage(code, "bye")
			if err := p.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(patience)); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw := func(msg []byte) func(*testing.T, *peer) {
		return func(t *testing.T, p *peer) { p.sendRaw(t, msg) }
	}
	zeroTime, _ := AppendFrame(nil, Header{Type: TypeOutput}, []byte("x"))
	emptyStatus, _ := AppendFrame(nil, Header{Type: TypeStatus, Created: created}, nil)
	for _, tc := range []struct {
		name   string
		do     func(*testing.T, *peer)
		wantOK bool
		want   error // wrapped by Run's error
	}{
		{"normal close", closeWith(websocket.CloseNormalClosure), true, nil},
		{"going away", closeWith(websocket.CloseGoingAway), true, nil},
		{"tcp dropped", func(t *testing.T, p *peer) { p.ws.NetConn().Close() }, false, ErrConnectionLost},
		{"five bytes", raw([]byte{1, 0, 0, 0, '1'}), false, ErrShortFrame},
		{"id past the end", raw([]byte{1, 0, 0, 0, '1', '.', '0', '1', 200, 'x'}), false, ErrShortFrame},
		{"zero timestamp", raw(zeroTime), false, ErrZeroCreated},
		{"status without state", raw(emptyStatus), false, ErrEmptyStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, Options{KeepAlive: hour})
			r.p.send(t, TypeOutput, []byte("ready"))
			r.out.waitFor(t, "ready")
			tc.do(t, r.p)
			err := r.wait(t)
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Run: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run: %v, want an error wrapping %v", err, tc.want)
			}
			if tc.want != ErrConnectionLost && errors.Is(err, ErrConnectionLost) {
				t.Fatalf("Run: %v: a malformed frame is not a lost connection", err)
			}
		})
	}
}

func TestRunOnEOF(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action EOFAction
		want   clientFrame
	}{
		{"ctrl-d", EOFCtrlD, clientFrame{Frame: Frame{Type: TypeInput, Payload: []byte{0x04}}}},
		{"close", EOFClose, clientFrame{Frame: Frame{Type: TypeClose, Payload: []byte("1")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := pipe(t)
			r := start(t, Options{Stdin: pr, OnEOF: tc.action, KeepAlive: hour})
			waitErr(t, write(pw, []byte("exit\r"), true))

			if f := r.p.next(t); f.Type != TypeInput || string(f.Payload) != "exit\r" {
				t.Fatalf("first frame %v %q, want the input", f.Type, f.Payload)
			}
			if f := r.p.next(t); f.Type != tc.want.Type || !bytes.Equal(f.Payload, tc.want.Payload) || f.Seq != 1 {
				t.Fatalf("after EOF: %v %q seq %d, want %v %q seq 1", f.Type, f.Payload, f.Seq, tc.want.Type, tc.want.Payload)
			}
			r.p.send(t, TypeStatus, AppendStatus(nil, StateClosed, "Exit"))
			if err := r.wait(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if rest := r.p.rest(t); len(rest) != 0 {
				t.Fatalf("%d more frames after the EOF action, first %v %q", len(rest), rest[0].Type, rest[0].Payload)
			}
		})
	}
}

func TestRunCancelSendsClose(t *testing.T) {
	pr, pw := pipe(t)
	r := start(t, Options{Stdin: pr, KeepAlive: hour})
	waitErr(t, write(pw, []byte("a"), false))
	if f := r.p.next(t); f.Type != TypeInput || string(f.Payload) != "a" {
		t.Fatalf("got %v %q, want the input", f.Type, f.Payload)
	}
	r.cancel()
	f := r.p.nextNonKeepAlive(t)
	if f.Type != TypeClose || string(f.Payload) != "1" || f.Seq != 1 {
		t.Fatalf("after cancel: %v %q seq %d, want Close \"1\" seq 1", f.Type, f.Payload, f.Seq)
	}
	if err := r.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	r.p.rest(t)
}

func TestRunReadsFramesWithIDsInBothLayouts(t *testing.T) {
	r := start(t, Options{KeepAlive: hour})
	frame := func(h Header, payload string) []byte {
		h.Created = uint64(time.Now().UnixMilli())
		msg, err := AppendFrame(nil, h, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	r.p.sendRaw(t, frame(Header{Type: TypeOutput, Version: V101, ChannelID: "ch-0123456789", InstanceID: "i-bp1abcdef", Seq: 9}, "one."))
	// Types the client does not handle are skipped, not fatal.
	r.p.sendRaw(t, frame(Header{Type: TypeSync, Version: V102, ChannelID: "ch1", InputSeq: 1, OutputSeq: 1}, ""))
	r.p.sendRaw(t, frame(Header{Type: MessageType(42), ChannelID: "ch1"}, "?"))
	r.p.sendRaw(t, frame(Header{Type: TypeOutput, Version: V102, ChannelID: "ch1", InstanceID: "i-x", InputSeq: 3, OutputSeq: 2}, "two."))
	// A server Output in the 1.02 layout of docs/protocol.md, Frames, byte for byte.
	r.p.sendRaw(t, unhex(t, "01 00 00 00|31 2e 30 32|03 63 68 31|03 69 2d 78|00 68 e5 cf 8b 01 00 00|02 00 00 00|01 00 00 00|02 00|00|00|24 20"))
	r.p.sendRaw(t, frame(Header{Type: TypeStatus, Version: V102, ChannelID: "ch1", InstanceID: "i-x"}, "\x05Exit"))
	if err := r.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := r.out.String(); got != "one.two.$ " {
		t.Fatalf("output %q, want %q", got, "one.two.$ ")
	}
}

// Input typed before the remote side has produced output waits for that output: the agent drops
// what arrives before its PTY exists.
func TestRunHoldsInputUntilFirstOutput(t *testing.T) {
	pr, pw := pipe(t)
	r := start(t, Options{Stdin: pr, KeepAlive: 5 * time.Millisecond, OnEOF: EOFNothing, HoldInput: hour})
	waitErr(t, write(pw, []byte("early"), false)) // returns once the session has read it
	// Keep-alives keep coming while the input is held: three in a row, and no input among them.
	for i := 0; i < 3; i++ {
		if f := r.p.next(t); !isKeepAlive(f) {
			t.Fatalf("frame %d before any output: %v %q, want only keep-alives", i, f.Type, f.Payload)
		}
	}
	// The gateway speaks first; only then may the held input go out.
	r.p.send(t, TypeOutput, []byte("$ "))
	f := r.p.nextNonKeepAlive(t)
	if f.Type != TypeInput || string(f.Payload) != "early" {
		t.Fatalf("first frame %v %q, want the held input", f.Type, f.Payload)
	}
}

// With nothing ever printed, held input still goes out once HoldInput has passed.
func TestRunSendsHeldInputAfterTimeout(t *testing.T) {
	pr, pw := pipe(t)
	r := start(t, Options{Stdin: pr, KeepAlive: hour, OnEOF: EOFNothing, HoldInput: 10 * time.Millisecond})
	waitErr(t, write(pw, []byte("late"), false))
	if f := r.p.nextNonKeepAlive(t); f.Type != TypeInput || string(f.Payload) != "late" {
		t.Fatalf("got %v %q, want the input", f.Type, f.Payload)
	}
}

// IdleTimeout ends a session with no traffic even though keep-alives flow, and says so; real
// output postpones it.
func TestRunIdleTimeout(t *testing.T) {
	r := start(t, Options{KeepAlive: 5 * time.Millisecond, IdleTimeout: 50 * time.Millisecond})
	// Output keeps the session alive for a while: send some, then go quiet.
	r.p.send(t, TypeOutput, []byte("x"))
	err := r.wait(t)
	if !errors.Is(err, ErrIdle) {
		t.Fatalf("got %v, want ErrIdle", err)
	}
	var sawClose bool
	for _, f := range r.p.rest(t) {
		if f.Type == TypeClose {
			sawClose = true
		}
	}
	if !sawClose {
		t.Fatal("no Close frame before ending an idle session")
	}
}

// TestRunLogsWhatMoved: the debug log's last line of a session says how many bytes went each
// way and at what Stream rate, so a throttled transfer can be told from a slow one.
func TestRunLogsWhatMoved(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug})
	in, w := pipe(t)
	r := start(t, Options{KeepAlive: hour, Stdin: in, Logger: slog.New(h)})
	rate := binary.BigEndian.AppendUint32([]byte{byte(StateStream)}, 204800)
	r.p.send(t, TypeStatus, rate)
	r.p.send(t, TypeOutput, []byte("hello, "))
	r.p.send(t, TypeOutput, []byte("world"))
	waitErr(t, write(w, []byte("abc"), false))
	if f := r.p.nextNonKeepAlive(t); string(f.Payload) != "abc" {
		t.Fatalf("input frame %q, want abc", f.Payload)
	}
	r.p.send(t, TypeStatus, AppendStatus(nil, StateClosed, "Exit"))
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{`msg="session ended"`, "input_bytes=3", "output_bytes=12", "stream_rate_bps=204800"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("debug log lacks %s:\n%s", want, logs.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestRunTellsWhenInputIsPaced: the first time input has to wait for the gateway's Stream rate,
// OnPaced hears the rate, once; input within the rate says nothing.
func TestRunTellsWhenInputIsPaced(t *testing.T) {
	pr, pw := pipe(t)
	told := make(chan uint64, 4)
	r := start(t, Options{Stdin: pr, KeepAlive: hour, OnPaced: func(bps uint64) { told <- bps }})
	r.p.send(t, TypeStatus, AppendRate(nil, 8000)) // 1000 bytes per second
	r.p.send(t, TypeOutput, []byte("rate set"))
	r.out.waitFor(t, "rate set")
	waitErr(t, write(pw, []byte("x"), false)) // 1 ms of the link: inside the burst, no wait
	if f := r.p.nextNonKeepAlive(t); string(f.Payload) != "x" {
		t.Fatalf("input %q, want x", f.Payload)
	}
	select {
	case bps := <-told:
		t.Fatalf("OnPaced(%d) for input within the rate", bps)
	default:
	}
	go func() { _, _ = pw.Write(bytes.Repeat([]byte("y"), 3*MaxInputChunk)) }() // 3 s of the link
	select {
	case bps := <-told:
		if bps != 8000 {
			t.Errorf("OnPaced(%d), want the gateway's 8000", bps)
		}
	case <-time.After(patience):
		t.Fatal("input waited for the rate and OnPaced was not called")
	}
	r.cancel()
	if len(told) != 0 {
		t.Errorf("OnPaced called %d more times, want once", len(told))
	}
}

// TestRunCtrlDAgainAfterMoreOutput: a ^D that the shell did not take (it was still running a
// command) is followed, when more output comes and pauses, by another; one that ended the
// session is the only one.
func TestRunCtrlDAgainAfterMoreOutput(t *testing.T) {
	pr, pw := pipe(t)
	r := start(t, Options{Stdin: pr, OnEOF: EOFCtrlD, KeepAlive: hour})
	waitErr(t, write(pw, []byte("sleep 1\r"), true))
	if f := r.p.nextNonKeepAlive(t); string(f.Payload) != "sleep 1\r" {
		t.Fatalf("input %q, want the line", f.Payload)
	}
	if f := r.p.nextNonKeepAlive(t); !bytes.Equal(f.Payload, []byte{0x04}) {
		t.Fatalf("after EOF: %q, want ^D", f.Payload)
	}
	// The shell lost that ^D and, the command over, prints its prompt: ^D again.
	r.p.send(t, TypeOutput, []byte("$ "))
	if f := r.p.nextNonKeepAlive(t); !bytes.Equal(f.Payload, []byte{0x04}) {
		t.Fatalf("after more output: %q, want ^D again", f.Payload)
	}
	r.p.send(t, TypeOutput, []byte("exit\r\n"))
	r.p.send(t, TypeStatus, AppendStatus(nil, StateClosed, "Exit"))
	if err := r.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, f := range r.p.rest(t) {
		if f.Type == TypeInput && len(f.Payload) > 0 {
			t.Errorf("input after the session ended: %q", f.Payload)
		}
	}
}
