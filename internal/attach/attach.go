// Package attach joins the local terminal or pipes to a session on an instance. It is the glue
// of one session's path: preflight and StartTerminalSession through internal/cloud,
// the WebSocket and frames through pkg/session, the exec exchange through pkg/rexec, raw mode
// and window sizes through pkg/term, and EndTerminalSession when it is over. Commands call it;
// it knows nothing of cobra.
package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/timing"
	"github.com/ecsterm/ecsterm/internal/ttyguard"
	"github.com/ecsterm/ecsterm/pkg/session"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// local is a session's side on this machine: its streams, the terminal it may take over, and
// what the escape reader offers there.
type local struct {
	Streams
	Terminal
	Reporting
	listForwards func() string
	command      func(line string) string
	log          *slog.Logger
}

// dialGateway dials the session's WebSocket; tests wrap it to see the connection.
var dialGateway = session.Dial

// opened is a session whose WebSocket is up.
type opened struct {
	a    *Attacher
	inst *cloud.Instance
	sess *cloud.Session
	conn *websocket.Conn
}

// open runs preflight alongside StartTerminalSession and the WebSocket dial, so that a ready
// instance costs one API round trip before the dial instead of two. If preflight finds the
// instance not ready, the speculative session is ended at once and preflight's explanation is
// what the user sees: it says what to do, where the API's error would not. check, if set,
// vets the instance before the session is used (exec refuses Windows).
func (a *Attacher) open(ctx context.Context, t Target, commandLine string, check func(*cloud.Instance) error) (*opened, error) {
	log := a.log
	start := time.Now()
	var (
		inst    *cloud.Instance
		preErr  error
		preDone = make(chan struct{})
	)
	go func() {
		defer close(preDone)
		inst, preErr = a.api.Preflight(ctx, t.InstanceID)
		a.timing.Mark("preflight")
		if preErr == nil && check != nil {
			preErr = check(inst)
		}
		log.Debug("preflight done", "instance", t.InstanceID, "err", preErr, "took", time.Since(start).String())
	}()
	// The service may start the session whatever becomes of its answer, so an interrupt does
	// not abandon the call: its answer names the session to end (the call is bounded by the
	// client's own timeouts and retries; a second signal exits at once).
	sess, err := a.api.StartSession(context.WithoutCancel(ctx), cloud.StartOptions{InstanceID: t.InstanceID, Username: t.Username, CommandLine: commandLine})
	if err == nil {
		a.timing.Mark("StartTerminalSession")
	}
	if err != nil {
		<-preDone
		if preErr != nil {
			return nil, preErr
		}
		return nil, err
	}
	op := &opened{a: a, sess: sess}
	log.Debug("dialing session gateway", "url", session.RedactURL(sess.URL))
	op.conn, err = dialGateway(ctx, sess.URL, session.DialOptions{Token: sess.Token})
	if err == nil {
		a.timing.Mark("WebSocket open")
	}
	<-preDone
	if preErr != nil || err != nil {
		if op.conn != nil {
			op.conn.Close()
		}
		op.end()
		if preErr != nil {
			return nil, preErr
		}
		return nil, err
	}
	op.inst = inst
	log.Debug("session open", "session", sess.ID, "took", time.Since(start).String())
	return op, nil
}

// end calls EndTerminalSession so the session stops counting against the region's quota.
func (op *opened) end() {
	if err := op.a.api.EndSession(op.sess.ID); err != nil {
		op.a.log.Debug("EndTerminalSession failed", "session", op.sess.ID, "err", err)
	}
}

// Shell runs a shell (or CommandLine) session on the instance until it ends. It returns nil
// when the remote side ended normally.
func (a *Attacher) Shell(ctx context.Context, so ShellOptions) error {
	o := &local{Streams: so.Streams, Terminal: so.Terminal, Reporting: so.Reporting,
		listForwards: so.ListForwards, command: so.Command, log: a.log}
	tty, disarm := o.guardedTTY()
	defer disarm()
	op, err := a.open(ctx, so.Target, so.CommandLine, nil)
	if err != nil {
		return err
	}
	defer op.end()
	// The agent's limit counts from about now; a drop past it is that end (clock.go).
	expired := pastLimit(time.Now())
	rec, recInfo, err := o.startRecording(op, so.Recording, so.InstanceID)
	if err != nil {
		return err
	}
	if rec != nil {
		defer rec.Close()
	}
	resume := resumeOptions(so.NoResume, op.sess, o.StatusOut, tty.Raw, a.log)
	if resume != nil {
		resume.Expired = expired
	}
	return tty.Safe(ctx, func(ctx context.Context, suspend func() error) error {
		o.raw(tty, true)
		defer o.raw(tty, false)
		if injectFaults != nil {
			injectFaults()
		}
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		stdin, onEOF, release := o.input(suspend, tty, cancel, session.EOFCtrlD)
		defer release()
		stdout := firstOutput(a.timing, o.Stdout)
		defer WarnLimit(o.StatusOut, tty.Raw)() // the agent's 3 h limit (clock.go)
		if rec != nil {
			stdout = &recordedOutput{w: stdout, rec: rec}
			if so.Recording.Input && stdin != nil {
				stdin = &recordedInput{r: stdin, rec: rec}
			}
		}
		err := session.Run(ctx, op.conn, session.Options{
			Stdin:       stdin,
			Stdout:      stdout,
			Sizes:       o.sizesSeen(ctx, sizeRecorder(rec, recInfo)),
			OnEOF:       onEOF,
			Logger:      a.log,
			IdleTimeout: so.IdleTimeout,
			// The real agent starts its PTY about a second after the connection, then its
			// output pump waits another second (docs/protocol.md, Interactive shell);
			// typed-ahead input waits for the prompt.
			HoldInput: 3 * time.Second,
			Resume:    resume,
			Silence:   silenceOptions(o.StatusOut, a.log),
			OnPaced:   o.OnPaced,
		})
		if cause := context.Cause(ctx); errors.Is(cause, term.ErrEscapeDisconnect) {
			return fmt.Errorf("%s: %w", op.inst.ID, cause)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: %w", op.inst.ID, ExplainEnd(endedOutside(expiredDrop(err, expired))))
		}
		return nil
	})
}

// input is the session's input: on a raw terminal, keystrokes pass through the escape reader
// (whose ~. cancels the session with ErrEscapeDisconnect as the cause), and the terminal never
// reaches end of file, so nothing is sent for one. The raw terminal is read through
// term.ConsoleInput: on Linux a second, non-blocking open of the terminal read through Go's
// poller, on a Windows console a reader that also hands window resizes to o.sizes, elsewhere
// the file itself.
// suspend is ~^Z's action, the one term.TTY.Safe hands the session. The caller calls release
// when the session is over.
func (o *local) input(suspend func() error, t term.TTY, cancel context.CancelCauseFunc, onEOF session.EOFAction) (r io.Reader, _ session.EOFAction, release func()) {
	release = func() {}
	if !t.Raw || o.Stdin == nil {
		return o.Stdin, onEOF, release
	}
	stdin := o.Stdin
	if f, ok := stdin.(*os.File); ok && f == o.In {
		stdin, release = term.ConsoleInput(f)
	}
	if o.NoEscape {
		return stdin, onEOF, release
	}
	esc := o.Escape
	if esc == 0 {
		esc = '~'
	}
	return term.NewEscapeReader(stdin, esc, term.EscapeActions{
		Help:       func(s string) { fmt.Fprint(o.helpOut(), s) },
		List:       o.listForwardsAction(),
		Command:    o.command,
		Disconnect: func() { cancel(term.ErrEscapeDisconnect) },
		Suspend: func() {
			if err := suspend(); err != nil {
				fmt.Fprintf(o.helpOut(), "ecsterm: %v\n", err) // the raw stderr ends it with \r\n
			}
		},
	}), session.EOFNothing, release
}

// listForwards is the ~# action: nil, so the escape reader says there is nothing to list,
// when the session forwards nothing.
func (o *local) listForwardsAction() func() {
	if o.listForwards == nil {
		return nil
	}
	return func() { fmt.Fprint(o.helpOut(), o.listForwards()) }
}

func (o *local) helpOut() io.Writer {
	if o.Stderr != nil {
		return o.Stderr
	}
	return io.Discard
}

func (o *local) tty() term.TTY {
	return term.TTY{In: o.In, Out: o.Out, Raw: o.In != nil && term.IsTerminal(o.In)}
}

// guardedTTY is tty() with a watcher process that restores the terminal if ecsterm dies
// without doing so (internal/ttyguard). The watcher starts now, while the session is being
// set up, so waiting for it costs nothing; the returned func disarms it if Safe never ran.
func (o *local) guardedTTY() (term.TTY, func()) {
	t := o.tty()
	if !t.Raw {
		return t, func() {}
	}
	g, err := ttyguard.Start(o.In)
	if err != nil {
		o.log.Debug("no terminal guard", "err", err)
		return t, func() {}
	}
	t.Guard = ttyguard.Arm(g)
	return t, g.Disarm
}

func (o *local) raw(t term.TTY, on bool) {
	if t.Raw && o.SetRaw != nil {
		o.SetRaw(on)
	}
}

// sizesSeen follows the local window when the output is a terminal (nil otherwise), with seen (if set) told each size before it is sent: the recording's
// resize events.
func (o *local) sizesSeen(ctx context.Context, seen func(session.Size)) <-chan session.Size {
	if o.Out == nil || !term.IsTerminal(o.Out) {
		return nil
	}
	out := make(chan session.Size, 1)
	go relaySizes(ctx, term.WatchSize(ctx, o.Out), out, seen)
	return out
}

// relaySizes adapts terminal sizes to session sizes: the two packages do not know each other.
func relaySizes(ctx context.Context, in <-chan term.Size, out chan<- session.Size, seen func(session.Size)) {
	defer close(out)
	for s := range in {
		if seen != nil {
			seen(session.Size{Rows: s.Rows, Cols: s.Cols})
		}
		select {
		case out <- session.Size{Rows: s.Rows, Cols: s.Cols}:
		case <-ctx.Done():
			return
		}
	}
}

// firstOutput marks "first output" for --timing when w is first written to: the moment the user
// sees the remote side.
func firstOutput(rec *timing.Recorder, w io.Writer) io.Writer {
	if w == nil || rec == nil {
		return w
	}
	return &markFirst{rec: rec, w: w}
}

type markFirst struct {
	rec  *timing.Recorder
	w    io.Writer
	done bool
}

func (m *markFirst) Write(p []byte) (int, error) {
	if !m.done && len(p) > 0 {
		m.done = true
		m.rec.Mark("first output")
	}
	return m.w.Write(p)
}
