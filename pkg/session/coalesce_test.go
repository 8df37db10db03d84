package session

import (
	"bytes"
	"errors"
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
