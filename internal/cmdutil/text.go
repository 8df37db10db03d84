package cmdutil

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
)

// OneLine makes text from the service or a remote instance safe to print as one line: runs of
// whitespace become one space, and control characters (escape sequences among them) are shown
// escaped, so that a hostile instance name or error message can neither drive the terminal
// nor forge lines.
func OneLine(s string) string {
	return Escape(strings.Join(strings.Fields(s), " "))
}

// Escape shows control characters in s as \xNN (\u{NNNN} for C1 and other invisible
// formatting characters), leaving printable text, spaces and non-ASCII letters alone.
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
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafe(r rune) bool {
	return r != ' ' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar)
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
