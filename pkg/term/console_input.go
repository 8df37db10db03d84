package term

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// ConsoleInput returns what a raw-mode session should read its keystrokes from when f is its
// terminal input. On Linux, for a terminal, it is a second, non-blocking open of that terminal
// that Go's network poller reads (pollableInput says why); release closes it, which ends a read
// in progress with io.EOF, and f itself is untouched. Elsewhere, and for any f that is neither a
// terminal nor a Windows console, it is f itself, and release does nothing.
//
// On a Windows console it is a reader of console input records (ReadConsoleInputW) instead of
// text, because Windows reports a window resize as a WINDOW_BUFFER_SIZE_EVENT record in the same
// queue as the keys: only the reader that takes the keys can see it, and this one passes it on to
// WatchSize, which then needs no fast poll. The keys arrive as the console translated them in the
// virtual-terminal input mode that raw mode turns on (arrow keys as escape sequences, and so on),
// so the bytes are the ones an xterm would send. It also sends ^Z on, where reading the console as
// a file would take it for end of file.
//
// Make one per session, read it from one goroutine, and call release when the session is over;
// release may be called more than once. On a Windows console, size watchers then no longer count
// on the reader for resizes; release closes nothing there (f stays open, and a read in progress
// still ends only with input): like a read of the console file, a read blocks until the console
// has input and cannot be interrupted.
func ConsoleInput(f *os.File) (r io.Reader, release func()) {
	if f == nil {
		return nil, func() {}
	}
	if cr := consoleInput(f); cr != nil {
		return cr, cr.release
	}
	if pf := pollableInput(f); pf != nil {
		pr := &pollableReader{f: pf}
		return pr, pr.release
	}
	return f, func() {}
}

// Event types of an input record (INPUT_RECORD.EventType), as in wincon.h and
// golang.org/x/sys/windows. They are this package's own so that the decoding below builds, and is
// tested, on every platform. Mouse, menu and focus records are of no use to a session: the
// console reports mouse and focus to a remote program that asked for them as escape sequences in
// key records instead.
const (
	keyEvent              uint16 = 0x0001
	windowBufferSizeEvent uint16 = 0x0004

	vkMenu uint16 = 0x12 // the Alt key's virtual-key code, VK_MENU
)

// recordsPerRead is how many records one ReadConsoleInputW may return, so that a paste, which
// arrives as one record per character, takes a few calls rather than one per character.
const recordsPerRead = 128

// inputRecord is Win32's INPUT_RECORD exactly as ReadConsoleInputW writes it: a WORD EventType,
// two bytes of padding, and a 16-byte union (KEY_EVENT_RECORD and MOUSE_EVENT_RECORD are 16
// bytes; the union holds DWORDs, hence the padding and the 4-byte alignment), 20 bytes in all. The
// union stays bytes, read little-endian as Windows is on every architecture, so no unsafe cast is
// needed to see a record as a key event.
type inputRecord struct {
	_         [0]uint32 // aligns the record as the C compiler does
	EventType uint16
	_         uint16
	Event     [16]byte
}

// keyRecord is the part of a KEY_EVENT_RECORD a session needs. Its layout in inputRecord.Event is
// BOOL bKeyDown (offset 0), WORD wRepeatCount (4), WORD wVirtualKeyCode (6), WORD
// wVirtualScanCode (8), WCHAR uChar (10) and DWORD dwControlKeyState (12). The scan code and the
// modifier state are left out: in virtual-terminal input mode the console has already folded the
// modifiers into the characters it reports.
type keyRecord struct {
	down   bool
	repeat uint16
	vk     uint16
	char   uint16 // a UTF-16 code unit
}

// carriesText reports whether k stands for input. A key-down record does when it has a character,
// and also when it has neither character nor virtual key, which is how virtual-terminal input mode
// reports NUL (Ctrl+Space, Ctrl+@). An Alt key-up record does when it has a character: that is
// where Windows puts the result of an Alt+numpad composition, and how conhost pastes a character
// the keyboard layout cannot type (older conhost builds pass that record through as it is in
// virtual-terminal mode; newer ones turn it into a key-down record first). Other key-up records,
// and key-down records without a character (a modifier pressed alone, a key the console did not
// translate), carry nothing.
func (k keyRecord) carriesText() bool {
	if k.down {
		return k.char != 0 || k.vk == 0
	}
	return k.vk == vkMenu && k.char != 0
}

func (r *inputRecord) key() keyRecord {
	e := &r.Event
	return keyRecord{
		down:   binary.LittleEndian.Uint32(e[0:4]) != 0,
		repeat: binary.LittleEndian.Uint16(e[4:6]),
		vk:     binary.LittleEndian.Uint16(e[6:8]),
		char:   binary.LittleEndian.Uint16(e[10:12]),
	}
}

// consoleReader is the reader ConsoleInput returns for a Windows console. The system call is a
// function, so that everything else here runs in tests on any platform.
type consoleReader struct {
	read func(recs []inputRecord) (int, error) // ReadConsoleInputW: blocks until at least one record
	hub  *resizeHub                            // told about WINDOW_BUFFER_SIZE_EVENT records
	recs []inputRecord
	dec  keyDecoder
	buf  []byte // decoded input; buf[off:] is not yet returned
	off  int
	err  error     // the read failed: returned once buf is drained, and from then on
	gone sync.Once // the reader has left the hub: read failed, or released
}

// newConsoleReader registers the reader with hub at once, before its first read, so a size
// watcher started in between already counts on it.
func newConsoleReader(read func([]inputRecord) (int, error), hub *resizeHub) *consoleReader {
	hub.readerStarted()
	return &consoleReader{read: read, hub: hub, recs: make([]inputRecord, recordsPerRead)}
}

// release takes the reader off the hub, once: size watchers go back to polling.
func (r *consoleReader) release() { r.gone.Do(r.hub.readerStopped) }

// Read returns the bytes typed so far. It reads records until some of them carry text, so it
// does not return 0 bytes for a batch of key releases or resizes.
func (r *consoleReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for r.off == len(r.buf) {
		if r.err != nil {
			return 0, r.err
		}
		n, err := r.read(r.recs)
		var resized bool
		r.buf, resized = r.dec.decode(r.buf[:0], r.recs[:n])
		r.off = 0
		if resized {
			r.hub.resized()
		}
		if err != nil {
			r.err = err
			r.release() // no more resize records will come from here
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// keyDecoder turns key records into UTF-8. It holds the first half of a surrogate pair, which
// the console reports as a record of its own, until the second half arrives, perhaps in the next
// read.
type keyDecoder struct {
	high uint16 // a leading surrogate waiting for its trailing half; 0 if none
}

// decode appends the text of recs to dst, each key record's character once per repeat (a repeat
// count of 0 is taken as 1, as the console itself does), and reports whether any of them was a
// resize.
func (d *keyDecoder) decode(dst []byte, recs []inputRecord) (out []byte, resized bool) {
	for i := range recs {
		switch recs[i].EventType {
		case windowBufferSizeEvent:
			resized = true
		case keyEvent:
			if k := recs[i].key(); k.carriesText() {
				for range max(k.repeat, 1) {
					dst = d.unit(dst, k.char)
				}
			}
		}
	}
	return dst, resized
}

// unit appends one UTF-16 code unit. An unpaired surrogate becomes U+FFFD, as Go's own reading of
// a console does.
func (d *keyDecoder) unit(dst []byte, u uint16) []byte {
	if d.high != 0 {
		high := rune(d.high)
		d.high = 0
		if r := utf16.DecodeRune(high, rune(u)); r != utf8.RuneError {
			return utf8.AppendRune(dst, r)
		}
		dst = utf8.AppendRune(dst, utf8.RuneError) // the lone leading half; u starts afresh
	}
	if 0xd800 <= u && u < 0xdc00 {
		d.high = u
		return dst
	}
	return utf8.AppendRune(dst, rune(u)) // a lone trailing half is not a valid rune: U+FFFD
}

// pollableReader reads a terminal through the poller; release closes it, ending a read in
// progress with io.EOF.
type pollableReader struct {
	f    *os.File
	once sync.Once
}

func (r *pollableReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if errors.Is(err, os.ErrClosed) {
		err = io.EOF
	}
	return n, err
}

func (r *pollableReader) release() { r.once.Do(func() { r.f.Close() }) }
