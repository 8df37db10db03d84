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

// Options describe one session.
type Options struct {
	Cloud       *cloud.Client
	InstanceID  string
	Username    string
	CommandLine string // connect: a program instead of the login shell

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// InFile and OutFile are the local terminal when there is one; then it goes raw for the
	// session and its window size follows the session.
	InFile  *os.File
	OutFile *os.File
	// SetRaw is told when the terminal enters and leaves raw mode (so logs can adapt).
	SetRaw func(bool)
	Logger *slog.Logger
	// Escape is the escape character for ~. and friends on a raw terminal; NoEscape turns
	// escapes off.
	Escape   byte
	NoEscape bool
	// IdleTimeout ends an interactive session after this long without input or output.
	IdleTimeout time.Duration
	// NoResume keeps the session to schema 1.01: a dropped connection ends it. By default it
	// speaks 1.02 and reconnects (resumeoptions.go).
	NoResume bool
	// StatusOut is where the one-line reconnect status goes; nil leaves it to the debug log.
	StatusOut io.Writer
	// ListForwards returns what ~# shows (lines ending in \r\n): the session's forwarded
	// ports and connections. Nil means the session forwards nothing.
	ListForwards func() string
	// OnPaced is told when the service's bandwidth limit first holds this session's input back
	// (session.Options.OnPaced; PacedNotice makes one). Nil says nothing.
	OnPaced func(bitsPerSecond uint64)
	// Command runs a line typed after ~C and returns what to show (lines ending in \r\n). Nil
	// means the session takes no commands.
	Command func(line string) string
	// Recording, when set, records the session as an asciicast file (record.go).
	Recording *Recording
}

func (o *Options) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// dialGateway dials the session's WebSocket; tests wrap it to see the connection.
var dialGateway = session.Dial

// opened is a session whose WebSocket is up.
type opened struct {
	inst *cloud.Instance
	sess *cloud.Session
	conn *websocket.Conn
}

// open runs preflight alongside StartTerminalSession and the WebSocket dial, so that a ready
// instance costs one API round trip before the dial instead of two. If preflight finds the
// instance not ready, the speculative session is ended at once and preflight's explanation is
// what the user sees: it says what to do, where the API's error would not. check, if set,
// vets the instance before the session is used (exec refuses Windows).
func open(ctx context.Context, o *Options, commandLine string, check func(*cloud.Instance) error) (*opened, error) {
	log := o.log()
	start := time.Now()
	var (
		inst    *cloud.Instance
		preErr  error
		preDone = make(chan struct{})
	)
	go func() {
		defer close(preDone)
		inst, preErr = o.Cloud.Preflight(ctx, o.InstanceID)
		timing.Mark(ctx, "preflight")
		if preErr == nil && check != nil {
			preErr = check(inst)
		}
		log.Debug("preflight done", "instance", o.InstanceID, "err", preErr, "took", time.Since(start).String())
	}()
	// The service may start the session whatever becomes of its answer, so an interrupt does
	// not abandon the call: its answer names the session to end (the call is bounded by the
	// client's own timeouts and retries; a second signal exits at once).
	sess, err := o.Cloud.StartSession(context.WithoutCancel(ctx), cloud.StartOptions{InstanceID: o.InstanceID, Username: o.Username, CommandLine: commandLine})
	if err == nil {
		timing.Mark(ctx, "StartTerminalSession")
	}
	if err != nil {
		<-preDone
		if preErr != nil {
			return nil, preErr
		}
		return nil, err
	}
	op := &opened{sess: sess}
	log.Debug("dialing session gateway", "url", session.RedactURL(sess.URL))
	op.conn, err = dialGateway(ctx, sess.URL, session.DialOptions{Token: sess.Token})
	if err == nil {
		timing.Mark(ctx, "WebSocket open")
	}
	<-preDone
	if preErr != nil || err != nil {
		if op.conn != nil {
			op.conn.Close()
		}
		op.end(o)
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
func (op *opened) end(o *Options) {
	if err := o.Cloud.EndSession(op.sess.ID); err != nil {
		o.log().Debug("EndTerminalSession failed", "session", op.sess.ID, "err", err)
	}
}

// Interactive runs a shell (or CommandLine) session on the instance until it ends. It returns
// nil when the remote side ended normally.
func Interactive(ctx context.Context, o Options) error {
	tty, disarm := o.guardedTTY()
	defer disarm()
	op, err := open(ctx, &o, o.CommandLine, nil)
	if err != nil {
		return err
	}
	defer op.end(&o)
	// The agent's limit counts from about now; a drop past it is that end (clock.go).
	expired := pastLimit(time.Now())
	rec, recInfo, err := o.startRecording(op)
	if err != nil {
		return err
	}
	if rec != nil {
		defer rec.Close()
	}
	resume := resumeOptions(o.NoResume, op.sess, o.StatusOut, tty.Raw, o.log())
	if resume != nil {
		resume.Expired = expired
	}
	return tty.Safe(ctx, func(ctx context.Context) error {
		o.raw(tty, true)
		defer o.raw(tty, false)
		if injectFaults != nil {
			injectFaults()
		}
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		stdin, onEOF, release := o.input(func() context.Context { return ctx }, tty, cancel, session.EOFCtrlD)
		defer release()
		stdout := firstOutput(ctx, o.Stdout)
		defer WarnLimit(o.StatusOut, tty.Raw)() // the agent's 3 h limit (clock.go)
		if rec != nil {
			stdout = &recordedOutput{w: stdout, rec: rec}
			if o.Recording.Input && stdin != nil {
				stdin = &recordedInput{r: stdin, rec: rec}
			}
		}
		err := session.Run(ctx, op.conn, session.Options{
			Stdin:       stdin,
			Stdout:      stdout,
			Sizes:       o.sizesSeen(ctx, sizeRecorder(rec, recInfo)),
			OnEOF:       onEOF,
			Logger:      o.log(),
			IdleTimeout: o.IdleTimeout,
			// The real agent starts its PTY about a second after the connection, then its
			// output pump waits another second (docs/protocol.md, Interactive shell);
			// typed-ahead input waits for the prompt.
			HoldInput: 3 * time.Second,
			Resume:    resume,
			Silence:   silenceOptions(o.StatusOut, o.log()),
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
// safeCtx returns the context term.TTY.Safe gave the session, which ~^Z needs to suspend; it
// may be called only once Safe runs (Exec asks for its input before). The caller calls release
// when the session is over.
func (o *Options) input(safeCtx func() context.Context, t term.TTY, cancel context.CancelCauseFunc, onEOF session.EOFAction) (r io.Reader, _ session.EOFAction, release func()) {
	release = func() {}
	if !t.Raw || o.Stdin == nil {
		return o.Stdin, onEOF, release
	}
	stdin := o.Stdin
	if f, ok := stdin.(*os.File); ok && f == o.InFile {
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
		List:       o.listForwards(),
		Command:    o.Command,
		Disconnect: func() { cancel(term.ErrEscapeDisconnect) },
		Suspend: func() {
			if err := term.Suspend(safeCtx()); err != nil {
				fmt.Fprintf(o.helpOut(), "ecsterm: %v\r\n", err)
			}
		},
	}), session.EOFNothing, release
}

// listForwards is the ~# action: nil, so the escape reader says there is nothing to list,
// when the session forwards nothing.
func (o *Options) listForwards() func() {
	if o.ListForwards == nil {
		return nil
	}
	return func() { fmt.Fprint(o.helpOut(), o.ListForwards()) }
}

func (o *Options) helpOut() io.Writer {
	if o.Stderr != nil {
		return o.Stderr
	}
	return io.Discard
}

func (o *Options) tty() term.TTY {
	return term.TTY{In: o.InFile, Out: o.OutFile, Raw: o.InFile != nil && term.IsTerminal(o.InFile)}
}

// guardedTTY is tty() with a watcher process that restores the terminal if ecsterm dies
// without doing so (internal/ttyguard). The watcher starts now, while the session is being
// set up, so waiting for it costs nothing; the returned func disarms it if Safe never ran.
func (o *Options) guardedTTY() (term.TTY, func()) {
	t := o.tty()
	if !t.Raw {
		return t, func() {}
	}
	g, err := ttyguard.Start(o.InFile)
	if err != nil {
		o.log().Debug("no terminal guard", "err", err)
		return t, func() {}
	}
	t.Guard = ttyguard.Arm(g)
	return t, g.Disarm
}

func (o *Options) raw(t term.TTY, on bool) {
	if t.Raw && o.SetRaw != nil {
		o.SetRaw(on)
	}
}

// sizes follows the local window when the output is a terminal; nil otherwise.
func (o *Options) sizes(ctx context.Context) <-chan session.Size { return o.sizesSeen(ctx, nil) }

// sizesSeen is sizes, with seen (if set) told each size before it is sent: the recording's
// resize events.
func (o *Options) sizesSeen(ctx context.Context, seen func(session.Size)) <-chan session.Size {
	if o.OutFile == nil || !term.IsTerminal(o.OutFile) {
		return nil
	}
	out := make(chan session.Size, 1)
	go relaySizes(ctx, term.WatchSize(ctx, o.OutFile), out, seen)
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
func firstOutput(ctx context.Context, w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return &markFirst{ctx: ctx, w: w}
}

type markFirst struct {
	ctx  context.Context
	w    io.Writer
	done bool
}

func (m *markFirst) Write(p []byte) (int, error) {
	if !m.done && len(p) > 0 {
		m.done = true
		timing.Mark(m.ctx, "first output")
	}
	return m.w.Write(p)
}
