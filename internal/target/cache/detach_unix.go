//go:build !windows

package cache

import (
	"os/exec"
	"syscall"
)

// detach puts the refresh in a session of its own: the terminal's hang-up and Ctrl-C, meant for
// the shell's foreground job, do not reach it.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
