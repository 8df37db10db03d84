package session

import (
	"context"
	"time"
)

// The input side of a session: keystrokes and piped input as Input frames, what to send when
// input ends, and window sizes as Resize frames.

func (s *runner) inputLoop(ctx context.Context) {
	buf := make([]byte, MaxInputChunk)
	hold := s.opts.HoldInput > 0
	var holdUntil <-chan time.Time
	if hold {
		t := time.NewTimer(s.opts.HoldInput)
		defer t.Stop()
		holdUntil = t.C
	}
	for {
		n, err := s.opts.Stdin.Read(buf)
		if hold && (n > 0 || err != nil) {
			hold = false
			select {
			case <-s.firstOut:
			case <-holdUntil:
				s.log.Debug("no output yet; sending held input")
			case <-ctx.Done():
				return
			}
		}
		if n > 0 {
			if perr := s.pace.wait(ctx, n); perr != nil {
				return
			}
			s.usedAt.Store(time.Now().UnixNano())
			s.sentIn.Add(int64(n))
			if serr := s.send(TypeInput, buf[:n]); serr != nil {
				s.log.Debug("sending input failed", "err", serr)
				return
			}
		}
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			s.log.Debug("input ended", "err", err)
			switch s.opts.OnEOF {
			case EOFCtrlD:
				s.sendEOF(ctx)
			case EOFClose:
				_ = s.send(TypeClose, []byte("1"))
			}
			return
		}
	}
}

// eofQuiet is how long output must pause before ^D is sent for a Stdin that ended, and
// eofTries how many times it is sent at most.
const (
	eofQuiet = 150 * time.Millisecond
	eofTries = 5
)

// sendEOF sends ^D once the output has been quiet for eofQuiet, and again each time more output
// follows and pauses, until the session ends (the input goroutine's ctx ends with it). A PTY
// takes ^D as end of input only when it reaches a reader at the start of a line: a ^D that
// arrives while the shell is still running the last command can be lost (bash switches the
// terminal's mode around each command, and a pending end of file does not survive the switch;
// about 3 in 100 piped connects hung on it). When the shell's prompt has been printed and
// nothing follows, the shell is waiting for a line, and ^D reaches it. A program that reads
// the ^D itself (cat) ends, its shell prints a prompt, and the next ^D ends the shell.
func (s *runner) sendEOF(ctx context.Context) {
	quiet := time.NewTimer(eofQuiet)
	defer quiet.Stop()
	for range eofTries {
		for waiting := true; waiting; {
			select {
			case <-s.outKick: // more output: the pause starts again
				quiet.Reset(eofQuiet)
			case <-quiet.C:
				waiting = false
			case <-ctx.Done():
				return
			}
		}
		if err := s.send(TypeInput, []byte{0x04}); err != nil {
			return
		}
		select { // the answer: the shell's exit and the session's end, or more output
		case <-s.outKick:
			quiet.Reset(eofQuiet)
		case <-ctx.Done():
			return
		}
	}
}

// resizeLoop sends the latest size once output has started, then every change (docs/protocol.md,
// Payloads: Resize). After a resume, the gateway's Opened (or the first Output) asks for the size
// again (docs/protocol.md, Sequence numbers and resume).
func (s *runner) resizeLoop() {
	var latest, sent Size
	have := false
	started := s.firstOut
	var reopened <-chan struct{}
	if s.r != nil {
		reopened = s.r.reopened
	}
	for {
		again := false
		select {
		case <-s.done:
			return
		case sz, ok := <-s.opts.Sizes:
			if !ok {
				return
			}
			latest, have = sz, true
		case <-started:
			started = nil // now sizes go out as they come
		case <-reopened:
			again = true
		}
		if started == nil && have && (latest != sent || again) {
			if err := s.send(TypeResize, AppendResize(nil, latest.Rows, latest.Cols)); err != nil {
				return
			}
			sent = latest
		}
	}
}
