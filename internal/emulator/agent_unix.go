//go:build unix

package emulator

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

type ptyTarget struct {
	f   *os.File
	cmd *exec.Cmd
}

func (p *ptyTarget) Write(b []byte) (int, error) { return p.f.Write(b) }

// resize sets the window size through SyscallConn: pty.Setsize goes through Fd, which would put
// the master back into blocking mode (see pollable).
func (p *ptyTarget) resize(rows, cols uint16) {
	sc, err := p.f.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
}

// close hangs up the session's process group, as closing a terminal does.
func (p *ptyTarget) close() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGHUP)
	}
	p.f.Close()
}

func (c *channel) startShell() error {
	argv := c.e.opts.Shell
	if c.sess.command != "" {
		var err error
		if argv, err = splitCommandLine(c.sess.command); err != nil {
			return err
		}
		if len(argv) == 0 {
			return errors.New("empty command line")
		}
		if c.e.opts.Sh != "" && (argv[0] == "sh" || argv[0] == "/bin/sh") {
			argv[0] = c.e.opts.Sh
		}
	}
	home := filepath.Join(c.e.opts.StateDir, c.sess.instance.ID)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	user := c.sess.username
	if user == "" {
		user = defaultUser
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = home
	cmd.Env = []string{
		"TERM=xterm-256color",
		"HOME=" + home,
		"USER=" + user,
		"LOGNAME=" + user,
		"SHELL=/bin/bash",
		"LANG=C.UTF-8",
		"PATH=" + os.Getenv("PATH"),
		`PS1=[` + user + `@` + c.sess.instance.Name + ` \W]\$ `,
	}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return err
	}
	if f, err = pollable(f); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return err
	}
	t := &ptyTarget{f: f, cmd: cmd}
	c.target = t
	close(c.ready)
	c.e.wg.Add(1) // Close waits until the process is reaped, not only until the channel ends
	go func() {
		defer c.e.wg.Done()
		exited := make(chan struct{})
		go func() { defer close(exited); t.wait(c.done) }()
		c.pumpPTY(f)
		<-exited
		c.agentEnded("Exit")
	}()
	return nil
}

// pollable returns the PTY master as a file the Go runtime polls. creack/pty leaves it in
// blocking mode (its ioctls go through Fd); a Read blocked on it then keeps the descriptor open
// through Close, so a session whose program is silent could never be hung up or its pump ended.
func pollable(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}

// killGrace is how long a hung-up session process has to exit before it is killed. No agent
// source shows such a kill; it is here so that Close cannot hang. It is longer than the exec
// script's own grace (SIGTERM, five seconds, SIGKILL), so the emulator does not cut short the
// cleanup a real instance would let finish.
const killGrace = 10 * time.Second

// wait reaps the process. Once the channel is shut down the process group has had SIGHUP; a
// process that ignores it is killed after killGrace, so that Close cannot hang on it.
func (p *ptyTarget) wait(done <-chan struct{}) {
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
		return
	case <-done:
	}
	select {
	case <-exited:
	case <-time.After(killGrace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// pumpPTY relays PTY output until the PTY closes: frames of at most maxShellFrame bytes that
// never split a UTF-8 character, the frames of one gather sent in one write (cork.go).
func (c *channel) pumpPTY(f *os.File) {
	buf := make([]byte, ptyReadSize)
	var now func([]byte) int
	if raw, err := f.SyscallConn(); err == nil {
		now = func(p []byte) int { return readNow(raw, p) }
	}
	have := 0
	for {
		var err error
		have, err = gather(f.Read, now, buf, have)
		sent, serr := c.shellFrames(buf[:have], err != nil)
		if serr != nil {
			return
		}
		have = copy(buf, buf[sent:have])
		if err != nil {
			return
		}
	}
}

// ptyReadSize is how much the pump gathers from the PTY for one write, in reads of at most
// about ptyChunk each: 12 KiB (bytes of a character kept back from the last gather included)
// makes at most 13 frames (a frame may end early, on a character boundary), about 13.3 KiB with
// their headers: within the cork's maxHeld.
const (
	ptyReadSize = 12 << 10
	ptyChunk    = 4 << 10
)

// gather appends to buf[:have] what one read gives, waiting for it as read does, and then what
// now (nil: nothing) finds already waiting, without waiting for more: Linux hands out at most
// about ptyChunk per read of a PTY, and output that is already there should leave in one write
// rather than one per read. A read of less than half a chunk means the PTY had no more, so
// interactive output (a keystroke's echo) costs no extra read. It returns the new length and
// the read's error.
func gather(read func([]byte) (int, error), now func([]byte) int, buf []byte, have int) (int, error) {
	n, err := read(buf[have:])
	have += n
	for err == nil && n >= ptyChunk/2 && now != nil && len(buf)-have >= ptyChunk {
		n = now(buf[have:])
		have += n
	}
	return have, err
}

// readNow reads what the PTY has now, without waiting: 0 if nothing (or an error, which the
// pump's next read reports).
func readNow(raw syscall.RawConn, p []byte) int {
	n := 0
	_ = raw.Read(func(fd uintptr) bool {
		n, _ = syscall.Read(int(fd), p)
		return true // done, whatever the answer: never wait for the poller
	})
	return max(n, 0)
}

// shellFrames sends p as Output frames of at most maxShellFrame bytes, each ending on a UTF-8
// character boundary, and returns how many bytes it sent. A character left incomplete at the end
// is kept back for the next read, unless last; bytes that are not UTF-8 at all go as they are.
func (c *channel) shellFrames(p []byte, last bool) (int, error) {
	cc := c.corkOutput()
	sent := 0
	var err error
	for sent < len(p) && err == nil {
		chunk := p[sent:min(len(p), sent+maxShellFrame)]
		cut := utf8Cut(chunk)
		if cut == 0 && (len(chunk) == maxShellFrame || last) {
			cut = len(chunk)
		}
		if cut == 0 {
			break
		}
		if !c.pace.wait(c.done) {
			err = errChannelDone
			break
		}
		err = c.sendOutput(chunk[:cut])
		sent += cut
	}
	_ = cc.uncork() // a failed write fails the next frame's, as a broken connection does
	return sent, err
}
