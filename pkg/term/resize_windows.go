//go:build windows

package term

import (
	"context"
	"os"
	"time"
)

// pollInterval is how often the console size is read on Windows: fast enough that a resized
// window redraws promptly, slow enough to cost nothing measurable.
const pollInterval = 250 * time.Millisecond

// watchSize polls GetConsoleScreenBufferInfo (through GetSize), because Windows has no SIGWINCH.
// The console does report WINDOW_BUFFER_SIZE_EVENT records, but they arrive in the same input
// queue as the keystrokes, so waiting for them would mean reading, and stealing, the user's input
// from the session's own reader. A modest poll has no such conflict.
func watchSize(ctx context.Context, f *os.File) <-chan Size {
	tick := time.NewTicker(pollInterval)
	return watch(ctx, f, tick.C, tick.Stop)
}
