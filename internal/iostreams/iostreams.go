// Package iostreams gives commands their standard streams with TTY detection that tests can
// override, so no command touches os.Stdin or the real terminal directly.
package iostreams

import (
	"bytes"
	"io"
	"os"
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

// SetRaw records whether the terminal is in raw mode. While it is, ErrOut turns "\n" into
// "\r\n", so messages written during a session do not staircase across the screen.
func (s *IOStreams) SetRaw(raw bool) { s.raw.Store(raw) }

type crlfWriter struct {
	w   io.Writer
	raw *atomic.Bool
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	if !c.raw.Load() || bytes.IndexByte(p, '\n') < 0 {
		return c.w.Write(p)
	}
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
