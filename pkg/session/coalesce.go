package session

import (
	"errors"
	"io"
	"sync"
)

// Coalescer is an io.Writer that hands what it is given to a goroutine of its own, which writes
// everything that has accumulated in one call: while one write is in the kernel, the frames that
// arrive meanwhile gather into the next, so a stream of small frames becomes a few large writes
// without delaying any of them (an idle writer takes the next frame at once).
type Coalescer struct {
	w       io.Writer
	mu      sync.Mutex
	more    *sync.Cond // the writer waits for data
	room    *sync.Cond // Write waits for room; Flush waits for empty
	buf     []byte     // accumulated, not yet being written
	busy    bool       // the writer is writing
	err     error
	done    bool
	aborted bool
	exit    chan struct{}
}

// ErrAborted is what a Coalescer's Write, Flush and Close return after Abort.
var ErrAborted = errors.New("output aborted")

// coalesceMax bounds what accumulates: Write then waits, so a slow destination slows the source.
const coalesceMax = 64 << 10

// NewCoalescer starts a Coalescer writing to w. Close it to flush and stop its goroutine.
func NewCoalescer(w io.Writer) *Coalescer {
	c := &Coalescer{w: w, exit: make(chan struct{})}
	c.more, c.room = sync.NewCond(&c.mu), sync.NewCond(&c.mu)
	go c.loop()
	return c
}

func (c *Coalescer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) >= coalesceMax && c.err == nil {
		c.room.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	c.more.Signal()
	return len(p), nil
}

func (c *Coalescer) loop() {
	defer close(c.exit)
	var out []byte
	c.mu.Lock()
	for {
		for len(c.buf) == 0 && !c.done {
			c.more.Wait()
		}
		if len(c.buf) == 0 {
			c.mu.Unlock()
			return
		}
		out, c.buf = c.buf, out[:0]
		c.busy = true
		c.mu.Unlock()
		_, err := c.w.Write(out)
		c.mu.Lock()
		c.busy = false
		if err != nil && c.err == nil {
			c.err = err
		}
		if c.err != nil {
			c.buf = c.buf[:0]
		}
		c.room.Broadcast()
	}
}

// Flush waits until everything written so far has been written to the destination.
func (c *Coalescer) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for (len(c.buf) > 0 || c.busy) && c.err == nil {
		c.room.Wait()
	}
	return c.err
}

// Close flushes and stops the goroutine. After Abort it does not wait for a write that is stuck
// in the destination: that write ends when the destination does, and the goroutine with it.
func (c *Coalescer) Close() error {
	err := c.Flush()
	c.mu.Lock()
	c.done = true
	c.more.Signal()
	stuck := c.aborted && c.busy
	c.mu.Unlock()
	if !stuck {
		<-c.exit
	}
	return err
}

// Abort gives up on the output at once: what is gathered is dropped, and Write, Flush and Close
// stop waiting (for room, or for the destination) and return ErrAborted. It is for leaving when
// the destination has stopped reading: the caller should also close the destination, so that a
// write already in it ends too. Abort may be called from any goroutine, more than once.
func (c *Coalescer) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aborted = true
	if c.err == nil {
		c.err = ErrAborted
	}
	c.buf = c.buf[:0]
	c.room.Broadcast()
	c.more.Signal()
}
