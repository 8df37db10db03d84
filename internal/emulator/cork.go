package emulator

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Corked output: the agent's shell frames hold at most 1 KiB and its port frames 2 KiB, so bulk
// output is many small WebSocket messages, and gorilla writes each with its own system call (and
// over TLS, its own record). The gateway hands the upgrader a connection that can be corked: the
// pump corks it, sends every frame of what it gathered from the PTY (agent_unix.go) or of one
// read from the TCP connection, and uncorks it, so those frames leave in one write. The frames themselves, their sizes and their order are
// exactly what they would be without it; only the system calls are fewer, on both ends.

// corkConn is a net.Conn whose writes can be held and then sent together. A write that fails
// while uncorking fails every later write too, so a broken connection shows on the next frame,
// as it would have on this one.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	held   []byte
	err    error // the first failed write
	// gorilla sets the write deadline before every frame; while corked, nothing is written, so
	// the last deadline waits here and is set once, before the write that sends the frames.
	deadline    time.Time
	deadlineSet bool
}

// SetWriteDeadline defers the deadline while corked (see deadline), and sets it otherwise.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.deadline, c.deadlineSet = t, true
		return nil
	}
	c.deadlineSet = false
	return c.Conn.SetWriteDeadline(t)
}

// applyDeadlineLocked sets a deferred deadline before a write.
func (c *corkConn) applyDeadlineLocked() {
	if c.deadlineSet {
		c.deadlineSet = false
		_ = c.Conn.SetWriteDeadline(c.deadline)
	}
}

// maxHeld bounds what a cork holds before it writes anyway. Held frames are not yet with the
// client, so they cannot be acknowledged: output that waits for acknowledgements (a resumable
// channel's replay buffer) must allow more than this, or it would wait for frames it holds.
const maxHeld = 16 << 10

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corked && len(c.held)+len(p) <= maxHeld {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	if c.corked && len(p) <= maxHeld {
		c.held = append(c.held, p...) // starts the next batch rather than going alone
		return len(p), nil
	}
	c.applyDeadlineLocked()
	n, err := c.Conn.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *corkConn) flushLocked() error {
	if len(c.held) == 0 || c.err != nil {
		return c.err
	}
	c.applyDeadlineLocked()
	_, c.err = c.Conn.Write(c.held)
	c.held = c.held[:0]
	return c.err
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was held; a nil corkConn does nothing.
func (c *corkConn) uncork() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

// Close sends what is held first, within a second: a Closed status and the close frame may be
// among it.
func (c *corkConn) Close() error {
	c.mu.Lock()
	if len(c.held) > 0 && c.err == nil {
		c.deadlineSet = false // this second replaces any deadline deferred for the held frames
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.flushLocked()
	}
	c.corked = false
	c.mu.Unlock()
	return c.Conn.Close()
}

// corkable gives the upgrader a corkConn when it hijacks the HTTP connection.
type corkable struct{ http.ResponseWriter }

func (w corkable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &corkConn{Conn: conn}, rw, nil
}

// corkOf returns conn's corkable connection, corked, or nil if it has none.
func corkOf(conn *websocket.Conn) *corkConn {
	if conn == nil {
		return nil
	}
	cc, ok := conn.NetConn().(*corkConn)
	if ok {
		cc.cork()
	}
	return cc
}

// corkOutput corks the channel's connection for a burst of frames; uncork the result after. A
// paced channel (Options.StreamRate, Options.AgentPacing) is never corked: its frames must leave
// as they are paced.
func (c *channel) corkOutput() *corkConn {
	if c.outRate != nil || c.pace != nil {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return corkOf(c.conn)
}
