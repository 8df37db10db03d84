package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gorilla/websocket"
)

// MessageType is the u32 at the start of every frame.
type MessageType uint32

// Message types of both schemas. Open is defined by 1.02 but never sent by any known client;
// Sync exists only in 1.02.
const (
	TypeInput  MessageType = 0
	TypeOutput MessageType = 1
	TypeResize MessageType = 2
	TypeClose  MessageType = 3
	TypeOpen   MessageType = 4
	TypeStatus MessageType = 5
	TypeSync   MessageType = 6
)

func (t MessageType) String() string {
	switch t {
	case TypeInput:
		return "Input"
	case TypeOutput:
		return "Output"
	case TypeResize:
		return "Resize"
	case TypeClose:
		return "Close"
	case TypeOpen:
		return "Open"
	case TypeStatus:
		return "Status"
	case TypeSync:
		return "Sync"
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// Schema versions as they appear in the 4-byte version field.
const (
	V101 = "1.01"
	V102 = "1.02"
)

// HeaderLen is the header size when both ids are empty, as every client sends them.
const HeaderLen = 30

// MaxPayload102 is the most a 1.02 frame can carry: its length field is a u16.
const MaxPayload102 = 0xffff

// MaxFrameLen is the longest message a session accepts from the gateway: a header with both ids
// at their longest and a 1.02 payload at its longest. Agents send at most 2 KiB of output per
// frame; anything longer than this is hostile or broken, and ends the session before it is read.
const MaxFrameLen = HeaderLen + 2*255 + MaxPayload102

// ErrFrameTooLong ends a session whose gateway sent a message longer than MaxFrameLen.
var ErrFrameTooLong = fmt.Errorf("the session gateway sent a message longer than %d bytes, more than any frame can hold", MaxFrameLen)

// Decoding errors. A malformed frame ends a session with one of these, never a panic.
var (
	ErrShortFrame  = errors.New("frame shorter than its header")
	ErrZeroCreated = errors.New("frame has a zero timestamp")
	ErrLongID      = errors.New("frame id longer than 255 bytes")
	ErrLongPayload = errors.New("payload too long for a 1.02 frame")
)

// Header is what a sender puts in front of a payload. Seq is written in 1.01 frames; InputSeq and
// OutputSeq in 1.02 frames. An empty Version means 1.01.
type Header struct {
	Type       MessageType
	Version    string
	ChannelID  string
	InstanceID string
	Created    uint64 // Unix milliseconds; must not be zero
	Seq        int64
	InputSeq   uint32
	OutputSeq  uint32
}

// AppendFrame appends the encoding of h and payload to dst, in the layout h.Version names.
func AppendFrame(dst []byte, h Header, payload []byte) ([]byte, error) {
	if len(h.ChannelID) > 255 || len(h.InstanceID) > 255 {
		return dst, ErrLongID
	}
	v102 := h.Version == V102
	if v102 && len(payload) > MaxPayload102 {
		return dst, ErrLongPayload
	}
	ver := h.Version
	if ver == "" {
		ver = V101
	}
	var v [4]byte
	copy(v[:], "    ")
	copy(v[:], ver)

	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.Type))
	dst = append(dst, v[:]...)
	dst = append(dst, byte(len(h.ChannelID)))
	dst = append(dst, h.ChannelID...)
	dst = append(dst, byte(len(h.InstanceID)))
	dst = append(dst, h.InstanceID...)
	dst = binary.LittleEndian.AppendUint64(dst, h.Created)
	if v102 {
		dst = binary.LittleEndian.AppendUint32(dst, h.InputSeq)
		dst = binary.LittleEndian.AppendUint32(dst, h.OutputSeq)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(payload)))
		dst = append(dst, 0, 0) // encoding, reserved: always 0 (docs/protocol.md, Frames)
	} else {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Seq))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	}
	return append(dst, payload...), nil
}

// Frame is one decoded message. Its byte slices alias the buffer given to Decode, so a Frame is
// valid only as long as that buffer is.
type Frame struct {
	Type       MessageType
	Version    [4]byte
	ChannelID  []byte
	InstanceID []byte
	Created    uint64

	// The 12 bytes after the timestamp, in both readings.
	Seq       int64  // 1.01: SequenceNumber
	InputSeq  uint32 // 1.02
	OutputSeq uint32 // 1.02
	Length    uint32 // 1.01: PayloadLength
	MsgLength uint16 // 1.02
	Encoding  uint8  // 1.02

	// Payload is everything after the header, whatever the length fields say (docs/protocol.md,
	// Frames: reading either schema with one decoder).
	Payload []byte
}

// Is102 reports whether the sender stamped the frame with schema 1.02.
func (f *Frame) Is102() bool { return string(f.Version[:]) == V102 }

// DeclaredLen is the payload length the sender declared, read in the sender's schema.
func (f *Frame) DeclaredLen() int {
	if f.Is102() {
		return int(f.MsgLength)
	}
	return int(f.Length)
}

// Decode parses msg in either schema. It does not copy: the frame aliases msg.
func Decode(msg []byte) (Frame, error) {
	var f Frame
	if len(msg) < 9 {
		return f, ErrShortFrame
	}
	f.Type = MessageType(binary.LittleEndian.Uint32(msg))
	copy(f.Version[:], msg[4:8])
	p := 8
	n := int(msg[p])
	p++
	if len(msg) < p+n+1 {
		return f, ErrShortFrame
	}
	f.ChannelID = msg[p : p+n]
	p += n
	m := int(msg[p])
	p++
	if len(msg) < p+m+20 {
		return f, ErrShortFrame
	}
	f.InstanceID = msg[p : p+m]
	p += m
	f.Created = binary.LittleEndian.Uint64(msg[p:])
	f.Seq = int64(binary.LittleEndian.Uint64(msg[p+8:]))
	f.InputSeq = binary.LittleEndian.Uint32(msg[p+8:])
	f.OutputSeq = binary.LittleEndian.Uint32(msg[p+12:])
	f.Length = binary.LittleEndian.Uint32(msg[p+16:])
	f.MsgLength = binary.LittleEndian.Uint16(msg[p+16:])
	f.Encoding = msg[p+18]
	f.Payload = msg[p+20:]
	if f.Created == 0 {
		return f, ErrZeroCreated
	}
	return f, nil
}

// Resize payloads are int16 LE rows, then int16 LE cols (docs/protocol.md, Payloads: Resize).

// AppendResize appends the 4-byte resize payload for rows × cols.
func AppendResize(dst []byte, rows, cols uint16) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, rows)
	return binary.LittleEndian.AppendUint16(dst, cols)
}

// ParseResize reads a resize payload: the 4-byte binary form, or the JSON form {"rows":R,"cols":C}
// that clients before v2.x.3.421 sent (docs/protocol.md, Payloads: Resize), which a gateway may
// still meet.
func ParseResize(p []byte) (rows, cols uint16, err error) {
	if len(p) == 4 {
		return binary.LittleEndian.Uint16(p), binary.LittleEndian.Uint16(p[2:]), nil
	}
	return parseJSONResize(p)
}

// wire is one WebSocket with the codec on it: read gives the next decoded frame, write encodes
// and sends one. Its reads belong to one reader goroutine; its writes are serialized by the
// transport that owns it (conn101.go, conn102.go).
type wire struct {
	ws      *websocket.Conn
	timeout time.Duration // bounds each write
	rbuf    []byte        // the reader's: one buffer for every message
	wbuf    []byte        // the writer's: one buffer for every frame
}

func newWire(ws *websocket.Conn, writeTimeout time.Duration) *wire {
	// gorilla refuses a longer message from its header, before reading or allocating it.
	ws.SetReadLimit(MaxFrameLen)
	return &wire{ws: ws, timeout: writeTimeout}
}

// read returns the next frame. The frame aliases the wire's buffer until the next read: Decode
// does not copy and Stdout.Write must not keep what it is given (the io.Writer contract), so
// nothing is allocated per frame once the buffer has grown. A normal close by the service
// returns errEnded.
func (w *wire) read() (Frame, error) {
	_, r, err := w.ws.NextReader()
	if err != nil {
		return Frame{}, readError(err)
	}
	if w.rbuf, err = readAll(r, w.rbuf[:0]); err != nil {
		return Frame{}, readError(err)
	}
	f, err := Decode(w.rbuf)
	if err != nil {
		return Frame{}, fmt.Errorf("malformed frame from the session gateway: %w", err)
	}
	return f, nil
}

// write sends one frame, stamped with the time now.
func (w *wire) write(h Header, payload []byte) error {
	h.Created = uint64(time.Now().UnixMilli())
	var err error
	if w.wbuf, err = AppendFrame(w.wbuf[:0], h, payload); err != nil {
		return err
	}
	_ = w.ws.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.ws.WriteMessage(websocket.BinaryMessage, w.wbuf)
}

// readError says what a failed read means for the session.
func readError(err error) error {
	if errors.Is(err, websocket.ErrReadLimit) {
		return ErrFrameTooLong // not a lost connection: resuming would only fetch it again
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) {
		return errEnded
	}
	// Both wrapped: callers test for ErrConnectionLost, and resume needs the close code.
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// readAll appends r's contents to buf, growing it only when a message is larger than any before.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
