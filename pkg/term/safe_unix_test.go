//go:build unix

package term

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// oddTermios changes tty's termios away from the defaults a pty starts with, so a test can tell
// "restored what was there" from "reset to something sane".
func oddTermios(t *testing.T, tty *os.File) unix.Termios {
	t.Helper()
	tio := getTermios(t, tty)
	tio.Lflag &^= unix.IEXTEN | unix.ECHOK
	tio.Cc[unix.VERASE] = 0x08 // ^H instead of DEL
	tio.Cc[unix.VKILL] = 0x0b  // ^K instead of ^U
	setTermios(t, tty, tio)
	return getTermios(t, tty)
}

func TestSafeRawInsideExactRestoreAfter(t *testing.T) {
	_, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	before := oddTermios(t, tty)

	ran := false
	err := TTY{In: tty, Out: tty, Raw: true}.Safe(t.Context(), func(context.Context, func() error) error {
		ran = true
		during := getTermios(t, tty)
		for _, flag := range []struct {
			name string
			bit  uint32
		}{{"ICANON", unix.ICANON}, {"ECHO", unix.ECHO}, {"ISIG", unix.ISIG}} {
			if uint32(during.Lflag)&flag.bit != 0 {
				t.Errorf("%s is on inside Safe, want raw mode", flag.name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Safe() = %v", err)
	}
	if !ran {
		t.Fatal("fn did not run")
	}
	if after := getTermios(t, tty); after != before {
		t.Errorf("termios after Safe:\n got %+v\nwant %+v", after, before)
	}
}

func TestSafeRestoresThenRepanics(t *testing.T) {
	_, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	before := oddTermios(t, tty)

	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = TTY{In: tty, Out: tty, Raw: true}.Safe(t.Context(), func(context.Context, func() error) error {
			panic("boom")
		})
	}()
	if recovered != "boom" {
		t.Errorf("recovered %v, want the panic from fn", recovered)
	}
	if after := getTermios(t, tty); after != before {
		t.Errorf("termios after panic:\n got %+v\nwant %+v", after, before)
	}
}

func TestSafeSignal(t *testing.T) {
	tests := []struct {
		sig  unix.Signal
		code int
	}{
		{unix.SIGINT, 130},
		{unix.SIGTERM, 143},
		{unix.SIGHUP, 129},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			_, tty := openPTY(t, Size{Rows: 24, Cols: 80})
			before := oddTermios(t, tty)

			// Sent from inside fn, so Safe's handler is installed and the signal cannot kill
			// the test binary.
			err := TTY{In: tty, Out: tty, Raw: true}.Safe(t.Context(), func(ctx context.Context, _ func() error) error {
				kill(t, tt.sig)
				<-ctx.Done()
				if during := getTermios(t, tty); during != before {
					t.Errorf("termios not restored at once on %v:\n got %+v\nwant %+v", tt.sig, during, before)
				}
				var cause *SignalError
				if !errors.As(context.Cause(ctx), &cause) || cause.Signal != tt.sig {
					t.Errorf("context.Cause = %v, want a *SignalError for %v", context.Cause(ctx), tt.sig)
				}
				return ctx.Err()
			})

			var se *SignalError
			if !errors.As(err, &se) {
				t.Fatalf("Safe() = %v, want a *SignalError", err)
			}
			if se.Signal != tt.sig {
				t.Errorf("Signal = %v, want %v", se.Signal, tt.sig)
			}
			if got := se.ExitCode(); got != tt.code {
				t.Errorf("ExitCode() = %d, want %d", got, tt.code)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Safe() = %v, want it to wrap fn's context.Canceled", err)
			}
			if after := getTermios(t, tty); after != before {
				t.Errorf("termios after Safe:\n got %+v\nwant %+v", after, before)
			}
		})
	}
}

// A restore on return after the signal already restored would undo whatever the terminal went
// through in between; here fn stands in for that by changing the termios itself.
func TestSafeRestoresOnlyOnce(t *testing.T) {
	_, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	before := getTermios(t, tty)
	changed := before
	changed.Lflag &^= unix.ECHO

	err := TTY{In: tty, Out: tty, Raw: true}.Safe(t.Context(), func(ctx context.Context, _ func() error) error {
		kill(t, unix.SIGTERM)
		<-ctx.Done()
		setTermios(t, tty, changed)
		return nil
	})
	var se *SignalError
	if !errors.As(err, &se) || se.Err != nil {
		t.Errorf("Safe() = %v, want a *SignalError wrapping nothing", err)
	}
	if after := getTermios(t, tty); after != changed {
		t.Errorf("termios after Safe was restored a second time:\n got %+v\nwant %+v", after, changed)
	}
}

func TestSafeLeavesTerminalAlone(t *testing.T) {
	_, tty := openPTY(t, Size{Rows: 24, Cols: 80})
	r, w := pipe(t)
	want := errors.New("fn's own error")

	tests := []struct {
		name  string
		tty   TTY
		watch *os.File // a terminal that must not change
	}{
		{"not raw", TTY{In: tty, Out: tty}, tty},
		{"input is a pipe", TTY{In: r, Out: tty, Raw: true}, tty},
		{"output is a pipe", TTY{In: r, Out: w, Raw: true}, tty},
		{"no files", TTY{Raw: true}, tty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := getTermios(t, tt.watch)
			ran := false
			err := tt.tty.Safe(t.Context(), func(context.Context, func() error) error {
				ran = true
				if during := getTermios(t, tt.watch); during != before {
					t.Errorf("termios changed inside Safe:\n got %+v\nwant %+v", during, before)
				}
				return want
			})
			if !ran {
				t.Error("fn did not run")
			}
			if err != want {
				t.Errorf("Safe() = %v, want fn's error unchanged", err)
			}
			if after := getTermios(t, tt.watch); after != before {
				t.Errorf("termios changed after Safe:\n got %+v\nwant %+v", after, before)
			}
		})
	}
}

func TestSafeParentCancelIsNoSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	err := TTY{}.Safe(ctx, func(ctx context.Context, _ func() error) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	var se *SignalError
	if errors.As(err, &se) || !errors.Is(err, context.Canceled) {
		t.Errorf("Safe() = %v, want plain context.Canceled", err)
	}
}

// After the first signal Safe lets go, so a second one ends a process whose fn hangs. That kills
// the process, so it happens in a child: this test binary again, running only the helper below.
func TestSafeSecondSignalHasDefaultEffect(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound on failure, not a wait
	defer cancel()
	stdin, keepOpen := pipe(t)
	_ = keepOpen // held open so the child's read blocks until it dies

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSafeSecondSignalHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()

	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v, want it killed by SIGTERM; output:\n%s", err, out)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("child: %v, want it killed by SIGTERM; output:\n%s", err, out)
	}
}

func TestSafeSecondSignalHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return // only in the child of TestSafeSecondSignalHasDefaultEffect
	}
	_ = TTY{}.Safe(context.Background(), func(ctx context.Context, _ func() error) error {
		kill(t, unix.SIGTERM)
		<-ctx.Done()
		kill(t, unix.SIGTERM)
		_, _ = io.Copy(io.Discard, os.Stdin) // a fn that ignores its context
		return nil
	})
	t.Error("still alive after the second SIGTERM")
}
