package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gorilla/websocket"
)

// resumable reports whether err is a drop that a reconnect may repair: a close with 1012 (service
// restart), 1023 (named in WEB's comment for the same), 1005 (no status) or 1006 (abnormal), a
// connection that broke without a close, or a Frozen status (docs/protocol.md, Sequence numbers and
// resume: reconnecting).
func resumable(err error) bool {
	if errors.Is(err, errNewChannel) || errors.Is(err, errInputLost) {
		return false
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.CloseServiceRestart, 1023, websocket.CloseNoStatusReceived, websocket.CloseAbnormalClosure:
			return true
		}
		return false
	}
	var cl *ClosedError
	if errors.As(err, &cl) {
		return cl.State == StateFrozen
	}
	return errors.Is(err, ErrConnectionLost)
}

// rejected reports whether a session's end, before any output and any reconnect, may be the
// gateway refusing schema 1.02: anything but a Closed or Exited status or a malformed frame.
func rejected(err error) bool {
	var cl *ClosedError
	if errors.As(err, &cl) {
		return cl.State == StateAborted || cl.State == StateFrozen
	}
	var ce *websocket.CloseError
	return errors.As(err, &ce) || errors.Is(err, ErrConnectionLost)
}

// recover decides what follows the end of a connection in resume mode: a new reader to wait on,
// or the error that ends Run.
func (s *runner) recover(ctx context.Context, err error) (<-chan error, error) {
	r := s.r
	if r.fatal != nil {
		return nil, r.fatal
	}
	if !s.v102.Load() || ctx.Err() != nil {
		return nil, err
	}
	if !r.sawOutput && r.reconnects == 0 && rejected(err) {
		return s.fallBack(ctx, err)
	}
	if !resumable(err) {
		return nil, err
	}
	if r.opts.Expired != nil && r.opts.Expired() {
		s.log.Debug("connection lost after the session's time was up; not reconnecting", "err", err)
		return nil, fmt.Errorf("%w: %w", ErrExpired, err)
	}
	if seqMode(r.mode.Load()) == seqLess {
		return nil, err
	}
	if r.channelID() == "" {
		s.log.Debug("no channel id learned; cannot resume", "err", err)
		return nil, err
	}
	return s.reconnect(ctx, err)
}

// reconnect redials the channel with backoff until a connection is up, and sends the Sync that
// asks the gateway to resume (docs/protocol.md, Sequence numbers and resume: reconnecting).
func (s *runner) reconnect(ctx context.Context, cause error) (<-chan error, error) {
	r := s.r
	s.wmu.Lock()
	old := s.conn
	s.conn = nil
	r.live = false
	s.wmu.Unlock()
	var cl *ClosedError
	if errors.As(cause, &cl) && cl.State == StateFrozen && old != nil {
		// WEB answers Frozen by closing with 1012 itself (docs/protocol.md, Payloads: Status); a Go
		// client can.
		_ = old.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "frozen"), time.Now().Add(time.Second))
	}
	if old != nil {
		old.Close()
	}
	r.resyncing.Store(true)
	r.needResize.Store(true)
	r.q.setHold(true)
	s.log.Debug("connection lost; reconnecting", "err", cause)

	id := r.channelID()
	last := cause
	n := r.opts.Attempts
	for r.failures < n {
		r.failures++
		r.status(fmt.Sprintf("connection lost; reconnecting (attempt %d of %d)…", r.failures, n))
		if err := sleep(ctx, r.backoff(r.failures)); err != nil {
			return nil, err
		}
		conn, err := r.opts.Redial(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last = err
			s.log.Debug("redial failed", "attempt", r.failures, "err", err)
			var re *RefusedError
			if errors.As(err, &re) && re.Permanent() {
				break // the gateway knows the channel is gone: asking again cannot help
			}
			continue
		}
		r.reconnects++
		s.wmu.Lock()
		s.conn = conn
		r.gen++
		serr := s.write102Locked(TypeSync, r.inSeq.Load(), nil)
		s.wmu.Unlock()
		if serr != nil {
			conn.Close()
		}
		r.syncTimer = time.NewTimer(r.opts.SyncTimeout)
		r.status("reconnected")
		return s.startReader(conn), nil
	}
	r.status(fmt.Sprintf("gave up after %d attempts: %v", r.failures, last))
	if errors.Is(last, ErrConnectionLost) {
		return nil, fmt.Errorf("gave up reconnecting after %d attempts: %w", r.failures, last)
	}
	return nil, fmt.Errorf("%w: gave up reconnecting after %d attempts: %w", ErrConnectionLost, r.failures, last)
}

// backoff is the wait before attempt n (from 1): Backoff doubling to MaxBackoff, less up to half.
func (r *resumeState) backoff(n int) time.Duration {
	d := r.opts.Backoff
	for i := 1; i < n && d < r.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fallBack opens a new channel on the same URL and carries on in schema 1.01, resending the
// input queued so far (see the comment at the top of this file).
func (s *runner) fallBack(ctx context.Context, cause error) (<-chan error, error) {
	r := s.r
	s.closeConn()
	s.log.Debug("the gateway ended the 1.02 channel before any output; retrying once in schema 1.01 on a new channel", "err", cause)
	conn, err := r.opts.Redial(ctx, "")
	if err != nil {
		s.log.Debug("redial for 1.01 failed", "err", err)
		return nil, cause
	}
	s.wmu.Lock()
	s.conn = conn
	s.v102.Store(false)
	var werr error
	for _, f := range r.q.all() {
		if f.t == TypeInput && len(f.payload) > 0 && werr == nil {
			werr = s.send101Locked(f.t, f.payload)
		}
	}
	if r.closeSent && werr == nil {
		werr = s.send101Locked(TypeClose, []byte("1"))
	}
	s.wmu.Unlock()
	r.q.disable()
	if werr != nil {
		conn.Close()
	}
	return s.startReader(conn), nil
}
