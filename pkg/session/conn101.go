package session

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// transport is all the session loop (session.go) knows of the gateway: conn101 speaks schema
// 1.01 on one WebSocket; conn102 speaks 1.02 and survives a dropped one. send may be called from
// any goroutine; recv only from the loop's reader goroutine.
type transport interface {
	// send writes an Input (without payload: a keep-alive), Resize or Close frame. A channel gets
	// one Close, however many ways the session ends at once.
	send(t MessageType, payload []byte) error
	// recv returns the next frame for the loop: an Output to deliver, a Status that does not end
	// the session (parsed), or another type to ignore. It returns errEnded when the service ended
	// the session normally, and any other error when it ended otherwise.
	recv() (inbound, error)
	// lastSent is when a frame last went out.
	lastSent() time.Time
	// close ends the transport: the socket is closed, recv returns, and goroutines it started end.
	close()
}

// inbound is a frame handed to the loop. f aliases the transport's buffer until the next recv.
type inbound struct {
	f  Frame
	st Status // when f.Type is TypeStatus
}

// conn101 is a plain schema 1.01 connection: frames numbered from 0, and a drop is the end.
type conn101 struct {
	log    *slog.Logger
	w      *wire        // read by the reader goroutine; written under mu
	sentAt atomic.Int64 // unix nanos of the last frame sent

	mu        sync.Mutex // serializes writes
	seq       int64
	closeSent bool
}

func newConn101(ws *websocket.Conn, writeTimeout time.Duration, log *slog.Logger) *conn101 {
	return &conn101{log: log, w: newWire(ws, writeTimeout)}
}

func (c *conn101) send(t MessageType, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t == TypeClose && c.closeSent {
		return nil
	}
	if err := c.w.write(Header{Type: t, Seq: c.seq}, payload); err != nil {
		return err
	}
	c.seq++
	c.sentAt.Store(time.Now().UnixNano())
	if t == TypeClose {
		c.closeSent = true
	}
	return nil
}

func (c *conn101) recv() (inbound, error) {
	f, err := c.w.read()
	if err != nil {
		return inbound{}, err
	}
	in := inbound{f: f}
	if f.Type == TypeStatus {
		if in.st, err = readStatus(&f, c.log); err != nil {
			return inbound{}, err
		}
	}
	return in, nil
}

func (c *conn101) lastSent() time.Time { return time.Unix(0, c.sentAt.Load()) }

func (c *conn101) close() { c.w.ws.Close() }
