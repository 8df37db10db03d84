package term

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
)

func TestSignalError(t *testing.T) {
	tests := []struct {
		name     string
		err      *SignalError
		wantMsg  string
		wantCode int
		wantIs   error
	}{
		{"interrupt", &SignalError{Signal: os.Interrupt}, "signal: interrupt", 130, nil},
		{"terminated with cause", &SignalError{Signal: syscall.SIGTERM, Err: context.Canceled},
			"signal: terminated: context canceled", 143, context.Canceled},
		{"hangup", &SignalError{Signal: syscall.SIGHUP}, "signal: hangup", 129, nil},
		{"signal without a number", &SignalError{Signal: fakeSignal{}}, "signal: fake", 255, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", got, tt.wantMsg)
			}
			if got := tt.err.ExitCode(); got != tt.wantCode {
				t.Errorf("ExitCode() = %d, want %d", got, tt.wantCode)
			}
			if got := tt.err.Unwrap(); got != tt.wantIs {
				t.Errorf("Unwrap() = %v, want %v", got, tt.wantIs)
			}
			if tt.wantIs != nil && !errors.Is(tt.err, tt.wantIs) {
				t.Errorf("errors.Is(%v) = false", tt.wantIs)
			}
		})
	}
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

// os/signal may put a signal in the channel just before stop removes the handler (signal.Stop
// waits for such deliveries); it must be reported, not lost because the goroutine saw done first.
// The goroutine's choice is random, so this runs a number of times.
func TestInterruptStopKeepsPendingSignal(t *testing.T) {
	for range 100 {
		i := newInterrupt(func(os.Signal) {}, func(os.Signal) {})
		i.sigs <- syscall.SIGHUP // as os/signal would deliver it
		if got := i.stop(); got != syscall.SIGHUP {
			t.Fatalf("stop() = %v, want SIGHUP", got)
		}
	}
}

func TestInterruptStopWithoutSignal(t *testing.T) {
	called := false
	i := newInterrupt(func(os.Signal) { called = true }, func(os.Signal) { called = true })
	if got := i.stop(); got != nil {
		t.Errorf("stop() = %v, want no signal", got)
	}
	if called {
		t.Error("onSignal called without a signal")
	}
}

func TestSafeSuspendWithoutRawTerminal(t *testing.T) {
	err := TTY{}.Safe(t.Context(), func(_ context.Context, suspend func() error) error {
		return suspend()
	})
	if !errors.Is(err, ErrNoSuspend) {
		t.Fatalf("suspend() outside a raw terminal = %v, want ErrNoSuspend", err)
	}
}
