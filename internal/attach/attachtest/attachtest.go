// Package attachtest has fakes of the session seam for commands' tests: an echoing port
// gateway over a real loopback WebSocket, a PortOpener on it, and a Sessions with only ports.
package attachtest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/pkg/forward"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// EchoGateway is a stand-in for the session gateway and a port-forwarding agent whose target
// echoes: every Input frame comes back as an Output frame, and a Close frame is answered with
// Closed "Exit", as the agent does when its target has closed.
func EchoGateway(t *testing.T) string {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  = map[*websocket.Conn]bool{}
		closed bool
	)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		if closed {
			mu.Unlock()
			ws.Close()
			return
		}
		conns[ws] = true
		wg.Add(1)
		mu.Unlock()
		go func() {
			defer wg.Done()
			defer func() {
				ws.Close()
				mu.Lock()
				delete(conns, ws)
				mu.Unlock()
			}()
			send := func(typ session.MessageType, p []byte) error {
				msg, _ := session.AppendFrame(nil, session.Header{Type: typ, Created: uint64(time.Now().UnixMilli())}, p)
				return ws.WriteMessage(websocket.BinaryMessage, msg)
			}
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					return
				}
				f, err := session.Decode(msg)
				if err != nil {
					return
				}
				switch {
				case f.Type == session.TypeClose:
					_ = send(session.TypeStatus, session.AppendStatus(nil, session.StateClosed, "Exit"))
					return
				case f.Type == session.TypeInput && len(f.Payload) > 0:
					if send(session.TypeOutput, f.Payload) != nil {
						return
					}
				}
			}
		}()
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		closed = true
		for ws := range conns {
			ws.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/session?sessionId=s-test&token=t"
}

// Ports is an attach.PortOpener on one instance: Open dials URL (an EchoGateway) unless OpenErr
// is set, Ready fails with ReadyErr if set, and it records what it was asked for.
type Ports struct {
	URL      string
	OpenErr  error
	ReadyErr error

	mu     sync.Mutex
	id     string   // the instance Ports was asked for
	opened []string // host:port as asked
	closed bool
}

func (p *Ports) Open(ctx context.Context, host string, port int) (*forward.Stream, error) {
	p.mu.Lock()
	p.opened = append(p.opened, forward.Describe(host, port))
	p.mu.Unlock()
	if p.OpenErr != nil {
		return nil, p.OpenErr
	}
	conn, err := session.Dial(ctx, p.URL, session.DialOptions{})
	if err != nil {
		return nil, err
	}
	return &forward.Stream{Conn: conn}, nil
}

func (p *Ports) Ready(context.Context) (*cloud.Instance, error) {
	if p.ReadyErr != nil {
		return nil, p.ReadyErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return &cloud.Instance{ID: p.id}, nil
}

func (p *Ports) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// Asked is every host:port Open was asked for, in order.
func (p *Ports) Asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.opened...)
}

// WasClosed says whether Close was called.
func (p *Ports) WasClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Sessions is the Sessions seam with only port channels: Ports hands out P and records what it
// was asked for; Shell and Exec fail.
type Sessions struct {
	P     *Ports
	mu    sync.Mutex
	asked []attach.PortOptions
}

// Asked is every PortOptions that Ports was called with, in order.
func (s *Sessions) Asked() []attach.PortOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]attach.PortOptions(nil), s.asked...)
}

func (s *Sessions) Shell(context.Context, attach.ShellOptions) error {
	return errors.New("this fake opens no shell")
}

func (s *Sessions) Exec(context.Context, attach.ExecOptions) (int, error) {
	return 0, errors.New("this fake runs no command")
}

func (s *Sessions) Ports(_ context.Context, o attach.PortOptions) attach.PortOpener {
	s.mu.Lock()
	s.asked = append(s.asked, o)
	s.mu.Unlock()
	s.P.mu.Lock()
	s.P.id = o.InstanceID
	s.P.mu.Unlock()
	return s.P
}
