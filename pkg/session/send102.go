package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// The write side of schema 1.02 (resume.go): numbering, queueing and resending input.

// resend writes the queued frames from seq from on, in order, and with goLive ends a resync.
// Without explicit (the gateway's Sync asking for them), it resends only to end a resync that
// is still on.
func (s *runner) resend(from uint32, explicit, goLive bool) {
	r := s.r
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.conn == nil || (!explicit && r.live) {
		return
	}
	if r.q.missing(from) {
		r.fatal = fmt.Errorf("%w: %w", ErrConnectionLost, errInputLost)
		s.conn.Close() // the reader fails, and the run loop returns fatal
		return
	}
	for _, f := range r.q.take(from, r.gen) {
		if err := s.write102Locked(f.t, f.seq, f.payload); err != nil {
			s.dropLocked(err)
			return
		}
	}
	if goLive && !r.live {
		r.live = true
		r.q.setHold(false)
		r.resyncing.Store(false)
		r.failures = 0
		if r.syncTimer != nil {
			r.syncTimer.Stop()
			r.syncTimer = nil
		}
		if r.closeSent {
			if err := s.write102Locked(TypeClose, r.inSeq.Load(), []byte("1")); err != nil {
				s.dropLocked(err)
			}
		}
	}
}

// send102 sends one frame in the 1.02 layout. Input and Resize take the next inputSeq and are
// queued until acknowledged; while the connection is down or resyncing they are only queued.
func (s *runner) send102(t MessageType, payload []byte) error {
	r := s.r
	numbered := t == TypeInput || t == TypeResize
	kept := numbered && seqMode(r.mode.Load()) != seqLess
	if kept && !r.q.waitRoom(len(payload)) {
		return errors.New("session ended")
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.v102.Load() { // fell back to 1.01 meanwhile
		return s.send101Locked(t, payload)
	}
	if t == TypeClose && r.closeSent {
		return nil // one Close per channel; resend sends it again only on a new connection
	}
	seq := r.inSeq.Load()
	if numbered {
		seq++
		r.inSeq.Store(seq)
	}
	writing := r.live && s.conn != nil
	if kept {
		gen := uint32(0)
		if writing {
			gen = r.gen
		}
		r.q.push(queued{t: t, seq: seq, payload: append([]byte(nil), payload...), gen: gen})
	}
	if t == TypeClose {
		r.closeSent = true
	}
	if !writing {
		return nil // goes out, if it matters, when the gateway resyncs
	}
	if err := s.write102Locked(t, seq, payload); err != nil {
		s.dropLocked(err)
		if kept || t == TypeClose {
			return nil // it stays queued and goes out again after the reconnect
		}
		return err
	}
	return nil
}

// dropLocked gives up on a connection whose write failed. It does not close it: what the gateway
// sent before it went (a Closed status, say) is still there to read. A short read deadline makes
// the reader fail soon instead if nothing more comes, and the run loop then reconnects. The
// caller holds wmu.
func (s *runner) dropLocked(err error) {
	s.log.Debug("write failed; dropping the connection", "err", err)
	s.r.live = false
	if s.conn != nil {
		_ = s.conn.SetReadDeadline(time.Now().Add(dropGrace))
	}
}

// dropGrace is how long a connection whose write failed is still read.
const dropGrace = 2 * time.Second

// write102Locked writes one 1.02 frame; the caller holds wmu.
func (s *runner) write102Locked(t MessageType, seq uint32, payload []byte) error {
	r := s.r
	var err error
	s.wbuf, err = AppendFrame(s.wbuf[:0], Header{Type: t, Version: V102, ChannelID: r.channelID(),
		Created: uint64(time.Now().UnixMilli()), InputSeq: seq, OutputSeq: r.outSeq.Load()}, payload)
	if err != nil {
		return err
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if err := s.conn.WriteMessage(websocket.BinaryMessage, s.wbuf); err != nil {
		return err
	}
	r.sinceAck.Store(0)
	s.sentAt.Store(time.Now().UnixNano())
	return nil
}
