//go:build unix

package cli

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/ecsterm/ecsterm/pkg/term"
)

// TestInterruptsFirstCancelsSecondExits: the first signal cancels the command's context with
// the signal as the cause; the second is handed on for Main to exit at once.
func TestInterruptsFirstCancelsSecondExits(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sigs := make(chan os.Signal)
	unnotified := make(chan struct{})
	ctx, again, stop := watchInterrupts(context.Background(), sigs, func() { close(unnotified) })

	sigs <- syscall.SIGTERM
	<-ctx.Done()
	var se *term.SignalError
	if !errors.As(context.Cause(ctx), &se) || se.Signal != syscall.SIGTERM || se.ExitCode() != 143 {
		t.Fatalf("cause %v, want SIGTERM (143)", context.Cause(ctx))
	}
	if got := interrupted(ctx); got == nil || got.Signal != syscall.SIGTERM {
		t.Fatalf("interrupted = %v", got)
	}
	select {
	case s := <-again:
		t.Fatalf("the first signal was handed on as a second: %v", s)
	default:
	}

	sigs <- syscall.SIGINT
	if s := <-again; s != syscall.SIGINT {
		t.Fatalf("second signal %v, want interrupt", s)
	}
	stop()
	<-unnotified
	stop() // idempotent
}

// TestInterruptsStopWithoutSignal: a command that ends by itself leaves no handler, no
// goroutine, and a context that says no signal came.
func TestInterruptsStopWithoutSignal(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, _, stop := notifyInterrupts(context.Background())
	stop()
	if interrupted(ctx) != nil {
		t.Fatalf("interrupted without a signal: %v", context.Cause(ctx))
	}
}

// TestInterruptsRealSignal: a real SIGHUP to the process reaches the context.
func TestInterruptsRealSignal(t *testing.T) {
	ctx, _, stop := notifyInterrupts(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if se := interrupted(ctx); se == nil || se.ExitCode() != 129 {
		t.Fatalf("cause %v, want SIGHUP (129)", context.Cause(ctx))
	}
}
