// Package ttyguard restores the user's terminal when ecsterm dies in a way that runs none of
// its own cleanup: a panic in a goroutine other than the one that made the terminal raw, or
// SIGKILL. A small watcher process (ecsterm itself, started with Arg) records the terminal's
// settings before the session makes it raw and waits on a pipe; if the pipe closes without the
// "all is well" byte, ecsterm is gone and the watcher puts the settings back.
package ttyguard

import (
	"errors"
	"os"
	"os/exec"
	"sync"
)

// Arg is the hidden first argument that makes ecsterm run as the watcher.
const Arg = "__ecsterm-tty-guard"

// Guard is a started watcher.
type Guard struct {
	cmd      *exec.Cmd
	ctl      *os.File // write end: closing it without 'x' means "restore"
	ready    chan error
	once     sync.Once
	disarmed bool
}

// Start launches the watcher for tty without waiting for it; Wait tells when it is ready.
func Start(tty *os.File) (*Guard, error) {
	if !supported {
		return nil, errors.New("no terminal guard on this platform")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, err
	}
	cmd := exec.Command(exe, Arg)
	cmd.Stdin = tty
	cmd.ExtraFiles = []*os.File{ctlR, readyW} // fds 3 and 4
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	ctlR.Close()
	readyW.Close()
	if err != nil {
		ctlW.Close()
		readyR.Close()
		return nil, err
	}
	g := &Guard{cmd: cmd, ctl: ctlW, ready: make(chan error, 1)}
	go func() {
		defer readyR.Close()
		b := make([]byte, 1)
		if n, _ := readyR.Read(b); n == 1 && b[0] == 'r' {
			g.ready <- nil
			return
		}
		g.ready <- errors.New("terminal guard did not start")
	}()
	return g, nil
}

// Wait blocks until the watcher holds the terminal's settings.
func (g *Guard) Wait() error { return <-g.ready }

// Disarm tells the watcher that ecsterm restored the terminal itself, and reaps it.
func (g *Guard) Disarm() {
	g.once.Do(func() {
		_, _ = g.ctl.Write([]byte{'x'})
		g.ctl.Close()
		_ = g.cmd.Wait()
	})
}

// Arm adapts a Guard to pkg/term's TTY.Guard: it waits for the watcher, then hands back
// Disarm. Without a guard it does nothing.
func Arm(g *Guard) func() (func(), error) {
	return func() (func(), error) {
		if g == nil {
			return nil, errors.New("no guard")
		}
		if err := g.Wait(); err != nil {
			g.Disarm()
			return nil, err
		}
		return g.Disarm, nil
	}
}
