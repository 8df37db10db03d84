package session

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// slowWriter records each Write; the first one waits for release, so that later writes gather.
type slowWriter struct {
	mu      sync.Mutex
	writes  [][]byte
	release chan struct{}
	fail    error
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.release != nil {
		<-w.release
		w.release = nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestCoalescerGathersWhileWriting(t *testing.T) {
	w := &slowWriter{release: make(chan struct{})}
	c := NewCoalescer(w)
	c.Write([]byte("a")) // taken at once; its write waits for release
	for _, s := range []string{"b", "c", "d"} {
		c.Write([]byte(s))
	}
	close(w.release)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := bytes.Join(w.writes, nil)
	if string(got) != "abcd" || len(w.writes) > 2 {
		t.Fatalf("writes %q: want abcd in order, in at most two writes", w.writes)
	}
}

func TestCoalescerErrors(t *testing.T) {
	broken := errors.New("broken pipe")
	w := &slowWriter{fail: broken}
	c := NewCoalescer(w)
	c.Write([]byte("x"))
	if err := c.Flush(); !errors.Is(err, broken) {
		t.Fatalf("Flush = %v, want the write's error", err)
	}
	if _, err := c.Write([]byte("y")); !errors.Is(err, broken) {
		t.Fatalf("Write after a failure = %v", err)
	}
	if err := c.Close(); !errors.Is(err, broken) {
		t.Fatalf("Close = %v", err)
	}
}

// blockedWriter never returns from Write until released: a destination that stopped reading.
type blockedWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return 0, errors.New("closed")
}

// TestCoalescerAbortUnblocks: with the destination stuck, Write waits for room once the limit is
// gathered; Abort releases it and Close returns without waiting for the stuck write.
func TestCoalescerAbortUnblocks(t *testing.T) {
	w := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(w.release) // lets the goroutine end, as closing the connection would
	c := NewCoalescer(w)
	c.Write([]byte("x"))
	<-w.entered // the writer is stuck in the destination now
	wrote := make(chan error, 1)
	go func() {
		var err error
		for err == nil { // fills the limit, then waits for room that never comes
			_, err = c.Write(make([]byte, 4096))
		}
		wrote <- err
	}()
	for full := false; !full; runtime.Gosched() { // until the writer above must wait for room
		c.mu.Lock()
		full = len(c.buf) >= coalesceMax
		c.mu.Unlock()
	}
	c.Abort()
	if err := <-wrote; !errors.Is(err, ErrAborted) {
		t.Errorf("Write after Abort = %v, want ErrAborted", err)
	}
	if err := c.Close(); !errors.Is(err, ErrAborted) {
		t.Errorf("Close after Abort = %v, want ErrAborted", err)
	}
}
