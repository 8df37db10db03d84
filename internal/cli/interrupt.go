package cli

import (
	"context"
	"os"
	"os/signal"
	"sync"

	"github.com/ecsterm/ecsterm/pkg/term"
)

// notifyInterrupts is how every command learns that the user wants it to stop: the first of
// term.InterruptSignals (Ctrl-C, kill's default, the terminal going away) cancels the returned
// context with a *term.SignalError as its cause, so that whatever the command started ends the
// way it ends after an error (its sessions ended with EndTerminalSession, the remote command
// stopped, temporary files removed) and Run exits with 128+n. A second signal, while that
// cleanup runs, is sent on again, for Main to exit at once. stop removes the handler.
//
// Raw-mode sessions (term.TTY.Safe) also handle the first signal themselves, to give the
// terminal back at once; both see it, and both report the same signal.
func notifyInterrupts(parent context.Context) (ctx context.Context, again <-chan os.Signal, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, term.InterruptSignals()...)
	return watchInterrupts(parent, sigs, func() { signal.Stop(sigs) })
}

// watchInterrupts is notifyInterrupts on a channel the caller feeds, so a test can send the
// signals itself; unnotify stops the feeding.
func watchInterrupts(parent context.Context, sigs <-chan os.Signal, unnotify func()) (context.Context, <-chan os.Signal, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	again := make(chan os.Signal, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case s := <-sigs:
			cancel(&term.SignalError{Signal: s})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			again <- s
		case <-done:
		}
	}()
	stop := sync.OnceFunc(func() {
		unnotify()
		close(done)
		wg.Wait()
		cancel(nil)
	})
	return ctx, again, stop
}

// interrupted returns the signal that cancelled ctx, if one did.
func interrupted(ctx context.Context) *term.SignalError {
	se, _ := context.Cause(ctx).(*term.SignalError)
	return se
}
