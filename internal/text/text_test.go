package text

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

// hostile holds what the service or an instance might put in an ID or a name: C0 controls, an
// escape sequence, C1 controls (U+009B is a one-byte CSI), bidi overrides and isolates, the line
// and paragraph separators, and a format character beyond the BMP.
var hostile = []struct{ in, want string }{
	{"i-esc\x1b[2J\x1b]0;pwned\a", `i-esc\x1b[2J\x1b]0;pwned\x07`},
	{"i-c0\x00\x08\r\t", `i-c0\x00\x08\x0d\x09`},
	{"i-c1\u009b2J\u0085\u009d", `i-c1\u009b2J\u0085\u009d`},
	{"i-bidi\u202egnp.exe\u202c", `i-bidi\u202egnp.exe\u202c`},
	{"i-iso\u2066x\u2067y\u2068z\u2069", `i-iso\u2066x\u2067y\u2068z\u2069`},
	{"i-sep\u2028\u2029", `i-sep\u2028\u2029`},
	{"i-zw\u200b\u200d\ufeff", `i-zw\u200b\u200d\ufeff`},
	{"i-tag\U000e0041", `i-tag\U000e0041`},
}

func TestEscapeHostile(t *testing.T) {
	for _, tc := range hostile {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
