package cmdutil

import "testing"

func TestOneLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"two\nlines\r\n  and  spaces", "two lines and spaces"},
		{"red \x1b[31mname\x1b[0m", `red \x1b[31mname\x1b[0m`},
		{"bell\a and del\x7f", `bell\x07 and del\x7f`},
		{"C1 \u009b2J", `C1 \u009b2J`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"héllo 世界", "héllo 世界"},
		{"bad \xff byte", `bad \ufffd byte`},
	} {
		if got := OneLine(tc.in); got != tc.want {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
