package emulator

import (
	"strconv"
	"sync"
	"time"
)

// The agent's clocks, by agent version (see docs/protocol.md, Keep-alive and timeouts):
//   - a session task ends after Options.SessionLimit (the agent's 3 h), whatever the traffic;
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
