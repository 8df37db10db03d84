package term

import (
	"context"
	"os"
	"sync"
	"time"
)

// WatchSize returns a channel that first yields f's current size, then every change, until ctx is
// done (then it is closed), so a session can send the remote side one resize per change. On Unix
// it is driven by SIGWINCH, with no polling. Windows has no such signal: there it follows the
// resize records that the reader from ConsoleInput finds among the keys, with a slow poll as a
// backstop, and polls faster while no such reader runs.
//
// The signal path never waits for the consumer: if the consumer is slow, only the latest size is
// kept, and a size equal to the one the consumer last received is not sent again. Sizes that
// cannot be read, and 0x0 (a terminal that was never given a size), are skipped.
func WatchSize(ctx context.Context, f *os.File) <-chan Size {
	return watchSize(ctx, f)
}

// watch is WatchSize's loop: it reads f's size once now and again on every event, and hands the
// consumer the newest one. stop is called when ctx is done, before the channel is closed.
func watch[E any](ctx context.Context, f *os.File, events <-chan E, stop func()) <-chan Size {
	out := make(chan Size)
	var q latest
	offerSize(&q, f)
	go func() {
		defer close(out)
		defer stop()
		for {
			var send chan<- Size // nil, so never chosen, while nothing is owed
			if q.owed {
				send = out
			}
			select {
			case <-ctx.Done():
				return
			case <-events:
				offerSize(&q, f)
			case send <- q.pending:
				q.taken()
			}
		}
	}()
	return out
}

// offerSize offers f's size to q, if it can be read and is a real size.
func offerSize(q *latest, f *os.File) {
	if s, err := GetSize(f); err == nil && s != (Size{}) {
		q.offer(s)
	}
}

// latest is the one size a watcher owes its consumer: only the newest, and nothing when that
// equals the size the consumer already has.
type latest struct {
	pending Size
	owed    bool // pending has not been taken yet
	sent    Size
	hasSent bool
}

// offer records s as the size the consumer should see next.
func (q *latest) offer(s Size) {
	if q.hasSent && s == q.sent {
		q.owed = false // back to what the consumer has: nothing to say
		return
	}
	q.pending, q.owed = s, true
}

// taken records that the consumer received pending.
func (q *latest) taken() {
	q.sent, q.hasSent = q.pending, true
	q.owed = false
}

// resizeHub passes the news that the window may have changed from the console input reader, which
// finds resize records among the keys, to the size watchers, which want nothing else from that
// queue. It also gives each watcher a poll, fast while no reader is running (nothing else would
// tell of a change) and slow, a backstop, while one is. Windows keeps one per process, as a
// process has one console; tests make their own.
type resizeHub struct {
	mu      sync.Mutex
	readers int // console readers still able to report resizes
	subs    map[chan<- struct{}]struct{}
}

func (h *resizeHub) readerStarted() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readers++
}

func (h *resizeHub) readerStopped() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readers--
}

// resized tells every watcher to read the size again. It never blocks the reader that calls it:
// a watcher that has not yet taken the previous notice has one pending, which will do.
func (h *resizeHub) resized() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		notify(c)
	}
}

// interval is how long a watcher waits before reading the size unprompted.
func (h *resizeHub) interval(poll, backstop time.Duration) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.readers > 0 {
		return backstop
	}
	return poll
}

// subscribe returns the events for one watcher: every resize, and a tick after each interval.
// The interval is chosen again at every tick, so it does not matter whether the reader or the
// watcher starts first. stop ends the ticks and the subscription, and returns once they have.
func (h *resizeHub) subscribe(poll, backstop time.Duration) (events <-chan struct{}, stop func()) {
	c := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[chan<- struct{}]struct{})
	}
	h.subs[c] = struct{}{}
	h.mu.Unlock()

	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTimer(h.interval(poll, backstop))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				notify(c)
				t.Reset(h.interval(poll, backstop))
			case <-done:
				return
			}
		}
	}()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
		close(done)
		<-exited
	}
}

// notify leaves one notice in c unless one is already waiting there.
func notify(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
