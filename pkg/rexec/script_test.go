//go:build linux

package rexec

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestNoTempDirNoCommand: when mktemp -d fails, the command does not run (in particular not
// with its files under a predictable /tmp name), and the answer is status 255 with a message.
func TestNoTempDirNoCommand(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "mktemp"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	marker := filepath.Join(t.TempDir(), "ran")
	var out, errOut strings.Builder
	st, err := remote(t, Request{Command: "touch " + marker, Stdout: &out, Stderr: &errOut})
	if err != nil || st != 255 || errOut.String() != noTempDir || out.Len() != 0 {
		t.Errorf("status %d, %v, stdout %q, stderr %q; want 255 and %q", st, err, out.String(), errOut.String(), noTempDir)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran without a private temporary directory")
	}
}

// TestTempDirGoesOnHangup: the script's temporary directory is removed when the session's
// process group is hung up mid-command, as the agent does when a session ends.
func TestTempDirGoesOnHangup(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() }) // ends the copy of output nobody reads past the first line
	e, err := New(Request{Command: `readlink /proc/self/fd/2; exec sleep 600`, Stdout: pw})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// exec: the bootstrap itself is the process waited for, as under the agent.
	cmd := exec.Command("sh", "-c", "exec "+e.CommandLine())
	cmd.Env = append(os.Environ(), "SHELL=/bin/sh")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { ptmx.Close(); cmd.Process.Kill(); <-exited })
	go io.Copy(ptmx, e.Input())
	go io.Copy(e.Output(), ptmx)

	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		lines <- l
	}()
	var dir string
	select {
	case l := <-lines:
		dir = filepath.Dir(strings.TrimSpace(l))
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not start")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || dir == "." || dir == "/" {
		t.Fatalf("the command's stderr is %q in %q, not in a temporary directory (%v)", dir, dir, err)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the script did not end on SIGHUP")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is still there after a hangup (%v)", dir, err)
	}
}

// TestBootstrapRefusesABadLength: a length that is not eight digits (here the "<n>\n" line of
// the earlier framing) ends the bootstrap with status 96; nothing after it is evaluated.
func TestBootstrapRefusesABadLength(t *testing.T) { shells(t, testBootstrapRefusesABadLength) }

func testBootstrapRefusesABadLength(t *testing.T, env ...string) {
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := exec.Command("sh", "-c", "exec "+Bootstrap)
	cmd.Env = append(append(os.Environ(), "SHELL=/bin/sh"), env...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { ptmx.Close(); _ = cmd.Process.Kill(); <-exited })
	ready := make(chan error, 1)
	go func(ready chan<- error) {
		// Read up to the ready marker, then keep draining so that the bootstrap never blocks.
		var seen []byte
		buf := make([]byte, 512)
		for {
			n, err := ptmx.Read(buf)
			seen = append(seen, buf[:n]...)
			if ready != nil && strings.Contains(string(seen), readyMarker) {
				ready <- nil
				ready = nil
			}
			if err != nil {
				if ready != nil {
					ready <- err
				}
				return
			}
		}
	}(ready)
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("no ready marker: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no ready marker within 30 s")
	}
	script := "touch " + marker + "\n"
	if _, err := ptmx.Write([]byte(strconv.Itoa(len(script)) + "\n" + script)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 96 {
			t.Errorf("the bootstrap ended with %v, want exit status 96", err)
		}
		exited <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the bootstrap did not end on a bad length")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the script after a bad length ran")
	}
}
