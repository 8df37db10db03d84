// Package text makes text from the far side (the service, the session gateway, an instance)
// safe to print: control characters and invisible formatting characters are shown escaped.
// It imports nothing of the module, so that every layer may use it.
package text

import (
	"fmt"
	"strings"
	"unicode"
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
	if !strings.ContainsFunc(s, Unsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == unicode.ReplacementChar:
			b.WriteString(`\ufffd`)
		case r < 0x80 && Unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case Unsafe(r) && r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		case Unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Unsafe reports whether r may not reach a terminal as it is: C0 and C1 controls (U+009B is a
// one-byte CSI on many terminals), invisible formatting characters (the bidi overrides and
// isolates U+202A..U+202E, U+2066..U+2069 among them), the line and paragraph separators
// U+2028 and U+2029, and the replacement character that stands for invalid UTF-8.
func Unsafe(r rune) bool {
	return r != ' ' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == unicode.ReplacementChar)
}
