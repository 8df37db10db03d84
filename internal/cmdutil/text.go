package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ecsterm/ecsterm/internal/text"
)

// NewJSONEncoder returns an encoder for -o json records that may hold text from the service or
// an instance. encoding/json escapes C0 controls, and U+2028 and U+2029 with its HTML escaping,
// but writes C1 controls and bidi overrides as they are: a terminal that shows the JSON would
// obey them. This encoder writes every character text.Escape escapes as \uXXXX instead (a surrogate
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
	if !bytes.ContainsFunc(p, func(r rune) bool { return r >= 0x80 && text.Unsafe(r) }) {
		return j.w.Write(p)
	}
	j.buf = j.buf[:0]
	total := len(p)
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r < 0x80 || !text.Unsafe(r) || (r == utf8.RuneError && n == 1) {
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
