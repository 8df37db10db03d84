package session

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// countCloses returns how many Close frames are among fs.
func countCloses(fs []clientFrame) int {
	n := 0
	for _, f := range fs {
		if f.Type == TypeClose {
			n++
		}
	}
	return n
}

// A channel gets at most one Close: the local end of input sends one (EOFClose, as proxy and
// forward use), and the end of the session (ctx, as when the remote side ended first and the
// caller stops the session) must not send a second.
func TestRunSendsOneClose(t *testing.T) {
	t.Run("1.01", func(t *testing.T) {
		pr, pw := pipe(t)
		r := start(t, Options{Stdin: pr, OnEOF: EOFClose, KeepAlive: hour})
		pw.Close()
		if f := r.p.nextNonKeepAlive(t); f.Type != TypeClose {
			t.Fatalf("after EOF: %v %q, want Close", f.Type, f.Payload)
		}
		r.cancel()
		r.wait(t)
		if n := countCloses(r.p.rest(t)); n != 0 {
			t.Fatalf("%d more Close frames after the first", n)
		}
	})
	t.Run("1.02", func(t *testing.T) {
		pr, pw := pipe(t)
		rr := startResume(t, Options{Stdin: pr, OnEOF: EOFClose}, resumeOpts())
		pw.Close()
		if f := rr.p.nextNonKeepAlive(t); f.Type != TypeClose {
			t.Fatalf("after EOF: %v %q, want Close", f.Type, f.Payload)
		}
		rr.cancel()
		rr.wait(t)
		if n := countCloses(rr.p.rest(t)); n != 0 {
			t.Fatalf("%d more Close frames after the first", n)
		}
	})
}

// A gateway that announces a message far larger than any frame ends the session at once, with
// an error that says so: Run does not wait for (or allocate) the rest of it. The message here is
// announced as 1 GiB and never sent: a client without a read limit waits for it for ever.
func TestRunRefusesOversizedMessage(t *testing.T) {
	for _, resume := range []bool{false, true} {
		name := "1.01"
		if resume {
			name = "1.02"
		}
		t.Run(name, func(t *testing.T) {
			var r *running
			if resume {
				r = startResume(t, Options{}, resumeOpts()).running
			} else {
				r = start(t, Options{KeepAlive: hour})
			}
			hdr := []byte{0x82, 127} // FIN, binary; a 64-bit length follows (server frames are unmasked)
			hdr = binary.BigEndian.AppendUint64(hdr, 1<<30)
			if _, err := r.p.ws.NetConn().Write(append(hdr, "\x01\x00\x00\x00"...)); err != nil {
				t.Fatal(err)
			}
			err := r.wait(t)
			if !errors.Is(err, ErrFrameTooLong) {
				t.Fatalf("Run: %v, want ErrFrameTooLong", err)
			}
			if errors.Is(err, ErrConnectionLost) {
				t.Fatalf("Run: %v: an oversized frame is not a lost connection (resume would retry it)", err)
			}
		})
	}
}

// Frames up to the largest a gateway may send still pass the limit.
func TestRunTakesLargestFrame(t *testing.T) {
	r := start(t, Options{KeepAlive: hour})
	big := make([]byte, MaxFrameLen-HeaderLen)
	for i := range big {
		big[i] = 'x'
	}
	r.p.send(t, TypeOutput, big)
	r.p.send(t, TypeOutput, []byte("end"))
	r.out.waitFor(t, "xend")
}

// A gateway that accepts the WebSocket and then says nothing does not hold the session for
// ever: Run says what it waits for after Silence.Notice and gives up after Silence.Limit.
func TestRunGivesUpOnSilentGateway(t *testing.T) {
	for _, resume := range []bool{false, true} {
		name := "1.01"
		if resume {
			name = "1.02"
		}
		t.Run(name, func(t *testing.T) {
			noticed := make(chan time.Duration, 1)
			opts := Options{KeepAlive: hour, Silence: &SilenceOptions{Notice: time.Millisecond, Limit: 20 * time.Millisecond,
				OnNotice: func(d time.Duration) { noticed <- d }}}
			var r *running
			if resume {
				r = startResume(t, opts, resumeOpts()).running
			} else {
				r = start(t, opts)
			}
			err := r.wait(t)
			var na *NoAnswerError
			if !errors.As(err, &na) || na.Waited != 20*time.Millisecond {
				t.Fatalf("Run: %v, want a NoAnswerError after 20ms", err)
			}
			select {
			case d := <-noticed:
				if d != time.Millisecond {
					t.Errorf("notice after %v, want 1ms", d)
				}
			default:
				t.Error("no notice before giving up")
			}
			if n := countCloses(r.p.rest(t)); n != 1 {
				t.Errorf("%d Close frames, want 1", n)
			}
		})
	}
}

// Once the gateway has said anything, the bound no longer applies: a command may be quiet for
// as long as it likes. The keep-alive, at four times the bound, is the clock.
func TestRunSilenceBoundEndsAtFirstFrame(t *testing.T) {
	p, conn := connect(t)
	p.send(t, TypeOutput, []byte("$ ")) // already waiting when Run starts
	r := runOn(t, p, conn, Options{KeepAlive: 200 * time.Millisecond, Silence: &SilenceOptions{Notice: 25 * time.Millisecond,
		Limit: 50 * time.Millisecond, OnNotice: func(time.Duration) { t.Error("notice after the gateway spoke") }}})
	if f := r.p.next(t); !isKeepAlive(f) {
		t.Fatalf("got %v %q, want a keep-alive and no Close", f.Type, f.Payload)
	}
	select {
	case <-r.done:
		t.Fatalf("Run ended: %v", r.err)
	default:
	}
}
