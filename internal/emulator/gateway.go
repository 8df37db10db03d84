package emulator

import (
	"crypto/subtle"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// The gateway side of the client protocol (session-protocol.md §3–§9). Where the reference leaves
// the real gateway's behaviour unknown, the choices here are:
//   - refusals before the upgrade (unknown session, wrong token, expired URL, connected-session
//     limit) are HTTP errors with a one-line text body, which a client must surface either way;
//   - frames to the client use the 1.01 layout with the channel id and instance id filled in, so
//     clients must decode variable-length ids (the newest official client reads the channel id);
//   - each WebSocket connection is its own agent channel (§7.2);
//   - an idle channel ends with Closed "IdleTimeout" after the agent has written the newer agent's
//     "The session has terminated." line.

var upgrader = websocket.Upgrader{ReadBufferSize: 32 << 10, WriteBufferSize: 32 << 10}

// channel is one WebSocket connection to a session: the gateway's relay plus the agent's work.
type channel struct {
	e    *Emulator
	sess *termSession
	id   string
	conn *websocket.Conn

	wmu sync.Mutex // guards writes, seq and wbuf
	seq int64
	buf []byte

	lastIn atomic.Int64 // unix nanos of the last inbound frame
	ready  chan struct{}
	done   chan struct{}
	once   sync.Once
	target agentTarget // the PTY or TCP connection; set before ready closes
}

// agentTarget is what the agent relays a channel to: a PTY or a TCP connection.
type agentTarget interface {
	io.Writer
	resize(rows, cols uint16)
	close()
}

func (e *Emulator) serveSession(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s, ok := e.lookupSession(q.Get("sessionId"))
	if !ok {
		http.Error(w, "InvalidSession.NotFound: no such session", http.StatusNotFound)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("token")), []byte(s.token)) != 1 {
		http.Error(w, "InvalidToken: the session token is wrong", http.StatusForbidden)
		return
	}
	if e.opts.Now().Sub(s.created) > e.opts.URLTTL {
		http.Error(w, "SessionUrl.Expired: the session URL has expired; start a new session", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		http.Error(w, "InvalidSession.Ended: the session has ended", http.StatusGone)
		return
	}
	if n := e.connectedOn(s.instance.ID, s); n >= e.opts.SessionsPerInstance {
		http.Error(w, "InstanceSessionQuota.ExceedLimit: the instance has "+strconv.Itoa(n)+" connected sessions, the most allowed", http.StatusForbidden)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &channel{e: e, sess: s, id: "c-" + randHex(10), conn: conn, ready: make(chan struct{}), done: make(chan struct{})}
	c.lastIn.Store(time.Now().UnixNano())
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.channels[c] = struct{}{}
	s.mu.Unlock()
	e.wg.Add(1)
	go c.run()
}

// connectedOn counts the sessions on instance id that have a live channel, other than self.
func (e *Emulator) connectedOn(id string, self *termSession) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, s := range e.sessions {
		if s != self && s.instance.ID == id && s.connected() {
			n++
		}
	}
	return n
}

func (c *channel) run() {
	defer c.e.wg.Done()
	defer func() {
		c.sess.mu.Lock()
		delete(c.sess.channels, c)
		c.sess.mu.Unlock()
	}()
	go c.readLoop()
	go c.idleWatch()
	if a := c.sess.instance.Agent; a == nil || !a.Online {
		select {
		case <-time.After(c.e.opts.AgentTimeout):
			c.shutdown("AgentTimeout")
		case <-c.done:
		}
		return
	}
	select {
	case <-time.After(c.e.opts.AgentStartDelay):
	case <-c.done:
		return
	}
	var err error
	if c.sess.port != 0 {
		err = c.startPort()
	} else {
		err = c.startShell()
	}
	if err != nil {
		c.e.log.Debug("agent start failed", "channel", c.id, "err", err)
		reason := "OpenPtyFailed"
		if c.sess.port != 0 {
			reason = "OpenChannelFailed"
		}
		c.shutdown(reason)
		return
	}
	// A shutdown that raced the start found no target to close; close it here (twice is harmless).
	select {
	case <-c.done:
		c.target.close()
	default:
	}
	<-c.done
}

// send writes one frame to the client.
func (c *channel) send(t session.MessageType, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	c.buf, err = session.AppendFrame(c.buf[:0], session.Header{Type: t, ChannelID: c.id, InstanceID: c.sess.instance.ID,
		Created: uint64(time.Now().UnixMilli()), Seq: c.seq}, payload)
	if err != nil {
		return err
	}
	c.seq++
	_ = c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.conn.WriteMessage(websocket.BinaryMessage, c.buf)
}

// output sends data as Output frames of at most max bytes each.
func (c *channel) output(data []byte, max int) error {
	for len(data) > 0 {
		n := min(len(data), max)
		if err := c.send(session.TypeOutput, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// shutdown ends the channel once: a Closed status with reason, a normal close, the agent side gone.
func (c *channel) shutdown(reason string) {
	c.once.Do(func() {
		_ = c.send(session.TypeStatus, session.AppendStatus(nil, session.StateClosed, reason))
		c.wmu.Lock()
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(time.Second))
		c.wmu.Unlock()
		close(c.done)
		c.conn.Close()
		select {
		case <-c.ready:
			c.target.close()
		default:
		}
	})
}

func (c *channel) readLoop() {
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.shutdown("Exit")
			return
		}
		c.lastIn.Store(time.Now().UnixNano())
		f, err := session.Decode(msg)
		if err != nil {
			c.shutdown("ProcessDataError")
			return
		}
		select {
		case <-c.ready:
		default:
			// The agent has no PTY or socket yet: like older agents, drop what arrives (§7.1).
			continue
		}
		switch f.Type {
		case session.TypeInput:
			if len(f.Payload) > 0 { // empty input is a keep-alive
				if _, err := c.target.Write(f.Payload); err != nil {
					c.shutdown("Exit")
					return
				}
			}
		case session.TypeResize:
			if rows, cols, err := session.ParseResize(f.Payload); err == nil {
				c.target.resize(rows, cols)
			}
		case session.TypeClose:
			c.shutdown("Exit")
			return
		}
	}
}

func (c *channel) idleWatch() {
	limit := c.e.opts.IdleTimeout
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			idle := time.Since(time.Unix(0, c.lastIn.Load()))
			if idle >= limit {
				_ = c.output([]byte("The session has terminated. IdleTimeout: no data received for "+limit.String()+"\n"), 1024)
				c.shutdown("IdleTimeout")
				return
			}
			t.Reset(limit - idle)
		}
	}
}

// startPort connects a port session. The emulated VPC is this machine: every TargetServer is
// reached on 127.0.0.1, so nothing leaves loopback.
func (c *channel) startPort() error {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.sess.port)), 10*time.Second)
	if err != nil {
		return err
	}
	c.target = tcpTarget{conn}
	close(c.ready)
	c.e.wg.Add(1) // Close waits for the relay, which ends when the target connection closes
	go func() {
		defer c.e.wg.Done()
		buf := make([]byte, 2048) // the agent's port-forward frame size (§6.1)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if c.output(buf[:n], 2048) != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.shutdown("Exit")
	}()
	return nil
}

type tcpTarget struct{ net.Conn }

func (tcpTarget) resize(uint16, uint16) {}
func (t tcpTarget) close()              { t.Conn.Close() }
