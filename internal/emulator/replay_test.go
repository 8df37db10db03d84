package emulator

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestReplayKeepsWhatIsUnacknowledged: frames come back exactly, in order, from any point,
// across chunk boundaries and after acknowledgements have freed and reused chunks.
func TestReplayKeepsWhatIsUnacknowledged(t *testing.T) {
	var r replay
	r.init(1 << 20)
	payload := func(seq uint32) []byte {
		// Sizes vary so that frames straddle where chunks end.
		return bytes.Repeat([]byte{byte(seq)}, 1+int(seq*37)%1500)
	}
	var want int
	for round := range 5 {
		for range 200 {
			seq := r.add(payload(r.next), false)
			want += len(payload(seq))
		}
		if r.bytes != want-r.ackedBytes(t) {
			t.Fatalf("round %d: %d bytes kept, want %d", round, r.bytes, want-r.ackedBytes(t))
		}
		from := r.last() - 150
		got := r.after(from)
		if len(got) != 150 {
			t.Fatalf("round %d: after(%d) gave %d frames, want 150", round, from, len(got))
		}
		for i, f := range got {
			if f.seq != from+1+uint32(i) || !bytes.Equal(f.payload, payload(f.seq)) {
				t.Fatalf("round %d: frame %d is seq %d with %d bytes, want seq %d as sent", round, i, f.seq, len(f.payload), from+1+uint32(i))
			}
		}
		r.ackThrough(from) // frees whole chunks; the next round reuses them
	}
	r.ackThrough(r.last())
	if r.kept() != 0 || r.bytes != 0 {
		t.Errorf("after acknowledging everything: %d frames, %d bytes kept", r.kept(), r.bytes)
	}
}

// ackedBytes sums what was acknowledged so far: everything numbered minus what is kept.
func (r *replay) ackedBytes(t *testing.T) int {
	t.Helper()
	kept := 0
	for _, f := range r.frames[r.head:] {
		kept += len(f.payload)
	}
	if kept != r.bytes {
		t.Fatalf("bytes %d, but the kept frames hold %d", r.bytes, kept)
	}
	total := 0
	for seq := uint32(1); seq < r.next; seq++ {
		total += 1 + int(seq*37)%1500
	}
	return total - kept
}

// TestReplaySteadyStateAllocatesNothing: a transfer whose acknowledgements keep up allocates
// nothing per frame: payloads are copied into reused chunks and the queue does not grow.
func TestReplaySteadyStateAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name          string
		every, behind uint32 // acknowledge every so many frames, that many frames behind
	}{
		{"acknowledged frame by frame", 1, 100},
		// as the client does, every 256 KiB, but read by the gateway in lumps (several
		// acknowledgements at once when its reader was not scheduled), while megabytes more are
		// in the socket buffers
		{"acknowledged 1 MiB at a time, 2 MiB behind", 1024, 2048},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r replay
			r.init(16 << 20)
			p := make([]byte, maxShellFrame)
			frame := func() {
				if seq := r.add(p, false); seq > tc.behind && seq%tc.every == 0 {
					r.ackThrough(seq - tc.behind)
				}
			}
			for range 10000 { // warm up: chunks and queue at their working size
				frame()
			}
			// AllocsPerRun truncates its average to a whole number: a run is 1024 frames, many
			// chunks and at least one whole cycle of acknowledgements, so that an allocation in
			// any frame of it counts.
			const cycle = 1024
			run := func() {
				for range cycle {
					frame()
				}
			}
			if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
				t.Errorf("%.0f allocations per %d frames in the steady state, want 0", allocs, cycle)
			}
		})
	}
}

// TestReplayIdleKeepsFewSpares: once all of a burst is acknowledged, a channel keeps only a few
// empty chunks, not what the burst needed.
func TestReplayIdleKeepsFewSpares(t *testing.T) {
	var r replay
	r.init(16 << 20)
	p := make([]byte, maxShellFrame)
	var last uint32
	for range 2048 { // 2 MiB outstanding: 32 chunks
		last = r.add(p, false)
	}
	r.ackThrough(last - 1024) // half: the chunks freed stay for the rest of the burst
	if len(r.spare) < 15 {
		t.Errorf("%d spare chunks with output outstanding, want the 15 or 16 freed", len(r.spare))
	}
	r.ackThrough(last)
	if len(r.spare) != idleSpareChunks {
		t.Errorf("%d spare chunks once idle, want %d", len(r.spare), idleSpareChunks)
	}
}

// TestReplayOffAndLostKeepNothing: a 1.01 client and an overflow before the schema is known
// both drop what was kept.
func TestReplayOffAndLostKeepNothing(t *testing.T) {
	var r replay
	r.init(4096)
	for range 3 {
		r.add(make([]byte, 1024), true)
	}
	r.add(make([]byte, 2048), true) // over the limit while the schema is unknown
	if !r.unreplayable() || r.kept() != 0 || r.bytes != 0 {
		t.Errorf("overflow with an unknown schema: unreplayable %v, %d frames, %d bytes", r.unreplayable(), r.kept(), r.bytes)
	}
	var s replay
	s.init(4096)
	s.add([]byte("x"), false)
	s.disable()
	var schema atomic.Int32
	if !s.unreplayable() || s.kept() != 0 || !s.waitRoom(1<<20, &schema) {
		t.Errorf("disabled: unreplayable %v, %d frames kept", s.unreplayable(), s.kept())
	}
}

func BenchmarkReplayAddAck(b *testing.B) {
	for _, window := range []int{16, 1024} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			var r replay
			r.init(64 << 20)
			p := make([]byte, maxShellFrame)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				seq := r.add(p, false)
				if seq > uint32(window) {
					r.ackThrough(seq - uint32(window))
				}
			}
		})
	}
}
