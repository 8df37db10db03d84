package term

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// TTY is the local terminal a session runs on. It names its files rather than assuming fd 0 and 1,
// so a caller (or a test with a pseudo-terminal) decides which terminal is taken over.
type TTY struct {
	In  *os.File // the terminal input (usually os.Stdin)
	Out *os.File // the terminal output whose size is reported (usually os.Stdout)
	Raw bool     // put In into raw mode inside Safe
	// Guard, if set, is called just before In goes raw. It arms a watcher outside this process
	// that restores the terminal should the process die without doing so itself (a panic in
	// another goroutine, SIGKILL); Safe calls the returned disarm after its own restore. An
	// error from Guard is not fatal: the session goes on without the watcher.
	Guard func() (disarm func(), err error)
}

// Safe runs fn with the terminal in raw mode (when t.Raw and In is a terminal) and restores the
// exact previous state exactly once, so that no way out of a session leaves the user's shell
// without echo: when fn returns, when fn panics (restore, then the panic goes on), or at once when
// SIGINT, SIGTERM or SIGHUP arrives (on Windows: os.Interrupt and the console's close, logoff and
// shutdown events, which Go reports as SIGTERM).
//
// On such a signal Safe also cancels the context passed to fn, with a *SignalError as its cause
// (context.Cause), and stops handling signals, so a second signal has its default effect and ends
// a process whose fn does not return. When fn returns after a signal, Safe returns a *SignalError
// naming the signal and wrapping fn's error, if any, so the caller can exit with 128+n as shells
// do. Signal handling is installed only for the duration of Safe, with or without raw mode.
//
// With t.Raw set, Safe also turns on escape-sequence processing for Out on Windows consoles, and
// resize records in In's input queue (see ConsoleInput).
// fn is handed suspend, which stops the process as a shell's ^Z would (OpenSSH's ~^Z): the
// terminal goes back to its own settings while the process is stopped, and raw again when the
// shell continues it. Without a raw terminal, or on Windows, suspend returns ErrNoSuspend.
//
// Failing to restore the terminal is reported joined to the result.
func (t TTY) Safe(ctx context.Context, fn func(ctx context.Context, suspend func() error) error) (err error) {
	undo, suspend, err := t.enter()
	if err != nil {
		return err
	}
	restore := sync.OnceValue(undo)
	if suspend == nil {
		suspend = func() error { return ErrNoSuspend }
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	intr := notifyInterrupt(
		func(os.Signal) { restore() },
		func(s os.Signal) { cancel(&SignalError{Signal: s}) },
	)
	// Deferred rather than run after fn, so that a panicking fn also unwinds through it: the
	// terminal is restored and the handler removed before the panic travels on.
	defer func() {
		if s := intr.stop(); s != nil {
			err = &SignalError{Signal: s, Err: err}
		}
		if rerr := restore(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore terminal: %w", rerr))
		}
	}()
	return fn(ctx, suspend)
}

// enter puts the terminal into the state a session wants and returns how to undo exactly that.
func (t TTY) enter() (undo, suspend func() error, err error) {
	var undos []func() error
	if t.Raw && IsTerminal(t.In) {
		var disarm func()
		if t.Guard != nil {
			disarm, _ = t.Guard()
		}
		st, err := makeRaw(t.In)
		if err != nil {
			if disarm != nil {
				disarm()
			}
			return nil, nil, fmt.Errorf("make terminal raw: %w", err)
		}
		suspend = func() error {
			if err := restore(t.In, st); err != nil {
				return err
			}
			if err := stopSelf(); err != nil {
				_, rerr := makeRaw(t.In)
				return errors.Join(err, rerr)
			}
			// Continued (fg): raw again, from the same saved state for the final restore.
			_, err := makeRaw(t.In)
			return err
		}
		undos = append(undos, func() error {
			err := restore(t.In, st)
			if disarm != nil {
				disarm()
			}
			return err
		})
	}
	if t.Raw && t.Out != nil {
		if u := prepareOutput(t.Out); u != nil {
			undos = append(undos, u)
		}
	}
	return func() error {
		var errs []error
		for i := len(undos) - 1; i >= 0; i-- {
			errs = append(errs, undos[i]())
		}
		return errors.Join(errs...)
	}, suspend, nil
}

// ErrNoSuspend is what Safe's suspend returns without a raw terminal, or on Windows.
var ErrNoSuspend = errors.New("suspending is not supported here")

// InterruptSignals returns the signals that end a session, the ones Safe handles, so that a
// program can turn them into the cancellation of its work outside Safe too.
func InterruptSignals() []os.Signal { return append([]os.Signal(nil), interruptSignals...) }

// interrupt turns the first termination signal into a restore and a cancel, the way kubectl's
// interrupt.Handler does, and remembers which signal it was.
type interrupt struct {
	sigs    chan os.Signal
	done    chan struct{} // closed by stop
	stopped chan struct{} // closed when the goroutine has ended
	got     os.Signal     // written by the goroutine before stopped is closed
}

// notifyInterrupt starts handling interruptSignals until stop is called. On the first one it calls
// first while later signals are still caught, then removes the handler, so that only the first is
// ours: if the session ignores its cancelled context, the next signal ends the process as it
// would without us, with the terminal already restored. Then it calls then.
func notifyInterrupt(first, then func(os.Signal)) *interrupt {
	i := newInterrupt(first, then)
	signal.Notify(i.sigs, interruptSignals...)
	return i
}

// newInterrupt is notifyInterrupt without the signal.Notify, so a test can feed i.sigs itself.
func newInterrupt(first, then func(os.Signal)) *interrupt {
	i := &interrupt{
		sigs:    make(chan os.Signal, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go func() {
		defer close(i.stopped)
		select {
		case s := <-i.sigs:
			i.got = s
			first(s)
			signal.Stop(i.sigs)
			then(s)
		case <-i.done:
		}
	}()
	return i
}

// stop removes the handler and returns the signal that arrived, if any, including one that
// arrived just as fn returned and was not yet handled.
func (i *interrupt) stop() os.Signal {
	signal.Stop(i.sigs)
	close(i.done)
	<-i.stopped
	if i.got == nil {
		select {
		case s := <-i.sigs:
			i.got = s
		default:
		}
	}
	return i.got
}

// SignalError reports that a session ended because the local process got a signal, so the
// command can exit the way a shell expects of an interrupted program.
type SignalError struct {
	Signal os.Signal
	Err    error // what fn returned after the signal, if anything
}

// Error reads like os/exec's "signal: killed", so it is familiar next to a remote program's own
// exit errors.
func (e *SignalError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("signal: %v", e.Signal)
	}
	return fmt.Sprintf("signal: %v: %v", e.Signal, e.Err)
}

// Unwrap returns fn's error, so errors.Is(err, context.Canceled) and the like see through the
// signal.
func (e *SignalError) Unwrap() error { return e.Err }

// ExitCode returns 128+signal number (130 for SIGINT), as shells report, so that scripts see the
// same status as for any other interrupted program. A signal without a number gives 255.
func (e *SignalError) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 255
}
