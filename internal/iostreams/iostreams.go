// Package iostreams gives commands their standard streams with TTY detection that tests can
// override, so no command touches os.Stdin or the real terminal directly.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// InFile and OutFile are the underlying files when the streams are the process's own; the
	// terminal code needs them for raw mode and window sizes.
	InFile  *os.File
	OutFile *os.File
	// ErrFile is the process's stderr under ErrOut, for a child that must inherit the file
	// itself (ssh, and the ProxyCommand it starts, look at whether it is a terminal).
	ErrFile *os.File

	inTTY, outTTY, errTTY bool
	raw                   atomic.Bool
}

// System returns the process's streams.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, InFile: os.Stdin, OutFile: os.Stdout, ErrFile: os.Stderr}
	s.inTTY = term.IsTerminal(int(os.Stdin.Fd()))
	s.outTTY = term.IsTerminal(int(os.Stdout.Fd()))
	s.errTTY = term.IsTerminal(int(os.Stderr.Fd()))
	s.ErrOut = &crlfWriter{w: os.Stderr, raw: &s.raw}
	return s
}

// Test returns streams backed by buffers, none of them a terminal unless set.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	s = &IOStreams{In: in, Out: out}
	s.ErrOut = &crlfWriter{w: errOut, raw: &s.raw}
	return s, in, out, errOut
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// SetTTY overrides TTY detection (tests).
func (s *IOStreams) SetTTY(in, out, errOut bool) { s.inTTY, s.outTTY, s.errTTY = in, out, errOut }

// SetRaw records whether the terminal is in raw mode. While it is, ErrOut ends every line with
// "\r\n", so messages written during a session do not staircase across the screen. Writers to
// ErrOut end their lines with a plain "\n" and leave this to ErrOut.
func (s *IOStreams) SetRaw(raw bool) { s.raw.Store(raw) }

// crlfWriter is ErrOut: while the terminal is raw it turns a "\n" into "\r\n", unless a "\r"
// comes right before it (in the same write or at the end of the one before), so a line that
// already ends in "\r\n" reaches the screen unchanged, never as "\r\r\n".
type crlfWriter struct {
	w   io.Writer
	raw *atomic.Bool

	mu     sync.Mutex
	lastCR bool // the last byte written was '\r'
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) == 0 {
		return c.w.Write(p)
	}
	if !c.raw.Load() || bytes.IndexByte(p, '\n') < 0 {
		n, err := c.w.Write(p)
		if n > 0 {
			c.lastCR = p[n-1] == '\r'
		}
		return n, err
	}
	out := make([]byte, 0, len(p)+bytes.Count(p, []byte("\n")))
	prevCR := c.lastCR
	for _, b := range p {
		if b == '\n' && !prevCR {
			out = append(out, '\r')
		}
		out = append(out, b)
		prevCR = b == '\r'
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	c.lastCR = prevCR
	return len(p), nil
}
