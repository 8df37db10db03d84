//go:build unix

package term

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWatchSize(t *testing.T) {
	first, second := Size{Rows: 24, Cols: 80}, Size{Rows: 40, Cols: 120}
	ptmx, tty := openPTY(t, first)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	sizes := WatchSize(ctx, tty)
	if got := <-sizes; got != first {
		t.Fatalf("first size = %+v, want %+v", got, first)
	}

	// A SIGWINCH without a change must not repeat the size, so the next one seen is the change.
	kill(t, unix.SIGWINCH)
	setSize(t, ptmx, second)
	kill(t, unix.SIGWINCH)
	if got := <-sizes; got != second {
		t.Fatalf("size after resize = %+v, want %+v", got, second)
	}

	cancel()
	for s := range sizes {
		t.Errorf("size %+v after cancel, want the channel closed", s)
	}
}

func TestWatchSizeSlowConsumerGetsLatest(t *testing.T) {
	ptmx, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	sizes := WatchSize(ctx, tty)
	<-sizes
	// Nobody reads while the window changes several times; sending must not have blocked, and
	// reading now must lead to the last size without going back to an older one.
	steps := []Size{{Rows: 30, Cols: 90}, {Rows: 31, Cols: 91}, {Rows: 32, Cols: 92}}
	for _, s := range steps {
		setSize(t, ptmx, s)
		kill(t, unix.SIGWINCH)
	}
	last := steps[len(steps)-1]
	seen := 0
	for got := range sizes {
		i := -1
		for j, s := range steps {
			if s == got {
				i = j
			}
		}
		if i < seen {
			t.Fatalf("got %+v after a newer size, or one never set", got)
		}
		seen = i
		if got == last {
			break
		}
	}
}

func TestWatchSizeNotATerminal(t *testing.T) {
	r, _ := pipe(t)
	ctx, cancel := context.WithCancel(t.Context())
	sizes := WatchSize(ctx, r)
	cancel()
	for s := range sizes {
		t.Errorf("got %+v from a pipe, want nothing", s)
	}
}

func TestWatchSizeCancelledBeforeStart(t *testing.T) {
	_, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n := 0
	for range WatchSize(ctx, tty) {
		n++
	}
	if n > 1 {
		t.Errorf("got %d sizes after cancel, want at most the first", n)
	}
}
