package emulator

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The agent's port plugin, by agent version (see docs/protocol.md, Port forwarding):
//   - AGT-578 (agents up to 2.2.3.578): when the read from the target fails (end of file or an
//     error) the plugin closes its socket and waits. Nothing reaches the client: no status, no
//     close. The next frame routed to the plugin (input, an empty keep-alive, a resize, a status) first
//     re-dials the target, a new TCP connection, and is then handled. A re-dial that fails ends
//     the plugin. Input that arrives before the first connection exists is dropped.
//   - AGT-NEW (later agents): when the read from the target fails the plugin ends, and with it
//     the session; the agent closes its channel. Which status the gateway then sends the client
//     is not known; the emulator sends Closed "Exit". Input that arrives before the first
//     connection waits for it, up to 10 s.
//
// Options.PortCloseEndsChannel makes AGT-578 end the channel too, as the emulator did before it
// followed the sources: invented, off by default. Options.LaterAgentsRedial gives later agents
// AGT-578's re-dial, as some later versions have.

// errTargetGone is a re-dial of the target that failed: the plugin ends.
var errTargetGone = errors.New("re-dialling the target failed")

// tcpTarget is the plugin's connection to TargetServer:PortNumber.
type tcpTarget struct {
	c    *channel
	addr string

	mu     sync.Mutex
	conn   net.Conn
	redial bool          // the read failed and the socket is closed: the next frame re-dials
	next   chan net.Conn // hands a re-dialled connection to the relay
	closed bool
	// cancelled is the reason the agent cancelled the session (its idle limit) while the target
	// was connected: the plugin ends with it when the target's read next fails, not before.
	cancelled string
}

// startPort connects a port session. The emulated VPC is this machine: every TargetServer is
// reached on 127.0.0.1, so nothing leaves loopback.
func (c *channel) startPort() error {
	t := &tcpTarget{c: c, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.sess.port)), next: make(chan net.Conn, 1)}
	conn, err := t.dial()
	if err != nil {
		return err
	}
	t.conn = conn
	c.target = t
	close(c.ready)
	c.e.wg.Add(1) // Close waits for the relay, which ends when the target connection closes
	go func() {
		defer c.e.wg.Done()
		c.agentEnded(t.relay(conn))
	}()
	return nil
}

// dial opens a connection to the target and counts it (TargetDials).
func (t *tcpTarget) dial() (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", t.addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	t.c.e.countDial(t.c.sess.port)
	return conn, nil
}

// relay sends what the target says to the client until the plugin ends, and returns the reason.
func (t *tcpTarget) relay(conn net.Conn) string {
	c := t.c
	waits := t.waits()
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			// Frames of the agent's port-forward size, one write for all of them; a failed
			// write fails the next frame's.
			cc := c.corkOutput()
			oerr := c.output(buf[:n], 2048)
			_ = cc.uncork()
			if oerr != nil {
				return "Exit"
			}
		}
		if err == nil {
			continue
		}
		if !waits {
			return "Exit"
		}
		// AGT-578: close the socket and wait for the next frame to re-dial.
		t.mu.Lock()
		conn.Close()
		if t.closed {
			t.mu.Unlock()
			return "Exit"
		}
		if reason := t.cancelled; reason != "" {
			t.mu.Unlock()
			return reason
		}
		t.redial = true
		t.mu.Unlock()
		c.e.log.Debug("agent: target closed; waiting to re-dial on the next frame", "channel", c.id)
		select {
		case conn = <-t.next:
			if conn == nil {
				return "Exit"
			}
		case <-c.done:
			return "Exit"
		}
	}
}

// waits reports whether the plugin outlives its target, to re-dial it on the next frame.
func (t *tcpTarget) waits() bool {
	o := t.c.e.opts
	return !o.PortCloseEndsChannel && (o.LaterAgentsRedial || !agentAfter(t.c.sess.instance.Agent, queuingAgent))
}

// cancel is the agent cancelling the session (its idle limit) on a plugin that waits. 2.2.3.578
// hands the cancellation to the plugin on an unbuffered channel that only the wait to re-dial
// receives: a plugin waiting to re-dial ends now (cancel returns false, for the caller to end the
// channel), one whose target is connected goes on, and ends with reason when the target's read
// next fails, without re-dialling.
func (t *tcpTarget) cancel(reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.redial || t.closed {
		return false
	}
	t.cancelled = reason
	return true
}

// frame is called for every frame the agent routes to the plugin (input, keep-alive, resize):
// after the target closed, AGT-578 re-dials it first.
func (t *tcpTarget) frame() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.redial || t.closed {
		return nil
	}
	t.redial = false
	conn, err := t.dial()
	if err != nil {
		t.next <- nil
		return errTargetGone
	}
	t.c.e.log.Debug("agent: re-dialled the target", "channel", t.c.id)
	t.conn = conn
	t.next <- conn
	return nil
}

func (t *tcpTarget) Write(b []byte) (int, error) {
	if err := t.frame(); err != nil {
		return 0, err
	}
	t.mu.Lock()
	conn := t.conn
	t.mu.Unlock()
	if len(b) == 0 {
		return 0, nil
	}
	n, err := conn.Write(b)
	if err != nil && t.waits() {
		// AGT-578 logs a failed write to its target and drops the frame; the session goes on,
		// and the failed read that follows leaves the plugin waiting to re-dial.
		t.c.e.log.Debug("agent: writing to the target failed; frame dropped", "channel", t.c.id, "err", err)
		return len(b), nil
	}
	return n, err
}

// resize is routed to the plugin like any frame (AGT-578 sessionchannel.go): a port has no
// window, but a closed target is re-dialled.
func (t *tcpTarget) resize(uint16, uint16) { _ = t.frame() }

func (t *tcpTarget) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.conn.Close()
}

func (e *Emulator) countDial(port int) {
	n, _ := e.dials.LoadOrStore(port, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

// TargetDials reports how many TCP connections the agents opened to port on their instances:
// first connections and re-dials alike.
func (e *Emulator) TargetDials(port int) int {
	if n, ok := e.dials.Load(port); ok {
		return int(n.(*atomic.Int64).Load())
	}
	return 0
}
