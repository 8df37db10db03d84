package session

import (
	"sync"
	"testing"
	"time"
)

// The queue of unacknowledged input alone; its methods run under the mutex its cond is on.

func newTestQueue(limit int, wait time.Duration) (*inputQueue, *sync.Mutex) {
	var mu sync.Mutex
	q := &inputQueue{}
	q.init(&mu, limit, wait)
	return q, &mu
}

func TestQueueEmptyAlwaysHasRoom(t *testing.T) {
	q, mu := newTestQueue(4, time.Hour)
	mu.Lock()
	defer mu.Unlock()
	if !q.waitRoom(100) { // larger than the limit, but alone
		t.Fatal("waitRoom on an empty queue")
	}
	q.push(queued{seq: 1, payload: make([]byte, 100)})
	if !q.waitRoom(0) { // a heartbeat never waits
		t.Fatal("waitRoom(0) on a full queue")
	}
}

// Past AckWait the queue turns lossy: the oldest frames go to make room, the highest seq let go
// is remembered for resend to refuse, and an acknowledgement past it ends both.
func TestQueueLetsGoPastAckWait(t *testing.T) {
	q, mu := newTestQueue(4, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	q.push(queued{seq: 1, payload: []byte("abcd")})
	if !q.waitRoom(4) || !q.lossy {
		t.Fatalf("after the wait: lossy %v, want true", q.lossy)
	}
	q.push(queued{seq: 2, payload: []byte("efgh")})
	if len(q.frames) != 1 || q.frames[0].seq != 2 || q.bytes != 4 || q.lost != 1 {
		t.Fatalf("frames %v bytes %d lost %d, want only seq 2, 4 bytes, lost 1", q.frames, q.bytes, q.lost)
	}
	if !q.missing(1) || q.missing(2) {
		t.Fatal("missing: want seq 1 gone and seq 2 held")
	}
	q.ackThrough(2)
	if q.lossy || q.lost != 0 || len(q.frames) != 0 || q.bytes != 0 {
		t.Fatalf("after the ack: lossy %v lost %d frames %v bytes %d", q.lossy, q.lost, q.frames, q.bytes)
	}
}

// take hands out what was not written on the given connection, from a seq on, once per connection.
func TestQueueTakeOncePerConnection(t *testing.T) {
	q, mu := newTestQueue(1<<20, time.Hour)
	mu.Lock()
	defer mu.Unlock()
	q.push(queued{seq: 1, payload: []byte("a"), gen: 1})
	q.push(queued{seq: 2, payload: []byte("b"), gen: 0}) // queued while down
	q.push(queued{seq: 3, payload: []byte("c"), gen: 1})
	if got := q.take(0, 1); len(got) != 1 || got[0].seq != 2 {
		t.Fatalf("take on connection 1: %v, want seq 2", got)
	}
	if got := q.take(2, 2); len(got) != 2 || got[0].seq != 2 || got[1].seq != 3 {
		t.Fatalf("take from 2 on connection 2: %v, want seqs 2 and 3", got)
	}
	if got := q.take(0, 2); len(got) != 1 || got[0].seq != 1 {
		t.Fatalf("take again on connection 2: %v, want only seq 1", got)
	}
}

// A sender waiting for room gives up when the session ends.
func TestQueueShutEndsWait(t *testing.T) {
	q, mu := newTestQueue(4, time.Hour)
	mu.Lock()
	q.push(queued{seq: 1, payload: []byte("abcd")})
	mu.Unlock()
	res := make(chan bool)
	go func() {
		mu.Lock()
		defer mu.Unlock()
		res <- q.waitRoom(4)
	}()
	mu.Lock()
	q.shutDown()
	mu.Unlock()
	select {
	case ok := <-res:
		if ok {
			t.Fatal("waitRoom reported room after shut")
		}
	case <-time.After(patience):
		t.Fatal("waitRoom did not end at shut")
	}
}
