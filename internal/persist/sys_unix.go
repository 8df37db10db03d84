//go:build linux || darwin

package persist

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Supported says whether --persist works here: it needs Unix sockets and a way to learn a
// connection's peer user.
const Supported = true

// checkPrivate refuses dir unless it is a directory (not a link to one) owned by this user that
// no one else may enter.
func checkPrivate(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking the persist directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("the persist directory %s is not a directory", dir)
	case !ok || int(st.Uid) != os.Getuid():
		return fmt.Errorf("the persist directory %s is not yours: refusing it", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("the persist directory %s is open to other users (mode %04o): refusing it; make it 0700", dir, fi.Mode().Perm())
	}
	return nil
}

// checkPeer refuses a connection from any other user than this process's.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var uid int
	var uerr error
	if err := raw.Control(func(fd uintptr) { uid, uerr = peerUID(int(fd)) }); err != nil {
		return err
	}
	if uerr != nil {
		return fmt.Errorf("the peer's user: %w", uerr)
	}
	if uid != os.Getuid() {
		return fmt.Errorf("connection from uid %d refused: this holder serves uid %d only", uid, os.Getuid())
	}
	return nil
}

// lockFile takes an exclusive lock on path, held until the process exits or f is closed; it
// returns errLocked at once if another process holds it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

// detach makes cmd a session leader with no terminal: the holder outlives the command that
// started it and gets no signal meant for that command's terminal or process group.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }
