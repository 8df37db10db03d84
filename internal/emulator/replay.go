package emulator

import (
	"sync"
	"sync/atomic"
	"time"
)

// outFrame is one Output kept for replay. Its payload lives in a chunk shared with the frames
// around it.
type outFrame struct {
	seq     uint32
	payload []byte
	c       *chunk
}

// chunk holds the payloads of consecutive frames, so that keeping a frame is a copy and not an
// allocation: a chunk is reused once every frame in it is acknowledged, and in the steady state
// of a bulk transfer a channel cycles through a few chunks and allocates nothing.
type chunk struct {
	buf  []byte
	live int // kept frames whose payload is in buf
}

// chunkSize is the size of a replay chunk: 64 frames of the shell's 1 KiB.
const chunkSize = 64 << 10

// spareChunks is how many empty chunks a channel keeps for reuse while output is outstanding:
// 4 MiB, enough for what a bulk transfer holds unacknowledged between the client's
// acknowledgements (every 256 KiB, read by the gateway in lumps, while the socket buffers of a
// loopback connection hold megabytes more), so a steady transfer allocates nothing. Once
// everything is acknowledged the channel keeps idleSpareChunks, so an idle shell does not hold
// what its last burst needed; memory beyond that is left to the garbage collector.
const (
	spareChunks     = 64
	idleSpareChunks = 4
)

// replay keeps a channel's unacknowledged Output.
type replay struct {
	mu     sync.Mutex
	room   *sync.Cond
	frames []outFrame // frames[head:] are kept, oldest first
	head   int
	cur    *chunk   // where the next payload goes
	spare  []*chunk // empty chunks for reuse
	bytes  int
	limit  int
	next   uint32 // the seq of the next Output
	off    bool   // a 1.01 client: nothing is kept
	lost   bool   // output was dropped before the client's schema was known: no replay
	shutQ  bool
}

// kept is the number of frames kept.
func (r *replay) kept() int { return len(r.frames) - r.head }

// drop forgets every kept frame (replay is off or lost), memory included.
func (r *replay) drop() {
	r.frames, r.head, r.bytes, r.cur, r.spare = nil, 0, 0, nil, nil
}

// keep copies p into a chunk and returns the copy.
func (r *replay) keep(p []byte) ([]byte, *chunk) {
	if len(p) > chunkSize { // never from the agents (frames are at most 2 KiB); kept all the same
		return append([]byte(nil), p...), nil
	}
	if r.cur == nil || cap(r.cur.buf)-len(r.cur.buf) < len(p) {
		if n := len(r.spare); n > 0 {
			r.cur, r.spare = r.spare[n-1], r.spare[:n-1]
		} else {
			r.cur = &chunk{buf: make([]byte, 0, chunkSize)}
		}
	}
	c := r.cur
	at := len(c.buf)
	c.buf = append(c.buf, p...)
	c.live++
	return c.buf[at:len(c.buf):len(c.buf)], c
}

// release is told that a frame in c is no longer kept.
func (r *replay) release(c *chunk) {
	if c == nil {
		return
	}
	if c.live--; c.live > 0 {
		return
	}
	c.buf = c.buf[:0]
	if c != r.cur && len(r.spare) < spareChunks {
		r.spare = append(r.spare, c)
	}
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
	for !r.off && !r.lost && !r.shutQ && r.kept() > 0 && r.bytes+n > r.limit {
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
				r.drop()
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
		r.drop()
		return seq
	}
	payload, c := r.keep(p)
	r.frames = append(r.frames, outFrame{seq: seq, payload: payload, c: c})
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
	i := r.head
	for i < len(r.frames) && r.frames[i].seq <= n {
		r.bytes -= len(r.frames[i].payload)
		r.release(r.frames[i].c)
		r.frames[i] = outFrame{}
		i++
	}
	if i == r.head {
		return
	}
	r.head = i
	// The queue advances by its head; it moves its entries down only when the dead ones are the
	// larger part, so an acknowledgement costs what it removes, not what remains.
	if r.head == len(r.frames) {
		r.frames, r.head = r.frames[:0], 0
		if len(r.spare) > idleSpareChunks {
			clear(r.spare[idleSpareChunks:])
			r.spare = r.spare[:idleSpareChunks]
		}
	} else if r.head > len(r.frames)/2 {
		k := copy(r.frames, r.frames[r.head:])
		clear(r.frames[k:])
		r.frames, r.head = r.frames[:k], 0
	}
	r.room.Broadcast()
}

// after returns copies of the kept frames with seq > n: the caller writes them without the
// lock, while acknowledgements may free the chunks they came from.
func (r *replay) after(n uint32) []outFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []outFrame
	for _, f := range r.frames[r.head:] {
		if f.seq > n {
			out = append(out, outFrame{seq: f.seq, payload: append([]byte(nil), f.payload...)})
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
	r.drop()
	r.room.Broadcast()
}

func (r *replay) shut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shutQ = true
	r.room.Broadcast()
}
