//go:build windows

package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// reexec runs a fresh copy of ecsterm under the current environment and returns its status:
// Windows has no exec(2).
func reexec() (int, bool) {
	exe, err := os.Executable()
	if err == nil {
		cmd := exec.Command(exe, os.Args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		err = cmd.Run()
		var ee *exec.ExitError
		if err == nil || errors.As(err, &ee) {
			return cmd.ProcessState.ExitCode(), true
		}
	}
	fmt.Fprintf(os.Stderr, "ecsterm: DEBUG names an Alibaba SDK switch that would print secrets, and restarting without it failed: %v\n", err)
	return 255, true
}
