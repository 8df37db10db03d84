package attach

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/pkg/rexec"
	"github.com/ecsterm/ecsterm/pkg/session"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// ErrWindows is returned for exec on a Windows instance.
var ErrWindows = errors.New("runs Windows: exec needs a Linux instance (its helper is POSIX sh; a PowerShell variant does not exist yet); use `ecsterm connect` for a shell")

// Exec runs command on the instance and returns its exit status. err is non-nil only when
// there is no status: the instance was not ready, the session failed, or the connection was
// lost before the status arrived. With tty, the command runs on the remote terminal and the
// local one, if any, goes raw.
func (a *Attacher) Exec(ctx context.Context, eo ExecOptions) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tty := eo.TTY
	o := &local{Streams: eo.Streams, Reporting: eo.Reporting, log: a.log}
	if tty {
		o.Terminal = eo.Terminal
	}
	stdin := o.Stdin
	var t term.TTY
	var suspend func() error
	release := func() {}
	if tty {
		var disarm func()
		t, disarm = o.guardedTTY()
		defer disarm()
		// Set inside Safe, before any key is read: the reader runs only once the command started.
		stdin, _, release = o.input(func() error { return suspend() }, t, cancel, session.EOFNothing)
		defer release() // if Safe never runs; it is called there too
	}
	out := &lateRecord{w: firstOutput(a.timing, o.Stdout)} // recorded once the session is open (record.go)
	req := rexec.Request{Command: eo.Command, TTY: tty, Stdin: stdin, Stdout: out, Stderr: o.Stderr}
	if tty && o.Out != nil {
		if sz, err := term.GetSize(o.Out); err == nil {
			req.Rows, req.Cols = sz.Rows, sz.Cols
		}
	}
	e, err := rexec.New(req)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	op, err := a.open(ctx, eo.Target, e.CommandLine(), func(in *cloud.Instance) error {
		if in.Windows() {
			return fmt.Errorf("%s %w", in.ID, ErrWindows)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	defer op.end()
	// The agent's limit counts from about now; a drop past it is that end (clock.go).
	expired := pastLimit(time.Now())
	recording := eo.Recording
	if !tty {
		recording = nil // only terminal sessions are recorded: a pipe's bytes are the user's own
	}
	rec, recInfo, err := o.startRecording(op, recording, eo.InstanceID)
	if err != nil {
		return 0, err
	}
	if rec != nil {
		defer rec.Close()
		out.rec.Store(rec)
	}

	run := func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-e.Done(): // the status is in: the session has nothing more to give
				cancel()
			case <-ctx.Done():
			}
		}()
		resume := resumeOptions(eo.NoResume, op.sess, o.StatusOut, tty && t.Raw, a.log)
		if resume != nil {
			resume.Expired = expired
		}
		opts := session.Options{Stdin: e.Input(), Stdout: e.Output(), OnEOF: session.EOFNothing, Logger: a.log,
			Resume: resume, OnPaced: o.OnPaced, Silence: silenceOptions(o.StatusOut, a.log)}
		if tty {
			opts.Sizes = o.sizesSeen(ctx, sizeRecorder(rec, recInfo))
		}
		return session.Run(ctx, op.conn, opts)
	}
	var runErr error
	if tty {
		runErr = t.Safe(ctx, func(ctx context.Context, s func() error) error {
			suspend = s
			o.raw(t, true)
			defer o.raw(t, false)
			// Stop reading keys before the terminal is the user's again: what they type next
			// (while EndTerminalSession is still in flight, say) is for their shell.
			defer release()
			return run(ctx)
		})
	} else {
		runErr = run(ctx)
	}
	e.Close()
	if cause := context.Cause(ctx); errors.Is(cause, term.ErrEscapeDisconnect) {
		return 0, fmt.Errorf("%s: %w", op.inst.ID, cause)
	}
	if status, err := e.Status(); err == nil {
		return status, nil
	} else if runErr != nil && !errors.Is(runErr, context.Canceled) {
		// The agent's limit reads as connect says it, not as a lost connection.
		return 0, fmt.Errorf("%s: %w", op.inst.ID, ExplainEnd(expiredDrop(runErr, expired)))
	} else if ctx.Err() != nil || runErr != nil {
		return 0, runErr
	} else {
		return 0, fmt.Errorf("%s: %w", op.inst.ID, err)
	}
}
