package term

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
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

// TestEscapeReaderCommandLine: ~C opens a command line that is edited and echoed locally, runs on
// Enter, and sends nothing to the remote side; ^C abandons it.
func TestEscapeReaderCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ran            []string
		shown          string // substring of what was echoed and shown
	}{
		{name: "runs on enter", in: "~C-L 8080:80\rls\r", want: "ls\r", ran: []string{"-L 8080:80"}, shown: "ecsterm> -L 8080:80\r\n<did -L 8080:80>"},
		{name: "backspace edits", in: "~C-D 1089\x7f0\r", ran: []string{"-D 1080"}, shown: "\b \b"},
		{name: "backspace removes a whole character", in: "~C-L é\x7fx\r", ran: []string{"-L x"}},
		{name: "ctrl-c abandons", in: "~C-L 1\x03ok\r", want: "ok\r"},
		{name: "ctrl-d on an empty line abandons", in: "~C\x04ok", want: "ok"},
		{name: "empty line runs nothing", in: "~C\r", want: ""},
		{name: "escape works again after a command", in: "~C?\r~.", ran: []string{"?"}},
		{name: "control keys are ignored", in: "~C-\x1bD 1\r", ran: []string{"-D 1"}},
		{name: "a UTF-8 character is echoed whole", in: "~Cé\r", ran: []string{"é"}, shown: "ecsterm> é\r\n"},
		{name: "backspace over a wide character erases two columns", in: "~Cx漢\x7f\r", ran: []string{"x"}, shown: "x漢\b \b\b \b"},
		{name: "bytes that are not text are dropped", in: "~Ca\xff\xc2\x9bb\r", ran: []string{"ab"}, shown: "ecsterm> ab\r\n"},
		{name: "CR LF ends a command line once", in: "~Cx\r\nls\r", want: "ls\r", ran: []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var shown strings.Builder
			var ran []string
			disconnected := false
			r := NewEscapeReader(iotest.OneByteReader(strings.NewReader(tc.in)), '~', EscapeActions{
				Help:       func(s string) { shown.WriteString(s) },
				Command:    func(line string) string { ran = append(ran, line); return "<did " + line + ">\r\n" },
				Disconnect: func() { disconnected = true },
			})
			got, err := io.ReadAll(r)
			if err != nil && !(disconnected && errors.Is(err, ErrEscapeDisconnect)) {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("sent %q, want %q", got, tc.want)
			}
			if strings.Join(ran, "|") != strings.Join(tc.ran, "|") {
				t.Errorf("ran %q, want %q", ran, tc.ran)
			}
			if !strings.Contains(shown.String(), tc.shown) {
				t.Errorf("shown %q, want it to contain %q", shown.String(), tc.shown)
			}
			if !utf8.ValidString(shown.String()) || strings.ContainsAny(shown.String(), "\u009b\xff") {
				t.Errorf("shown %q: not clean UTF-8 text", shown.String())
			}
			if strings.HasSuffix(tc.name, "again after a command") && !disconnected {
				t.Error("~. after a command did not disconnect")
			}
		})
	}
	// Without a Command action, ~C says so and sends nothing.
	var shown strings.Builder
	r := NewEscapeReader(strings.NewReader("~Cx"), '~', EscapeActions{Help: func(s string) { shown.WriteString(s) }})
	if got, _ := io.ReadAll(r); string(got) != "x" || !strings.Contains(shown.String(), "not supported") {
		t.Errorf("~C without commands: sent %q, shown %q", got, shown.String())
	}
}

func TestEscapeHelpListsCommandsOnlyWhereTaken(t *testing.T) {
	for _, withCommand := range []bool{false, true} {
		var shown strings.Builder
		act := EscapeActions{Help: func(s string) { shown.WriteString(s) }}
		if withCommand {
			act.Command = func(string) string { return "" }
		}
		io.ReadAll(NewEscapeReader(strings.NewReader("~?"), '~', act))
		if got := strings.Contains(shown.String(), "~C"); got != withCommand {
			t.Errorf("with commands %v: ~? lists ~C: %v\n%s", withCommand, got, shown.String())
		}
	}
}
