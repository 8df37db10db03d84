package ssh

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
)

// runSSH runs ssh on ecsterm's own stdin, stdout and stderr, and removes the key from the
// instance as soon as ssh has logged in (notice), after removeAfter at the latest, and in any
// case before returning. ssh's exit status becomes ecsterm's.
func (c *conn) runSSH(ctx context.Context, sshBin string, args []string, notice *authNotice) error {
	cmd := exec.Command(sshBin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.opts.IO.In, c.opts.IO.Out, c.opts.IO.ErrOut
	c.f.Logger().Debug("running ssh", "args", args)
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
			c.f.Logger().Debug("ssh has logged in: removing the connection's key")
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
