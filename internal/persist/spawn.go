package persist

import (
	"fmt"
	"os"
	"os/exec"
)

// Spawn starts exe with args as a holder in the background: its own session with no terminal,
// so it outlives the command that starts it and no signal meant for that command reaches it,
// and its standard streams on /dev/null, or its diagnostics appended to logFile if set (the
// holder outlives every pipe its starter was given: holding one open would keep a caller that
// waits for that pipe's end waiting). It does not wait for the holder: exited is sent its end,
// if it ends while this process runs.
func Spawn(exe string, args []string, logFile string) (exited <-chan error, _ error) {
	if !Supported {
		return nil, ErrUnsupported
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	out := null
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("persist log: %w", err)
		}
		defer f.Close()
		out = f
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, out, out
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done, nil
}
