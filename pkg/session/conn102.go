package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// conn102 speaks schema 1.02 and survives a dropped WebSocket (docs/protocol.md, Sequence numbers
// and resume). It numbers its input, keeps the Input and Resize frames the gateway has not
// acknowledged and the last Output it accepted; when the WebSocket drops it redials the same
// channel with &channelId=, sends a Sync carrying its counters, and the gateway replays what the
// client missed and names the first input it lacks. This file holds the path every frame takes
// (send, recv, the acknowledgement rules and the queue); replay102.go holds what happens around a
// drop (the pump that writes what the reader asks for, resend, reconnect, fall back to 1.01).
// The rules it follows where the reference leaves the gateway's side unknown are in the package
// comment (doc.go).
type conn102 struct {
	opts    ResumeOptions
	log     *slog.Logger
	timeout time.Duration           // bounds each write
	ctx     context.Context         // ended by close: a reconnect under way stops
	cancel  context.CancelFunc      //
	sentAt  atomic.Int64            // unix nanos of the last frame sent
	fb      atomic.Pointer[conn101] // the 1.01 connection after a fall back; nil before
	kick    chan struct{}           // reader → pump: pend has work
	pumped  chan struct{}           // closed when the pump has returned

	// The write side, under wmu, which is held while writing. Lock order: wmu, then mu.
	wmu       sync.Mutex
	w         *wire  // nil while reconnecting
	gen       uint32 // the connection's number, from 1; queued frames remember where they went
	live      bool   // frames may go out now; false while reconnecting and until the gateway resyncs
	closeSent bool   // a Close went out: send it again after a resume
	lastSize  []byte // the last Resize payload: sent again once a resumed channel is back

	// Shared with the reader and the pump, under mu, which is never held while writing.
	mu         sync.Mutex
	inSeq      uint32 // the last input seq given; written under wmu and mu both, so either reads it
	outSeq     uint32 // the last Output accepted
	sinceAck   int    // output bytes accepted since a frame last carried outSeq
	mode       seqMode
	chanID     string
	resyncing  bool // reconnected, and the gateway has not said where to resume yet
	needResize bool // send the size again at the next Opened or Output
	q          inputQueue
	pend       pending
	fatal      error // set by resend: the session cannot resume
	failures   int   // redials since the last resync

	// The reader's alone.
	rw         *wire // the connection it reads
	gapAsked   bool
	sawOutput  bool
	reconnects int
}

// seqMode is what the first Output showed of the gateway's numbering.
type seqMode int32

const (
	seqUnknown seqMode = iota // no Output yet
	seqFul                    // Outputs numbered from a non-zero seq
	seqLess                   // outputSeq 0: the 1.01 layout, no replay possible
)

// errSessionOver fails a send that waited for room in the queue until the session ended.
var errSessionOver = errors.New("session ended")

// newConn102 speaks 1.02 on ws until close or ctx ends. It starts the pump (replay102.go).
func newConn102(ctx context.Context, ws *websocket.Conn, o ResumeOptions, writeTimeout time.Duration, log *slog.Logger) *conn102 {
	o.defaults()
	w := newWire(ws, writeTimeout)
	c := &conn102{opts: o, log: log, timeout: writeTimeout, kick: make(chan struct{}, 1), pumped: make(chan struct{}),
		w: w, rw: w, gen: 1, live: true}
	c.q.init(&c.mu, o.QueueLimit, o.AckWait)
	c.ctx, c.cancel = context.WithCancel(ctx)
	go c.pump()
	return c
}

func (c *conn102) send(t MessageType, payload []byte) error { return c.sendFrame(t, payload, true) }

// sendFallen sends on the 1.01 connection the session fell back to; a nil Resize payload (the
// repeat resize asks for) is the last size sent.
func (c *conn102) sendFallen(fb *conn101, t MessageType, payload []byte) error {
	if t == TypeResize && payload == nil {
		c.wmu.Lock()
		payload = append([]byte(nil), c.lastSize...)
		c.wmu.Unlock()
		if len(payload) == 0 {
			return nil
		}
	}
	return fb.send(t, payload)
}

// sendFrame sends one frame in the 1.02 layout. Input and Resize take the next inputSeq and are
// queued until acknowledged (waiting for room first when wait is set); while the connection is
// down or resyncing they are only queued.
func (c *conn102) sendFrame(t MessageType, payload []byte, wait bool) error {
	if fb := c.fb.Load(); fb != nil {
		return c.sendFallen(fb, t, payload)
	}
	numbered := t == TypeInput || t == TypeResize
	c.mu.Lock()
	kept := numbered && c.mode != seqLess
	room := !kept || !wait || c.q.waitRoom(len(payload))
	c.mu.Unlock()
	if !room {
		return errSessionOver
	}
	c.wmu.Lock()
	if fb := c.fb.Load(); fb != nil { // fell back meanwhile
		c.wmu.Unlock()
		return c.sendFallen(fb, t, payload)
	}
	defer c.wmu.Unlock()
	if t == TypeClose && c.closeSent {
		return nil // one Close per channel; resend sends it again only on a new connection
	}
	writing := c.live && c.w != nil
	if !writing && t == TypeInput && len(payload) == 0 {
		return nil // a keep-alive has nowhere to go while the connection is down
	}
	if t == TypeResize {
		if payload == nil { // resize(): repeat the last size, if there is one
			if len(c.lastSize) == 0 {
				return nil
			}
			payload = append([]byte(nil), c.lastSize...)
		}
		c.lastSize = append(c.lastSize[:0], payload...)
	}
	c.mu.Lock()
	if numbered {
		c.inSeq++
	}
	seq := c.inSeq
	if kept {
		gen := uint32(0)
		if writing {
			gen = c.gen
		}
		c.q.push(queued{t: t, seq: seq, payload: append([]byte(nil), payload...), gen: gen})
	}
	c.mu.Unlock()
	if t == TypeClose {
		c.closeSent = true
	}
	if !writing {
		return nil // goes out, if it matters, when the gateway resyncs
	}
	if err := c.writeLocked(t, seq, payload); err != nil {
		c.dropLocked(err)
		if kept || t == TypeClose {
			return nil // it stays queued and goes out again after the reconnect
		}
		return err
	}
	return nil
}

// writeLocked writes one frame on the current connection; the caller holds wmu.
func (c *conn102) writeLocked(t MessageType, seq uint32, payload []byte) error {
	c.mu.Lock()
	h := Header{Type: t, Version: V102, ChannelID: c.chanID, InputSeq: seq, OutputSeq: c.outSeq}
	c.sinceAck = 0
	c.mu.Unlock()
	if err := c.w.write(h, payload); err != nil {
		return err
	}
	c.sentAt.Store(time.Now().UnixNano())
	return nil
}

// recv reads the next frame for the loop. A connection that ends is recovered from here, on the
// reader's goroutine (replay102.go): recv returns an error only once the session cannot go on.
func (c *conn102) recv() (inbound, error) {
	for {
		if fb := c.fb.Load(); fb != nil {
			return fb.recv()
		}
		in, err := c.next()
		if err == nil {
			return in, nil
		}
		if err = c.recover(err); err != nil {
			return inbound{}, err
		}
	}
}

// next reads the current connection until a frame is for the loop, applying the rules of resume
// on the way. It never writes: a slow or blocked write can never stop it from reading (which
// could deadlock against a gateway that is itself blocked writing to us); what must go out is
// asked of the pump.
func (c *conn102) next() (inbound, error) {
	for {
		f, err := c.rw.read()
		if err != nil {
			return inbound{}, err
		}
		c.mu.Lock()
		err = c.learnChannelLocked(&f)
		deliver := true
		switch {
		case err != nil:
		case f.Type == TypeOutput:
			deliver = c.outputLocked(&f)
		case f.Type == TypeSync:
			c.syncLocked(&f)
		}
		c.mu.Unlock()
		if err != nil {
			return inbound{}, err
		}
		if !deliver {
			continue // a duplicate, or past a gap that a Sync asks the gateway to fill
		}
		in := inbound{f: f}
		if f.Type == TypeStatus {
			if in.st, err = readStatus(&f, c.log); err != nil {
				return inbound{}, err
			}
			if in.st.State == StateOpened {
				c.mu.Lock()
				c.openedLocked()
				c.mu.Unlock()
			}
		}
		return in, nil
	}
}

// learnChannelLocked learns the channel id from the first server frame that has one
// (docs/protocol.md, Reconnecting), and refuses a reconnected connection that names another.
func (c *conn102) learnChannelLocked(f *Frame) error {
	switch {
	case len(f.ChannelID) == 0:
	case c.chanID == "":
		c.chanID = string(f.ChannelID)
	case c.reconnects > 0 && c.chanID != string(f.ChannelID):
		return fmt.Errorf("%w: %w (%s)", ErrConnectionLost, errNewChannel, c.chanID)
	}
	return nil
}

// outputLocked applies the acknowledgement rules (docs/protocol.md, Sequence numbers and resume)
// to an Output and reports whether to deliver it. Output delivered counts towards the next
// acknowledgement, and ends a resync.
func (c *conn102) outputLocked(f *Frame) bool {
	c.sawOutput = true
	switch c.mode {
	case seqUnknown:
		if f.OutputSeq == 0 {
			c.log.Debug("the gateway does not number its output; resume is off for this session")
			c.mode = seqLess
			c.q.disable()
			break
		}
		c.mode = seqFul
		c.outSeq = f.OutputSeq
		c.ackLocked(f.InputSeq)
	case seqLess:
	default:
		switch last := c.outSeq; {
		case f.OutputSeq == 0:
			c.log.Debug("output without a seq from a gateway that numbers its output; delivered")
		case f.OutputSeq == last+1:
			c.gapAsked = false
			c.outSeq = f.OutputSeq
			c.ackLocked(f.InputSeq)
		case f.OutputSeq > last+1:
			if !c.gapAsked {
				c.gapAsked = true
				c.log.Debug("gap in the output; asking for a replay", "have", last, "got", f.OutputSeq)
				c.pend.sync = true
				c.kickLocked()
			}
			return false
		default:
			c.ackLocked(f.InputSeq)
			return false
		}
	}
	if c.mode == seqFul {
		c.sinceAck += len(f.Payload)
		if c.sinceAck >= c.opts.AckEvery {
			c.pend.ack = true
			c.kickLocked()
		}
	}
	c.openedLocked()
	return true
}

// openedLocked handles an Opened status or an Output: after a reconnect, the gateway is back.
func (c *conn102) openedLocked() {
	if c.resyncing {
		c.pend.resynced = true
		c.kickLocked()
	}
	if c.needResize {
		c.needResize = false
		c.pend.resize = true
		c.kickLocked()
	}
}

// ackLocked trims the queue by a gateway's cumulative acknowledgement. A value beyond what was
// sent is nonsense and is ignored.
func (c *conn102) ackLocked(n uint32) {
	if n == 0 || n > c.inSeq {
		return
	}
	c.q.ackThrough(n)
}

// kickLocked tells the pump that pend has work.
func (c *conn102) kickLocked() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// queued is one Input or Resize frame kept until the gateway acknowledges it.
type queued struct {
	t       MessageType
	seq     uint32
	payload []byte
	gen     uint32 // the connection it was last written on; 0 for none
}

// inputQueue holds unacknowledged frames, bounded in payload bytes. conn102.mu guards it; its
// methods are called with it held.
//
// When it is full, input waits for an acknowledgement. The reference does not say that a gateway
// acknowledges input when it has no output to send (WEB's queue is unbounded and its input is
// keystrokes), so the wait is bounded: past it the queue turns lossy and lets its oldest frames
// go, remembering the highest seq let go. Against a gateway that acknowledges, this never
// happens; against one that does not, a large upload keeps flowing instead of stalling for ever,
// and only a resume that needs what was let go fails, saying so, rather than resuming with a hole.
type inputQueue struct {
	room   *sync.Cond // on conn102.mu
	frames []queued
	bytes  int
	limit  int
	wait   time.Duration
	off    bool   // nothing is kept (1.01 layout, or fallen back)
	hold   bool   // reconnecting: no acknowledgement can come, so waits have no deadline
	shut   bool   // the session is over: nobody waits
	lossy  bool   // a wait ran out: the oldest frames go to make room
	lost   uint32 // the highest seq let go unacknowledged; 0 for none
}

func (q *inputQueue) init(mu *sync.Mutex, limit int, wait time.Duration) {
	q.limit, q.wait = limit, wait
	q.room = sync.NewCond(mu)
}

// waitRoom waits until n more bytes fit, the queue turns lossy, or it is off or shut; false once
// shut. An empty queue always has room, so a frame larger than the limit still goes, and an
// empty frame (a heartbeat) never waits.
func (q *inputQueue) waitRoom(n int) bool {
	var deadline time.Time
	for n > 0 && !q.off && !q.shut && !q.lossy && len(q.frames) > 0 && q.bytes+n > q.limit {
		if q.hold {
			deadline = time.Time{}
			q.room.Wait()
			continue
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(q.wait)
		}
		left := time.Until(deadline)
		if left <= 0 {
			q.lossy = true
			break
		}
		// sync.Cond has no timeout: a timer wakes the wait at the deadline.
		t := time.AfterFunc(left, func() {
			q.room.L.Lock()
			q.room.Broadcast()
			q.room.L.Unlock()
		})
		q.room.Wait()
		t.Stop()
	}
	return !q.shut
}

func (q *inputQueue) push(f queued) {
	if q.off {
		return
	}
	q.frames = append(q.frames, f)
	q.bytes += len(f.payload)
	if !q.lossy {
		return
	}
	i := 0
	for q.bytes > q.limit && i < len(q.frames)-1 {
		q.bytes -= len(q.frames[i].payload)
		q.lost = max(q.lost, q.frames[i].seq)
		i++
	}
	q.frames = append(q.frames[:0], q.frames[i:]...)
}

// ackThrough drops the frames with seq <= n. An acknowledgement also ends lossy mode: this
// gateway acknowledges.
func (q *inputQueue) ackThrough(n uint32) {
	if n >= q.lost {
		q.lost = 0
	}
	i := 0
	for i < len(q.frames) && q.frames[i].seq <= n {
		q.bytes -= len(q.frames[i].payload)
		i++
	}
	if i > 0 {
		q.frames = append(q.frames[:0], q.frames[i:]...)
		q.lossy = false
		q.room.Broadcast()
	}
}

func (q *inputQueue) disable() {
	q.off = true
	q.frames, q.bytes = nil, 0
	q.room.Broadcast()
}
