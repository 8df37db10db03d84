//go:build windows

package term

import (
	"context"
	"os"
	"time"
)

// pollInterval is how often the console size is read while nothing reports changes: fast enough
// that a resized window redraws promptly, slow enough to cost nothing measurable.
const pollInterval = 250 * time.Millisecond

// backstopInterval is how often the size is read anyway while the console input reader reports
// changes, for the changes it is not told of (see watchSize).
const backstopInterval = time.Second

// watchSize reads the size again whenever the console input reader from ConsoleInput meets a
// WINDOW_BUFFER_SIZE_EVENT record. Windows has no SIGWINCH; those records are its notice of a
// resize, and they arrive in the same input queue as the keystrokes, so only the reader that
// takes the keys can see them (raw mode asks the console to send them, see reportResizes).
//
// While no such reader runs, because the input is not a console (redirected) or the session is
// not raw, nothing would notice those records, so the size is polled every pollInterval. While
// one runs, a poll every backstopInterval remains: the console sends the record when its screen
// buffer changes size, and conhost with a scrollback buffer taller than the window keeps the
// buffer as it is when the window is only made taller or shorter; newer conhost builds send one
// for a window change too, older ones do not. Windows Terminal (ConPTY), whose buffer is the
// window, sends one for every resize. A missed change would leave the remote screen drawn for
// the old size until the next resize, and a second's delay at worst costs one console call a
// second.
func watchSize(ctx context.Context, f *os.File) <-chan Size {
	events, stop := consoleResizes.subscribe(pollInterval, backstopInterval)
	return watch(ctx, f, events, stop)
}
