package session

import (
	"context"
	"sync"
	"time"
)

// The input side of a session: keystrokes and piped input as Input frames, what to send when
// input ends, and window sizes as Resize frames.

func (s *runner) inputLoop(ctx context.Context) {
	buf := make([]byte, MaxInputChunk)
	hold := s.opts.HoldInput > 0
	var holdUntil <-chan time.Time
	if hold {
		t := time.NewTimer(s.opts.HoldInput)
		defer t.Stop()
		holdUntil = t.C
	}
	for {
		n, err := s.opts.Stdin.Read(buf)
		if hold && (n > 0 || err != nil) {
			hold = false
			select {
			case <-s.firstOut:
			case <-holdUntil:
				s.log.Debug("no output yet; sending held input")
			case <-ctx.Done():
				return
			}
		}
		if n > 0 {
			if perr := s.pace.wait(ctx, n); perr != nil {
				return
			}
			s.usedAt.Store(time.Now().UnixNano())
			s.sentIn.Add(int64(n))
			if serr := s.t.send(TypeInput, buf[:n]); serr != nil {
				s.log.Debug("sending input failed", "err", serr)
				return
			}
		}
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			s.log.Debug("input ended", "err", err)
			switch s.opts.OnEOF {
			case EOFCtrlD:
				s.sendEOF(ctx)
			case EOFClose:
				_ = s.t.send(TypeClose, []byte("1"))
			}
			return
		}
	}
}

// eofQuiet is how long output must pause before ^D is sent for a Stdin that ended, and
// eofTries how many times it is sent at most.
const (
	eofQuiet = 150 * time.Millisecond
	eofTries = 5
)

// sendEOF sends ^D once the output has been quiet for eofQuiet, and again each time more output
// follows and pauses, until the session ends (the input goroutine's ctx ends with it). A PTY
// takes ^D as end of input only when it reaches a reader at the start of a line: a ^D that
// arrives while the shell is still running the last command can be lost (bash switches the
// terminal's mode around each command, and a pending end of file does not survive the switch;
// about 3 in 100 piped connects hung on it). When the shell's prompt has been printed and
// nothing follows, the shell is waiting for a line, and ^D reaches it. A program that reads
// the ^D itself (cat) ends, its shell prints a prompt, and the next ^D ends the shell.
func (s *runner) sendEOF(ctx context.Context) {
	quiet := time.NewTimer(eofQuiet)
	defer quiet.Stop()
	for range eofTries {
		for waiting := true; waiting; {
			select {
			case <-s.outKick: // more output: the pause starts again
				quiet.Reset(eofQuiet)
			case <-quiet.C:
				waiting = false
			case <-ctx.Done():
				return
			}
		}
		if err := s.t.send(TypeInput, []byte{0x04}); err != nil {
			return
		}
		select { // the answer: the shell's exit and the session's end, or more output
		case <-s.outKick:
			quiet.Reset(eofQuiet)
		case <-ctx.Done():
			return
		}
	}
}

// resizeLoop sends the latest size once output has started, then every change (docs/protocol.md,
// Payloads: Resize). After a resume, the transport sends the last size again itself (conn102).
func (s *runner) resizeLoop() {
	var latest, sent Size
	have := false
	started := s.firstOut
	for {
		select {
		case <-s.done:
			return
		case sz, ok := <-s.opts.Sizes:
			if !ok {
				return
			}
			latest, have = sz, true
		case <-started:
			started = nil // now sizes go out as they come
		}
		if started == nil && have && latest != sent {
			if err := s.t.send(TypeResize, AppendResize(nil, latest.Rows, latest.Cols)); err != nil {
				return
			}
			sent = latest
		}
	}
}

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
