package persist

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A frame between a client and its holder is one type byte, a four-byte big-endian length, and
// that many bytes of payload. Every read is bounded by maxFrame, so a confused or hostile peer
// costs at most that much memory.
const (
	frameRequest  = 'Q' // client: the request, JSON (request)
	frameStdin    = 'I' // client: a chunk of the command's stdin
	frameStdinEOF = 'E' // client: stdin's end of file
	frameAccepted = 'A' // holder: a warm session runs the command (payload: its ID); send stdin now
	frameCold     = 'B' // holder: no warm session for this command; run it cold (payload: why)
	frameStdout   = 'O' // holder: command output
	frameStderr   = 'R' // holder: command stderr
	frameStatus   = 'S' // holder: the exit status, four bytes
	frameError    = 'X' // holder: the command has no status (payload: why, one line)
	frameInfo     = 'L' // holder: what `persist ls` shows, JSON (Info)
	frameDone     = 'D' // holder: a stop request was taken
)

// maxFrame bounds a frame's payload: a request carries the command, which may be long; data
// chunks are much smaller (chunk).
const maxFrame = 4 << 20

// chunk is the most data one stdin, stdout or stderr frame carries.
const chunk = 32 << 10

// errFrameTooLong is a frame whose length is over maxFrame.
var errFrameTooLong = errors.New("frame longer than the persist protocol allows")

// request is what a client asks of a holder.
type request struct {
	Op string `json:"op"` // exec, interrupt, info or stop
	// ID names the command an interrupt is for: it travels on a connection of its own, so
	// that stdin the command does not read cannot hold it up.
	ID         string `json:"id,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
	User       string `json:"user,omitempty"`
	Command    string `json:"command,omitempty"`
}

// Info is what a holder says about itself: one row of `ecsterm persist ls`.
type Info struct {
	InstanceID string `json:"instance_id"`
	User       string `json:"user"`
	Region     string `json:"region"`
	Profile    string `json:"profile,omitempty"`
	Sessions   int    `json:"sessions"`
	Running    int    `json:"running"`
	Waiting    int    `json:"waiting"` // commands waiting for a free session
	IdleMS     int64  `json:"idle_ms"`
	AgeMS      int64  `json:"age_ms"`
	PID        int    `json:"pid"`
	// ExitsInMS is how long the holder stays without another command.
	ExitsInMS int64 `json:"exits_in_ms"`
	// Socket is the holder's socket path (filled in by the lister, not sent).
	Socket string `json:"-"`
}

// readFrame reads one frame.
func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("%w (%d bytes)", errFrameTooLong, n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// frameWriter writes whole frames to one connection, one at a time: a stdin pump, an interrupt
// and the holder's stdout and stderr share it.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (fw *frameWriter) write(typ byte, p []byte) error {
	if len(p) > maxFrame {
		return errFrameTooLong
	}
	buf := make([]byte, 5+len(p))
	buf[0] = typ
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(p)))
	copy(buf[5:], p)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	_, err := fw.w.Write(buf)
	return err
}

func (fw *frameWriter) writeJSON(typ byte, v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return fw.write(typ, p)
}

// streamWriter is an io.Writer whose writes become frames of one type, at most chunk each.
type streamWriter struct {
	fw  *frameWriter
	typ byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		n := min(len(p), chunk)
		if err := s.fw.write(s.typ, p[:n]); err != nil {
			return done, err
		}
		done += n
		p = p[n:]
	}
	return done, nil
}

// statusPayload encodes an exit status.
func statusPayload(st int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(st))
	return b[:]
}

// parseStatus decodes an exit status; a remote status is 0 to 255.
func parseStatus(p []byte) (int, error) {
	if len(p) != 4 {
		return 0, errors.New("malformed exit status from the persist holder")
	}
	st := binary.BigEndian.Uint32(p)
	if st > 255 {
		return 0, fmt.Errorf("exit status %d from the persist holder is out of range", st)
	}
	return int(st), nil
}
