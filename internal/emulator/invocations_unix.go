//go:build unix

package emulator

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// outputGrace is how long output may keep arriving after the script's process group is gone: only
// a process that left the group (setsid) can still hold the pipe, and it is not waited for.
const outputGrace = time.Second

// runScript runs spec.script with bash in a new process group, writing stdout and stderr to out
// through one pipe, and calls started once the process runs. The group is killed on timeout,
// when ctx ends, and once the script's process has exited (whatever it left behind).
func runScript(ctx context.Context, spec scriptSpec, env []string, out io.Writer, started func()) outcome {
	r, w, err := os.Pipe()
	if err != nil {
		return outcome{startErr: true, info: err.Error()}
	}
	defer r.Close()
	cmd := exec.Command("bash", "-c", spec.script)
	cmd.Dir, cmd.Env = spec.dir, env
	cmd.Stdout, cmd.Stderr = w, w // one *os.File: no copying goroutine in os/exec, one stream
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return outcome{startErr: true, info: err.Error()}
	}
	started()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, r)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	pgid := cmd.Process.Pid
	timer := time.NewTimer(spec.timeout)
	defer timer.Stop()
	var o outcome
	select {
	case err = <-waited:
	case <-timer.C:
		o.timedOut, o.info = true, "the command ran longer than its Timeout of "+spec.timeout.String()
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		err = <-waited
	case <-ctx.Done():
		o.stopped, o.info = true, "the emulator closed while the command ran"
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		err = <-waited
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // what the script left running in its group
	select {
	case <-copied:
	case <-time.After(outputGrace):
		r.Close() // unblocks the copy: the pipe is polled by the runtime
		<-copied
	}
	switch {
	case o.timedOut:
		o.exitCode = timeoutExitCode
	case err == nil:
	default:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			o.exitCode, o.info = 1, err.Error()
			break
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			o.exitCode = 128 + int(ws.Signal())
		} else {
			o.exitCode = ee.ExitCode()
		}
	}
	return o
}
