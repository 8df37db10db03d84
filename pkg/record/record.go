// Package record writes a terminal session as an asciicast v2 file, the format asciinema,
// asciinema-player and agg read: one JSON header line, then one JSON array per event,
// [seconds, "o"|"i"|"r", data]. Each event is one write to the file as it happens, so a
// recording cut short by a crash or kill -9 is still a playable file up to its last event.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Header is the recording's first line. Width and Height are the terminal's at the start.
type Header struct {
	Width     int
	Height    int
	Timestamp time.Time
	// Env holds TERM and SHELL when known; empty values are left out.
	Env   map[string]string
	Title string
}

// header is Header as the format spells it, in the order asciinema writes it.
type header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Env       map[string]string `json:"env,omitempty"`
	Title     string            `json:"title,omitempty"`
}

// Recorder appends events to an asciicast v2 stream. Its methods may be called from several
// goroutines (output, input and resizes come from different ones). After the first write error
// every call returns that error and writes nothing more.
type Recorder struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	now   func() time.Time
	line  []byte // the event being built, reused
	// out and in hold the start of a UTF-8 character split across two frames, carried over
	// to the next event of the same kind so that each event's data is whole characters.
	out, in []byte
	err     error
}

// Create opens path for a new recording: created with mode 0600, and refused if it exists
// unless force is set (then it is truncated, and keeps its mode).
func Create(path string, force bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, existsError(path)
	}
	return f, err
}

// existsError is Create's error for a file that exists; it matches fs.ErrExist.
type existsError string

func (e existsError) Error() string { return string(e) + " exists; not overwriting it without --force" }
func (e existsError) Unwrap() error { return fs.ErrExist }

// New writes h to w and returns a Recorder whose event times count from h.Timestamp (now,
// if zero).
func New(w io.Writer, h Header) (*Recorder, error) {
	return newAt(w, h, time.Now)
}

func newAt(w io.Writer, h Header, now func() time.Time) (*Recorder, error) {
	if h.Timestamp.IsZero() {
		h.Timestamp = now()
	}
	env := map[string]string{}
	for k, v := range h.Env {
		if v != "" {
			env[k] = v
		}
	}
	b, err := json.Marshal(header{Version: 2, Width: h.Width, Height: h.Height, Timestamp: h.Timestamp.Unix(), Env: env, Title: h.Title})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return &Recorder{w: w, start: h.Timestamp, now: now, line: make([]byte, 0, 4096)}, nil
}

// Output records p as an "o" event: what the session printed.
func (r *Recorder) Output(p []byte) error { return r.data('o', &r.out, p, false) }

// Input records p as an "i" event: what the user typed.
func (r *Recorder) Input(p []byte) error { return r.data('i', &r.in, p, false) }

// Resize records an "r" event: the terminal is now cols by rows.
func (r *Recorder) Resize(cols, rows int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.line = r.begin('r')
	r.line = append(r.line, '"')
	r.line = strconv.AppendInt(r.line, int64(cols), 10)
	r.line = append(r.line, 'x')
	r.line = strconv.AppendInt(r.line, int64(rows), 10)
	r.line = append(r.line, "\"]\n"...)
	return r.flush()
}

// Err returns the first write error, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close writes what is still carried over (a character cut short at the end of the session,
// shown as U+FFFD). It does not close the underlying writer.
func (r *Recorder) Close() error {
	if err := r.data('o', &r.out, nil, true); err != nil {
		return err
	}
	return r.data('i', &r.in, nil, true)
}

// data records p, after the bytes carried over from the last event of its kind. final writes
// out what would otherwise be carried.
func (r *Recorder) data(kind byte, carry *[]byte, p []byte, final bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if len(*carry) > 0 {
		// Rare: a character was cut at the end of the last frame. At most 3 bytes wait.
		p = append(append([]byte{}, *carry...), p...)
		*carry = (*carry)[:0]
	}
	if n := incompleteTail(p); n > 0 && !final {
		*carry = append(*carry, p[len(p)-n:]...)
		p = p[:len(p)-n]
	}
	if len(p) == 0 {
		return nil
	}
	r.line = r.begin(kind)
	r.line = appendString(r.line, p)
	r.line = append(r.line, "]\n"...)
	return r.flush()
}

// begin starts an event line: `[seconds, "k", `.
func (r *Recorder) begin(kind byte) []byte {
	b := append(r.line[:0], '[')
	b = strconv.AppendFloat(b, r.now().Sub(r.start).Seconds(), 'f', 6, 64)
	b = append(b, ", \""...)
	return append(b, kind, '"', ',', ' ')
}

// flush writes the line in one write.
func (r *Recorder) flush() error {
	if _, err := r.w.Write(r.line); err != nil {
		r.err = fmt.Errorf("writing the recording: %w", err)
	}
	if cap(r.line) > 1<<20 {
		r.line = make([]byte, 0, 4096) // one huge frame does not pin its buffer for the session
	}
	return r.err
}

// incompleteTail is how many bytes at the end of p start a UTF-8 character that is not
// complete yet, and that the next frame may complete: 0 to 3.
func incompleteTail(p []byte) int {
	for n := 1; n <= 3 && n <= len(p); n++ {
		c := p[len(p)-n]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(p[len(p)-n:]) {
				return 0
			}
			return n
		}
	}
	return 0
}

const hex = "0123456789abcdef"

// appendString appends b as a JSON string. Invalid UTF-8 becomes U+FFFD, as asciinema's
// decoder does; control characters are escaped. Runs of plain text are copied at once.
func appendString(dst, b []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		size := 1
		if c >= utf8.RuneSelf {
			var r rune
			if r, size = utf8.DecodeRune(b[i:]); r != utf8.RuneError || size != 1 {
				i += size // valid: part of the run
				continue
			}
		}
		dst = append(dst, b[start:i]...)
		if c >= utf8.RuneSelf {
			dst = append(dst, `\ufffd`...)
			size = invalidLen(b[i:])
		} else {
			dst = appendASCII(dst, c)
		}
		i += size
		start = i
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}

// invalidLen is how many bytes one U+FFFD stands for at the start of b, an invalid sequence:
// its maximal part that could start a valid character (at least 1), as Python's and Rust's
// decoders, and so asciinema's, count them.
func invalidLen(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	need := 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}

func appendASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, `\n`...)
	case '\r':
		return append(dst, `\r`...)
	case '\t':
		return append(dst, `\t`...)
	}
	return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
}
