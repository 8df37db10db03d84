package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gorilla/websocket"
)

// What conn102 does around a dropped connection: the pump that writes what the reader asks for,
// resending, reconnecting, and falling back to 1.01 (docs/protocol.md, Sequence numbers and
// resume). The choices it makes where the reference is silent are in the package comment (doc.go).

// Errors that end a session which cannot resume: errNewChannel when a reconnect reached a new
// channel (its output would not follow on), errInputLost when the gateway wants input that was
// let go unacknowledged.
var (
	errNewChannel = errors.New("the gateway opened a new channel instead of resuming")
	errInputLost  = errors.New("the gateway lacks input that is no longer held (it stopped acknowledging input)")
)

// pending is what the reader (and reconnect, on the reader's goroutine) asks the pump to do: the
// reader never writes.
type pending struct {
	sync     bool   // ask for a replay (a gap in the output)
	ack      bool   // acknowledge output with a heartbeat
	resend   bool   // resend queued frames from seq from
	from     uint32 //
	resynced bool   // the gateway answered after a reconnect
	resize   bool   // send the size again: the resumed channel is back
	arm      bool   // a reconnect sent its Sync: start waiting SyncTimeout for the answer
}

// pump writes what the reader asked for, and ends a resync that the gateway never answers. It
// runs from newConn102 until close.
func (c *conn102) pump() {
	defer close(c.pumped)
	syncT := time.NewTimer(time.Hour)
	syncT.Stop()
	defer syncT.Stop()
	var syncC <-chan time.Time
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-syncC:
			syncC = nil
			if c.isResyncing() {
				c.log.Debug("no word from the gateway after reconnecting; resending all unacknowledged input")
				c.resend(0, false, true)
			}
		case <-c.kick:
			c.mu.Lock()
			p := c.pend
			c.pend = pending{}
			c.mu.Unlock()
			if p.arm {
				syncT.Reset(c.opts.SyncTimeout)
				syncC = syncT.C
			}
			if c.fb.Load() != nil {
				continue
			}
			if p.resend || p.resynced {
				c.resend(p.from, p.resend, p.resynced)
			}
			if p.sync {
				_ = c.sendFrame(TypeSync, nil, false)
			}
			if p.ack && c.owesAck() {
				_ = c.sendFrame(TypeInput, nil, false) // a heartbeat carries outputSeq
			}
			if p.resize {
				c.resize()
			}
		}
		if syncC != nil && !c.isResyncing() {
			syncT.Stop()
			syncC = nil
		}
	}
}

// owesAck reports whether AckEvery bytes of output came since a frame last carried outSeq (a
// resend just now may have carried it).
func (c *conn102) owesAck() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sinceAck >= c.opts.AckEvery
}

func (c *conn102) isResyncing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resyncing
}

// resize sends the last size again, as a new Resize, after a resume (docs/protocol.md, Sequence
// numbers and resume). It does not wait for room in the queue: the pump must stay free to resend.
func (c *conn102) resize() {
	// A nil payload asks sendFrame for the last size, read under the same hold of wmu that
	// writes it: a newer size sent meanwhile by the resize loop can never be overtaken by this
	// repeat of an older one.
	_ = c.sendFrame(TypeResize, nil, false)
}

// resend writes the queued frames from seq from on, in order, and with goLive ends a resync.
// Without explicit (the gateway's Sync asking for them), it resends only to end a resync that
// is still on.
func (c *conn102) resend(from uint32, explicit, goLive bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w == nil || (!explicit && c.live) {
		return
	}
	c.mu.Lock()
	if c.q.missing(from) {
		c.fatal = fmt.Errorf("%w: %w", ErrConnectionLost, errInputLost)
		c.mu.Unlock()
		c.w.ws.Close() // the reader fails, and recover returns fatal
		return
	}
	frames := c.q.take(from, c.gen)
	c.mu.Unlock()
	for _, f := range frames {
		if err := c.writeLocked(f.t, f.seq, f.payload); err != nil {
			c.dropLocked(err)
			return
		}
	}
	if goLive && !c.live {
		c.live = true
		c.mu.Lock()
		c.q.setHold(false)
		c.resyncing = false
		c.failures = 0
		c.mu.Unlock()
		if c.closeSent {
			if err := c.writeLocked(TypeClose, c.inSeq, []byte("1")); err != nil {
				c.dropLocked(err)
			}
		}
	}
}

// dropLocked gives up on a connection whose write failed. It does not close it: what the gateway
// sent before it went (a Closed status, say) is still there to read. A short read deadline makes
// the reader fail soon instead if nothing more comes, and the reader then reconnects. The caller
// holds wmu.
func (c *conn102) dropLocked(err error) {
	c.log.Debug("write failed; dropping the connection", "err", err)
	c.live = false
	if c.w != nil {
		_ = c.w.ws.SetReadDeadline(time.Now().Add(dropGrace))
	}
}

// dropGrace is how long a connection whose write failed is still read.
const dropGrace = 2 * time.Second

// syncLocked handles the gateway's Sync: resend from the first input it wants.
func (c *conn102) syncLocked(f *Frame) {
	if c.mode == seqLess {
		return
	}
	if f.InputSeq > 0 {
		c.ackLocked(f.InputSeq - 1)
	}
	from := f.InputSeq
	c.log.Debug("gateway sync", "next input", from, "its output", f.OutputSeq)
	if !c.pend.resend || from < c.pend.from {
		c.pend.from = from
	}
	c.pend.resend = true
	c.pend.resynced = c.pend.resynced || c.resyncing
	c.kickLocked()
}

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

// recover decides what follows the end of a connection, on the reader's goroutine: nil when a
// new connection is up (or the session fell back to 1.01), or the error that ends the session.
func (c *conn102) recover(err error) error {
	c.mu.Lock()
	fatal, mode, id := c.fatal, c.mode, c.chanID
	c.mu.Unlock()
	if fatal != nil {
		return fatal
	}
	if errors.Is(err, errEnded) || c.ctx.Err() != nil {
		return err
	}
	if !c.sawOutput && c.reconnects == 0 && rejected(err) {
		return c.fallBack(err)
	}
	if !resumable(err) {
		return err
	}
	if c.opts.Expired != nil && c.opts.Expired() {
		c.log.Debug("connection lost after the session's time was up; not reconnecting", "err", err)
		return fmt.Errorf("%w: %w", ErrExpired, err)
	}
	if mode == seqLess {
		return err
	}
	if id == "" {
		c.log.Debug("no channel id learned; cannot resume", "err", err)
		return err
	}
	return c.reconnect(err, id)
}

// reconnect redials the channel with backoff until a connection is up, and sends the Sync that
// asks the gateway to resume (docs/protocol.md, Sequence numbers and resume: reconnecting).
func (c *conn102) reconnect(cause error, id string) error {
	c.wmu.Lock()
	old := c.w
	c.w = nil
	c.live = false
	c.wmu.Unlock()
	var cl *ClosedError
	if errors.As(cause, &cl) && cl.State == StateFrozen && old != nil {
		// WEB answers Frozen by closing with 1012 itself (docs/protocol.md, Payloads: Status); a Go
		// client can.
		_ = old.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "frozen"), time.Now().Add(time.Second))
	}
	if old != nil {
		old.ws.Close()
	}
	c.mu.Lock()
	c.resyncing = true
	c.needResize = true
	c.q.setHold(true)
	c.mu.Unlock()
	c.log.Debug("connection lost; reconnecting", "err", cause)

	last := cause
	n := c.opts.Attempts
	tries := 0
	for {
		c.mu.Lock()
		if c.failures >= n {
			c.mu.Unlock()
			break
		}
		c.failures++
		tries = c.failures
		c.mu.Unlock()
		c.status(fmt.Sprintf("connection lost; reconnecting (attempt %d of %d)…", tries, n))
		if err := sleep(c.ctx, c.backoff(tries)); err != nil {
			return err
		}
		ws, err := c.opts.Redial(c.ctx, id)
		if err != nil {
			if c.ctx.Err() != nil {
				return c.ctx.Err()
			}
			last = err
			c.log.Debug("redial failed", "attempt", tries, "err", err)
			var re *RefusedError
			if errors.As(err, &re) && re.Permanent() {
				break // the gateway knows the channel is gone: asking again cannot help
			}
			continue
		}
		return c.resumeOn(ws)
	}
	c.status(fmt.Sprintf("gave up after %d attempts: %v", tries, last))
	if errors.Is(last, ErrConnectionLost) {
		return fmt.Errorf("gave up reconnecting after %d attempts: %w", tries, last)
	}
	return fmt.Errorf("%w: gave up reconnecting after %d attempts: %w", ErrConnectionLost, tries, last)
}

// resumeOn makes a redialled connection the current one and asks the gateway where to resume.
func (c *conn102) resumeOn(ws *websocket.Conn) error {
	c.reconnects++
	w := newWire(ws, c.timeout)
	c.wmu.Lock()
	if c.ctx.Err() != nil { // closed while redialling
		c.wmu.Unlock()
		ws.Close()
		return c.ctx.Err()
	}
	c.w = w
	c.gen++
	serr := c.writeLocked(TypeSync, c.inSeq, nil)
	c.wmu.Unlock()
	if serr != nil {
		ws.Close()
	}
	c.mu.Lock()
	c.pend.arm = true
	c.kickLocked()
	c.mu.Unlock()
	c.status("reconnected")
	c.rw = w
	return nil
}

// backoff is the wait before attempt n (from 1): Backoff doubling to MaxBackoff, less up to half.
func (c *conn102) backoff(n int) time.Duration {
	d := c.opts.Backoff
	for i := 1; i < n && d < c.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxBackoff)
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

func (c *conn102) status(msg string) {
	if c.opts.OnStatus != nil {
		c.opts.OnStatus(msg)
	}
}

// fallBack opens a new channel on the same URL and carries on in schema 1.01, resending the
// input queued so far (see the package comment, doc.go).
func (c *conn102) fallBack(cause error) error {
	if c.lostInput() {
		return fmt.Errorf("%w; not retried in schema 1.01: %w", cause, errInputLost)
	}
	c.wmu.Lock()
	if c.w != nil {
		c.w.ws.Close()
	}
	c.wmu.Unlock()
	c.log.Debug("the gateway ended the 1.02 channel before any output; retrying once in schema 1.01 on a new channel", "err", cause)
	ws, err := c.opts.Redial(c.ctx, "")
	if err != nil {
		c.log.Debug("redial for 1.01 failed", "err", err)
		return cause
	}
	fb := newConn101(ws, c.timeout, c.log)
	c.wmu.Lock()
	if c.ctx.Err() != nil { // closed while redialling
		c.wmu.Unlock()
		ws.Close()
		return cause
	}
	c.mu.Lock()
	frames, lost := c.q.all(), c.q.lost != 0
	c.mu.Unlock()
	if lost { // let go while redialling
		c.wmu.Unlock()
		ws.Close()
		return fmt.Errorf("%w; not retried in schema 1.01: %w", cause, errInputLost)
	}
	var werr error
	for _, f := range frames {
		if f.t == TypeInput && len(f.payload) > 0 && werr == nil {
			werr = fb.send(f.t, f.payload)
		}
	}
	if c.closeSent && werr == nil {
		werr = fb.send(TypeClose, []byte("1"))
	}
	c.fb.Store(fb)
	c.wmu.Unlock()
	c.mu.Lock()
	c.q.disable()
	c.mu.Unlock()
	if werr != nil {
		ws.Close()
	}
	return nil
}

// lostInput reports whether the queue let input go unacknowledged: a new channel would get the
// input with a hole in it, so the fall back must not happen.
func (c *conn102) lostInput() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.lost != 0
}

func (c *conn102) lastSent() time.Time {
	if fb := c.fb.Load(); fb != nil {
		return fb.lastSent()
	}
	return time.Unix(0, c.sentAt.Load())
}

// close ends the connection, any reconnect under way and the pump; senders waiting for room in
// the queue give up.
func (c *conn102) close() {
	c.cancel()
	c.mu.Lock()
	c.q.shutDown()
	c.mu.Unlock()
	c.wmu.Lock()
	if c.w != nil {
		c.w.ws.Close()
	}
	if fb := c.fb.Load(); fb != nil {
		fb.close()
	}
	c.wmu.Unlock()
	<-c.pumped
}

// The queue's side of a resume; conn102.mu is held.

// missing reports whether resending from seq from needs frames that were let go.
func (q *inputQueue) missing(from uint32) bool { return q.lost != 0 && from <= q.lost }

// take returns copies of the frames with seq >= from that were not written on connection gen,
// in order, and marks them written on it. Frames already written on this connection are in
// flight: TCP delivers them, so a Sync that only acknowledges does not double the traffic.
func (q *inputQueue) take(from, gen uint32) []queued {
	var out []queued
	for i := range q.frames {
		if f := &q.frames[i]; f.seq >= from && f.gen != gen {
			f.gen = gen
			out = append(out, *f)
		}
	}
	return out
}

// all returns copies of every frame kept.
func (q *inputQueue) all() []queued { return append([]queued(nil), q.frames...) }

// setHold says whether the connection is down (waits for room then have no deadline).
func (q *inputQueue) setHold(h bool) {
	q.hold = h
	q.room.Broadcast()
}

// shutDown ends every wait for room: the session is over.
func (q *inputQueue) shutDown() {
	q.shut = true
	q.room.Broadcast()
}
