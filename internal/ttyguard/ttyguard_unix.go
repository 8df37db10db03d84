//go:build unix

package ttyguard

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

const supported = true

// sysProcAttr puts the watcher in its own process group, so that signals meant for ecsterm's
// job (^C before raw mode, the shell's SIGHUP or SIGTERM to the job) do not end it too.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// Serve is the watcher's whole life; it returns the exit status.
func Serve() int {
	// In a background process group, changing the terminal raises SIGTTOU unless ignored.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGTTOU, syscall.SIGTTIN, syscall.SIGQUIT, syscall.SIGTSTP)
	ctl, ready := os.NewFile(3, "ctl"), os.NewFile(4, "ready")
	if ctl == nil || ready == nil {
		return 2
	}
	st, err := term.GetState(0)
	if err != nil {
		return 1
	}
	if _, err := ready.Write([]byte{'r'}); err != nil {
		return 1
	}
	ready.Close()
	b := make([]byte, 1)
	if n, _ := ctl.Read(b); n == 1 && b[0] == 'x' {
		return 0 // ecsterm restored the terminal itself
	}
	// ecsterm ended without saying so: the terminal may still be raw.
	if err := term.Restore(0, st); err != nil {
		return 1
	}
	return 0
}
