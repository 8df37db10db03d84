package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// Request is one command for a holder.
type Request struct {
	Command string
	// Stdin is the command's input; nil means none (end of file at once).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// ErrCold is wrapped by Client.Exec when the command did not start on a warm session and
// should run on a cold one: no holder could be reached or started, or all its sessions are
// busy. Nothing of the request's stdin has been read then.
var ErrCold = errors.New("no warm session")

// startTimeout bounds the wait for a holder just started to listen.
const startTimeout = 10 * time.Second

// interruptGrace is how long a command interrupted by the user has to report its status
// before the client gives up on it (closing the connection stops it too).
const interruptGrace = 15 * time.Second

// Client hands commands to the holder of one key, starting the holder when none runs.
type Client struct {
	Key Key
	// Dir is the sockets' directory (Dir).
	Dir string
	// Start starts a holder for Key in the background (Spawn); it need not wait for it to
	// listen. exited, if not nil, is sent the holder's end if it ends: a holder that failed
	// (an error) will not listen, while one that found another holder starting (nil) leaves
	// the wait to that one.
	Start  func() (exited <-chan error, err error)
	Logger *slog.Logger
}

func (c *Client) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// dial connects to the holder, starting one if none answers: a socket with no one behind it (a
// holder killed with SIGKILL) is replaced by the new holder.
func (c *Client) dial(ctx context.Context) (*net.UnixConn, error) {
	sock, err := socketPath(c.Dir, c.Key)
	if err != nil {
		return nil, err
	}
	addr := &net.UnixAddr{Name: sock, Net: "unix"}
	conn, err := net.DialUnix("unix", nil, addr)
	if err == nil {
		return conn, nil
	}
	c.log().Debug("no persist holder answers; starting one", "err", err)
	if c.Start == nil {
		return nil, err
	}
	exited, err := c.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the persist holder: %w", err)
	}
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	wait := 2 * time.Millisecond
	for {
		if conn, err = net.DialUnix("unix", nil, addr); err == nil {
			return conn, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case xerr := <-exited:
			t.Stop()
			if xerr != nil {
				return nil, fmt.Errorf("the persist holder failed to start: %w", xerr)
			}
			exited = nil
		case <-deadline.C:
			t.Stop()
			return nil, fmt.Errorf("the persist holder did not start listening within %v: %w", startTimeout, err)
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Exec runs r on one of the holder's warm sessions and returns its exit status; err is set
// only when there is none. An error wrapping ErrCold means the command did not start: run it
// cold. Cancelling ctx interrupts the command on the instance, and only it.
func (c *Client) Exec(ctx context.Context, r Request) (int, error) {
	for attempt := 0; ; attempt++ {
		st, err, retry := c.exec(ctx, r)
		if !retry || attempt == 1 {
			return st, err
		}
		c.log().Debug("persist holder went away before answering; trying again", "err", err)
	}
}

// exec is one attempt of Exec; retry says the holder vanished before it took the command (it
// was exiting), so another attempt starts a new one.
func (c *Client) exec(ctx context.Context, r Request) (_ int, _ error, retry bool) {
	conn, err := c.dial(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCold, err), false
	}
	defer conn.Close()
	fw := &frameWriter{w: conn}
	// A holder that refuses this client answers and closes without reading the request, so
	// the request may fail to go out: the answer says why.
	werr := fw.writeJSON(frameRequest, request{Op: "exec", InstanceID: c.Key.InstanceID, User: c.Key.User, Command: r.Command})
	typ, p, err := readFrame(conn)
	switch {
	case err != nil && werr != nil:
		return 0, fmt.Errorf("%w: %w", ErrCold, werr), true
	case err != nil:
		return 0, fmt.Errorf("%w: the persist holder closed the connection: %w", ErrCold, err), true
	case typ == frameCold:
		return 0, fmt.Errorf("%w: %s", ErrCold, oneLine(string(p))), false
	case typ == frameError:
		return 0, fmt.Errorf("persist holder: %s", oneLine(string(p))), false
	case typ != frameAccepted:
		return 0, fmt.Errorf("persist holder: unexpected frame %q", typ), false
	}
	id := string(p)
	go pumpStdin(fw, r.Stdin)
	stop := context.AfterFunc(ctx, func() {
		// The holder answers once the command has stopped; if it does not, the connection's
		// end stops the command.
		_ = conn.SetReadDeadline(time.Now().Add(interruptGrace))
		c.interrupt(id)
	})
	defer stop()
	st, err := readAnswer(conn, r, func() { go c.interrupt(id) })
	if ctx.Err() != nil {
		// As a cold command's: the interrupt is what ended it, whatever its status.
		return 0, context.Cause(ctx), false
	}
	return st, err, false
}

// interrupt asks the holder to stop the command id, on a connection of its own.
func (c *Client) interrupt(id string) {
	sock, err := socketPath(c.Dir, c.Key)
	if err != nil {
		return
	}
	if _, _, err := ask(sock, request{Op: "interrupt", ID: id}); err != nil {
		c.log().Debug("interrupting the warm command failed", "err", err)
	}
}

// readAnswer copies the command's output until its status or error arrives; stop is called
// when the output cannot be written, to stop the command.
func readAnswer(conn net.Conn, r Request, stop func()) (int, error) {
	stdout, stderr := orDiscard(r.Stdout), orDiscard(r.Stderr)
	for {
		typ, p, err := readFrame(conn)
		if err != nil {
			return 0, fmt.Errorf("the persist holder went away before the command's exit status arrived: %w", err)
		}
		switch typ {
		case frameStdout:
			if _, err := stdout.Write(p); err != nil {
				stop()
				return 0, err
			}
		case frameStderr:
			if _, err := stderr.Write(p); err != nil {
				stop()
				return 0, err
			}
		case frameStatus:
			return parseStatus(p)
		case frameError:
			return 0, errors.New(oneLine(string(p)))
		default:
			return 0, fmt.Errorf("persist holder: unexpected frame %q", typ)
		}
	}
}

// pumpStdin sends r, then its end of file. It may stay blocked reading r after the command
// ends, as a cold exec's does; writes after the connection closed fail and end it.
func pumpStdin(fw *frameWriter, r io.Reader) {
	if r != nil {
		buf := make([]byte, chunk)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if werr := fw.write(frameStdin, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				break
			}
		}
	}
	_ = fw.write(frameStdinEOF, nil)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// ask sends a one-frame request (info, stop or interrupt) to the holder at sock and returns
// its answer.
func ask(sock string, req request) (byte, []byte, error) {
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fw := &frameWriter{w: conn}
	if err := fw.writeJSON(frameRequest, req); err != nil {
		return 0, nil, err
	}
	return readFrame(conn)
}
