package iostreams

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestTestStreamsAreNotTTYs(t *testing.T) {
	s, _, _, _ := Test()
	if s.IsStdinTTY() || s.IsStdoutTTY() || s.IsStderrTTY() {
		t.Errorf("Test() TTYs = %v, %v, %v; want none", s.IsStdinTTY(), s.IsStdoutTTY(), s.IsStderrTTY())
	}
	if s.InFile != nil || s.OutFile != nil {
		t.Errorf("Test() has files %v, %v; want none, so no test touches the real terminal", s.InFile, s.OutFile)
	}
}

func TestSetTTY(t *testing.T) {
	tests := []struct{ in, out, errOut bool }{
		{true, true, true},
		{true, false, false},
		{false, true, false},
		{false, false, true},
		{false, false, false},
	}
	for _, tt := range tests {
		s, _, _, _ := Test()
		s.SetTTY(tt.in, tt.out, tt.errOut)
		if s.IsStdinTTY() != tt.in || s.IsStdoutTTY() != tt.out || s.IsStderrTTY() != tt.errOut {
			t.Errorf("SetTTY(%v, %v, %v): got %v, %v, %v", tt.in, tt.out, tt.errOut,
				s.IsStdinTTY(), s.IsStdoutTTY(), s.IsStderrTTY())
		}
	}
}

func TestTestBuffers(t *testing.T) {
	s, in, out, errOut := Test()
	in.WriteString("typed")
	b := make([]byte, 16)
	n, _ := s.In.Read(b)
	if string(b[:n]) != "typed" {
		t.Errorf("In read %q, want the in buffer's", b[:n])
	}
	s.Out.Write([]byte("o"))
	s.ErrOut.Write([]byte("e"))
	if out.String() != "o" || errOut.String() != "e" {
		t.Errorf("out, errOut = %q, %q; want o, e", out, errOut)
	}
}

func TestErrOutCRLF(t *testing.T) {
	tests := []struct {
		name string
		raw  bool
		in   string
		want string
	}{
		{name: "cooked keeps LF", raw: false, in: "a\nb\n", want: "a\nb\n"},
		{name: "raw turns LF into CRLF", raw: true, in: "a\nb\n", want: "a\r\nb\r\n"},
		{name: "raw without newline", raw: true, in: "abc", want: "abc"},
		{name: "raw lone newline", raw: true, in: "\n", want: "\r\n"},
		{name: "raw consecutive newlines", raw: true, in: "\n\nx", want: "\r\n\r\nx"},
		{name: "raw empty", raw: true, in: "", want: ""},
		{name: "cooked empty", raw: false, in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, out, errOut := Test()
			s.SetRaw(tt.raw)
			n, err := s.ErrOut.Write([]byte(tt.in))
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if n != len(tt.in) {
				t.Errorf("Write returned %d, want the caller's %d bytes", n, len(tt.in))
			}
			if got := errOut.String(); got != tt.want {
				t.Errorf("ErrOut wrote %q, want %q", got, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("Out got %q", out)
			}
		})
	}
}

func TestOutIsNeverTranslated(t *testing.T) {
	s, _, out, _ := Test()
	s.SetRaw(true)
	s.Out.Write([]byte("remote\nbytes\n"))
	if out.String() != "remote\nbytes\n" {
		t.Errorf("Out = %q; the session's output must pass through unchanged", out)
	}
}

func TestSetRawToggles(t *testing.T) {
	s, _, _, errOut := Test()
	s.ErrOut.Write([]byte("1\n"))
	s.SetRaw(true)
	s.ErrOut.Write([]byte("2\n"))
	s.SetRaw(false)
	s.ErrOut.Write([]byte("3\n"))
	if want := "1\n2\r\n3\n"; errOut.String() != want {
		t.Errorf("ErrOut = %q, want %q", errOut, want)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestErrOutWriteError(t *testing.T) {
	boom := errors.New("boom")
	for _, raw := range []bool{false, true} {
		var r atomic.Bool
		r.Store(raw)
		w := &crlfWriter{w: failWriter{boom}, raw: &r}
		if n, err := w.Write([]byte("x\n")); !errors.Is(err, boom) || n != 0 {
			t.Errorf("raw=%v: Write = %d, %v; want 0, boom", raw, n, err)
		}
	}
}

// TestSetRawConcurrent is for -race: the terminal code flips raw mode while other goroutines
// log to ErrOut.
func TestSetRawConcurrent(t *testing.T) {
	s, _, _, _ := Test()
	var buf lockedBuffer
	s.ErrOut = &crlfWriter{w: &buf, raw: &s.raw}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			s.SetRaw(i%2 == 0)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			s.ErrOut.Write([]byte("x\n"))
		}
	}()
	wg.Wait()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
