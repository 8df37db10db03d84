package attach

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// firstWrite closes started on its first write: the remote command is running.
type firstWrite struct {
	once    sync.Once
	started chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	return len(p), nil
}

// TestExecInterruptedEndsSession: an exec whose context is cancelled by a signal while the
// command runs (what Main does on SIGINT) returns at once without a status, has ended its
// session with EndTerminalSession, and leaves no goroutine behind, stdin or not.
func TestExecInterruptedEndsSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin bool
	}{{"no stdin", false}, {"stdin open", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e, c := testEmulator(t, emulator.Options{})
			before := goleak.IgnoreCurrent()
			ctx, cancel := context.WithCancelCause(testCtx(t))
			defer cancel(nil)
			out := &firstWrite{started: make(chan struct{})}
			a, o := New(Config{API: c}), ExecOptions{Target: Target{InstanceID: idDemo}, Streams: Streams{Stdout: out}, Command: "echo started; sleep 600"}
			if tc.stdin {
				// A reader that Exec cannot finish: stdin is the user's, never closed by Exec.
				r, _ := ioPipe(t)
				o.Stdin = r
			}
			type outcome struct {
				status int
				err    error
			}
			done := make(chan outcome, 1)
			go func() {
				st, err := a.Exec(ctx, o)
				done <- outcome{st, err}
			}()
			select {
			case <-out.started:
			case <-time.After(30 * time.Second):
				t.Fatal("the command did not start")
			}
			cancel(&term.SignalError{Signal: syscall.SIGINT})
			var r outcome
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Exec did not return after its context was cancelled")
			}
			if r.err == nil || !errors.Is(r.err, context.Canceled) {
				t.Errorf("Exec = %d, %v; want no status and context.Canceled", r.status, r.err)
			}
			if n := e.Calls("EndTerminalSession"); n != 1 {
				t.Errorf("EndTerminalSession called %d times, want 1", n)
			}
			goleak.VerifyNone(t, before,
				// The API client's and the emulator's pooled HTTP connections outlive a call.
				goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
				goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
				goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
				// A blocked read of the caller's stdin, which only the caller can end.
				goleak.IgnoreAnyFunction("io.(*pipe).read"))
		})
	}
}

func ioPipe(t *testing.T) (*io.PipeReader, *io.PipeWriter) {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	return r, w
}
