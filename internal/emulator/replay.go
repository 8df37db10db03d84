package emulator

import (
	"sync"
	"sync/atomic"
	"time"
)

// outFrame is one Output kept for replay.
type outFrame struct {
	seq     uint32
	payload []byte
}

// replay keeps a channel's unacknowledged Output.
type replay struct {
	mu     sync.Mutex
	room   *sync.Cond
	frames []outFrame
	bytes  int
	limit  int
	next   uint32 // the seq of the next Output
	off    bool   // a 1.01 client: nothing is kept
	lost   bool   // output was dropped before the client's schema was known: no replay
	shutQ  bool
}

func (r *replay) init(limit int) {
	r.limit, r.next = limit, 1
	r.room = sync.NewCond(&r.mu)
}

// waitRoom waits until n more bytes fit: for as long as it takes with a 1.02 client, for
// unknownWait while the client's schema is unknown (then replay is given up), not at all for a
// 1.01 client. False once the channel is over.
func (r *replay) waitRoom(n int, schema *atomic.Int32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var deadline time.Time
	for !r.off && !r.lost && !r.shutQ && len(r.frames) > 0 && r.bytes+n > r.limit {
		switch schema.Load() {
		case schema101:
			return true
		case schemaUnknown:
			if deadline.IsZero() {
				deadline = time.Now().Add(unknownWait)
			}
			left := time.Until(deadline)
			if left <= 0 {
				r.lost = true
				r.frames, r.bytes = nil, 0
				return true
			}
			t := time.AfterFunc(left, r.wake)
			r.room.Wait()
			t.Stop()
			continue
		}
		r.room.Wait()
	}
	return !r.shutQ
}

// wake lets waitRoom look again (the client's schema became known, or a deadline passed).
func (r *replay) wake() {
	r.mu.Lock()
	r.room.Broadcast()
	r.mu.Unlock()
}

// add numbers p and keeps a copy. unknown means the client's schema is not known yet: then an
// overflow gives up on replay instead of waiting.
func (r *replay) add(p []byte, unknown bool) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.next
	r.next++
	if r.off || r.lost {
		return seq
	}
	if unknown && r.bytes+len(p) > r.limit {
		r.lost = true
		r.frames, r.bytes = nil, 0
		return seq
	}
	r.frames = append(r.frames, outFrame{seq: seq, payload: append([]byte(nil), p...)})
	r.bytes += len(p)
	return seq
}

// last is the seq of the last Output numbered.
func (r *replay) last() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next - 1
}

func (r *replay) ackThrough(n uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0
	for i < len(r.frames) && r.frames[i].seq <= n {
		r.bytes -= len(r.frames[i].payload)
		i++
	}
	if i > 0 {
		r.frames = append(r.frames[:0], r.frames[i:]...)
		r.room.Broadcast()
	}
}

// after returns the kept frames with seq > n.
func (r *replay) after(n uint32) []outFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []outFrame
	for _, f := range r.frames {
		if f.seq > n {
			out = append(out, f)
		}
	}
	return out
}

func (r *replay) unreplayable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.off || r.lost
}

func (r *replay) disable() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.off = true
	r.frames, r.bytes = nil, 0
	r.room.Broadcast()
}

func (r *replay) shut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shutQ = true
	r.room.Broadcast()
}
