package session

import (
	"sync"
	"time"
)

// queued is one Input or Resize frame kept until the gateway acknowledges it.
type queued struct {
	t       MessageType
	seq     uint32
	payload []byte
	gen     uint32 // the connection it was last written on; 0 for none
}

// inputQueue holds unacknowledged frames, bounded in payload bytes.
//
// When it is full, input waits for an acknowledgement. The reference does not say that a gateway
// acknowledges input when it has no output to send (WEB's queue is unbounded and its input is
// keystrokes), so the wait is bounded: past it the queue turns lossy and lets its oldest frames
// go, remembering the highest seq let go. Against a gateway that acknowledges, this never
// happens; against one that does not, a large upload keeps flowing instead of stalling for ever,
// and only a resume that needs what was let go fails, saying so, rather than resuming with a hole.
type inputQueue struct {
	mu     sync.Mutex
	room   *sync.Cond
	frames []queued
	bytes  int
	limit  int
	wait   time.Duration
	off    bool   // nothing is kept (1.01 layout, or fallen back)
	hold   bool   // reconnecting: no acknowledgement can come, so waits have no deadline
	shutQ  bool   // the session is over: nobody waits
	lossy  bool   // a wait ran out: the oldest frames go to make room
	lost   uint32 // the highest seq let go unacknowledged; 0 for none
}

func (q *inputQueue) init(limit int, wait time.Duration) {
	q.limit, q.wait = limit, wait
	q.room = sync.NewCond(&q.mu)
}

// waitRoom waits until n more bytes fit, the queue turns lossy, or it is off or shut; false once
// shut. An empty queue always has room, so a frame larger than the limit still goes, and an
// empty frame (a heartbeat, sent by the run loop) never waits.
func (q *inputQueue) waitRoom(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	var deadline time.Time
	for n > 0 && !q.off && !q.shutQ && !q.lossy && len(q.frames) > 0 && q.bytes+n > q.limit {
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
			q.mu.Lock()
			q.room.Broadcast()
			q.mu.Unlock()
		})
		q.room.Wait()
		t.Stop()
	}
	return !q.shutQ
}

func (q *inputQueue) push(f queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
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
	q.mu.Lock()
	defer q.mu.Unlock()
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

// missing reports whether resending from seq from needs frames that were let go.
func (q *inputQueue) missing(from uint32) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lost != 0 && from <= q.lost
}

// take returns copies of the frames with seq >= from that were not written on connection gen,
// in order, and marks them written on it. Frames already written on this connection are in
// flight: TCP delivers them, so a Sync that only acknowledges does not double the traffic.
func (q *inputQueue) take(from, gen uint32) []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
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
func (q *inputQueue) all() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queued(nil), q.frames...)
}

// setHold says whether the connection is down (waits for room then have no deadline).
func (q *inputQueue) setHold(h bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.hold = h
	q.room.Broadcast()
}

func (q *inputQueue) disable() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.off = true
	q.frames, q.bytes = nil, 0
	q.room.Broadcast()
}

func (q *inputQueue) shut() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutQ = true
	q.room.Broadcast()
}
