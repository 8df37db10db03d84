package cache

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// detach starts the refresh without a console and in a process group of its own, so that it
// neither opens a window nor receives the console's Ctrl-C.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP,
		HideWindow:    true,
	}
}
