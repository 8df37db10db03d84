package persist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ecsterm/ecsterm/pkg/rexec"
)

// requestTimeout bounds how long a client may take to send its request once connected.
const requestTimeout = 10 * time.Second

// serveConn answers one client: its user is checked first, then its request is read.
func (h *Holder) serveConn(c *net.UnixConn) {
	defer c.Close()
	fw := &frameWriter{w: c}
	if err := checkPeer(c); err != nil {
		h.log.Warn("persist: refused a connection", "err", err)
		_ = fw.write(frameError, []byte(err.Error()))
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(requestTimeout))
	typ, p, err := readFrame(c)
	if err != nil || typ != frameRequest {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var req request
	if err := json.Unmarshal(p, &req); err != nil {
		_ = fw.write(frameError, []byte("malformed request"))
		return
	}
	switch req.Op {
	case "info":
		_ = fw.writeJSON(frameInfo, h.info())
	case "interrupt":
		h.interrupt(req.ID)
		_ = fw.write(frameDone, nil)
	case "stop":
		_ = fw.write(frameDone, nil)
		h.Stop(errStopped)
	case "exec":
		h.exec(c, fw, req)
	default:
		_ = fw.write(frameError, []byte("unknown request"))
	}
}

// exec runs one command on a warm session, streaming its stdin from the client and its
// stdout and stderr back, and answers with its status.
func (h *Holder) exec(c *net.UnixConn, fw *frameWriter, req request) {
	k := h.cfg.Key
	if req.InstanceID != k.InstanceID || req.User != k.User {
		_ = fw.write(frameError, []byte("this holder serves another instance or user"))
		return
	}
	s, err := h.acquire()
	if err != nil {
		_ = fw.write(frameCold, []byte(oneLine(err.Error())))
		return
	}
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	id, forget := h.track(cancel)
	defer forget()
	if err := fw.write(frameAccepted, []byte(id)); err != nil {
		h.release(s, true)
		return
	}
	stdin, stdinW := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.readClient(c, stdinW, cancel)
	}()
	// A client that stops reading or is gone stops its command.
	out := &cancelOnError{w: streamWriter{fw, frameStdout}, cancel: cancel}
	errOut := &cancelOnError{w: streamWriter{fw, frameStderr}, cancel: cancel}
	start := time.Now()
	status, err := s.w.Run(ctx, rexec.Request{Command: req.Command, Stdin: stdin, Stdout: out, Stderr: errOut})
	h.log.Debug("warm command done", "status", status, "err", err, "took", time.Since(start).String())
	stdin.CloseWithError(io.ErrClosedPipe)
	// A command that failed or was interrupted leaves its Warm usable unless the Warm says it is
	// broken: an interrupt stops only the command, and the next one reuses the session.
	h.release(s, err == nil || !isBroken(s.w))
	if cause := context.Cause(h.ctx); cause != nil {
		// The command was stopped from outside, not by its user: it has no status of its own.
		err = fmt.Errorf("the persist holder stopped while the command ran: %w", cause)
	}
	if err != nil {
		_ = fw.write(frameError, []byte(oneLine(err.Error())))
	} else {
		_ = fw.write(frameStatus, statusPayload(status))
	}
	c.Close() // ends readClient
	wg.Wait()
}

// track registers a running command's cancel under a new ID, for an interrupt to find.
func (h *Holder) track(cancel context.CancelFunc) (id string, forget func()) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id = hex.EncodeToString(b)
	h.mu.Lock()
	h.cmds[id] = cancel
	h.mu.Unlock()
	return id, func() {
		h.mu.Lock()
		delete(h.cmds, id)
		h.mu.Unlock()
	}
}

// interrupt stops the command with id, if it still runs.
func (h *Holder) interrupt(id string) {
	h.mu.Lock()
	cancel := h.cmds[id]
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// readClient takes the client's stdin frames until the connection ends; a connection that
// ends or breaks the protocol stops the command.
func (h *Holder) readClient(c net.Conn, stdin *io.PipeWriter, cancel context.CancelFunc) {
	defer stdin.Close()
	for {
		typ, p, err := readFrame(c)
		if err != nil {
			cancel()
			return
		}
		switch typ {
		case frameStdin:
			if _, err := stdin.Write(p); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				cancel()
				return
			}
		case frameStdinEOF:
			stdin.Close()
		default:
			cancel()
			return
		}
	}
}

// cancelOnError stops the command when its output cannot reach the client.
type cancelOnError struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (c *cancelOnError) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}

// oneLine keeps a message to one line without control characters.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// isBroken says whether w can no longer run commands.
func isBroken(w Warm) bool {
	select {
	case <-w.Broken():
		return true
	default:
		return false
	}
}
