//go:build unix

package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// EchoCommand is the remote program of an echo measurement: it puts its terminal in raw mode
// without echo, says EchoReady, and then writes back every byte it reads, one read at a time.
// The byte a driver types therefore travels the whole way (local terminal, client, transport,
// server, remote PTY, program) and back before it appears.
const EchoCommand = `stty raw -echo; printf ECHO-READY; exec cat`

// EchoReady is what EchoCommand prints once it echoes.
const EchoReady = "ECHO-READY"

// Echo is a client process on a PTY of its own whose remote end runs EchoCommand: a person at a
// terminal, typing one key at a time and waiting to see it.
type Echo struct {
	cmd *exec.Cmd
	f   *os.File

	mu   sync.Mutex
	buf  []byte        // output not yet matched
	at   time.Time     // when the last output arrived
	more chan struct{} // closed and replaced whenever output arrives
	err  error         // why reading stopped
}

// StartEcho starts cmd on a new PTY and waits until its remote side echoes and its local
// terminal is raw (so a typed byte cannot be echoed locally): the client has put the terminal
// in raw mode, and EchoReady has arrived.
func StartEcho(cmd *exec.Cmd, timeout time.Duration) (*Echo, error) {
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return nil, err
	}
	e := &Echo{cmd: cmd, f: f, more: make(chan struct{})}
	go e.read()
	deadline := time.Now().Add(timeout)
	if err := e.waitFor([]byte(EchoReady), deadline); err != nil {
		e.Kill()
		return nil, fmt.Errorf("%s never became ready: %w", cmd.Path, err)
	}
	for !e.localRaw() {
		if time.Now().After(deadline) {
			e.Kill()
			return nil, fmt.Errorf("%s left its terminal in cooked mode", cmd.Path)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return e, nil
}

func (e *Echo) read() {
	b := make([]byte, 4096)
	for {
		n, err := e.f.Read(b)
		now := time.Now()
		e.mu.Lock()
		e.buf = append(e.buf, b[:n]...)
		e.at = now
		if err != nil {
			e.err = err
		}
		close(e.more)
		e.more = make(chan struct{})
		e.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// localRaw reports whether the client's terminal (the PTY's slave side, whose settings the
// master reads on Linux) has echo and line editing off.
func (e *Echo) localRaw() bool {
	sc, err := e.f.SyscallConn()
	if err != nil {
		return false
	}
	raw := false
	_ = sc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), ioctlGetTermios)
		raw = err == nil && t.Lflag&(unix.ECHO|unix.ICANON) == 0
	})
	return raw
}

// waitFor waits until the output holds want, and drops everything up to its end. It returns the
// arrival time of the read that completed it.
func (e *Echo) waitFor(want []byte, deadline time.Time) error {
	_, err := e.until(want, deadline)
	return err
}

func (e *Echo) until(want []byte, deadline time.Time) (time.Time, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		e.mu.Lock()
		if i := bytes.Index(e.buf, want); i >= 0 {
			e.buf = append(e.buf[:0], e.buf[i+len(want):]...)
			at := e.at
			e.mu.Unlock()
			return at, nil
		}
		more, err := e.more, e.err
		e.mu.Unlock()
		if err != nil {
			return time.Time{}, fmt.Errorf("output ended: %w", err)
		}
		select {
		case <-more:
		case <-t.C:
			e.mu.Lock()
			got := e.buf
			e.mu.Unlock()
			return time.Time{}, fmt.Errorf("no %q within the time allowed; output %q", want, got)
		}
	}
}

// Type sends one byte, as a keystroke, and returns the time until it came back.
func (e *Echo) Type(c byte) (time.Duration, error) {
	start := time.Now()
	if _, err := e.f.Write([]byte{c}); err != nil {
		return 0, err
	}
	at, err := e.until([]byte{c}, start.Add(10*time.Second))
	if err != nil {
		return 0, err
	}
	return at.Sub(start), nil
}

// Quit types the client's escape sequence for disconnecting (ssh's and ecsterm's "~." after a
// newline) and waits for the process to exit, killing it if it does not. The process state,
// with its resource usage, is then in ProcessState.
func (e *Echo) Quit() (*os.ProcessState, error) {
	_, _ = e.f.Write([]byte("\r~."))
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = nil // ssh says 255 after ~., and that is the point of it
		}
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
		err = errors.New("did not exit after ~.")
	}
	e.f.Close()
	return e.cmd.ProcessState, err
}

// PeakRSS is the client process's peak resident set so far, in MB (see PeakRSS).
func (e *Echo) PeakRSS() (float64, bool) { return PeakRSS(e.cmd.Process.Pid) }

// Kill ends the process at once.
func (e *Echo) Kill() {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
	e.f.Close()
}
