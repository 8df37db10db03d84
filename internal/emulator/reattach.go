package emulator

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// The gateway's side of schema 1.02 and resume (docs/protocol.md §13), and the fault
// injections that exercise it. The reference leaves the real gateway's side of resume inferred or
// unknown; the choices here:
//   - The client's schema is what its frames' version field says (docs/protocol.md §13.6). Until
//     the client has spoken, frames carry real 1.02 seqs (a 1.01 reader ignores those bytes,
//     docs/protocol.md §7.4), so a 1.02 client's first Output is already numbered; once a client
//     shows 1.01, frames are 1.01 with a frame counter, as before, and nothing is kept for replay.
//   - Output is numbered from 1; every frame's inputSeq acknowledges the last in-order client
//     Input or Resize. Client frames at or below it are duplicates of a resend and are dropped;
//     one past a gap is dropped and answered with a Sync naming the input wanted. Input that no
//     Output has acknowledged is acknowledged by a Sync every ackInputEvery bytes, so that a
//     client's bounded queue does not fill during an upload that prints nothing (whether the
//     real gateway does this is unknown; WEB's queue is unbounded).
//   - Unacknowledged Output is kept for replay, bounded by Options.ReplayLimit: when full, the
//     agent's output waits (the PTY or TCP connection is not read), so nothing is lost. Before
//     the client's schema is known, a full buffer waits only unknownWait for the client to
//     speak (a 1.01 client that stays silent must not stall); past it the channel gives up on
//     replay and cannot be resumed.
//   - A WebSocket that drops without a normal close (1000/1001) detaches a channel that is not
//     1.01: the agent side stays up for Options.DetachTimeout (60 s by default; the real value
//     is unknown), then the channel ends. If the agent side ends while detached, the end waits
//     for the client to collect the output first.
//   - A WebSocket with &channelId= and the session's token attaches to a live channel, even past
//     the URL's 10 minutes (WEB reuses the token; whether the real gateway allows it is unknown),
//     and takes over from a connection the gateway still thinks live (the client saw a drop the
//     gateway did not). On the client's Sync the gateway sends a Sync naming the next input it
//     wants, replays the Outputs after the client's outputSeq, and sends Opened (docs/protocol.md
//     §13.4 step 6, inferred). An unknown, ended, 1.01 or unreplayable channel is refused with 404.

// Client schemas, from the version field of the client's first frame.
const (
	schemaUnknown int32 = iota
	schema101
	schema102
)

const (
	defaultDetachTimeout = 60 * time.Second
	defaultReplayLimit   = 16 << 20
	ackInputEvery        = 128 << 10
	unknownWait          = time.Second
)

func (e *Emulator) detachTimeout() time.Duration {
	if e.opts.DetachTimeout > 0 {
		return e.opts.DetachTimeout
	}
	return defaultDetachTimeout
}

func (e *Emulator) replayLimit() int {
	if e.opts.ReplayLimit > 0 {
		return e.opts.ReplayLimit
	}
	return defaultReplayLimit
}

// sendOutput numbers one Output frame, keeps it for replay and writes it if a client is attached.
func (c *channel) sendOutput(p []byte) error {
	if !c.rp.waitRoom(len(p), &c.schema) {
		return errChannelDone
	}
	c.wmu.Lock()
	seq := c.rp.add(p, c.schema.Load() == schemaUnknown)
	conn := c.conn
	if conn == nil || c.awaitSync {
		c.wmu.Unlock()
		return nil // kept: the replay delivers it
	}
	err := c.writeLocked(session.TypeOutput, seq, p)
	c.outBytes += int64(len(p))
	cut := err == nil && c.e.opts.CutAfterBytes > 0 && !c.cut && c.outBytes >= c.e.opts.CutAfterBytes
	c.cut = c.cut || cut
	c.wmu.Unlock()
	if err != nil || cut {
		if cut {
			c.e.log.Debug("fault injection: cutting the connection", "channel", c.id, "after", c.outBytes)
		}
		resumable := c.drop(conn)
		if err != nil && !resumable {
			return err
		}
	}
	return nil
}

// drop handles the loss of conn (a read or write failed, or a fault was injected): a channel that
// may be resumed is detached, any other ends. It reports whether the channel was kept. A conn
// that is no longer the channel's (replaced by a resume) changes nothing.
func (c *channel) drop(conn *websocket.Conn) bool {
	conn.Close()
	c.wmu.Lock()
	if c.conn != conn || c.isDone() {
		c.wmu.Unlock()
		return true
	}
	if c.schema.Load() == schema101 || c.rp.unreplayable() {
		c.wmu.Unlock()
		c.shutdown("Exit")
		return false
	}
	c.conn, c.awaitSync = nil, false
	select {
	case <-c.done:
	default:
		if c.detachT == nil {
			c.detachT = time.AfterFunc(c.e.detachTimeout(), c.detachExpired)
		}
	}
	c.wmu.Unlock()
	c.e.log.Debug("channel detached", "channel", c.id)
	return true
}

func (c *channel) detachExpired() {
	c.wmu.Lock()
	attached := c.conn != nil
	reason := c.endReason
	c.wmu.Unlock()
	if attached {
		return
	}
	if reason == "" {
		reason = "Exit"
	}
	c.e.log.Debug("detached channel expired", "channel", c.id)
	c.shutdown(reason)
}

// agentEnded ends the channel when its program exits or its TCP connection closes, unless no
// client is there to be told: then the end waits for a resume to collect the output first, or
// for the detach timeout.
func (c *channel) agentEnded(reason string) {
	c.wmu.Lock()
	if (c.conn == nil || c.awaitSync) && c.schema.Load() != schema101 && !c.rp.unreplayable() {
		c.endReason = reason
		c.wmu.Unlock()
		return
	}
	c.wmu.Unlock()
	c.shutdown(reason)
}

// sequenced applies the 1.02 rules to a client frame and reports whether it goes on to the agent.
func (c *channel) sequenced(conn *websocket.Conn, f *session.Frame) bool {
	if c.schema.Load() == schemaUnknown {
		if f.Is102() {
			c.schema.CompareAndSwap(schemaUnknown, schema102)
			c.rp.wake()
		} else if c.schema.CompareAndSwap(schemaUnknown, schema101) {
			c.rp.disable()
		}
	}
	if c.schema.Load() != schema102 {
		return true
	}
	if f.OutputSeq <= c.rp.last() { // more than was sent is nonsense
		c.rp.ackThrough(f.OutputSeq)
	}
	switch f.Type {
	case session.TypeSync:
		c.clientSync(conn, f)
		return false
	case session.TypeInput, session.TypeResize:
		last := c.lastInSeq.Load()
		switch {
		case f.InputSeq == last+1:
			c.lastInSeq.Store(f.InputSeq)
			c.gapAsked = false
			if c.inSinceAck.Add(int64(len(f.Payload))) >= ackInputEvery {
				c.wmu.Lock()
				if c.conn == conn && !c.awaitSync {
					_ = c.writeSync()
				}
				c.wmu.Unlock()
			}
			return true
		case f.InputSeq > last+1:
			if !c.gapAsked {
				c.gapAsked = true
				c.wmu.Lock()
				if c.conn == conn {
					_ = c.writeSync()
				}
				c.wmu.Unlock()
			}
		}
		return false // a duplicate of a resend, or past a gap
	}
	return true
}

// clientSync answers a client's Sync: a Sync naming the next input wanted, the Outputs after the
// client's outputSeq, and Opened if this connection is a resume.
func (c *channel) clientSync(conn *websocket.Conn, f *session.Frame) {
	c.wmu.Lock()
	if c.conn != conn {
		c.wmu.Unlock()
		return
	}
	err := c.writeSync()
	for _, o := range c.rp.after(f.OutputSeq) {
		if err != nil {
			break
		}
		err = c.writeLocked(session.TypeOutput, o.seq, o.payload)
	}
	resumed := c.awaitSync
	c.awaitSync = false
	if err == nil && resumed {
		err = c.writeLocked(session.TypeStatus, c.rp.last(), []byte{byte(session.StateOpened)})
	}
	reason := c.endReason
	c.wmu.Unlock()
	if err != nil {
		c.drop(conn)
		return
	}
	if reason != "" {
		c.shutdown(reason) // the agent side ended while detached; the client has everything now
	}
}

// writeSync writes a Sync whose inputSeq names the next input wanted, where every other frame's
// acknowledges the last one received (docs/protocol.md §13.2); the caller holds wmu.
func (c *channel) writeSync() error {
	return c.writeSeqsLocked(session.TypeSync, c.lastInSeq.Load()+1, c.rp.last(), nil)
}

// current reports whether conn is the channel's connection.
func (c *channel) current(conn *websocket.Conn) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn == conn
}

// resumeChannel attaches a new WebSocket to the channel named by &channelId=.
func (e *Emulator) resumeChannel(w http.ResponseWriter, r *http.Request, s *termSession, id string) {
	s.mu.Lock()
	var c *channel
	for ch := range s.channels {
		if ch.id == id {
			c = ch
		}
	}
	s.mu.Unlock()
	if c == nil || c.schema.Load() == schema101 || c.rp.unreplayable() || c.isDone() {
		http.Error(w, "InvalidChannel.NotFound: channel "+id+" has ended or cannot be resumed", http.StatusNotFound)
		return
	}
	conn, err := upgrader.Upgrade(corkable{w}, r, nil)
	if err != nil {
		return
	}
	c.wmu.Lock()
	if c.isDone() {
		c.wmu.Unlock()
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "Exit"), time.Now().Add(time.Second))
		conn.Close()
		return
	}
	old := c.conn
	c.conn, c.awaitSync = conn, true
	if c.detachT != nil {
		c.detachT.Stop()
		c.detachT = nil
	}
	c.wmu.Unlock()
	if old != nil {
		old.Close() // its reader finds itself replaced and changes nothing
	}
	c.lastIn.Store(time.Now().UnixNano())
	e.log.Debug("channel resumed", "channel", c.id)
	go c.readLoop(conn)
}

func (c *channel) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// channels returns every channel of every session.
func (e *Emulator) channels() []*channel {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*channel
	for _, s := range e.sessions {
		s.mu.Lock()
		for c := range s.channels {
			out = append(out, c)
		}
		s.mu.Unlock()
	}
	return out
}

// CutConnections closes every client WebSocket abruptly, with no close frame (the client sees
// 1006), as a network change would. Channels a client may resume stay up, detached.
func (e *Emulator) CutConnections() {
	for _, c := range e.channels() {
		c.wmu.Lock()
		conn := c.conn
		c.wmu.Unlock()
		if conn != nil {
			c.drop(conn)
		}
	}
}

// RestartGateway closes every client WebSocket with 1012 "service restart", as a gateway that
// restarts does (docs/protocol.md §13.4); the agents' channels stay up, detached, for clients
// to resume.
func (e *Emulator) RestartGateway() {
	for _, c := range e.channels() {
		c.wmu.Lock()
		conn := c.conn
		if conn != nil {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "service restart"), time.Now().Add(time.Second))
		}
		c.wmu.Unlock()
		if conn != nil {
			c.drop(conn)
		}
	}
}

// SetGatewayDown makes the gateway answer every WebSocket request with 503 while down is true,
// as a gateway that is away would (a load balancer in front of it answers). The API still works.
func (e *Emulator) SetGatewayDown(down bool) { e.down.Store(down) }
