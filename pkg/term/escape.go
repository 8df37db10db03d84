package term

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrEscapeDisconnect is returned by an EscapeReader when the user typed the escape character
// and '.' at the start of a line: end the session now.
var ErrEscapeDisconnect = errors.New("session ended by escape sequence")

// EscapeActions are what an EscapeReader calls for the sequences that do not just produce input.
// Nil fields are treated as unsupported and say so through Help.
type EscapeActions struct {
	// Help receives the text to show (for ~? and for unsupported sequences). It is written while
	// the terminal is raw, so lines end in \r\n.
	Help func(text string)
	// List shows the session's forwarded connections (~#).
	List func()
	// Command runs a line typed after ~C (OpenSSH's command line: -L, -D, -KL, -KD) and returns
	// what to show, lines ending in \r\n. It runs on the reading goroutine, so it must be quick.
	Command func(line string) string
	// Suspend stops ecsterm until it is continued (~^Z).
	Suspend func()
	// Disconnect is called at once when ~. is typed, before Read reports it.
	Disconnect func()
}

// EscapeReader recognises OpenSSH's escape sequences in keyboard input: the escape character
// (default '~') typed at the start of a line, followed by a command character. Everything else
// passes through unchanged. It is a plain io.Reader so it can be tested with byte strings.
type EscapeReader struct {
	r       io.Reader
	esc     byte
	act     EscapeActions
	atStart bool // the next byte begins a line
	pending bool // the escape character was seen at the start of a line
	out     []byte
	buf     []byte
	done    bool
	cmd     bool   // reading a ~C command line: keys are edited here, not sent
	line    []byte // the command line so far
	valid   int    // line[:valid] is whole, printable characters, all echoed
	skipLF  bool   // a command line ended with \r: a \n right after it belongs to it
}

// commandPrompt opens the ~C command line, as OpenSSH's "ssh> " does.
const commandPrompt = "\r\necsterm> "

// maxCommandLine bounds a ~C line; keys beyond it are dropped.
const maxCommandLine = 512

// NewEscapeReader wraps r. esc is the escape character.
func NewEscapeReader(r io.Reader, esc byte, act EscapeActions) *EscapeReader {
	return &EscapeReader{r: r, esc: esc, act: act, atStart: true, buf: make([]byte, 1024)}
}

// ParseEscapeChar reads the -e argument: a single character, ^X for a control character, or
// "none" to turn escapes off (ok is then false).
func ParseEscapeChar(s string) (c byte, ok bool, err error) {
	switch {
	case s == "none":
		return 0, false, nil
	case len(s) == 1:
		return s[0], true, nil
	case len(s) == 2 && s[0] == '^' && s[1] >= '@' && s[1] <= '_':
		return s[1] - '@', true, nil
	}
	return 0, false, fmt.Errorf("escape character %q: give one character, ^X, or none", s)
}

// Read returns input with escape sequences removed. After ~. it returns what came before it,
// then ErrEscapeDisconnect.
func (e *EscapeReader) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.done {
			return 0, ErrEscapeDisconnect
		}
		n, err := e.r.Read(e.buf)
		for _, b := range e.buf[:n] {
			if e.feed(b); e.done {
				if e.act.Disconnect != nil {
					e.act.Disconnect()
				}
				break
			}
		}
		if len(e.out) == 0 && err != nil && !e.done {
			return 0, err
		}
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

func (e *EscapeReader) feed(b byte) {
	if e.cmd {
		e.editCommand(b)
		return
	}
	if e.skipLF {
		e.skipLF = false
		if b == '\n' {
			return
		}
	}
	if e.pending {
		e.pending = false
		switch b {
		case '.':
			e.done = true
			return
		case e.esc:
			e.emit(b) // ~~ sends one ~
			return
		case '?':
			e.help(e.helpText())
			e.atStart = false
			return
		case '#':
			if e.act.List != nil {
				e.act.List()
			} else {
				e.help("no forwarded connections in this session\r\n")
			}
			return
		case 'C':
			if e.act.Command == nil {
				e.help("commands (~C) are not supported here\r\n")
				return
			}
			e.cmd, e.line, e.valid = true, e.line[:0], 0
			e.help(commandPrompt)
			return
		case 0x1a: // ^Z
			if e.act.Suspend != nil {
				e.act.Suspend()
			} else {
				e.help("suspending is not supported here\r\n")
			}
			return
		}
		// Not an escape: both characters go through, as OpenSSH does.
		e.emit(e.esc)
		e.emit(b)
		return
	}
	if e.atStart && b == e.esc {
		e.pending = true
		return
	}
	e.emit(b)
}

// editCommand takes one key of a ~C command line. The terminal is raw, so the line is echoed
// here: printable characters are added (a UTF-8 character is echoed once it is whole; bytes that
// are not text are dropped, so nothing but text reaches the terminal), backspace removes a
// character, Enter runs the line, and ^C, or ^D on an empty line, abandons it. Other control
// keys are ignored. Nothing reaches the remote side; the remote line is as empty as it was when
// ~ began it.
func (e *EscapeReader) editCommand(b byte) {
	switch {
	case b == '\r' || b == '\n':
		e.cmd = false
		e.skipLF = b == '\r'
		e.help("\r\n")
		if line := strings.TrimSpace(string(e.line[:e.valid])); line != "" {
			e.help(e.act.Command(line))
		}
		e.atStart = true
	case b == 0x03 || (b == 0x04 && e.valid == 0):
		e.cmd = false
		e.help("\r\n")
		e.atStart = true
	case b == 0x7f || b == 0x08:
		e.line = e.line[:e.valid] // a character begun and not finished goes first, unseen
		if e.valid == 0 {
			return
		}
		r, size := utf8.DecodeLastRune(e.line)
		e.line, e.valid = e.line[:e.valid-size], e.valid-size
		e.help(strings.Repeat("\b \b", runeWidth(r)))
	case b >= 0x20 && len(e.line) < maxCommandLine:
		e.line = append(e.line, b)
		tail := e.line[e.valid:]
		if !utf8.FullRune(tail) {
			return // the rest of the character is still to come
		}
		r, size := utf8.DecodeRune(tail)
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			e.line = e.line[:e.valid]
			return
		}
		e.valid += size
		e.help(string(r))
	}
}

// runeWidth is how many columns a terminal gives r: two for the wide East Asian ranges and most
// emoji, one otherwise. It only has to be right enough for backspace to erase what was echoed.
func runeWidth(r rune) int {
	switch {
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6, r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff,
		r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

func (e *EscapeReader) emit(b byte) {
	e.out = append(e.out, b)
	e.atStart = b == '\r' || b == '\n'
}

func (e *EscapeReader) help(s string) {
	if e.act.Help != nil {
		e.act.Help(s)
	}
}

func (e *EscapeReader) helpText() string {
	c := string(e.esc)
	if e.esc < 0x20 {
		c = "^" + string(e.esc+'@')
	}
	commandHelp := "" // ~C only where commands are taken
	if e.act.Command != nil {
		commandHelp = " " + c + "C   - open a command line: -L or -D adds a forward, -KL or -KD cancels one\r\n"
	}
	return "Supported escape sequences:\r\n" +
		" " + c + ".   - terminate the session\r\n" +
		" " + c + "#   - list forwarded connections\r\n" +
		commandHelp +
		" " + c + "^Z  - suspend ecsterm\r\n" +
		" " + c + "?   - this message\r\n" +
		" " + c + c + "   - send the escape character by typing it twice\r\n" +
		"(Escape sequences are only recognized immediately after a newline.)\r\n"
}
