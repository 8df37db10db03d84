package emulator

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// The gateway side of the client protocol (docs/protocol.md). Where the reference leaves
// the real gateway's behaviour unknown, the choices here are:
//   - refusals before the upgrade (unknown session, wrong token, expired URL, connected-session
//     limit) are HTTP errors with a one-line text body, which a client must surface either way;
//   - frames to the client use the 1.01 layout with the channel id and instance id filled in, so
//     clients must decode variable-length ids (the newest official client reads the channel id);
//   - each WebSocket connection is its own agent channel (docs/protocol.md, Port forwarding), and the connected-session limit
//     per instance counts channels, not sessions: whether the real service counts a URL dialled
//     twice once or twice is unknown, and counting twice is the stricter of the two, so a client
//     that copes here copes there;
//   - an idle channel ends with Closed "IdleTimeout", a channel at the agent's session limit with
//     Closed "SessionTimeout"; before either, a newer agent's shell writes its "The session has
//     terminated." line, and no port stream ever carries it (agentlife.go);
//   - input that arrives before the agent has its PTY or TCP connection is dropped, as the agents
//     up to AGT-578 and shell sessions do, except on port sessions of agents later than
//     2.2.3.578, which wait up to 10 s for their connection and so hold the input;
//   - every frame the agent routes to a port plugin (input, empty keep-alives, resizes) first
//     re-dials a target that closed, on agents up to 2.2.3.578; later agents end the channel
//     when the target closes (agentport.go);
//   - with Options.StreamRate set, a Stream status at channel open sets the client's rate, the
//     agent's output is paced to it, and input beyond it ends the channel with FlowExceedLimit
//     (rate.go);
//   - frames carry real schema 1.02 sequence numbers unless the client has shown itself to be
//     1.01, and a 1.02 channel survives a dropped WebSocket (reattach.go).

var upgrader = websocket.Upgrader{ReadBufferSize: 32 << 10, WriteBufferSize: 32 << 10}

// channel is one agent channel of a session: the gateway's relay plus the agent's work. It starts
// with one WebSocket connection; a 1.02 client may resume it on another (reattach.go).
type channel struct {
	e    *Emulator
	sess *termSession
	id   string

	wmu  sync.Mutex      // guards conn, writes, seq, buf and the resume fields below
	conn *websocket.Conn // nil while detached
	seq  int64           // 1.01 frame counter
	buf  []byte

	// Resume (reattach.go). Guarded by wmu unless atomic.
	schema     atomic.Int32 // what the client's frames say: schemaUnknown, schema101, schema102
	rp         replay       // Output frames kept until acknowledged
	lastInSeq  atomic.Uint32
	awaitSync  bool         // resumed: output waits for the client's Sync
	detachT    *time.Timer  // ends a detached channel
	endReason  string       // the agent side ended while detached: end after the replay
	outBytes   int64        // Output payload bytes written, for CutAfterBytes
	cut        bool         // CutAfterBytes has cut this channel
	gapAsked   bool         // reader only: a Sync went out for a gap in the input
	inSinceAck atomic.Int64 // input bytes received since a frame last carried the acknowledgement

	lastIn  atomic.Int64 // unix nanos of the last inbound frame
	outRate *pacer       // paces output to Options.StreamRate; nil for no limit
	pace    *framePacer  // the agent's own pacing (agentlife.go); nil for none
	inRate  *policer     // polices input against Options.StreamRate; nil for no limit
	ready   chan struct{}
	done    chan struct{}
	once    sync.Once
	target  agentTarget // the PTY or TCP connection; set before ready closes
}

// agentTarget is what the agent relays a channel to: a PTY or a TCP connection.
type agentTarget interface {
	io.Writer
	resize(rows, cols uint16)
	close()
}

func (e *Emulator) serveSession(w http.ResponseWriter, r *http.Request) {
	if e.down.Load() {
		http.Error(w, "ServiceUnavailable: the session gateway is restarting", http.StatusServiceUnavailable)
		return
	}
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
	if q.Has("channelId") {
		e.resumeChannel(w, r, s, q.Get("channelId"))
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
	if n := e.connectedOn(s.instance.ID); n >= e.opts.SessionsPerInstance {
		http.Error(w, "InstanceSessionQuota.ExceedLimit: the instance has "+strconv.Itoa(n)+" connected sessions, the most allowed", http.StatusForbidden)
		return
	}
	conn, err := upgrader.Upgrade(corkable{w}, r, nil)
	if err != nil {
		return
	}
	c := &channel{e: e, sess: s, id: "c-" + randHex(10), conn: conn, ready: make(chan struct{}), done: make(chan struct{})}
	c.rp.init(e.replayLimit())
	if e.opts.StreamRate > 0 {
		c.outRate, c.inRate = newPacer(e.opts.StreamRate), newPolicer(e.opts.StreamRate)
	}
	c.pace = c.newFramePacer()
	c.lastIn.Store(time.Now().UnixNano())
	// Close waits for the channels; one upgraded while Close runs (Shutdown does not wait for
	// hijacked connections) must not be added to the WaitGroup after Close began waiting on it.
	e.cmu.Lock()
	if e.closing {
		e.cmu.Unlock()
		conn.Close()
		return
	}
	e.wg.Add(1)
	e.cmu.Unlock()
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		conn.Close()
		e.wg.Done()
		return
	}
	s.channels[c] = struct{}{}
	s.mu.Unlock()
	go c.run(conn)
}

// connectedOn counts the live channels on instance id, over all its sessions.
func (e *Emulator) connectedOn(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, s := range e.sessions {
		if s.instance.ID == id {
			s.mu.Lock()
			n += len(s.channels)
			s.mu.Unlock()
		}
	}
	return n
}

func (c *channel) run(conn *websocket.Conn) {
	defer c.e.wg.Done()
	defer func() {
		c.sess.mu.Lock()
		delete(c.sess.channels, c)
		c.sess.mu.Unlock()
	}()
	if c.outRate != nil {
		// The gateway tells the client its rate as the channel opens (docs/protocol.md, The Stream rate).
		c.inRate.announced(time.Now())
		_ = c.send(session.TypeStatus, session.AppendRate(nil, uint32(min(c.e.opts.StreamRate, 1<<32-1))))
	}
	go c.readLoop(conn)
	go c.idleWatch()
	go c.limitWatch()
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

// send writes one frame other than Output to the client; while detached there is nobody to
// send it to.
func (c *channel) send(t session.MessageType, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.conn == nil {
		return nil
	}
	return c.writeLocked(t, c.rp.last(), payload)
}

// writeLocked writes one frame in the client's layout (reattach.go); the caller holds wmu and has
// checked that conn is set.
func (c *channel) writeLocked(t session.MessageType, outSeq uint32, payload []byte) error {
	return c.writeSeqsLocked(t, c.lastInSeq.Load(), outSeq, payload)
}

// writeSeqsLocked is writeLocked with the 1.02 inputSeq given.
func (c *channel) writeSeqsLocked(t session.MessageType, inSeq, outSeq uint32, payload []byte) error {
	h := session.Header{Type: t, ChannelID: c.id, InstanceID: c.sess.instance.ID, Created: uint64(time.Now().UnixMilli())}
	if c.schema.Load() == schema101 {
		h.Seq = c.seq
	} else {
		h.Version, h.InputSeq, h.OutputSeq = session.V102, inSeq, outSeq
	}
	var err error
	c.buf, err = session.AppendFrame(c.buf[:0], h, payload)
	if err != nil {
		return err
	}
	c.inSinceAck.Store(0)
	c.seq++
	_ = c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.conn.WriteMessage(websocket.BinaryMessage, c.buf)
}

// output sends data as Output frames of at most max bytes each, at the Stream rate if one is set.
func (c *channel) output(data []byte, max int) error {
	for len(data) > 0 {
		n := min(len(data), max)
		if !c.outRate.wait(n, c.done) || !c.pace.wait(c.done) {
			return errChannelDone
		}
		if err := c.sendOutput(data[:n]); err != nil {
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
		conn := c.conn
		if conn != nil {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(time.Second))
		}
		if c.detachT != nil {
			c.detachT.Stop()
		}
		close(c.done) // under wmu: a resume that sees done open attaches to a live channel
		c.wmu.Unlock()
		if conn != nil {
			// A lingering close: the reader drains what the client still sends until it hangs
			// up. Closing a socket with unread data in it sends a reset, which can destroy the
			// status and close frame above before the client reads them.
			time.AfterFunc(lingerClose, func() { conn.Close() })
		}
		c.rp.shut()
		select {
		case <-c.ready:
			c.target.close()
		default:
		}
	})
}

// lingerClose bounds how long an ended channel's connection is drained before it is closed.
const lingerClose = time.Second

// readLoop reads one connection of the channel until it fails or is replaced.
func (c *channel) readLoop(conn *websocket.Conn) {
	for {
		_, msg, err := conn.ReadMessage()
		if c.isDone() {
			if err != nil {
				conn.Close()
				return
			}
			continue // draining an ended channel's connection (shutdown)
		}
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) && c.current(conn) {
				c.shutdown("Exit") // the client said goodbye: nothing to resume
				return
			}
			c.drop(conn)
			return
		}
		c.lastIn.Store(time.Now().UnixNano())
		f, err := session.Decode(msg)
		if err != nil {
			c.shutdown("ProcessDataError")
			return
		}
		if !c.sequenced(conn, &f) {
			continue // a duplicate, a gap, or a Sync: handled
		}
		if !c.agentReady() {
			continue // dropped, as the agent has nowhere to put it
		}
		switch f.Type {
		case session.TypeInput:
			if !c.inRate.allow(len(f.Payload), f.Created) {
				c.shutdown("FlowExceedLimit")
				return
			}
			// Empty input is a keep-alive; the agent routes it to a port plugin like any input
			// (agentport.go), while a PTY has nothing to do with it.
			if len(f.Payload) > 0 || c.sess.port != 0 {
				if _, err := c.target.Write(f.Payload); err != nil {
					c.shutdown("Exit")
					return
				}
			}
		case session.TypeResize:
			if rows, cols, err := session.ParseResize(f.Payload); err == nil {
				c.target.resize(rows, cols)
			}
		case session.TypeStatus:
			// The agent routes a client's status frames to the plugin too; a port plugin whose
			// target closed re-dials it first (agentport.go).
			if t, ok := c.target.(*tcpTarget); ok {
				_ = t.frame()
			}
		case session.TypeClose:
			c.shutdown("Exit")
			return
		}
	}
}
