package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	fw := &frameWriter{w: &b}
	big := bytes.Repeat([]byte{0xfe}, 3*chunk+5)
	if _, err := (streamWriter{fw, frameStdout}).Write(big); err != nil {
		t.Fatal(err)
	}
	if err := fw.write(frameStatus, statusPayload(255)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for {
		typ, p, err := readFrame(&b)
		if err != nil {
			t.Fatal(err)
		}
		if typ == frameStatus {
			if st, err := parseStatus(p); err != nil || st != 255 {
				t.Errorf("status %d %v", st, err)
			}
			break
		}
		if typ != frameStdout || len(p) > chunk {
			t.Fatalf("frame %q of %d bytes", typ, len(p))
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, big) {
		t.Error("stdout frames do not add up to what was written")
	}
}

func TestFrameReadsAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"too long", binary.BigEndian.AppendUint32([]byte{frameStdout}, maxFrame+1), errFrameTooLong},
		{"cut header", []byte{frameStdout, 0}, io.ErrUnexpectedEOF},
		{"cut payload", append(binary.BigEndian.AppendUint32([]byte{frameStdout}, 10), "abc"...), io.ErrUnexpectedEOF},
		{"nothing", nil, io.EOF},
	} {
		if _, _, err := readFrame(bytes.NewReader(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, p := range [][]byte{{0, 0, 1, 0}, {1, 2, 3}} {
		if _, err := parseStatus(p); err == nil {
			t.Errorf("status %x accepted", p)
		}
	}
}
