package term

import (
	"context"
	"os"
)

// WatchSize returns a channel that first yields f's current size, then every change, until ctx is
// done (then it is closed), so a session can send the remote side one resize per change. On Unix
// it is driven by SIGWINCH, with no polling; on Windows, which has no such signal, it polls.
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
