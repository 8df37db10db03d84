package iostreams

import (
	"bytes"
	"errors"
	"strings"
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
		{name: "raw keeps CRLF", raw: true, in: "a\r\nb\r\n", want: "a\r\nb\r\n"},
		{name: "raw mixed", raw: true, in: "a\nb\r\nc\n", want: "a\r\nb\r\nc\r\n"},
		{name: "raw CR alone stays", raw: true, in: "\r\x1b[Kx\r", want: "\r\x1b[Kx\r"},
		{name: "raw blank line after CRLF", raw: true, in: "\r\n\n", want: "\r\n\r\n"},
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

// TestErrOutCRLFAcrossWrites: a "\r" that ends one write and the "\n" that starts the next are
// one line end, as they are when a writer's Fprintf is split by a buffer.
func TestErrOutCRLFAcrossWrites(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "CR then LF", writes: []string{"a\r", "\nb\n"}, want: "a\r\nb\r\n"},
		{name: "LF alone after text", writes: []string{"a", "\n"}, want: "a\r\n"},
		{name: "CR in a write without LF", writes: []string{"\r\x1b[Kx\r", "\n"}, want: "\r\x1b[Kx\r\n"},
		{name: "byte by byte", writes: []string{"a", "\r", "\n", "\n", "b", "\n"}, want: "a\r\n\r\nb\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _, errOut := Test()
			s.SetRaw(true)
			for _, w := range tt.writes {
				if n, err := s.ErrOut.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := errOut.String(); got != tt.want {
				t.Errorf("ErrOut wrote %q, want %q", got, tt.want)
			}
		})
	}
}

// TestErrOutNeverDoublesCR: whatever mix of line ends writers use, a raw ErrOut shows no
// "\r\r\n" that was not written, and translating its own output again changes nothing.
func TestErrOutNeverDoublesCR(t *testing.T) {
	notices := []string{
		"ecsterm: a forwarded connection failed\r\n",
		"ecsterm: reconnecting\n",
		"\r\necsterm: the session ends in about 5 minutes\r\n",
		"\necsterm: status",
		"\r\x1b[K",
		"ecsterm: reconnected\n",
	}
	s, _, _, errOut := Test()
	s.SetRaw(true)
	for _, n := range notices {
		s.ErrOut.Write([]byte(n))
	}
	once := errOut.String()
	if strings.Contains(once, "\r\r\n") || strings.Count(once, "\n") != strings.Count(once, "\r\n") {
		t.Errorf("raw ErrOut wrote %q: want every \\n as one \\r\\n", once)
	}
	s2, _, _, errOut2 := Test()
	s2.SetRaw(true)
	s2.ErrOut.Write([]byte(once))
	if errOut2.String() != once {
		t.Errorf("translating again gave %q, want %q unchanged", errOut2, once)
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
