package persist

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// slot is one warm session: opening until ready is closed, then free or running a command.
type slot struct {
	w     Warm          // set once the session is ready
	err   error         // why it never became ready
	ready chan struct{} // closed when it is ready or failed
	quit  chan struct{} // closed to end it (retired, or its command broke it)
	once  bool          // quit is closed
	old   bool          // past its age: ends when its command does
	born  time.Time
}

// DefaultMaxAge is how long a warm session serves before it is replaced: the agent ends every
// session after its 3 h limit, whatever its traffic, and a command must not be cut by that.
const DefaultMaxAge = attach.AgentSessionLimit - 15*time.Minute

// minLife is how long a session must have served for its drop to reopen one at once: a session
// that drops sooner waits for the next command instead, so a failing gateway costs no loop of
// StartTerminalSession calls.
const minLife = 30 * time.Second

// defaultOpenTook is how long a session is taken to need to open before one has.
const defaultOpenTook = 1500 * time.Millisecond

// broadcast wakes every waiter for a slot; the caller holds h.mu.
func (h *Holder) broadcast() {
	close(h.wake)
	h.wake = make(chan struct{})
}

// opening says whether a warm session is being opened; the caller holds h.mu.
func (h *Holder) opening() bool {
	for s := range h.slots {
		if s.w == nil {
			return true
		}
	}
	return false
}

// grow starts opening one more warm session; the caller holds h.mu.
func (h *Holder) grow() *slot {
	s := &slot{ready: make(chan struct{}), quit: make(chan struct{}), born: time.Now()}
	h.slots[s] = true
	h.wg.Add(1)
	go h.runSlot(s)
	return s
}

// end closes s.quit once; the caller holds h.mu.
func (s *slot) end() {
	if !s.once {
		s.once = true
		close(s.quit)
	}
}

// acquire returns a free warm session for one command. With none free it opens another, up to
// Config.Max, and takes whichever is ready first, while any is opening. When none is opening
// and none is free it waits as long as opening a session takes, since a cold command would
// take that long, and then returns an error saying to go cold.
func (h *Holder) acquire() (*slot, error) {
	h.mu.Lock()
	failures := h.failures
	h.waiting++
	defer func() {
		h.mu.Lock()
		h.waiting--
		h.mu.Unlock()
	}()
	var mine *slot
	opening := 0
	for s := range h.slots {
		if s.w == nil {
			opening++
		}
	}
	// Commands that arrive together each get a session being opened, up to the limit.
	if len(h.free) == 0 && opening < h.waiting && len(h.slots) < h.cfg.Max {
		mine = h.grow()
	}
	wait := h.openTook
	if wait == 0 {
		wait = defaultOpenTook
	}
	h.mu.Unlock()
	var timeout <-chan time.Time
	for {
		h.mu.Lock()
		if n := len(h.free); n > 0 {
			s := h.free[n-1]
			h.free = h.free[:n-1]
			h.running++
			h.mu.Unlock()
			return s, nil
		}
		if mine != nil && mine.err != nil {
			h.mu.Unlock()
			return nil, mine.err
		}
		opening := h.opening()
		if h.failures != failures && !opening {
			// A session failed to open since this command came, and none is opening now:
			// waiting for one is waiting for nothing.
			err := h.openErr
			h.mu.Unlock()
			return nil, err
		}
		if !opening && timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		wake := h.wake
		h.mu.Unlock()
		select {
		case <-wake:
		case <-timeout:
			return nil, fmt.Errorf("all %d warm sessions are busy", h.cfg.Max)
		case <-h.ctx.Done():
			return nil, context.Cause(h.ctx)
		}
	}
}

// release gives s back after a command; ok false means the command left it unusable.
func (h *Holder) release(s *slot, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	h.last = time.Now()
	if !ok || s.old || !h.slots[s] {
		s.end()
		return
	}
	h.free = append(h.free, s)
	h.broadcast()
}

// runSlot opens s's session, serves commands on it until it ends, and ends it.
func (h *Holder) runSlot(s *slot) {
	defer h.wg.Done()
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	lived := time.Duration(0)
	err := h.openSlot(ctx, s, &lived)
	h.mu.Lock()
	delete(h.slots, s)
	for i, f := range h.free {
		if f == s {
			h.free = append(h.free[:i], h.free[i+1:]...)
			break
		}
	}
	if s.err == nil && s.w == nil {
		s.err = err
	}
	if s.w == nil {
		h.failures++
		h.openErr = s.err
		if h.openErr == nil {
			h.openErr = errors.New("the warm session ended before it was ready")
		}
	}
	select {
	case <-s.ready:
	default:
		if s.err == nil {
			s.err = errors.New("the warm session ended before it was ready")
		}
		close(s.ready)
	}
	// A retired session is replaced at once, as one that served a while and dropped.
	reopen := h.ctx.Err() == nil && len(h.slots) == 0 && (lived >= minLife || s.old)
	if reopen {
		h.grow()
	}
	h.broadcast()
	h.mu.Unlock()
	if err != nil && h.isFatal(err) {
		h.Stop(err)
	}
}

// openSlot opens the session and serves it until it drops, is retired, or the holder stops;
// lived is how long it was ready. The session is ended (EndTerminalSession) before it returns.
func (h *Holder) openSlot(ctx context.Context, s *slot, lived *time.Duration) error {
	start := time.Now()
	ch, err := h.cfg.Open(ctx, h.cfg.CommandLine)
	if err != nil {
		h.log.Debug("opening a warm session failed", "err", err)
		return err
	}
	defer ch.End()
	w, err := h.cfg.NewWarm()
	if err != nil {
		return err
	}
	defer w.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() {
		ran <- ch.Run(runCtx, session.Options{Stdin: w.Input(), Stdout: w.Output(), OnEOF: session.EOFNothing, Logger: h.log})
	}()
	defer func() {
		stop()
		w.Close()
		if ran != nil {
			<-ran
		}
	}()
	readied := make(chan error, 1)
	go func() { readied <- w.Ready(runCtx) }()
	select {
	case err = <-readied:
	case err = <-ran:
		ran = nil
		if err == nil {
			err = errors.New("the warm session ended before it was ready")
		}
		stop()
		<-readied
	}
	if err != nil {
		return fmt.Errorf("warm session: %w", err)
	}
	took := time.Since(start)
	h.mu.Lock()
	h.openTook = took
	s.w = w
	close(s.ready)
	h.free = append(h.free, s)
	h.broadcast()
	h.mu.Unlock()
	ready := time.Now()
	defer func() { *lived = time.Since(ready) }()
	h.log.Debug("warm session ready", "took", took.String())
	age := time.NewTimer(h.cfg.MaxAge - time.Since(start))
	defer age.Stop()
	for {
		select {
		case err = <-ran:
			ran = nil
			h.log.Debug("warm session ended", "err", err)
			return nil
		case <-w.Broken():
			h.log.Debug("warm session broken")
			return nil
		case <-s.quit:
			return nil
		case <-ctx.Done():
			return nil
		case <-age.C:
			h.retire(s)
		}
	}
}

// retire ends s now if it is free, or once its command ends.
func (h *Holder) retire(s *slot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.old = true
	for i, f := range h.free {
		if f == s {
			h.free = append(h.free[:i], h.free[i+1:]...)
			s.end()
			return
		}
	}
}
