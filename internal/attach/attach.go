// Package attach joins the local terminal or pipes to a session on an instance. It is the glue
// of one session's path (DESIGN.md §1): preflight and StartTerminalSession through internal/cloud,
// the WebSocket and frames through pkg/session, raw mode and window sizes through pkg/term, and
// EndTerminalSession when it is over. Commands call it; it knows nothing of cobra.
package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/pkg/session"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// Options describe one interactive session.
type Options struct {
	Cloud       *cloud.Client
	InstanceID  string
	Username    string
	CommandLine string

	Stdin  io.Reader
	Stdout io.Writer
	// InFile and OutFile are the local terminal when there is one; then it goes raw for the
	// session and its window size follows the session.
	InFile  *os.File
	OutFile *os.File
	// SetRaw is told when the terminal enters and leaves raw mode (so logs can adapt).
	SetRaw func(bool)
	// Progress, if set, receives one-line status messages meant for stderr.
	Progress func(string)
	Logger   *slog.Logger
}

// Interactive runs a shell (or CommandLine) session on the instance until it ends. It returns
// nil when the remote side ended normally.
func Interactive(ctx context.Context, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	inst, err := o.Cloud.Preflight(ctx, o.InstanceID)
	if err != nil {
		return err
	}
	log.Debug("preflight done", "instance", inst.ID, "name", inst.Name, "agent", inst.AgentVersion, "took", time.Since(start).String())
	sess, err := o.Cloud.StartSession(ctx, cloud.StartOptions{InstanceID: inst.ID, Username: o.Username, CommandLine: o.CommandLine})
	if err != nil {
		return err
	}
	defer func() {
		if err := o.Cloud.EndSession(sess.ID); err != nil {
			log.Debug("EndTerminalSession failed", "session", sess.ID, "err", err)
		}
	}()
	log.Debug("dialing session gateway", "url", session.RedactURL(sess.URL))
	conn, err := session.Dial(ctx, sess.URL, session.DialOptions{Token: sess.Token})
	if err != nil {
		return err
	}
	log.Debug("session open", "session", sess.ID, "took", time.Since(start).String())

	tty := term.TTY{In: o.InFile, Out: o.OutFile, Raw: o.InFile != nil && term.IsTerminal(o.InFile)}
	return tty.Safe(ctx, func(ctx context.Context) error {
		if tty.Raw && o.SetRaw != nil {
			o.SetRaw(true)
			defer o.SetRaw(false)
		}
		var sizes chan session.Size
		if o.OutFile != nil && term.IsTerminal(o.OutFile) {
			sizes = make(chan session.Size, 1)
			go relaySizes(ctx, term.WatchSize(ctx, o.OutFile), sizes)
		}
		err := session.Run(ctx, conn, session.Options{
			Stdin:  o.Stdin,
			Stdout: o.Stdout,
			Sizes:  sizes,
			OnEOF:  session.EOFCtrlD,
			Logger: log,
			// The real agent starts its PTY about a second after the connection, then its
			// output pump waits another second (§7.1); typed-ahead input waits for the prompt.
			HoldInput: 3 * time.Second,
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: %w", inst.ID, err)
		}
		return nil
	})
}

// relaySizes adapts terminal sizes to session sizes: the two packages do not know each other.
func relaySizes(ctx context.Context, in <-chan term.Size, out chan<- session.Size) {
	defer close(out)
	for s := range in {
		select {
		case out <- session.Size{Rows: s.Rows, Cols: s.Cols}:
		case <-ctx.Done():
			return
		}
	}
}
