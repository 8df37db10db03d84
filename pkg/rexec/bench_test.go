package rexec

import (
	"io"
	"testing"
)

// BenchmarkOutput measures the client's exec output path in the steady state: 1 KiB Output
// frames (the agent's shell frame size) of command output through the trailer watch to a
// discarding stdout. allocs/op is per frame.
func BenchmarkOutput(b *testing.B) {
	e, err := New(Request{Command: "cat", Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	w := e.Output()
	if _, err := w.Write([]byte(readyMarker)); err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, 1024)
	for i := range frame {
		frame[i] = byte(i * 7) // every byte value, 0x1e (the trailer's first) included
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := w.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
}
