package forward

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// TestMain fails the package if a test leaves a goroutine behind: every connection starts several.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait; nothing should take a fraction of it.
const patience = 10 * time.Second

// gateway is a small stand-in for the session gateway and a port-forwarding agent: each
// WebSocket becomes a TCP connection to 127.0.0.1:port (port from the URL), with Input frames
// written to it, its bytes sent back as Output frames, Close ending it and its end sending
// Closed "Exit". It records the hosts it was asked for.
type gateway struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	hosts []string
	conns map[*websocket.Conn]struct{}
	wg    sync.WaitGroup

	released atomic.Int64
	refuse   atomic.Bool // the next Open fails with ErrRefused
}

func newGateway(t *testing.T) *gateway {
	g := &gateway{t: t, conns: map[*websocket.Conn]struct{}{}}
	up := websocket.Upgrader{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conns[ws] = struct{}{}
		g.wg.Add(1)
		g.mu.Unlock()
		go g.relay(ws, r.URL.Query().Get("port"))
	}))
	t.Cleanup(func() {
		g.srv.Close()
		g.mu.Lock()
		for ws := range g.conns {
			ws.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
	return g
}

func (g *gateway) relay(ws *websocket.Conn, port string) {
	defer g.wg.Done()
	var wmu sync.Mutex
	send := func(typ session.MessageType, p []byte) error {
		msg, _ := session.AppendFrame(nil, session.Header{Type: typ, Created: uint64(time.Now().UnixMilli())}, p)
		wmu.Lock()
		defer wmu.Unlock()
		return ws.WriteMessage(websocket.BinaryMessage, msg)
	}
	target, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		_ = send(session.TypeStatus, session.AppendStatus(nil, session.StateClosed, "OpenChannelFailed"))
		ws.Close()
		return
	}
	done := make(chan struct{})
	go func() { // agent → client
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, err := target.Read(buf)
			if n > 0 && send(session.TypeOutput, buf[:n]) != nil {
				return
			}
			if err != nil {
				_ = send(session.TypeStatus, session.AppendStatus(nil, session.StateClosed, "Exit"))
				wmu.Lock()
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				wmu.Unlock()
				return
			}
		}
	}()
	for { // client → agent
		_, msg, err := ws.ReadMessage()
		if err != nil {
			break
		}
		f, err := session.Decode(msg)
		if err != nil || f.Type == session.TypeClose {
			break
		}
		if f.Type == session.TypeInput && len(f.Payload) > 0 {
			if _, err := target.Write(f.Payload); err != nil {
				break
			}
		}
	}
	target.Close()
	<-done
	ws.Close()
	g.mu.Lock()
	delete(g.conns, ws)
	g.mu.Unlock()
}

// open is an Opener over the gateway. Like the emulator, it reaches every host on 127.0.0.1.
func (g *gateway) open(ctx context.Context, host string, port int) (*Stream, error) {
	g.mu.Lock()
	g.hosts = append(g.hosts, host)
	g.mu.Unlock()
	if g.refuse.Swap(false) {
		return nil, errors.Join(errors.New("the instance has reached its limit"), ErrRefused)
	}
	u := "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/session?sessionId=s-test&token=t&port=" + strconv.Itoa(port)
	conn, err := session.Dial(ctx, u, session.DialOptions{})
	if err != nil {
		return nil, err
	}
	return &Stream{Conn: conn, Release: func() { g.released.Add(1) }}, nil
}

func (g *gateway) asked() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.hosts...)
}

// reports collects what a Forwarder reports.
type reports struct {
	mu   sync.Mutex
	errs []error
	got  chan struct{}
}

func newReports() *reports { return &reports{got: make(chan struct{}, 100)} }

func (r *reports) add(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	r.got <- struct{}{}
}

// wait returns the next report.
func (r *reports) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(patience):
		t.Fatal("no report")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs[len(r.errs)-1]
}

// listen returns a loopback listener on a free port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveTarget runs handle for every connection to a new loopback listener, and returns its port.
// Cleanup closes the listener and every connection, and waits for the handlers.
func serveTarget(t *testing.T, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
