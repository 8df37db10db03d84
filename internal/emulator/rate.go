package emulator

import (
	"errors"
	"sync"
	"time"
)

// The gateway's bandwidth limit (docs/protocol.md, The Stream rate). The real gateway sets each
// side's rate with a Stream status and ends a channel that exceeds its limit with
// FlowExceedLimit; the exact threshold is unknown. Here, with Options.StreamRate set:
//   - the agent's output is paced to the rate, as the agent paces itself once told;
//   - the client's input is policed by a token bucket refilled at exactly the rate, holding one
//     second of it (at least 16 KiB). A client that honours the Stream status never empties it,
//     whatever the scheduling (data arrives no earlier than it was sent); one that ignores it
//     is cut off after about a second of excess. A transfer that survives is proof of pacing,
//     with no timing threshold in the test.
//   - frames the client stamped (Created, in ms) before the gateway announced the rate are not
//     counted: no client can honour a rate it has not been told, and one that sends at once
//     (as ecsterm does for agents that queue early input) may send a burst before the status
//     reaches it. Client and emulator share this machine's clock.

var errChannelDone = errors.New("channel closed")

// pacer spaces out writes to bits per second, with a 100 ms burst, like the client's.
type pacer struct {
	mu   sync.Mutex
	bps  float64
	free time.Time // when everything sent so far has drained
}

func newPacer(bps int) *pacer { return &pacer{bps: float64(bps)} }

// wait blocks until n more bytes fit the rate; false if done closed first. A nil pacer never waits.
func (p *pacer) wait(n int, done <-chan struct{}) bool {
	if p == nil {
		return true
	}
	p.mu.Lock()
	now := time.Now()
	if p.free.Before(now) {
		p.free = now
	}
	p.free = p.free.Add(time.Duration(float64(n*8) / p.bps * float64(time.Second)))
	delay := p.free.Sub(now) - 100*time.Millisecond
	p.mu.Unlock()
	if delay <= 0 {
		return true
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// policer is a token bucket over input bytes. It is used by the channel's read loop only.
type policer struct {
	rate   float64 // bytes per second
	size   float64 // bucket capacity in bytes
	tokens float64
	last   time.Time
	since  uint64 // Unix ms when the rate was announced; earlier frames are not counted
}

func newPolicer(bps int) *policer {
	rate := float64(bps) / 8
	size := max(rate, 16<<10)
	return &policer{rate: rate, size: size, tokens: size, last: time.Now()}
}

// announced records when the client was told the rate.
func (p *policer) announced(at time.Time) {
	if p != nil {
		p.since = uint64(at.UnixMilli())
	}
}

// allow takes n bytes of a frame the client stamped created from the bucket and reports whether
// they fitted. A nil policer allows all.
func (p *policer) allow(n int, created uint64) bool {
	if p == nil || created < p.since {
		return true
	}
	now := time.Now()
	p.tokens = min(p.size, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	p.last = now
	p.tokens -= float64(n)
	return p.tokens >= 0
}
