package rexec

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

type warmWriter struct{ w *Warm }

// Write never fails: output that cannot be parsed breaks the Warm instead, and a failing
// Stdout or Stderr is the command's (Run returns it), not the session's.
func (ww warmWriter) Write(p []byte) (int, error) {
	ww.w.consume(p)
	return len(p), nil
}

// consume runs the warm output state machine over p.
func (w *Warm) consume(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.broken:
		w.phase = warmBroken
	default:
	}
	for len(p) > 0 {
		switch w.phase {
		case warmBoot, warmResync:
			i := w.findReady(p)
			if i < 0 {
				return
			}
			p = p[i:]
			if w.phase == warmBoot {
				close(w.booted)
			}
			w.pre = nil
			w.phase = warmIdle
			close(w.readyc)
		case warmIdle, warmBroken:
			// Between commands nothing should arrive (a process the last command left behind
			// may write to the terminal): it is nobody's output.
			return
		case warmOutput:
			p = w.output(p)
		case warmStatus:
			c := w.cur
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				c.line = append(c.line, p...)
				if len(c.line) > 64 {
					w.phase = warmBroken
					w.fail(errors.New("malformed exit status from the warm exec helper"))
				}
				return
			}
			c.line = append(c.line, p[:i]...)
			p = p[i+1:]
			if err := c.parseStatus(); err != nil {
				w.phase = warmBroken
				w.fail(err)
				return
			}
			if c.errLeft == 0 {
				w.commandDone()
			} else {
				w.phase = warmStderr
			}
		case warmStderr:
			c := w.cur
			n := min(len(p), c.errLeft)
			if c.outErr == nil {
				if _, err := c.req.Stderr.Write(p[:n]); err != nil {
					c.outErr = fmt.Errorf("writing the command's stderr: %w", err)
				}
			}
			c.errLeft -= n
			p = p[n:]
			if c.errLeft == 0 {
				w.commandDone()
			}
		}
	}
}

// findReady looks for the ready marker in what was held and p. It returns the index in p just
// past the marker, or -1 having kept what may begin it (and, while booting, a bounded prefix
// for the error message).
func (w *Warm) findReady(p []byte) int {
	held := len(w.pre)
	buf := append(w.pre, p...)
	if i := bytes.Index(buf, []byte(warmReady)); i >= 0 {
		return i + len(warmReady) - held
	}
	keep := partialSuffix(buf, []byte(warmReady))
	if w.phase == warmBoot && len(buf) <= maxPre+len(warmReady) {
		w.pre = buf
		return -1
	}
	var prefix []byte
	if w.phase == warmBoot {
		prefix = buf[:maxPre:maxPre]
	}
	w.pre = append(prefix, buf[len(buf)-keep:]...)
	return -1
}

// output writes command output, stopping at the trailer. It returns what follows the trailer.
func (w *Warm) output(p []byte) []byte {
	c := w.cur
	buf := p
	if len(w.pre) > 0 {
		buf = append(w.pre, p...)
		w.pre = nil
	}
	rest := []byte(nil)
	if i := bytes.Index(buf, c.trailer); i >= 0 {
		buf, rest = buf[:i], buf[i+len(c.trailer):]
		w.phase = warmStatus
	} else if keep := partialSuffix(buf, c.trailer); keep > 0 {
		w.pre = append([]byte(nil), buf[len(buf)-keep:]...)
		buf = buf[:len(buf)-keep]
	}
	if c.outErr == nil && len(buf) > 0 {
		if _, err := c.req.Stdout.Write(buf); err != nil {
			c.outErr = fmt.Errorf("writing the command's output: %w", err)
		}
	}
	return rest
}

// commandDone ends the command in flight: its status and stderr are in.
func (w *Warm) commandDone() {
	c := w.cur
	w.cur = nil
	w.phase = warmResync
	close(c.done)
}

func (c *command) parseStatus() error {
	f := strings.Fields(strings.TrimRight(string(c.line), "\r"))
	if len(f) != 2 {
		return fmt.Errorf("malformed exit status %q from the warm exec helper", printable(c.line))
	}
	st, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || st < 0 || st > 255 || n < 0 {
		return fmt.Errorf("malformed exit status %q from the warm exec helper", printable(c.line))
	}
	c.status, c.errLeft = st, n
	return nil
}
