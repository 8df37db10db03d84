package emulator

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// The agent's clocks, by agent version (see docs/protocol.md, Keep-alive and timeouts):
//   - a session task ends after Options.SessionLimit (the agent's 3 h), whatever the traffic;
//   - the idle limit (Options.IdleTimeout, 180 s without a frame from the client) ends the
//     session, except on AGT-578's port plugin while its target is connected: that one ends
//     when the target next closes, without re-dialling (agentport.go, cancel);
//   - when a shell session ends with an error (IdleTimeout, SessionTimeout), the newer agent
//     writes one last line into the output stream, "The session has terminated. <Code>: <Info>",
//     before it closes; AGT-578 writes nothing, and no agent writes it into a port stream: a port
//     plugin only ever sends what it read from its target;
//   - with Options.AgentPacing and no Stream rate, output is paced as the agent's defaults: shell
//     frames of up to 1024 B every 40 ms, port frames of up to 2048 B every 83 ms.
// The status the gateway sends the client for a session the agent ended on its limit is not
// known; the emulator sends Closed "SessionTimeout". The <Info> texts are the emulator's.

// Agent pacing defaults: the interval between output frames.
const (
	shellPaceInterval = 40 * time.Millisecond
	portPaceInterval  = 83 * time.Millisecond
)

// defaultSessionLimit is the agent's sessionTimeoutSecond.
const defaultSessionLimit = 3 * time.Hour

// framePacer spaces frames by a fixed interval, as the agent's write pumps sleep after each send.
type framePacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// newFramePacer returns the agent's own pacer for a channel, nil where it does not pace: pacing
// is off, or a Stream rate paces instead.
func (c *channel) newFramePacer() *framePacer {
	if !c.e.opts.AgentPacing || c.outRate != nil {
		return nil
	}
	if c.sess.port != 0 {
		return &framePacer{interval: portPaceInterval}
	}
	return &framePacer{interval: shellPaceInterval}
}

// wait blocks until the next frame may go; false if done closed first. A nil pacer never waits.
func (p *framePacer) wait(done <-chan struct{}) bool {
	if p == nil {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if d := p.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
			return false
		}
		now = p.next
	}
	p.next = now.Add(p.interval)
	return true
}

// newerAgent reports whether the channel's agent is later than AGT-578.
func (c *channel) newerAgent() bool { return agentAfter(c.sess.instance.Agent, queuingAgent) }

// terminated ends the channel for an agent-side error: the newer agent's last line into a shell's
// output first, never into a port's.
func (c *channel) terminated(code, info string) {
	if c.sess.port == 0 && c.newerAgent() {
		_ = c.output([]byte("The session has terminated. "+code+": "+info+"\n"), maxShellFrame)
	}
	c.shutdown(code)
}

// limitWatch ends the channel at the agent's session limit.
func (c *channel) limitWatch() {
	limit := c.e.opts.SessionLimit
	if limit <= 0 {
		limit = defaultSessionLimit
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.terminated("SessionTimeout", "the session exceeded "+strconv.Itoa(int(limit.Seconds()))+" seconds")
	}
}

// earlyInputWait is how long an agent that waits for its connection to the target holds input
// that arrived before it (AGT-NEW port.go: 10 s).
const earlyInputWait = 10 * time.Second

// queuingAgent is the last agent version that drops port input arriving before its TCP
// connection (AGT-578); later ones wait for the connection.
var queuingAgent = [4]int{2, 2, 3, 578}

// agentReady reports whether the agent can take a frame now. Before its PTY or TCP connection
// exists, shell sessions and older agents drop what arrives; port sessions on
// newer agents wait for the connection, up to earlyInputWait. Waiting here stops reading the
// WebSocket, so what the client sends meanwhile queues in the socket buffers: bounded, and
// nothing is lost.
func (c *channel) agentReady() bool {
	select {
	case <-c.ready:
		return true
	default:
	}
	if c.sess.port == 0 || !agentAfter(c.sess.instance.Agent, queuingAgent) {
		return false
	}
	t := time.NewTimer(earlyInputWait)
	defer t.Stop()
	select {
	case <-c.ready:
		return true
	case <-c.done:
	case <-t.C:
	}
	return false
}

// agentAfter reports whether the agent's dotted version is later than min.
func agentAfter(a *Agent, min [4]int) bool {
	if a == nil {
		return false
	}
	parts := strings.Split(a.Version, ".")
	for i, m := range min {
		if i >= len(parts) {
			return false
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return false
		}
		if n != m {
			return n > m
		}
	}
	return len(parts) > len(min)
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
				if c.portOutlivesIdle() {
					c.e.log.Debug("agent: idle limit passed; the plugin ends when its target closes", "channel", c.id)
					return
				}
				c.terminated("IdleTimeout", "no data received for "+limit.String())
				return
			}
			t.Reset(limit - idle)
		}
	}
}

// portOutlivesIdle reports whether the idle limit leaves the channel open: a port plugin that
// waits to re-dial (AGT-578) and whose target is connected (agentport.go, cancel).
func (c *channel) portOutlivesIdle() bool {
	select {
	case <-c.ready:
	default:
		return false
	}
	t, ok := c.target.(*tcpTarget)
	return ok && t.waits() && t.cancel("IdleTimeout")
}
