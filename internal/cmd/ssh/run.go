package ssh

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// stdio returns the streams ssh gets: the process's own files where there are some, so that ssh
// and its ProxyCommand see the terminal (ErrOut is a writer over stderr, not stderr itself).
func stdio(ios *iostreams.IOStreams) (io.Reader, io.Writer, io.Writer) {
	var in io.Reader = ios.In
	var out, errOut io.Writer = ios.Out, ios.ErrOut
	if ios.InFile != nil {
		in = ios.InFile
	}
	if ios.OutFile != nil {
		out = ios.OutFile
	}
	if ios.ErrFile != nil {
		errOut = ios.ErrFile
	}
	return in, out, errOut
}

// runSSH runs ssh on ecsterm's own stdin, stdout and stderr, and removes the key from the
// instance as soon as ssh has logged in (notice), after removeAfter at the latest, and in any
// case before returning. ssh's exit status becomes ecsterm's.
func (c *conn) runSSH(ctx context.Context, sshBin string, args []string, notice *authNotice) error {
	cmd := exec.Command(sshBin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio(c.opts.IO)
	c.log.Debug("running ssh", "args", args)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var authed <-chan struct{}
	if notice != nil {
		authed = notice.Done()
	}
	sshDone, removed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(removed)
		timer := time.NewTimer(removeAfter)
		defer timer.Stop()
		select {
		case <-authed:
			c.log.Debug("ssh has logged in: removing the connection's key")
		case <-timer.C:
		case <-ctx.Done():
		case <-sshDone:
		}
		_ = c.removeNow(ctx)
	}()

	var err error
	select {
	case err = <-exited:
	case <-ctx.Done():
		// Interrupted: ssh is told to stop (it may have had the signal from the terminal too),
		// and the key goes meanwhile.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			err = <-exited
		}
	}
	close(sshDone)
	<-removed
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code > 0 {
			return &cmdutil.ExitError{Code: code}
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure}
	}
	return err
}
