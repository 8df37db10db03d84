package picker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/target"
)

// chunks is an io.Reader that returns one chunk per Read, as a terminal in raw mode delivers
// keys, then io.EOF.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	if (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

var choices = []string{
	"i-aaa  web-01   cn-hangzhou-h  10.0.0.1  Running",
	"i-bbb  web-02   cn-hangzhou-i  10.0.0.2  Running",
	"i-ccc  api      cn-hangzhou-h  10.0.1.3  Stopped",
	"i-ddd  数据库-01  cn-hangzhou-h  10.0.1.4  Running",
}

func runPicker(t *testing.T, lines []string, rows int, keys ...string) (int, error, string) {
	t.Helper()
	p := newPicker("pick one", lines, rows, 80)
	var out bytes.Buffer
	r := chunks(keys)
	idx, err := p.run(context.Background(), &r, &out)
	return idx, err, out.String()
}

func TestPickerKeys(t *testing.T) {
	for _, tt := range []struct {
		name string
		keys []string
		want int // -1: cancelled
	}{
		{"enter picks the first", []string{"\r"}, 0},
		{"newline also picks", []string{"\n"}, 0},
		{"down arrow", []string{"\x1b[B", "\r"}, 1},
		{"down arrow, application mode", []string{"\x1bOB", "\r"}, 1},
		{"down down up", []string{"\x1b[B", "\x1b[B", "\x1b[A", "\r"}, 1},
		{"ctrl-n ctrl-n ctrl-p", []string{"\x0e", "\x0e", "\x0e", "\x10", "\r"}, 2},
		{"down stops at the end", []string{strings.Repeat("\x0e", 9), "\r"}, 3},
		{"up stops at the top", []string{"\x10\x10", "\r"}, 0},
		{"page down", []string{"\x1b[6~", "\r"}, 3},
		{"type to filter", []string{"a", "p", "i", "\r"}, 2},
		{"typed all at once", []string{"api\r"}, 2},
		{"filter words in any order, any case", []string{"RUNNING 02\r"}, 1},
		{"filter by zone then move", []string{"hangzhou-h", "\x0e", "\r"}, 2},
		{"unicode filter", []string{"数据", "\r"}, 3},
		{"utf-8 split across reads", []string{"\xe6\x95", "\xb0", "\r"}, 3},
		{"escape sequence split across reads", []string{"\x1b[", "B", "\r"}, 1},
		{"backspace widens", []string{"zzz", "\x7f\x7f\x7f", "\x0e", "\r"}, 1},
		{"ctrl-u clears, keeping the choice", []string{"api", "\x15", "\x10", "\r"}, 1},
		{"cursor follows its choice while filtering", []string{"\x0e\x0e", "1.3", "\x7f\x7f\x7f", "\r"}, 2},
		{"enter on no match does nothing", []string{"zzz\r", "\x15\r"}, 0},
		{"unknown sequences and controls are ignored", []string{"\x1b[1;5C", "\x1bx", "\x01\x02", "\r"}, 0},
		{"esc cancels", []string{"\x1b"}, -1},
		{"esc after typing cancels", []string{"web", "\x1b"}, -1},
		{"ctrl-c cancels", []string{"\x03"}, -1},
		{"ctrl-d cancels", []string{"\x04"}, -1},
		{"end of input cancels", nil, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			idx, err, _ := runPicker(t, choices, 10, tt.keys...)
			if tt.want < 0 {
				if !errors.Is(err, target.ErrCancelled) || !errors.Is(err, context.Canceled) {
					t.Fatalf("got %d, %v; want ErrCancelled", idx, err)
				}
				return
			}
			if err != nil || idx != tt.want {
				t.Fatalf("got %d, %v; want %d", idx, err, tt.want)
			}
		})
	}
}

var csi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// frames splits the picker's output into what each draw shows, without escape sequences.
func lastFrame(out string) []string {
	i := strings.LastIndex(out, "\r\x1b[J")
	// the final erase is the last clear; the frame before it is the last drawn
	j := strings.LastIndex(out[:i], "\r\x1b[J")
	frame := csi.ReplaceAllString(out[j+len("\r\x1b[J"):i], "")
	lines := strings.Split(frame, "\r\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], "\r")
	}
	return lines
}

func TestPickerDraws(t *testing.T) {
	_, _, out := runPicker(t, choices, 10, "web", "\x0e", "\r")
	frame := lastFrame(out)
	if frame[0] != "pick one" {
		t.Errorf("title %q", frame[0])
	}
	if !strings.HasPrefix(strings.TrimRight(frame[1], " "), "2/4> web") {
		t.Errorf("prompt %q", frame[1])
	}
	if len(frame) != 4 || !strings.HasPrefix(frame[2], "  i-aaa") || !strings.HasPrefix(frame[3], "> i-bbb") {
		t.Errorf("frame %q", frame)
	}
	if !strings.Contains(out, "\x1b[7m> i-bbb") {
		t.Error("the selected line is not highlighted")
	}
	if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
		t.Error("a bare \\n in raw mode would staircase")
	}
	if !strings.HasSuffix(out, "\x1b[1A\r\x1b[J") {
		t.Errorf("the picker does not erase itself: ends %q", out[max(0, len(out)-20):])
	}
}

func TestPickerNoMatch(t *testing.T) {
	_, _, out := runPicker(t, choices, 10, "zzz", "\x03")
	frame := lastFrame(out)
	if len(frame) != 3 || !strings.Contains(frame[2], "no instance matches") || !strings.HasPrefix(frame[1], "0/4> zzz") {
		t.Errorf("frame %q", frame)
	}
}

func TestPickerScrolls(t *testing.T) {
	var many []string
	for i := range 30 {
		many = append(many, fmt.Sprintf("i-%02d", i))
	}
	idx, err, out := runPicker(t, many, 5, strings.Repeat("\x0e", 12), "\r")
	if err != nil || idx != 12 {
		t.Fatalf("got %d, %v", idx, err)
	}
	frame := lastFrame(out)
	if len(frame) != 2+5 || frame[2] != "  i-08" || frame[6] != "> i-12" {
		t.Errorf("window %q, want i-08..i-12 with i-12 selected", frame)
	}
	idx, _, out = runPicker(t, many, 5, strings.Repeat("\x0e", 12), "\x1b[5~", "\r")
	if frame := lastFrame(out); idx != 7 || frame[2] != "> i-07" {
		t.Errorf("page up: picked %d, window %q", idx, frame)
	}
}

func TestPickerFitsWidth(t *testing.T) {
	long := []string{strings.Repeat("x", 200), strings.Repeat("界", 100)}
	p := newPicker(strings.Repeat("t", 100), long, 5, 40)
	var out bytes.Buffer
	p.draw(&out)
	for _, l := range strings.Split(csi.ReplaceAllString(out.String(), ""), "\r\n") {
		if n := cells(strings.TrimPrefix(l, "\r")); n >= 40 {
			t.Errorf("line of %d cells on a 40-column terminal: %q", n, l)
		}
	}
}

func TestPickerContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := newPicker("t", choices, 5, 80)
	r := chunks{"a"}
	if _, err := p.run(ctx, &r, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestForNeedsTerminals(t *testing.T) {
	if For(nil) != nil {
		t.Error("nil streams gave a picker")
	}
}
