package attach

import (
	"strings"
	"testing"
)

func TestStatusLine(t *testing.T) {
	lost := func(n int) string {
		return "connection lost; reconnecting (attempt " + string(rune('0'+n)) + " of 8)…"
	}
	for _, tc := range []struct {
		name    string
		inPlace bool
		msgs    []string
		want    string
	}{
		{"terminal: one line, rewritten, ended by reconnected", true,
			[]string{lost(1), lost(2), "reconnected"},
			"\necsterm: " + lost(1) + "\r\x1b[Kecsterm: " + lost(2) + "\r\x1b[Kecsterm: reconnected\n"},
		{"terminal: giving up clears the line for the error", true,
			[]string{lost(1), "gave up after 1 attempts: refused"},
			"\necsterm: " + lost(1) + "\r\x1b[K"},
		{"terminal: a second episode opens a new line", true,
			[]string{lost(1), "reconnected", lost(1), "reconnected"},
			"\necsterm: " + lost(1) + "\r\x1b[Kecsterm: reconnected\n\necsterm: " + lost(1) + "\r\x1b[Kecsterm: reconnected\n"},
		{"pipe: a line each, the give-up left to the error", false,
			[]string{lost(1), lost(2), "gave up after 2 attempts: refused"},
			"ecsterm: " + lost(1) + "\necsterm: " + lost(2) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			l := &statusLine{w: &b, inPlace: tc.inPlace}
			for _, m := range tc.msgs {
				l.show(m)
			}
			if b.String() != tc.want {
				t.Fatalf("wrote %q\nwant  %q", b.String(), tc.want)
			}
		})
	}
	(&statusLine{}).show(lost(1)) // no writer: nothing, and no panic
}
