// Package picker is the terminal picker: a type-to-filter list that lets the user choose one of
// the instances an ambiguous target matches.
package picker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// For returns the terminal picker when stdin and stderr are terminals, and nil otherwise,
// so that a script with an ambiguous target gets the list of matches as an error, not a prompt.
func For(ios *iostreams.IOStreams) target.Picker {
	if ios == nil || ios.InFile == nil || !ios.IsStdinTTY() || !ios.IsStderrTTY() {
		return nil
	}
	return Terminal(ios.InFile, ios.ErrOut)
}

// Terminal is a type-to-filter list on the terminal in: arrows or Ctrl-N/Ctrl-P move,
// Enter picks, Esc or Ctrl-C cancels. It draws on out (stderr), in raw mode only while it runs,
// and erases itself before returning. It reads keys on the calling goroutine and returns only
// after a key ends it, so no reader is left behind to steal the session's first keystroke.
func Terminal(in *os.File, out io.Writer) target.Picker {
	return func(ctx context.Context, spec target.Spec, matches []cloud.InstanceInfo) (cloud.InstanceInfo, error) {
		rows, cols := 24, 80
		if sz, err := term.GetSize(in); err == nil && sz.Rows > 0 && sz.Cols > 0 {
			rows, cols = int(sz.Rows), int(sz.Cols)
		}
		title := fmt.Sprintf("%s matches %d instances (type to filter; ↑/↓, Enter, Esc)", spec.Describe(), len(matches))
		p := newPicker(title, target.Lines(matches), min(10, max(rows-3, 1)), cols)
		idx := -1
		err := term.TTY{In: in, Raw: true}.Safe(ctx, func(ctx context.Context, _ func() error) error {
			var err error
			idx, err = p.run(ctx, in, out)
			return err
		})
		if err != nil {
			return cloud.InstanceInfo{}, err
		}
		return matches[idx], nil
	}
}

// picker is the state of the list, apart from any terminal: what is typed, what it shows, and
// where the cursor is. Tests drive it with key bytes and read what it draws.
type picker struct {
	title string
	lines []string // one per choice, already escaped
	lower []string // lines in lower case, for filtering
	query []rune
	shown []int // indexes into lines that match query, in order
	cur   int   // index into shown
	top   int   // first row of shown in the window
	rows  int   // rows of choices drawn at most
	cols  int
	drawn bool
	dec   decoder
}

func newPicker(title string, lines []string, rows, cols int) *picker {
	p := &picker{title: title, lines: lines, rows: max(rows, 1), cols: max(cols, 20)}
	for _, l := range lines {
		p.lower = append(p.lower, strings.ToLower(l))
	}
	p.filter()
	return p
}

// filter recomputes the shown choices: each space-separated word of the query must occur in the
// line, ignoring case. The cursor stays on the same choice when it is still shown.
func (p *picker) filter() {
	keep := -1
	if p.cur < len(p.shown) {
		keep = p.shown[p.cur]
	}
	words := strings.Fields(strings.ToLower(string(p.query)))
	p.shown = p.shown[:0]
	p.cur = 0
	for i, l := range p.lower {
		ok := true
		for _, w := range words {
			if !strings.Contains(l, w) {
				ok = false
				break
			}
		}
		if ok {
			if i == keep {
				p.cur = len(p.shown)
			}
			p.shown = append(p.shown, i)
		}
	}
	p.scroll()
}

func (p *picker) move(d int) {
	if len(p.shown) == 0 {
		return
	}
	p.cur = min(max(p.cur+d, 0), len(p.shown)-1)
	p.scroll()
}

func (p *picker) scroll() {
	if p.cur < p.top {
		p.top = p.cur
	}
	if p.cur >= p.top+p.rows {
		p.top = p.cur - p.rows + 1
	}
	p.top = max(0, min(p.top, len(p.shown)-p.rows))
}

// handle applies one key. It returns done with the picked line's index, or -1 for a cancel.
func (p *picker) handle(k key) (done bool, picked int) {
	switch k.kind {
	case keyCancel:
		return true, -1
	case keyEnter:
		if len(p.shown) > 0 {
			return true, p.shown[p.cur]
		}
	case keyUp:
		p.move(-1)
	case keyDown:
		p.move(1)
	case keyPageUp:
		p.move(-p.rows)
	case keyPageDown:
		p.move(p.rows)
	case keyBackspace:
		if len(p.query) > 0 {
			p.query = p.query[:len(p.query)-1]
			p.filter()
		}
	case keyClear:
		p.query = p.query[:0]
		p.filter()
	case keyRune:
		p.query = append(p.query, k.r)
		p.filter()
	}
	return false, 0
}

// run draws, then reads keys from r until one ends the choice, redrawing after each read.
func (p *picker) run(ctx context.Context, r io.Reader, w io.Writer) (int, error) {
	buf := make([]byte, 256)
	p.draw(w)
	for {
		n, err := r.Read(buf)
		for _, k := range p.dec.keys(buf[:n]) {
			if done, idx := p.handle(k); done {
				p.erase(w)
				if idx < 0 {
					return -1, target.ErrCancelled
				}
				return idx, nil
			}
		}
		if cerr := ctx.Err(); cerr != nil {
			p.erase(w)
			return -1, context.Cause(ctx)
		}
		if err != nil {
			p.erase(w)
			if err == io.EOF {
				return -1, target.ErrCancelled
			}
			return -1, err
		}
		if n > 0 {
			p.draw(w)
		}
	}
}

// The frame is the title, the prompt, then the choices. Between draws the cursor rests at the end
// of the prompt line, so a redraw goes up one line and clears to the end of the screen.
const (
	csiUp      = "\x1b[1A"
	clearBelow = "\r\x1b[J"
	reverse    = "\x1b[7m"
	plain      = "\x1b[0m"
)

func (p *picker) draw(w io.Writer) {
	var b bytes.Buffer
	if p.drawn {
		b.WriteString(csiUp)
	}
	b.WriteString(clearBelow)
	p.drawn = true
	b.WriteString(fit(p.title, p.cols))
	b.WriteString("\r\n")
	prompt := fit(fmt.Sprintf("%d/%d> %s", len(p.shown), len(p.lines), text.Escape(string(p.query))), p.cols)
	b.WriteString(prompt)
	end := min(p.top+p.rows, len(p.shown))
	for i := p.top; i < end; i++ {
		b.WriteString("\r\n")
		line := fit("  "+p.lines[p.shown[i]], p.cols)
		if i == p.cur {
			line = reverse + fit("> "+p.lines[p.shown[i]], p.cols) + plain
		}
		b.WriteString(line)
	}
	if len(p.shown) == 0 {
		b.WriteString("\r\n  (no instance matches; Backspace or Ctrl-U to widen)")
		end = p.top + 1
	}
	// Back to the end of the prompt line.
	if n := end - p.top; n > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", n)
	}
	fmt.Fprintf(&b, "\r\x1b[%dC", cells(prompt))
	_, _ = w.Write(b.Bytes())
}

// erase removes the frame and leaves the cursor where the picker started.
func (p *picker) erase(w io.Writer) {
	if p.drawn {
		_, _ = io.WriteString(w, csiUp+clearBelow)
		p.drawn = false
	}
}

// fit cuts s to fewer than cols cells, so that no line wraps and every cursor move stays true.
func fit(s string, cols int) string {
	n := 0
	for i, r := range s {
		n += runeCells(r)
		if n >= cols {
			return s[:i]
		}
	}
	return s
}

func cells(s string) int {
	n := 0
	for _, r := range s {
		n += runeCells(r)
	}
	return n
}

// runeCells over-estimates: every rune from the Hangul Jamo block up counts as wide, so a line is
// cut early rather than wrapped.
func runeCells(r rune) int {
	if r >= 0x1100 {
		return 2
	}
	return 1
}

type keyKind int

const (
	keyRune keyKind = iota + 1
	keyUp
	keyDown
	keyPageUp
	keyPageDown
	keyEnter
	keyCancel
	keyBackspace
	keyClear
)

type key struct {
	kind keyKind
	r    rune
}

// decoder turns terminal input in raw mode into keys. An escape sequence is expected whole within
// one read, as terminals send it; a lone Esc at the end of a read is the Esc key. An incomplete
// sequence or UTF-8 rune at the end of a read waits for the next one.
type decoder struct{ pending []byte }

func (d *decoder) keys(chunk []byte) []key {
	b := append(d.pending, chunk...)
	d.pending = nil
	var out []key
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == 0x1b:
			if len(b) == 1 {
				return append(out, key{kind: keyCancel})
			}
			k, n, complete := escape(b)
			if !complete {
				d.pending = append([]byte(nil), b...)
				return out
			}
			if k.kind != 0 {
				out = append(out, k)
			}
			b = b[n:]
			continue
		case c == '\r' || c == '\n':
			out = append(out, key{kind: keyEnter})
		case c == 0x03 || c == 0x04 || c == 0x07: // Ctrl-C, Ctrl-D, Ctrl-G
			out = append(out, key{kind: keyCancel})
		case c == 0x7f || c == 0x08:
			out = append(out, key{kind: keyBackspace})
		case c == 0x15: // Ctrl-U
			out = append(out, key{kind: keyClear})
		case c == 0x0e: // Ctrl-N
			out = append(out, key{kind: keyDown})
		case c == 0x10: // Ctrl-P
			out = append(out, key{kind: keyUp})
		case c < 0x20:
			// other control keys do nothing
		default:
			if !utf8.FullRune(b) {
				d.pending = append([]byte(nil), b...)
				return out
			}
			r, n := utf8.DecodeRune(b)
			if r != utf8.RuneError && unicode.IsPrint(r) {
				out = append(out, key{kind: keyRune, r: r})
			}
			b = b[n:]
			continue
		}
		b = b[1:]
	}
	return out
}

// escape reads the escape sequence at the start of b: CSI (ESC [ … final) or SS3 (ESC O x).
// Sequences it does not know are consumed and ignored; ESC followed by any other byte is an
// Alt-key, also ignored.
func escape(b []byte) (k key, n int, complete bool) {
	switch b[1] {
	case '[':
		for i := 2; i < len(b); i++ {
			if b[i] >= 0x40 && b[i] <= 0x7e {
				switch string(b[2 : i+1]) {
				case "A":
					k.kind = keyUp
				case "B":
					k.kind = keyDown
				case "5~":
					k.kind = keyPageUp
				case "6~":
					k.kind = keyPageDown
				}
				return k, i + 1, true
			}
		}
		if len(b) > 16 { // a runaway sequence: drop it rather than wait forever
			return k, len(b), true
		}
		return k, 0, false
	case 'O':
		if len(b) < 3 {
			return k, 0, false
		}
		switch b[2] {
		case 'A':
			k.kind = keyUp
		case 'B':
			k.kind = keyDown
		}
		return k, 3, true
	}
	return k, 2, true
}
