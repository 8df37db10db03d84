package session

import (
	"context"
	"sync"
	"time"
)

// pacer holds input to the rate the gateway set with a Stream status. Without one it never waits:
// ecsterm adds no pacing of its own. It keeps a virtual clock of when the link is free again, so
// short bursts (keystrokes) go out at once and only sustained input is slowed.
type pacer struct {
	mu   sync.Mutex
	bps  uint64    // bits per second; 0 means unlimited
	free time.Time // when everything sent so far has drained at bps
	// onDelay is told the rate the first time a wait is needed (Options.OnPaced); told
	// remembers that it was.
	onDelay func(bps uint64)
	told    bool
	held    time.Duration // how long input has waited in all
}

// burst is how far ahead of the rate the pacer lets a sender get.
const burst = 100 * time.Millisecond

// tellAfter is how long input must have waited in all before onDelay hears of it: a paste that
// waits a moment is not worth a line across someone's screen; a transfer held back for seconds is.
const tellAfter = time.Second

func (p *pacer) setRate(bps uint64) {
	p.mu.Lock()
	p.bps = bps
	p.mu.Unlock()
}

// rate is the Stream rate in bits per second; 0 when the gateway set none.
func (p *pacer) rate() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bps
}

// wait blocks until n more bytes fit the rate, or ctx ends.
func (p *pacer) wait(ctx context.Context, n int) error {
	p.mu.Lock()
	if p.bps == 0 {
		p.mu.Unlock()
		return nil
	}
	now := time.Now()
	if p.free.Before(now) {
		p.free = now
	}
	// Float arithmetic: a tiny rate gives a long wait, never a division by zero.
	p.free = p.free.Add(time.Duration(float64(n*8) / float64(p.bps) * float64(time.Second)))
	delay := p.free.Sub(now) - burst
	if delay > 0 {
		p.held += delay
	}
	tell := p.held >= tellAfter && !p.told && p.onDelay != nil
	p.told = p.told || tell
	bps := p.bps
	p.mu.Unlock()
	if delay <= 0 {
		return nil
	}
	if tell {
		p.onDelay(bps)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
