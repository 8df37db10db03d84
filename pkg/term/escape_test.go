package term

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestEscapeReader(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		disconnect     bool
		help           string // substring of what ~? or an unsupported sequence shows
		lists          int
	}{
		{name: "plain input passes", in: "ls -la\r", want: "ls -la\r"},
		{name: "tilde inside a line passes", in: "echo a~.b\r", want: "echo a~.b\r"},
		{name: "disconnect at start", in: "~.", disconnect: true},
		{name: "disconnect after newline", in: "ls\r~.rest", want: "ls\r", disconnect: true},
		{name: "disconnect after LF", in: "ls\n~.", want: "ls\n", disconnect: true},
		{name: "double tilde sends one", in: "~~x\r", want: "~x\r"},
		{name: "tilde then other char sends both", in: "~x\r", want: "~x\r"},
		{name: "help is shown, not sent", in: "~?ok\r", want: "ok\r", help: "terminate the session"},
		{name: "list", in: "~#", lists: 1},
		{name: "suspend unsupported is said", in: "~\x1aok", want: "ok", help: "not supported"},
		{name: "escape only at line start", in: "a\r~~\r~.", want: "a\r~\r", disconnect: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var help strings.Builder
			lists, disconnects := 0, 0
			r := NewEscapeReader(iotest.OneByteReader(strings.NewReader(tc.in)), '~', EscapeActions{
				Help:       func(s string) { help.WriteString(s) },
				List:       func() { lists++ },
				Disconnect: func() { disconnects++ },
			})
			got, err := io.ReadAll(r)
			if tc.disconnect {
				if !errors.Is(err, ErrEscapeDisconnect) || disconnects != 1 {
					t.Fatalf("err %v, disconnects %d; want ErrEscapeDisconnect once", err, disconnects)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.help != "" && !strings.Contains(help.String(), tc.help) {
				t.Errorf("help %q lacks %q", help.String(), tc.help)
			}
			if lists != tc.lists {
				t.Errorf("List called %d times, want %d", lists, tc.lists)
			}
		})
	}
}

func TestEscapeReaderOtherChar(t *testing.T) {
	r := NewEscapeReader(strings.NewReader("~.\r^]."), 0x1d, EscapeActions{})
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "~.\r^]." {
		t.Fatalf("with ^] as escape, '~.' must pass: %q %v", got, err)
	}
	r = NewEscapeReader(strings.NewReader("x\r\x1d."), 0x1d, EscapeActions{})
	if got, err := io.ReadAll(r); !errors.Is(err, ErrEscapeDisconnect) || string(got) != "x\r" {
		t.Fatalf("^]. : %q %v", got, err)
	}
}

func TestParseEscapeChar(t *testing.T) {
	for _, tc := range []struct {
		in   string
		c    byte
		ok   bool
		fail bool
	}{
		{"~", '~', true, false}, {"none", 0, false, false}, {"^]", 0x1d, true, false}, {"%", '%', true, false},
		{"ab", 0, false, true}, {"", 0, false, true}, {"^a", 0, false, true},
	} {
		c, ok, err := ParseEscapeChar(tc.in)
		if (err != nil) != tc.fail || c != tc.c || ok != tc.ok {
			t.Errorf("ParseEscapeChar(%q) = %q %v %v", tc.in, c, ok, err)
		}
	}
}
