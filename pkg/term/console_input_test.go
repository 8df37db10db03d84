package term

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf16"
	"unsafe"
)

// Layout from the Win32 documentation of INPUT_RECORD: ReadConsoleInputW writes an array of
// these, so the size is the stride and must be exact.
func TestInputRecordLayout(t *testing.T) {
	var r inputRecord
	if got := unsafe.Sizeof(r); got != 20 {
		t.Errorf("Sizeof(INPUT_RECORD) = %d, want 20", got)
	}
	if got := unsafe.Alignof(r); got != 4 {
		t.Errorf("Alignof(INPUT_RECORD) = %d, want 4", got)
	}
	if got := unsafe.Offsetof(r.Event); got != 4 {
		t.Errorf("offset of the Event union = %d, want 4", got)
	}
}

// Records are built byte by byte from the documented KEY_EVENT_RECORD layout, not with the code
// under test. The scan code and modifier state are filled with noise that must not matter.
func keyRec(down bool, repeat, vk, char uint16) inputRecord {
	r := inputRecord{EventType: keyEvent}
	if down {
		binary.LittleEndian.PutUint32(r.Event[0:], 1) // BOOL bKeyDown
	}
	binary.LittleEndian.PutUint16(r.Event[4:], repeat)       // WORD wRepeatCount
	binary.LittleEndian.PutUint16(r.Event[6:], vk)           // WORD wVirtualKeyCode
	binary.LittleEndian.PutUint16(r.Event[8:], 0x1e)         // WORD wVirtualScanCode
	binary.LittleEndian.PutUint16(r.Event[10:], char)        // WCHAR uChar
	binary.LittleEndian.PutUint32(r.Event[12:], 0x0000_0020) // DWORD dwControlKeyState: NUMLOCK_ON
	return r
}

// typed is s as the console reports it in virtual-terminal input mode: one key-down record, with
// no virtual key, per UTF-16 code unit.
func typed(s string) []inputRecord {
	var recs []inputRecord
	for _, u := range utf16.Encode([]rune(s)) {
		recs = append(recs, keyRec(true, 1, 0, u))
	}
	return recs
}

func down(vk, char uint16) inputRecord { return keyRec(true, 1, vk, char) }
func up(vk, char uint16) inputRecord   { return keyRec(false, 1, vk, char) }

func resizeRec() inputRecord {
	r := inputRecord{EventType: windowBufferSizeEvent}
	binary.LittleEndian.PutUint16(r.Event[0:], 120) // COORD dwSize.X
	binary.LittleEndian.PutUint16(r.Event[2:], 40)  // COORD dwSize.Y
	return r
}

func otherRec(eventType uint16) inputRecord {
	r := inputRecord{EventType: eventType}
	for i := range r.Event {
		r.Event[i] = 0x41 // would read as 'A' key-down if taken for a key record
	}
	return r
}

const (
	mouseEvent uint16 = 0x0002
	menuEvent  uint16 = 0x0008
	focusEvent uint16 = 0x0010

	vkShift   uint16 = 0x10
	vkControl uint16 = 0x11
	vkA       uint16 = 0x41
	vkNumpad1 uint16 = 0x61
)

func concat(parts ...[]inputRecord) []inputRecord {
	var all []inputRecord
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func TestKeyDecoder(t *testing.T) {
	smile := utf16.Encode([]rune("😀")) // a surrogate pair
	hi, lo := smile[0], smile[1]

	tests := []struct {
		name    string
		reads   [][]inputRecord // one decode call each, sharing the decoder
		want    string
		resized bool
	}{
		{"plain text", [][]inputRecord{typed("ls -la\r")}, "ls -la\r", false},
		{"arrow key as a VT sequence", [][]inputRecord{typed("\x1b[A")}, "\x1b[A", false},
		{"key with its virtual key", [][]inputRecord{{down(vkA, 'a'), up(vkA, 'a')}}, "a", false},
		{"key-up records carry nothing", [][]inputRecord{{up(vkA, 'a'), up(0, 'b')}}, "", false},
		{"repeat count", [][]inputRecord{{keyRec(true, 3, vkA, 'a')}}, "aaa", false},
		{"repeat count 0 counts once", [][]inputRecord{{keyRec(true, 0, vkA, 'a')}}, "a", false},
		{"modifier alone carries nothing", [][]inputRecord{{down(vkShift, 0), down(vkControl, 0), up(vkShift, 0)}}, "", false},
		{"NUL from Ctrl+Space", [][]inputRecord{{down(0, 0)}}, "\x00", false},
		{"Ctrl-C and Ctrl-Z are input", [][]inputRecord{typed("\x03\x1a")}, "\x03\x1a", false},
		{"two-byte UTF-8", [][]inputRecord{typed("é")}, "é", false},
		{"three-byte UTF-8", [][]inputRecord{typed("中文")}, "中文", false},
		{"surrogate pair", [][]inputRecord{typed("a😀b")}, "a😀b", false},
		{"surrogate pair split across reads", [][]inputRecord{{down(0, hi)}, {down(0, lo)}}, "😀", false},
		{
			"surrogate pair with other records between",
			[][]inputRecord{{down(0, hi), up(0, hi), resizeRec(), otherRec(mouseEvent)}, {down(vkShift, 0), down(0, lo)}},
			"😀", true,
		},
		{"leading surrogate then a plain character", [][]inputRecord{{down(0, hi), down(0, 'x')}}, "\uFFFDx", false},
		{"leading surrogate twice then its pair", [][]inputRecord{{keyRec(true, 2, 0, hi), down(0, lo)}}, "\uFFFD😀", false},
		{"lone trailing surrogate", [][]inputRecord{{down(0, lo), down(0, 'x')}}, "\uFFFDx", false},
		{"leading surrogate waits for more", [][]inputRecord{{down(0, 'x'), down(0, hi)}}, "x", false},
		{
			"Alt+numpad composition arrives on the Alt key-up",
			[][]inputRecord{{down(vkMenu, 0), down(vkNumpad1, 0), up(vkNumpad1, 0), up(vkMenu, '☺')}},
			"☺", false,
		},
		{"Alt key-up alone carries nothing", [][]inputRecord{{down(vkMenu, 0), up(vkMenu, 0)}}, "", false},
		{
			"emoji pasted as Alt key-ups",
			[][]inputRecord{{down(vkMenu, 0), up(vkMenu, hi)}, {down(vkMenu, 0), up(vkMenu, lo)}},
			"😀", false,
		},
		{"resize", [][]inputRecord{{resizeRec()}}, "", true},
		{"resize among keys", [][]inputRecord{concat(typed("ab"), []inputRecord{resizeRec()}, typed("c"))}, "abc", true},
		{
			"mouse, menu and focus records are ignored",
			[][]inputRecord{{otherRec(mouseEvent), otherRec(menuEvent), otherRec(focusEvent)}},
			"", false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d keyDecoder
			var got []byte
			resized := false
			for _, recs := range tt.reads {
				var r bool
				got, r = d.decode(got, recs)
				resized = resized || r
			}
			if string(got) != tt.want {
				t.Errorf("text %q, want %q", got, tt.want)
			}
			if resized != tt.resized {
				t.Errorf("resized = %v, want %v", resized, tt.resized)
			}
		})
	}
}

// fakeConsole plays ReadConsoleInputW: each call returns the next batch, or as much of it as
// fits, then err once the batches are used up.
type fakeConsole struct {
	batches [][]inputRecord
	err     error
	calls   int
}

func (f *fakeConsole) read(recs []inputRecord) (int, error) {
	f.calls++
	if len(f.batches) == 0 {
		return 0, f.err
	}
	n := copy(recs, f.batches[0])
	if f.batches[0] = f.batches[0][n:]; len(f.batches[0]) == 0 {
		f.batches = f.batches[1:]
	}
	return n, nil
}

var errConsoleGone = errors.New("console gone")

func TestConsoleReader(t *testing.T) {
	paste := strings.Repeat("pasted text, ", 30) // more records than one read returns

	tests := []struct {
		name    string
		batches [][]inputRecord
		want    string
		resized bool // a resize notice is waiting for the watcher afterwards
	}{
		{"keys", [][]inputRecord{typed("echo hi\r")}, "echo hi\r", false},
		{"paste larger than one read", [][]inputRecord{typed(paste)}, paste, false},
		{"batches without text are skipped", [][]inputRecord{{up(vkA, 'a')}, {resizeRec()}, typed("x")}, "x", true},
		{"resize only", [][]inputRecord{{resizeRec()}}, "", true},
		{"nothing at all", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hub resizeHub
			events, stop := hub.subscribe(time.Hour, time.Hour)
			defer stop()
			fc := &fakeConsole{batches: tt.batches, err: errConsoleGone}
			r := newConsoleReader(fc.read, &hub)

			got, err := io.ReadAll(iotest.OneByteReader(r))
			if !errors.Is(err, errConsoleGone) {
				t.Errorf("ReadAll error = %v, want the console's error after the text", err)
			}
			if string(got) != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
			if n := len(events); (n == 1) != tt.resized {
				t.Errorf("%d resize notices waiting, want resized = %v", n, tt.resized)
			}
			// The error sticks, without another system call.
			calls := fc.calls
			if _, err := r.Read(make([]byte, 8)); !errors.Is(err, errConsoleGone) || fc.calls != calls {
				t.Errorf("Read after the error = %v with %d more calls, want the same error and none", err, fc.calls-calls)
			}
		})
	}
}

func TestConsoleReaderReadsInBatches(t *testing.T) {
	fc := &fakeConsole{batches: [][]inputRecord{typed(strings.Repeat("x", 3*recordsPerRead))}, err: io.EOF}
	r := newConsoleReader(fc.read, &resizeHub{})
	got, err := io.ReadAll(r)
	if err != nil || len(got) != 3*recordsPerRead {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, 3*recordsPerRead)
	}
	if fc.calls != 4 { // three full batches, then the end
		t.Errorf("%d reads of the console for %d keys, want 4", fc.calls, 3*recordsPerRead)
	}
}

func TestConsoleReaderNeverReturnsNothing(t *testing.T) {
	fc := &fakeConsole{batches: [][]inputRecord{{up(vkA, 'a'), down(vkShift, 0)}, {resizeRec()}, typed("é")}}
	r := newConsoleReader(fc.read, &resizeHub{})
	p := make([]byte, 1) // smaller than the character
	var got bytes.Buffer
	for got.Len() < len("é") {
		n, err := r.Read(p)
		if n == 0 || err != nil {
			t.Fatalf("Read = %d, %v; want a byte", n, err)
		}
		got.Write(p[:n])
	}
	if got.String() != "é" {
		t.Errorf("read %q, want %q", got.String(), "é")
	}
}

func TestConsoleReaderRegistersWithHub(t *testing.T) {
	const poll, backstop = time.Millisecond, time.Hour
	var hub resizeHub
	if got := hub.interval(poll, backstop); got != poll {
		t.Fatalf("interval without a reader = %v, want the poll %v", got, poll)
	}
	fc := &fakeConsole{err: errConsoleGone}
	r := newConsoleReader(fc.read, &hub)
	if got := hub.interval(poll, backstop); got != backstop {
		t.Errorf("interval with a reader = %v, want the backstop %v", got, backstop)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, errConsoleGone) {
		t.Fatalf("Read = %v, want the console's error", err)
	}
	if got := hub.interval(poll, backstop); got != poll {
		t.Errorf("interval after the reader failed = %v, want the poll %v again", got, poll)
	}
	r.release() // after a failure, releasing too must not count the reader out twice
	newConsoleReader(fc.read, &hub)
	if got := hub.interval(poll, backstop); got != backstop {
		t.Errorf("interval with a second reader = %v, want the backstop %v", got, backstop)
	}
}

// TestConsoleReaderRelease: a session that ends without a read error releases its reader, and
// watchers go back to the fast poll.
func TestConsoleReaderRelease(t *testing.T) {
	const poll, backstop = time.Millisecond, time.Hour
	var hub resizeHub
	r := newConsoleReader((&fakeConsole{batches: [][]inputRecord{typed("x")}}).read, &hub)
	if got := hub.interval(poll, backstop); got != backstop {
		t.Fatalf("interval with a reader = %v, want the backstop %v", got, backstop)
	}
	r.release()
	r.release()
	if got := hub.interval(poll, backstop); got != poll {
		t.Errorf("interval after release = %v, want the poll %v", got, poll)
	}
}

func TestConsoleInputOfNonConsole(t *testing.T) {
	r, _, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, release := ConsoleInput(r)
	if got != io.Reader(r) {
		t.Errorf("ConsoleInput(pipe) = %T, want the file itself", got)
	}
	release() // closes nothing
	if _, err := r.Stat(); err != nil {
		t.Errorf("the file after release: %v", err)
	}
	if got, _ := ConsoleInput(nil); got != nil {
		t.Errorf("ConsoleInput(nil) = %#v, want nil", got)
	}
}
