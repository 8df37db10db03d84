package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// OneLine makes text from the service or a remote instance safe to print as one line: runs of
// whitespace become one space, and control characters (escape sequences among them) are shown
// escaped, so that a hostile instance name or error message can neither drive the terminal
// nor forge lines.
func OneLine(s string) string {
	return Escape(strings.Join(strings.Fields(s), " "))
}

// Escape shows control characters in s as \xNN (\uNNNN for C1 and other invisible formatting
// characters, \UNNNNNNNN beyond the BMP), leaving printable text, spaces and non-ASCII letters
// alone. It is the one escape for everything ecsterm prints that came from the far side.
func Escape(s string) string {
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == unicode.ReplacementChar:
			b.WriteString(`\ufffd`)
		case r < 0x80 && unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r) && r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unsafe reports whether r may not reach a terminal as it is: C0 and C1 controls (U+009B is a
// one-byte CSI on many terminals), invisible formatting characters (the bidi overrides and
// isolates U+202A..U+202E, U+2066..U+2069 among them), the line and paragraph separators
// U+2028 and U+2029, and the replacement character that stands for invalid UTF-8.
func unsafe(r rune) bool {
	return r != ' ' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == unicode.ReplacementChar)
}

// NewJSONEncoder returns an encoder for -o json records that may hold text from the service or
// an instance. encoding/json escapes C0 controls, and U+2028 and U+2029 with its HTML escaping,
// but writes C1 controls and bidi overrides as they are: a terminal that shows the JSON would
// obey them. This encoder writes every character Escape escapes as \uXXXX instead (a surrogate
// pair beyond the BMP), which any JSON reader decodes back to the same string.
func NewJSONEncoder(w io.Writer) *json.Encoder {
	return json.NewEncoder(&jsonWriter{w: w})
}

// jsonWriter escapes unsafe characters in what a json.Encoder writes. Outside strings, JSON is
// ASCII, so every such character is inside a string, where \uXXXX means it. The encoder writes
// each value whole in one Write, so no character is split between two.
type jsonWriter struct {
	w   io.Writer
	buf []byte
}

func (j *jsonWriter) Write(p []byte) (int, error) {
	if !bytes.ContainsFunc(p, func(r rune) bool { return r >= 0x80 && unsafe(r) }) {
		return j.w.Write(p)
	}
	j.buf = j.buf[:0]
	total := len(p)
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r < 0x80 || !unsafe(r) || (r == utf8.RuneError && n == 1) {
			j.buf = append(j.buf, p[:n]...)
		} else if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			j.buf = fmt.Appendf(j.buf, `\u%04x\u%04x`, r1, r2)
		} else {
			j.buf = fmt.Appendf(j.buf, `\u%04x`, r)
		}
		p = p[n:]
	}
	if _, err := j.w.Write(j.buf); err != nil {
		return 0, err
	}
	return total, nil
}

// LockedWriter serialises writes to W, so that lines written at the same moment from several
// goroutines (forwarded connections failing together) do not interleave.
type LockedWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.W.Write(p)
}
