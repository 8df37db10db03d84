package session

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// created is the timestamp of every example frame below, computed from the layouts of
// docs/protocol.md, Frames (whose own worked examples use other values).
const created = 1700000000000

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Example frames, byte for byte, encoded by AppendFrame and decoded back by Decode.
var referenceFrames = []struct {
	name    string
	h       Header
	payload []byte
	hex     string
}{
	{"1.01 input ls", Header{Type: TypeInput, Created: created, Seq: 0}, []byte("ls\r"),
		"00 00 00 00 | 31 2e 30 31 | 00 | 00 | 00 68 e5 cf 8b 01 00 00 | 00 00 00 00 00 00 00 00 | 03 00 00 00 | 6c 73 0d"},
	{"1.01 resize 24x80", Header{Type: TypeResize, Created: created, Seq: 1}, AppendResize(nil, 24, 80),
		"02 00 00 00 | 31 2e 30 31 | 00 | 00 | 00 68 e5 cf 8b 01 00 00 | 01 00 00 00 00 00 00 00 | 04 00 00 00 | 18 00 50 00"},
	{"1.01 keep-alive", Header{Type: TypeInput, Created: created, Seq: 5}, nil,
		"00 00 00 00 | 31 2e 30 31 | 00 | 00 | 00 68 e5 cf 8b 01 00 00 | 05 00 00 00 00 00 00 00 | 00 00 00 00"},
	{"1.01 close", Header{Type: TypeClose, Created: created, Seq: 7}, []byte("1"),
		"03 00 00 00 | 31 2e 30 31 | 00 | 00 | 00 68 e5 cf 8b 01 00 00 | 07 00 00 00 00 00 00 00 | 01 00 00 00 | 31"},
	{"1.01 status with ids", Header{Type: TypeStatus, ChannelID: "abc", InstanceID: "i-x", Created: created, Seq: 3}, AppendStatus(nil, StateClosed, "Exit"),
		"05 00 00 00 | 31 2e 30 31 | 03 61 62 63 | 03 69 2d 78 | 00 68 e5 cf 8b 01 00 00 | 03 00 00 00 00 00 00 00 | 05 00 00 00 | 05 45 78 69 74"},
	{"1.02 input ls", Header{Type: TypeInput, Version: V102, ChannelID: "ch1", Created: created, InputSeq: 1, OutputSeq: 1}, []byte("ls\r"),
		"00 00 00 00|31 2e 30 32|03 63 68 31|00|00 68 e5 cf 8b 01 00 00|01 00 00 00|01 00 00 00|03 00|00|00|6c 73 0d"},
	{"1.02 resize", Header{Type: TypeResize, Version: V102, ChannelID: "ch1", Created: created, InputSeq: 2, OutputSeq: 1}, AppendResize(nil, 24, 80),
		"02 00 00 00|31 2e 30 32|03 63 68 31|00|00 68 e5 cf 8b 01 00 00|02 00 00 00|01 00 00 00|04 00|00|00|18 00 50 00"},
	{"1.02 heartbeat", Header{Type: TypeInput, Version: V102, ChannelID: "ch1", Created: created, InputSeq: 3, OutputSeq: 4}, nil,
		"00 00 00 00|31 2e 30 32|03 63 68 31|00|00 68 e5 cf 8b 01 00 00|03 00 00 00|04 00 00 00|00 00|00|00"},
	{"1.02 sync", Header{Type: TypeSync, Version: V102, ChannelID: "ch1", Created: created, InputSeq: 3, OutputSeq: 4}, nil,
		"06 00 00 00|31 2e 30 32|03 63 68 31|00|00 68 e5 cf 8b 01 00 00|03 00 00 00|04 00 00 00|00 00|00|00"},
	{"1.02 server output", Header{Type: TypeOutput, Version: V102, ChannelID: "ch1", InstanceID: "i-x", Created: created, InputSeq: 2, OutputSeq: 1}, []byte("$ "),
		"01 00 00 00|31 2e 30 32|03 63 68 31|03 69 2d 78|00 68 e5 cf 8b 01 00 00|02 00 00 00|01 00 00 00|02 00|00|00|24 20"},
	{"1.02 stream rate", Header{Type: TypeStatus, Version: V102, ChannelID: "ch1", Created: created}, AppendRate(nil, 204800),

		"05 00 00 00|31 2e 30 32|03 63 68 31|00|00 68 e5 cf 8b 01 00 00|00 00 00 00|00 00 00 00|05 00|00|00|07 00 03 20 00"},
	{"1.02 exited", Header{Type: TypeStatus, Version: V102, ChannelID: "ch1", Created: created}, AppendStatus(nil, StateExited, "Exit"),
		"05 00 00 00|31 2e 30 32|03 63 68 31|00|00 68 e5 cf 8b 01 00 00|00 00 00 00|00 00 00 00|05 00|00|00|06 45 78 69 74"},
}

func TestAppendFrameMatchesReference(t *testing.T) {
	for _, tc := range referenceFrames {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got, err := AppendFrame(nil, tc.h, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestDecodeReference(t *testing.T) {
	for _, tc := range referenceFrames {
		t.Run(tc.name, func(t *testing.T) {
			msg := unhex(t, tc.hex)
			f, err := Decode(msg)
			if err != nil {
				t.Fatal(err)
			}
			if f.Type != tc.h.Type || string(f.ChannelID) != tc.h.ChannelID || string(f.InstanceID) != tc.h.InstanceID || f.Created != created {
				t.Fatalf("header: got %v %q %q %d", f.Type, f.ChannelID, f.InstanceID, f.Created)
			}
			if f.Is102() != (tc.h.Version == V102) {
				t.Fatalf("Is102 = %v for version %q", f.Is102(), f.Version)
			}
			if f.Is102() {
				if f.InputSeq != tc.h.InputSeq || f.OutputSeq != tc.h.OutputSeq {
					t.Fatalf("seqs: got in %d out %d", f.InputSeq, f.OutputSeq)
				}
			} else if f.Seq != tc.h.Seq {
				t.Fatalf("seq: got %d want %d", f.Seq, tc.h.Seq)
			}
			if f.DeclaredLen() != len(f.Payload) {
				t.Fatalf("declared %d, payload %d", f.DeclaredLen(), len(f.Payload))
			}
		})
	}
}

func TestCrossSchemaReading(t *testing.T) {
	// docs/protocol.md, Frames: a 1.02 frame read as 1.01 has Seq = outputSeq<<32 | inputSeq and
	// Length = msgLength.
	msg, _ := AppendFrame(nil, Header{Type: TypeOutput, Version: V102, Created: created, InputSeq: 2, OutputSeq: 1}, []byte("$ "))
	f, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if f.Seq != 1<<32|2 || f.Length != 2 {
		t.Fatalf("1.01 view of a 1.02 frame: seq %d length %d", f.Seq, f.Length)
	}
	// A 1.01 frame read as 1.02 has inputSeq = seq, outputSeq = 0.
	msg, _ = AppendFrame(nil, Header{Type: TypeOutput, Created: created, Seq: 9}, []byte("x"))
	f, _ = Decode(msg)
	if f.InputSeq != 9 || f.OutputSeq != 0 || f.MsgLength != 1 {
		t.Fatalf("1.02 view of a 1.01 frame: in %d out %d len %d", f.InputSeq, f.OutputSeq, f.MsgLength)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := AppendFrame(nil, Header{Type: TypeOutput, ChannelID: "abc", Created: created}, []byte("hi"))
	zero, _ := AppendFrame(nil, Header{Type: TypeOutput}, []byte("hi"))
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrShortFrame},
		{"truncated ids", good[:10], ErrShortFrame},
		{"truncated header", good[:32], ErrShortFrame},
		{"id length past end", []byte{1, 0, 0, 0, '1', '.', '0', '1', 200, 'x'}, ErrShortFrame},
		{"zero timestamp", zero, ErrZeroCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// A payload that disagrees with its length field is still taken as the rest of the message.
	msg := append([]byte(nil), good...)
	msg[len(msg)-3] = 99 // PayloadLength's low byte
	f, err := Decode(msg)
	if err != nil || string(f.Payload) != "hi" {
		t.Fatalf("lying length: %v %q", err, f.Payload)
	}
}

func TestAppendFrameLimits(t *testing.T) {
	if _, err := AppendFrame(nil, Header{ChannelID: strings.Repeat("x", 256), Created: 1}, nil); !errors.Is(err, ErrLongID) {
		t.Fatalf("long id: %v", err)
	}
	if _, err := AppendFrame(nil, Header{Version: V102, Created: 1}, make([]byte, MaxPayload102+1)); !errors.Is(err, ErrLongPayload) {
		t.Fatalf("long 1.02 payload: %v", err)
	}
	if _, err := AppendFrame(nil, Header{Created: 1}, make([]byte, MaxPayload102+1)); err != nil {
		t.Fatalf("1.01 has a u32 length: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	frame := func(version string, payload []byte) *Frame {
		msg, err := AppendFrame(nil, Header{Type: TypeStatus, Version: version, Created: created}, payload)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		return &f
	}
	for _, tc := range []struct {
		name    string
		version string
		payload []byte
		want    Status
	}{
		{"closed exit", V101, AppendStatus(nil, StateClosed, "Exit"), Status{State: StateClosed, Reason: "Exit"}},
		{"aborted", V102, AppendStatus(nil, StateAborted, "OpenPtyFailed"), Status{State: StateAborted, Reason: "OpenPtyFailed"}},
		{"rate 4 bytes", V101, AppendRate(nil, 204800), Status{State: StateStream, Rate: 204800}},
		{"rate 1 byte", V102, []byte{7, 200}, Status{State: StateStream, Rate: 200}},
		{"rate empty", V101, []byte{7}, Status{State: StateStream}},
		{"opened", V102, []byte{3}, Status{State: StateOpened}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatus(frame(tc.version, tc.payload))
			if err != nil || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
	// The declared length bounds the reason text.
	f := frame(V102, AppendStatus(nil, StateClosed, "Exit"))
	f.MsgLength = 3
	if got, _ := ParseStatus(f); got.Reason != "Ex" {
		t.Fatalf("bounded reason: %q", got.Reason)
	}
	if _, err := ParseStatus(frame(V101, nil)); !errors.Is(err, ErrEmptyStatus) {
		t.Fatalf("empty status: %v", err)
	}
}

func TestParseResize(t *testing.T) {
	for _, tc := range []struct {
		p          []byte
		rows, cols uint16
		ok         bool
	}{
		{AppendResize(nil, 24, 80), 24, 80, true},
		{[]byte(`{"cols":132,"rows":43}`), 43, 132, true},
		{[]byte(`{"cols":132}`), 0, 0, false},
		{[]byte{1, 2, 3}, 0, 0, false},
	} {
		rows, cols, err := ParseResize(tc.p)
		if (err == nil) != tc.ok || rows != tc.rows || cols != tc.cols {
			t.Errorf("ParseResize(%q) = %d, %d, %v", tc.p, rows, cols, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range referenceFrames {
		f.Add(unhex(f, tc.hex))
	}
	f.Add([]byte{})
	f.Add([]byte{5, 0, 0, 0, '1', '.', '0', '2', 255})
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := Decode(msg)
		if err != nil {
			return
		}
		_, _ = ParseStatus(&fr)
		_, _, _ = ParseResize(fr.Payload)
		// Re-encoding what was decoded must give a frame that decodes to the same payload.
		h := Header{Type: fr.Type, ChannelID: string(fr.ChannelID), InstanceID: string(fr.InstanceID), Created: fr.Created, Seq: fr.Seq}
		again, err := AppendFrame(nil, h, fr.Payload)
		if err != nil {
			t.Fatal(err)
		}
		fr2, err := Decode(again)
		if err != nil || !bytes.Equal(fr2.Payload, fr.Payload) || fr2.Type != fr.Type {
			t.Fatalf("round trip: %v", err)
		}
	})
}
