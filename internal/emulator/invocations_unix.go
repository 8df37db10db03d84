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

// maxLateOutput bounds what stopCopy reads once the grace is over, should a process outside the
// group keep the pipe full.
const maxLateOutput = 1 << 20

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
		stopCopy(r, out, copied)
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

// stopCopy ends the copy from r to out, which closes copied, and then copies what r already holds
// without waiting for more. The grace may end before the copy has even run (a loaded machine
// schedules it late), and output the script wrote before it exited is kept all the same.
func stopCopy(r *os.File, out io.Writer, copied <-chan struct{}) {
	if r.SetReadDeadline(time.Now()) != nil { // not polled: only closing unblocks the copy
		r.Close()
		<-copied
		return
	}
	<-copied
	rc, err := r.SyscallConn()
	if err != nil || r.SetReadDeadline(time.Time{}) != nil {
		return
	}
	buf := make([]byte, 32<<10)
	for total := 0; total < maxLateOutput; {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), buf) // non-blocking: EAGAIN once the pipe is empty
			return true
		})
		if rerr == syscall.EINTR {
			continue
		}
		if err != nil || rerr != nil || n <= 0 {
			return
		}
		_, _ = out.Write(buf[:n])
		total += n
	}
}
