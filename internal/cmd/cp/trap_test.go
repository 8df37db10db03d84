//go:build linux

package cp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHangupRightAfterMktemp: the agent hangs up the session's process group at the moment
// mktemp has made an upload's temporary and the script has not yet its name. The temporary
// must still go. mktemp here is a wrapper on PATH that runs the real one, then hangs up its
// own process group (the script's) before it prints the name, so the script receives SIGHUP
// while it waits for that name: every time, not by luck of timing. Each shell on this
// machine that a remote sh may be (dash, bash) runs the script.
func TestHangupRightAfterMktemp(t *testing.T) {
	real, err := exec.LookPath("mktemp")
	if err != nil {
		t.Skip("no mktemp")
	}
	bin := t.TempDir()
	wrapper := "#!/bin/sh\ntrap '' HUP\nr=$(" + Quote(real) + " \"$@\") || exit 1\nkill -HUP 0\nprintf '%s\\n' \"$r\"\n"
	if err := os.WriteFile(filepath.Join(bin, "mktemp"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	path := bin + string(os.PathListSeparator) + os.Getenv("PATH")

	var shells []string
	seen := map[string]bool{}
	for _, name := range []string{"sh", "dash", "bash", "busybox"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if r, err := filepath.EvalSymlinks(p); err == nil && !seen[r] {
			seen[r] = true
			shells = append(shells, p)
		}
	}
	if len(shells) == 0 {
		t.Skip("no sh")
	}
	data := []byte("payload\n")
	for _, shell := range shells {
		for _, tt := range []struct {
			name   string
			script func(dst string) string
		}{
			{"file", func(dst string) string { return uploadFileScript(dst+"/", "f", sha(string(data)), 0o644) }},
			{"tree", func(dst string) string { return uploadTreeScript(dst+"/", "d") }},
		} {
			t.Run(filepath.Base(shell)+" "+tt.name, func(t *testing.T) {
				dst := t.TempDir()
				args := []string{"-c", tt.script(dst)}
				if filepath.Base(shell) == "busybox" {
					args = append([]string{"sh"}, args...)
				}
				cmd := exec.Command(shell, args...)
				cmd.Env = append(os.Environ(), "PATH="+path, "t="+dst)
				cmd.Stdin = bytes.NewReader(data)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				// Its own process group, as the session's processes are, for the wrapper's kill.
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case err = <-done:
				case <-time.After(time.Minute):
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					t.Fatalf("the script did not end after the hangup; stderr %q", stderr.String())
				}
				if err == nil || strings.HasPrefix(stdout.String(), headerMagic) {
					t.Errorf("the copy went on after a hangup: %v, stdout %q", err, stdout.String())
				}
				// The environment's t (here the destination itself) is not taken for the temporary.
				if got := names(t, dst); got != "" {
					t.Errorf("the destination holds %q after a hangup right after mktemp; stderr %q", got, stderr.String())
				}
				if _, err := os.Stat(dst); err != nil {
					t.Errorf("the destination is gone: %v", err)
				}
			})
		}
	}
}
