//go:build windows

package ttyguard

import "syscall"

// Windows restores a console's modes when its last process exits, so no watcher is needed.
const supported = false

func sysProcAttr() *syscall.SysProcAttr { return nil }

// Serve is not used on Windows, where no watcher is started.
func Serve() int { return 0 }
