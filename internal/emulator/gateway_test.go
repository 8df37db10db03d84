//go:build unix

package emulator

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// patience bounds every wait for the emulator; nothing here should take more than a fraction of it.
const patience = 10 * time.Second

// startDirect starts a session on instance id without going through HTTP (the API path has its
// own tests), so gateway and agent tests need no SDK and leave no pooled connections behind.
// extra holds more StartTerminalSession parameters, name then value.
func startDirect(t *testing.T, e *Emulator, id string, extra ...string) (wsURL, token string) {
	t.Helper()
	params := url.Values{"RegionId": {e.Region()}, "InstanceId.1": {id}}
	for i := 0; i+1 < len(extra); i += 2 {
		params.Set(extra[i], extra[i+1])
	}
	resp, err := e.startTerminalSession(&request{action: "StartTerminalSession", params: params, id: newRequestID()})
	if err != nil {
		t.Fatalf("startTerminalSession(%s): %v", id, err)
	}
	o := resp.(obj)
	return o["WebSocketUrl"].(string), o["SecurityToken"].(string)
}

// startSDK starts a session through the API, as a client does.
func startSDK(t *testing.T, c *ecs.Client, e *Emulator, id string) (wsURL, token, sessionID string, err error) {
	t.Helper()
	resp, err := c.StartTerminalSession(&ecs.StartTerminalSessionRequest{RegionId: tea.String(e.Region()), InstanceId: []*string{tea.String(id)}})
	if err != nil {
		return "", "", "", err
	}
	return tea.StringValue(resp.Body.WebSocketUrl), tea.StringValue(resp.Body.SecurityToken), tea.StringValue(resp.Body.SessionId), nil
}

// rx is one message from the gateway: a decoded frame, or the error that ended the connection.
type rx struct {
	typ        session.MessageType
	channelID  string
	instanceID string
	payload    []byte
	err        error
}

func (r rx) status(t *testing.T) session.Status {
	t.Helper()
	f := session.Frame{Payload: r.payload, Length: uint32(len(r.payload))}
	st, err := session.ParseStatus(&f)
	if err != nil {
		t.Fatalf("status frame: %v", err)
	}
	return st
}

// peer is a raw client of the gateway. It sees every frame, so tests can check what
// session.Run would hide: headers, frame sizes, the order of status and close.
type peer struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan rx
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool
	seq    int64
	out    []byte // Output payloads read so far
	seen   []rx   // every frame read so far
}

func dialPeer(t *testing.T, wsURL, token string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	conn, err := session.Dial(ctx, wsURL, session.DialOptions{Token: token})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	p := &peer{t: t, conn: conn, frames: make(chan rx, 256), stop: make(chan struct{}), done: make(chan struct{})}
	go p.read()
	t.Cleanup(p.close)
	return p
}

func (p *peer) read() {
	defer close(p.done)
	for {
		_, msg, err := p.conn.ReadMessage()
		var r rx
		if err != nil {
			r.err = err
		} else if f, derr := session.Decode(msg); derr != nil {
			r.err = derr
		} else {
			r = rx{typ: f.Type, channelID: string(f.ChannelID), instanceID: string(f.InstanceID),
				payload: append([]byte(nil), f.Payload...)}
		}
		select {
		case p.frames <- r:
		case <-p.stop:
			return
		}
		if r.err != nil {
			return
		}
	}
}

// close ends the connection and the reader; it is safe to call twice.
func (p *peer) close() {
	if p.closed.Swap(true) {
		return
	}
	close(p.stop)
	p.conn.Close()
	<-p.done
}

func (p *peer) send(typ session.MessageType, payload []byte) {
	p.t.Helper()
	msg, err := session.AppendFrame(nil, session.Header{Type: typ, Created: uint64(time.Now().UnixMilli()), Seq: p.seq}, payload)
	if err != nil {
		p.t.Fatal(err)
	}
	p.seq++
	if err := p.conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		p.t.Fatalf("writing a %s frame: %v", typ, err)
	}
}

func (p *peer) input(s string) { p.t.Helper(); p.send(session.TypeInput, []byte(s)) }
func (p *peer) resize(rows, cols uint16) {
	p.t.Helper()
	p.send(session.TypeResize, session.AppendResize(nil, rows, cols))
}
func (p *peer) keepAlive()                  { p.t.Helper(); p.send(session.TypeInput, nil) }
func (p *peer) output() string              { return string(p.out) }
func (p *peer) outputSince(mark int) string { return string(p.out[mark:]) }

// next returns the next message, recording Output payloads.
func (p *peer) next() rx {
	p.t.Helper()
	select {
	case r := <-p.frames:
		p.seen = append(p.seen, r)
		if r.err == nil && r.typ == session.TypeOutput {
			p.out = append(p.out, r.payload...)
		}
		return r
	case <-time.After(patience):
		p.t.Fatalf("no frame from the gateway within %v; output so far: %q", patience, p.out)
		return rx{}
	}
}

// until reads output until it contains want, failing if the session ends first.
func (p *peer) until(want string) {
	p.t.Helper()
	p.untilAfter(0, want)
}

// untilAfter reads output until the part after the first mark bytes contains want.
func (p *peer) untilAfter(mark int, want string) {
	p.t.Helper()
	for !strings.Contains(string(p.out[mark:]), want) {
		r := p.next()
		switch {
		case r.err != nil:
			p.t.Fatalf("connection ended (%v) before %q; output: %q", r.err, want, p.out)
		case r.typ == session.TypeStatus:
			p.t.Fatalf("status %+v before %q; output: %q", r.status(p.t), want, p.out)
		}
	}
}

// firstOutput waits for the first Output frame (the agent is ready once it speaks).
func (p *peer) firstOutput() rx {
	p.t.Helper()
	for {
		r := p.next()
		if r.err != nil || r.typ == session.TypeStatus {
			p.t.Fatalf("session ended before any output: %+v", r)
		}
		if r.typ == session.TypeOutput {
			return r
		}
	}
}

// status reads until a Status frame and returns it; output before it is recorded.
func (p *peer) status() session.Status {
	p.t.Helper()
	for {
		r := p.next()
		if r.err != nil {
			p.t.Fatalf("connection ended (%v) without a status; output: %q", r.err, p.out)
		}
		if r.typ == session.TypeStatus {
			return r.status(p.t)
		}
	}
}

// normalClose expects the next message to be the end of the connection with close code 1000.
func (p *peer) normalClose() {
	p.t.Helper()
	r := p.next()
	var ce *websocket.CloseError
	if !errors.As(r.err, &ce) || ce.Code != websocket.CloseNormalClosure {
		p.t.Fatalf("after the status got %+v, want a normal WebSocket close", r)
	}
}

// expectEnd expects a Closed status with reason, then a normal close.
func (p *peer) expectEnd(reason string) {
	p.t.Helper()
	st := p.status()
	if st.State != session.StateClosed || st.Reason != reason {
		p.t.Fatalf("status = %v %q, want Closed %q; output: %q", st.State, st.Reason, reason, p.out)
	}
	p.normalClose()
}

func dialErr(t *testing.T, wsURL, token string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	conn, err := session.Dial(ctx, wsURL, session.DialOptions{Token: token})
	if err == nil {
		conn.Close()
		t.Fatal("Dial succeeded, want a refusal")
	}
	return err
}

func TestGatewayRefusals(t *testing.T) {
	var skew atomic.Int64
	e := testEmulator(t, Options{URLTTL: time.Minute, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	c := apiClient(t, e)
	wsURL, token, id, err := startSDK(t, c, e, idDemo)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(wsURL, token, "0123456789-wrong-token", 1)

	t.Run("wrong token", func(t *testing.T) {
		err := dialErr(t, wrong, "0123456789-wrong-token")
		if !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "0123456789-wrong-token") || strings.Contains(err.Error(), token) {
			t.Errorf("Dial with a wrong token: %v; want 403 without any token", err)
		}
	})
	t.Run("unknown session", func(t *testing.T) {
		err := dialErr(t, strings.Replace(wsURL, id, "s-emunosuchsession", 1), token)
		if !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), token) {
			t.Errorf("Dial to an unknown session: %v; want 404 without the token", err)
		}
	})
	t.Run("valid", func(t *testing.T) {
		p := dialPeer(t, wsURL, token)
		p.firstOutput()
		p.close()
	})
	t.Run("expired", func(t *testing.T) {
		skew.Store(int64(2 * time.Minute))
		defer skew.Store(0)
		err := dialErr(t, wsURL, token)
		if !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "expired") {
			t.Errorf("Dial after the URL's lifetime: %v; want 403 expired", err)
		}
	})
	t.Run("ended", func(t *testing.T) {
		if _, err := c.EndTerminalSession(&ecs.EndTerminalSessionRequest{RegionId: tea.String(e.Region()), SessionId: tea.String(id)}); err != nil {
			t.Fatal(err)
		}
		err := dialErr(t, wsURL, token)
		if !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), token) {
			t.Errorf("Dial after EndTerminalSession: %v; want a refusal without the token", err)
		}
	})
}

func TestEndTerminalSessionClosesConnectedChannel(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	wsURL, token, id, err := startSDK(t, c, e, idDemo)
	if err != nil {
		t.Fatal(err)
	}
	p := dialPeer(t, wsURL, token)
	p.firstOutput()
	if _, err := c.EndTerminalSession(&ecs.EndTerminalSessionRequest{RegionId: tea.String(e.Region()), SessionId: tea.String(id)}); err != nil {
		t.Fatal(err)
	}
	p.expectEnd(reasonTerminated) // EndTerminalSession, not the shell, ended it
}

// connect dials a session and waits until its agent has spoken, so it counts as connected.
func connect(t *testing.T, wsURL, token string) *peer {
	t.Helper()
	p := dialPeer(t, wsURL, token)
	p.firstOutput()
	return p
}

func TestSessionsPerInstanceLimit(t *testing.T) {
	e := testEmulator(t, Options{SessionsPerInstance: 2})
	c := apiClient(t, e)
	var urls, tokens []string
	for range 3 { // unconnected sessions do not count against the instance limit
		u, tok, _, err := startSDK(t, c, e, idDemo)
		if err != nil {
			t.Fatalf("StartTerminalSession before any connection: %v", err)
		}
		urls, tokens = append(urls, u), append(tokens, tok)
	}
	first := connect(t, urls[0], tokens[0])
	connect(t, urls[1], tokens[1])

	_, _, _, err := startSDK(t, c, e, idDemo)
	if code, status := errorCode(t, err); code != "InstanceSessionQuota.ExceedLimit" || status != 403 {
		t.Errorf("third session = %s (HTTP %d), want InstanceSessionQuota.ExceedLimit (403)", code, status)
	}
	if err := dialErr(t, urls[2], tokens[2]); !strings.Contains(err.Error(), "InstanceSessionQuota") {
		t.Errorf("connecting a third session: %v; want InstanceSessionQuota", err)
	}
	if _, _, _, err := startSDK(t, c, e, idWindows); err != nil {
		t.Errorf("another instance is limited too: %v", err)
	}

	// Once a connection ends, its slot frees up.
	first.send(session.TypeClose, []byte("1"))
	first.expectEnd("Exit")
	deadline := time.Now().Add(patience)
	for {
		_, _, _, err := startSDK(t, c, e, idDemo)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot of a closed connection never freed: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // the channel is unregistered just after its close frame
	}
}

func TestSessionsPerRegionLimit(t *testing.T) {
	e := testEmulator(t, Options{SessionsPerRegion: 2})
	c := apiClient(t, e)
	var sessionIDs []string
	for _, inst := range []string{idDemo, idWindows} {
		_, _, id, err := startSDK(t, c, e, inst)
		if err != nil {
			t.Fatal(err)
		}
		sessionIDs = append(sessionIDs, id)
	}
	_, _, _, err := startSDK(t, c, e, idDemo)
	if code, status := errorCode(t, err); code != "SessionQuota.ExceedLimit" || status != 403 {
		t.Errorf("third session in the region = %s (HTTP %d), want SessionQuota.ExceedLimit (403)", code, status)
	}
	if _, err := c.EndTerminalSession(&ecs.EndTerminalSessionRequest{RegionId: tea.String(e.Region()), SessionId: tea.String(sessionIDs[0])}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := startSDK(t, c, e, idDemo); err != nil {
		t.Errorf("after EndTerminalSession the region still refuses: %v", err)
	}
}

func TestSessionURLExpiryFreesRegionQuota(t *testing.T) {
	var skew atomic.Int64
	e := testEmulator(t, Options{SessionsPerRegion: 1, URLTTL: time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	startDirect(t, e, idDemo)
	if _, err := e.startTerminalSession(&request{params: url.Values{"RegionId": {e.Region()}, "InstanceId.1": {idDemo}}, id: "x"}); err == nil {
		t.Fatal("a second session fits in a region limited to one")
	}
	skew.Store(int64(2 * time.Minute)) // the first URL is dead and was never connected
	startDirect(t, e, idDemo)
}

func TestGatewayMalformedFrame(t *testing.T) {
	e := testEmulator(t, Options{})
	wsURL, token := startDirect(t, e, idDemo, "CommandLine", "cat")
	p := dialPeer(t, wsURL, token)
	if err := p.conn.WriteMessage(websocket.BinaryMessage, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	p.expectEnd("ProcessDataError")
}

func TestGatewayClientClose(t *testing.T) {
	e := testEmulator(t, Options{})
	p := shell(t, e) // input before the agent is ready would be dropped
	p.input("echo hel''lo\r")
	p.until("hello\r\n")
	p.send(session.TypeClose, []byte("1"))
	p.expectEnd("Exit")
}

func TestIdleTimeout(t *testing.T) {
	e := testEmulator(t, Options{IdleTimeout: 200 * time.Millisecond})
	wsURL, token := startDirect(t, e, idDemo)
	p := dialPeer(t, wsURL, token)
	p.expectEnd("IdleTimeout")
	if !strings.Contains(p.output(), "The session has terminated. IdleTimeout") {
		t.Errorf("output %q lacks the agent's last line", p.output())
	}
}

func TestKeepAliveHoldsIdleSession(t *testing.T) {
	const idle = 300 * time.Millisecond
	e := testEmulator(t, Options{IdleTimeout: idle})
	wsURL, token := startDirect(t, e, idDemo)
	p := dialPeer(t, wsURL, token)
	tick := time.NewTicker(idle / 6)
	defer tick.Stop()
	for range 12 { // twice the idle limit, with only empty keep-alive frames
		<-tick.C
		p.keepAlive()
	drain:
		for {
			select {
			case r := <-p.frames:
				if r.err != nil || r.typ == session.TypeStatus {
					t.Fatalf("session ended despite keep-alives: %+v", r)
				}
			default:
				break drain
			}
		}
	}
	tick.Stop()
	p.expectEnd("IdleTimeout")
}

func TestPortSession(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Speak first: input sent before the agent has connected here would be dropped.
		if _, err := io.WriteString(c, "ready\n"); err != nil {
			return
		}
		_, _ = io.Copy(c, c) // echo until the gateway hangs up
	}()
	e := testEmulator(t, Options{})
	port := ln.Addr().(*net.TCPAddr).Port
	wsURL, token := startDirect(t, e, idDemo, "PortNumber", strconv.Itoa(port))
	p := dialPeer(t, wsURL, token)
	p.until("ready\n")
	p.input("ping over the port")
	p.until("ping over the port")
	p.send(session.TypeClose, []byte("1"))
	p.expectEnd("Exit")
	select {
	case <-served:
	case <-time.After(patience):
		t.Fatal("the target connection stayed open after the session closed")
	}
}

// TestEarlyDisconnect closes connections while their agent is still starting: the program it
// starts anyway must be hung up at once, not left for Close to kill after killGrace.
func TestEarlyDisconnect(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeEmu := func() (err error) { once.Do(func() { err = e.Close() }); return err }
	t.Cleanup(func() { _ = closeEmu() })
	for range 3 {
		wsURL, token := startDirect(t, e, idDemo, "CommandLine", "cat")
		p := dialPeer(t, wsURL, token)
		if err := p.conn.WriteMessage(websocket.BinaryMessage, []byte("garbage")); err != nil {
			t.Fatal(err)
		}
		p.expectEnd("ProcessDataError")
		p.close()
	}
	start := time.Now()
	if err := closeEmu(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= killGrace {
		t.Errorf("Close took %v: a program started for a closed connection was not hung up", d)
	}
}
