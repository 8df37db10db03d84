//go:build unix

package ssh

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// authNotice learns when ssh has logged in: ssh runs its LocalCommand "after successfully
// connecting to the server", that is once authenticated, and this one writes a byte into a FIFO
// that ecsterm reads. ecsterm holds the FIFO open for reading and writing, so the write never
// blocks ssh, whenever it comes. ssh's command-line options win over its config files, so a
// LocalCommand of the user's is not run by `ecsterm ssh`; PermitLocalCommand also lets the
// user run local commands from ssh's ~C prompt, which is theirs to do anyway.
type authNotice struct {
	path string
	f    *os.File
	done chan struct{}
}

func newAuthNotice(dir string) (*authNotice, error) {
	path := filepath.Join(dir, "authenticated")
	if strings.ContainsAny(path, "'%\n") {
		return nil, errNoticePath
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	n := &authNotice{path: path, f: f, done: make(chan struct{})}
	go func() {
		var b [1]byte
		if _, err := f.Read(b[:]); err == nil {
			close(n.done)
		}
	}()
	return n, nil
}

// SSHOptions are ssh's options that make it write the notice.
func (n *authNotice) SSHOptions() []string {
	return []string{"-o", "PermitLocalCommand=yes", "-o", "LocalCommand=echo >'" + n.path + "'"}
}

// Done is closed once ssh has logged in.
func (n *authNotice) Done() <-chan struct{} { return n.done }

// Close stops reading.
func (n *authNotice) Close() error { return n.f.Close() }
