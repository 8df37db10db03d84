package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clock steps by a quarter second on each reading after the first.
func clock() func() time.Time {
	t := time.Unix(1700000000, 0)
	first := true
	return func() time.Time {
		if first {
			first = false
			return t
		}
		t = t.Add(250 * time.Millisecond)
		return t
	}
}

func lines(t *testing.T, b []byte) []string {
	t.Helper()
	s := strings.TrimSuffix(string(b), "\n")
	out := strings.Split(s, "\n")
	for _, l := range out {
		if !json.Valid([]byte(l)) {
			t.Fatalf("not JSON: %q", l)
		}
	}
	return out
}

func TestHeaderAndEvents(t *testing.T) {
	var buf bytes.Buffer
	r, err := newAt(&buf, Header{Width: 80, Height: 24, Env: map[string]string{"TERM": "xterm-256color", "SHELL": ""}, Title: "i-1 (web)"}, clock())
	if err != nil {
		t.Fatal(err)
	}
	r.Output([]byte("$ ls\r\n"))
	r.Resize(133, 41)
	r.Input([]byte("q\x1b"))
	r.Output([]byte(`"q\"`))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"version":2,"width":80,"height":24,"timestamp":1700000000,"env":{"TERM":"xterm-256color"},"title":"i-1 (web)"}`,
		`[0.250000, "o", "$ ls\r\n"]`,
		`[0.500000, "r", "133x41"]`,
		`[0.750000, "i", "q\u001b"]`,
		`[1.000000, "o", "\"q\\\""]`,
	}
	got := lines(t, buf.Bytes())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// events returns the data of the "o" events, decoded.
func events(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for _, l := range lines(t, b)[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev[2].(string))
	}
	return out
}

// TestSplitCharacters: a character cut between two frames is carried to the next event, so
// every event is whole characters and the recording says what the terminal showed.
func TestSplitCharacters(t *testing.T) {
	text := []byte("a€😀b")
	for cut := 0; cut <= len(text); cut++ {
		var buf bytes.Buffer
		r, _ := newAt(&buf, Header{}, clock())
		r.Output(text[:cut])
		r.Output(text[cut:])
		r.Close()
		got := events(t, buf.Bytes())
		if strings.Join(got, "") != string(text) {
			t.Errorf("cut at %d: events %q", cut, got)
		}
		for _, ev := range got {
			if strings.ContainsRune(ev, '\uFFFD') {
				t.Errorf("cut at %d: replacement character in %q", cut, ev)
			}
		}
	}
	// One byte a frame.
	var buf bytes.Buffer
	r, _ := newAt(&buf, Header{}, clock())
	for i := range text {
		r.Output(text[i : i+1])
	}
	if got := strings.Join(events(t, buf.Bytes()), ""); got != string(text) {
		t.Errorf("byte by byte: %q", got)
	}
}

// TestInvalidBytes: bytes that are not UTF-8 become U+FFFD as asciinema's decoder (Python's
// "replace", Rust's from_utf8_lossy) makes them: one per maximal invalid subpart.
func TestInvalidBytes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\xe2\x82A", "\uFFFDA"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xc0\xaf", "\uFFFD\uFFFD"},
		{"\xf0\x9f\x98\x80\x80", "😀\uFFFD"},
		{"ok\x00\x7f", "ok\x00\x7f"},
		{"a\xc3", "a\uFFFD"}, // cut short at the end of the session: written by Close
	} {
		var buf bytes.Buffer
		r, _ := newAt(&buf, Header{}, clock())
		r.Output([]byte(c.in))
		r.Close()
		if got := strings.Join(events(t, buf.Bytes()), ""); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestWriteErrorSticks(t *testing.T) {
	r, err := newAt(&failWriter{n: 1}, Header{}, clock())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Output([]byte("x")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Output: %v", err)
	}
	if r.Resize(1, 1) == nil || r.Input([]byte("y")) == nil || r.Err() == nil {
		t.Error("a later call succeeded after a write error")
	}
	if _, err := newAt(&failWriter{}, Header{}, clock()); err == nil {
		t.Error("New: no error when the header cannot be written")
	}
}

func TestCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	f, err := Create(path, false)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("first")
	f.Close()
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := Create(path, false); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Errorf("existing file changed: %q", b)
	}
	f, err = Create(path, true)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("--force did not truncate: %q", b)
	}
}

// BenchmarkOutput is the cost a recording adds to each output frame of an interactive session.
func BenchmarkOutput(b *testing.B) {
	frame := bytes.Repeat([]byte("drwxr-xr-x 2 root root 4096 Dec  6 15:00 \x1b[01;34mdir\x1b[0m\r\n"), 16)
	r, _ := New(discard{}, Header{})
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		r.Output(frame)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkOutputFile is BenchmarkOutput with the write to a real file that a session makes for
// each output frame of 1024 bytes (the agent's frame size): compare it with pkg/session's
// BenchmarkOutputPump, the cost of receiving that frame.
func BenchmarkOutputFile(b *testing.B) {
	f, err := Create(filepath.Join(b.TempDir(), "b.cast"), false)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	frame := bytes.Repeat([]byte("drwxr-xr-x 2 root root 4096 Dec  6 15:00 \x1b[01;34mdir\x1b[0m\r\n"), 20)[:1024]
	r, _ := New(f, Header{})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		r.Output(frame)
	}
}
