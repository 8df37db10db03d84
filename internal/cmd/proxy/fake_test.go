package proxy

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

// patience bounds every wait; nothing should take a fraction of it.
const patience = 10 * time.Second

// echoGateway is a stand-in for the session gateway and a port-forwarding agent whose target
// echoes: every Input frame comes back as an Output frame, and a Close frame is answered with
// Closed "Exit", as the agent does when its target has closed.
func echoGateway(t *testing.T) string {
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

// fakePorts is an attach.PortOpener on one instance: Open dials url (the echo gateway) unless
// openErr is set, and records what it was asked for.
type fakePorts struct {
	url      string
	openErr  error
	readyErr error

	mu     sync.Mutex
	id     string   // the instance Ports was asked for
	opened []string // host:port as asked
	closed bool
}

func (p *fakePorts) Open(ctx context.Context, host string, port int) (*forward.Stream, error) {
	p.mu.Lock()
	p.opened = append(p.opened, forward.Describe(host, port))
	p.mu.Unlock()
	if p.openErr != nil {
		return nil, p.openErr
	}
	conn, err := session.Dial(ctx, p.url, session.DialOptions{})
	if err != nil {
		return nil, err
	}
	return &forward.Stream{Conn: conn}, nil
}

func (p *fakePorts) Ready(context.Context) (*cloud.Instance, error) {
	if p.readyErr != nil {
		return nil, p.readyErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return &cloud.Instance{ID: p.id}, nil
}

func (p *fakePorts) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

func (p *fakePorts) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.opened...)
}

func (p *fakePorts) wasClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// fakeSessions is the Sessions seam with only port channels: Ports hands out ports and records
// the instance asked for.
type fakeSessions struct {
	ports *fakePorts
	mu    sync.Mutex
	asked []attach.PortOptions
}

func (s *fakeSessions) Shell(context.Context, attach.ShellOptions) error {
	return errors.New("proxy opens no shell")
}

func (s *fakeSessions) Exec(context.Context, attach.ExecOptions) (int, error) {
	return 0, errors.New("proxy runs no command")
}

func (s *fakeSessions) Ports(_ context.Context, o attach.PortOptions) attach.PortOpener {
	s.mu.Lock()
	s.asked = append(s.asked, o)
	s.mu.Unlock()
	s.ports.mu.Lock()
	s.ports.id = o.InstanceID
	s.ports.mu.Unlock()
	return s.ports
}

// fakeAPI lists a fixed set of instances, whatever the filter.
type fakeAPI struct{ insts []cloud.InstanceInfo }

func (a *fakeAPI) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	return a.insts, nil
}
