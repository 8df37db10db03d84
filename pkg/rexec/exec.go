package rexec

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Request is one command to run.
type Request struct {
	// Command is a shell command line, run with the instance user's $SHELL (or /bin/sh) -c, as
	// ssh runs a command. It may be of any length.
	Command string
	// TTY runs the command on the remote terminal (ssh -t): output is terminal output, and
	// stderr is not separate.
	TTY bool
	// Rows and Cols size the remote terminal before the command starts (-t only; 0 = unknown).
	Rows, Cols uint16
	// Stdin is the command's input; nil means none (end of file at once).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Exec is one command in flight. Give Input and Output to a session as its Stdin and Stdout;
// when Done is closed, end the session and read Status.
type Exec struct {
	req     Request
	nonce   string
	script  string // the second stage, sent once the bootstrap is ready
	trailer []byte // "\x1e<nonce> "

	inR *io.PipeReader
	inW *io.PipeWriter

	mu      sync.Mutex
	phase   phase
	pre     []byte // output before the ready marker (shown if the helper never starts)
	held    []byte // output that may begin the trailer
	line    []byte // the trailer's status line
	errLeft int    // stderr bytes still to come
	status  int
	err     error
	over    bool // finish has run

	ready chan struct{} // the bootstrap is ready for the script
	start chan struct{} // -t: the command is starting; forward stdin
	done  chan struct{}

	closeOnce sync.Once
	closed    chan struct{} // Close was called: the session is over, feed gives up
}

type phase int

const (
	phaseBoot   phase = iota // waiting for readyMarker
	phaseGo                  // -t: waiting for goMarker
	phaseOutput              // command output, watching for the trailer
	phaseStatus              // reading the trailer's status line
	phaseStderr              // reading stderr
	phaseDone
)

// maxPre bounds what is kept of output before the ready marker.
const maxPre = 512

// New prepares req. It fails if no random nonce can be made, or if the command is so long that
// the script's length does not fit its header (about 100 MB).
func New(req Request) (*Exec, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	nonce := hex.EncodeToString(b)
	s := script(req.Command, nonce, req.TTY, req.Rows, req.Cols)
	if len(s) > maxFrame {
		return nil, fmt.Errorf("the command is too long: %d bytes of script, at most %d", len(s), maxFrame)
	}
	e := &Exec{req: req, nonce: nonce, script: s, ready: make(chan struct{}), start: make(chan struct{}), done: make(chan struct{}), closed: make(chan struct{})}
	e.trailer = []byte("\x1e" + e.nonce + " ")
	e.inR, e.inW = io.Pipe()
	if req.Stdout == nil {
		e.req.Stdout = io.Discard
	}
	if req.Stderr == nil {
		e.req.Stderr = io.Discard
	}
	go e.feed()
	return e, nil
}

// CommandLine is what StartTerminalSession runs.
func (e *Exec) CommandLine() string { return Bootstrap }

// Input is the byte stream to send to the session.
func (e *Exec) Input() io.Reader { return e.inR }

// Output takes the session's output.
func (e *Exec) Output() io.Writer { return outputWriter{e} }

// Done is closed when the command's exit status (and its stderr) has arrived.
func (e *Exec) Done() <-chan struct{} { return e.done }

// Status returns the remote exit status once Done is closed, or an error saying why there is
// none (the session ended first).
func (e *Exec) Status() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.phase == phaseDone {
		return e.status, nil
	}
	if e.err != nil {
		return 0, e.err
	}
	if e.phase == phaseBoot {
		if out := strings.TrimSpace(printable(e.pre)); out != "" {
			return 0, fmt.Errorf("the exec helper did not start on the instance (it needs sh, stty, head and mkfifo); its output: %q", out)
		}
		return 0, errors.New("the exec helper did not start on the instance (it needs sh, stty, head and mkfifo)")
	}
	return 0, errors.New("the session ended before the command's exit status arrived")
}

// Close stops feeding input; call it when the session is over, or when it never opened. It also
// ends the goroutine that waits for the remote side, which may never answer.
func (e *Exec) Close() {
	e.closeOnce.Do(func() { close(e.closed) })
	e.inR.CloseWithError(io.ErrClosedPipe)
}

// feed sends the script once the bootstrap is ready, then the command's stdin.
func (e *Exec) feed() {
	select {
	case <-e.ready:
	case <-e.done:
		return
	case <-e.closed:
		return
	}
	if _, err := e.inW.Write(append(frame(len(e.script)), e.script...)); err != nil {
		return
	}
	if e.req.TTY {
		select {
		case <-e.start:
		case <-e.done:
			return
		case <-e.closed:
			return
		}
		if e.req.Stdin != nil {
			_, _ = io.Copy(e.inW, e.req.Stdin)
		}
		return
	}
	if e.req.Stdin != nil {
		buf := make([]byte, 32<<10)
		for {
			n, err := e.req.Stdin.Read(buf)
			if n > 0 {
				if _, werr := e.inW.Write(append(frame(n), buf[:n]...)); werr != nil {
					return
				}
			}
			if err != nil {
				break
			}
		}
	}
	_, _ = e.inW.Write(frame(0)) // end of file
}

type outputWriter struct{ e *Exec }

func (w outputWriter) Write(p []byte) (int, error) {
	if err := w.e.consume(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// consume runs the output state machine over p.
func (e *Exec) consume(p []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(p) > 0 && !e.over {
		switch e.phase {
		case phaseBoot, phaseGo:
			marker, next := readyMarker, phaseOutput
			if e.phase == phaseGo {
				marker = goMarker
			} else if e.req.TTY {
				next = phaseGo
			}
			e.pre = append(e.pre, p...)
			i := bytes.Index(e.pre, []byte(marker))
			if i < 0 {
				// Keep what may be the start of the marker, and a bounded prefix for errors.
				if len(e.pre) > maxPre+len(marker) {
					e.pre = append(e.pre[:maxPre:maxPre], e.pre[len(e.pre)-len(marker):]...)
				}
				return nil
			}
			p = e.pre[i+len(marker):]
			e.pre = e.pre[:i]
			if e.phase == phaseBoot {
				close(e.ready)
			} else {
				close(e.start)
			}
			e.phase = next
		case phaseOutput:
			var err error
			if p, err = e.output(p); err != nil {
				return err
			}
		case phaseStatus:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				e.line = append(e.line, p...)
				if len(e.line) > 64 {
					e.err = errors.New("malformed exit status from the exec helper")
					e.finish()
				}
				return nil
			}
			e.line = append(e.line, p[:i]...)
			p = p[i+1:]
			if err := e.parseStatus(); err != nil {
				e.err = err
				e.finish()
				return nil
			}
			if e.errLeft == 0 {
				e.finish()
			} else {
				e.phase = phaseStderr
			}
		case phaseStderr:
			n := min(len(p), e.errLeft)
			if _, err := e.req.Stderr.Write(p[:n]); err != nil {
				return err
			}
			e.errLeft -= n
			p = p[n:]
			if e.errLeft == 0 {
				e.finish()
			}
		}
	}
	return nil
}

// output writes command output, stopping at the trailer. It returns what follows the trailer.
func (e *Exec) output(p []byte) ([]byte, error) {
	buf := p
	if len(e.held) > 0 {
		buf = append(e.held, p...)
		e.held = e.held[:0:0]
	}
	if i := bytes.Index(buf, e.trailer); i >= 0 {
		if _, err := e.req.Stdout.Write(buf[:i]); err != nil {
			return nil, err
		}
		e.phase = phaseStatus
		return buf[i+len(e.trailer):], nil
	}
	keep := partialSuffix(buf, e.trailer)
	if _, err := e.req.Stdout.Write(buf[:len(buf)-keep]); err != nil {
		return nil, err
	}
	if keep > 0 {
		e.held = append([]byte(nil), buf[len(buf)-keep:]...)
	}
	return nil, nil
}

// partialSuffix returns the length of the longest suffix of b that is a proper prefix of pat.
// The trailer starts with the rare byte 0x1e, so only positions holding it are tried, found with
// IndexByte rather than a byte-by-byte loop (this runs on every Output frame).
func partialSuffix(b, pat []byte) int {
	for from := max(0, len(b)-len(pat)+1); from < len(b); {
		i := bytes.IndexByte(b[from:], pat[0])
		if i < 0 {
			return 0
		}
		if i += from; bytes.HasPrefix(pat, b[i:]) {
			return len(b) - i
		}
		from = i + 1
	}
	return 0
}

func (e *Exec) parseStatus() error {
	f := strings.Fields(strings.TrimRight(string(e.line), "\r"))
	if len(f) != 2 {
		return fmt.Errorf("malformed exit status %q from the exec helper", e.line)
	}
	st, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || st < 0 || st > 255 || n < 0 {
		return fmt.Errorf("malformed exit status %q from the exec helper", e.line)
	}
	e.status, e.errLeft = st, n
	return nil
}

// finish ends the exchange once; whatever output follows is not the command's.
func (e *Exec) finish() {
	if e.over {
		return
	}
	e.over = true
	if e.err == nil {
		e.phase = phaseDone
	}
	close(e.done)
	e.inW.CloseWithError(io.ErrClosedPipe)
}

// printable keeps an error message free of control characters from remote output.
func printable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, string(b))
}
